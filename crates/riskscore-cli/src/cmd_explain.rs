use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use riskscore_explain::client::BundleExplainer;
use riskscore_explain::wording::Wording;
use riskscore_features::write_parquet;
use riskscore_model::predict::frame_for;
use riskscore_model::ModelBundle;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model bundle directory written by `riskscore train`.
    #[arg(long, env = "RISKSCORE_MODEL")]
    model: PathBuf,
    /// Data in the training layout (raw tables or the feature matrix built with the model's
    /// pipeline).
    #[arg(long)]
    data: PathBuf,
    /// Explain this client: reasons and top contributions.
    #[arg(long)]
    client: Option<i64>,
    /// SHAP values of every client, written to --out as Parquet.
    #[arg(long)]
    all: bool,
    /// The global report (importance, beeswarm, dependence), written to --out as HTML.
    #[arg(long)]
    global: bool,
    /// Output file for --all (Parquet) or --global (HTML).
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// JSON on stdout instead of text.
    #[arg(long)]
    json: bool,
    /// Contributions listed for a client.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// A reviewed wording file (kind,key,text) instead of the built-in one (Home Credit's, or a
    /// single table's columns as named in it).
    #[arg(long)]
    wording: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    if args.client.is_none() && !args.all && !args.global {
        bail!("say what to explain: --client ID, --all --out FILE.parquet or --global --out FILE.html");
    }
    if args.all && args.global {
        bail!("--all and --global each write --out; run them one at a time");
    }
    if (args.all || args.global) && args.out.is_none() {
        bail!("--all and --global need --out FILE");
    }
    crate::table_args::must_exist(&args.model, "--model")?;
    crate::table_args::must_exist(&args.data, "--data")?;
    let bundle = ModelBundle::load(&args.model)?;
    let wording = match &args.wording {
        Some(p) => Wording::parse(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )
        .with_context(|| format!("reading {}", p.display()))?,
        None => Wording::for_pipeline(&bundle.pipeline)?,
    };
    let explainer = BundleExplainer::new(&bundle, wording)?;
    let frame = frame_for(&bundle, &args.data)
        .with_context(|| format!("reading {}", args.data.display()))?;
    if let Some(id) = args.client {
        let e = explainer.explain_client(&frame, id, args.top)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&e)?);
        } else {
            println!(
                "client {}: probability of default {:.4}, {} (threshold {:.4}{})",
                e.id,
                e.probability,
                match e.decision {
                    riskscore_model::Decision::Granted => "granted",
                    riskscore_model::Decision::Refused => "refused",
                },
                e.threshold,
                if e.review { ", in the review band" } else { "" }
            );
            println!("principal reasons towards default:");
            for r in &e.reasons {
                println!("  {}. {}", r.rank, r.sentence);
            }
            println!(
                "top contributions (log-odds; base {:.4} = probability {:.4}):",
                e.base_value, e.base_probability
            );
            for c in &e.contributions {
                println!(
                    "  {:+.4} ({:+.4} in probability)  {} = {}",
                    c.shap,
                    c.probability,
                    c.feature,
                    c.value.map_or("missing".to_string(), |v| format!("{v}"))
                );
            }
        }
    }
    if args.all {
        let out = args.out.as_ref().context("--all needs --out")?;
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut df = explainer.explain_all(&frame, threads)?;
        write_parquet(&mut df, out).with_context(|| format!("writing {}", out.display()))?;
        println!("{} clients explained -> {}", df.height(), out.display());
    }
    if args.global {
        let out = args.out.as_ref().context("--global needs --out")?;
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let html = explainer.global_report(&frame, threads)?;
        std::fs::write(out, html).with_context(|| format!("writing {}", out.display()))?;
        println!(
            "global explanation of {} clients -> {}",
            frame.height(),
            out.display()
        );
    }
    Ok(())
}
