use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use riskscore_model::predict::{score_path, write_csv};
use riskscore_model::{Decision, ModelBundle};
use riskscore_server::application;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model bundle directory written by `riskscore train`.
    #[arg(long, env = "RISKSCORE_MODEL")]
    model: PathBuf,
    /// Raw data in the training layout: a Home Credit folder or a single CSV/Parquet table.
    #[arg(
        long,
        required_unless_present = "application",
        conflicts_with = "application"
    )]
    data: Option<PathBuf>,
    /// Where to write the scores (CSV: id, probability_raw, probability, decision, review).
    #[arg(long, short, required_unless_present = "application")]
    out: Option<PathBuf>,
    /// One new application as JSON (the body of `POST /v1/score`), checked by the intake's
    /// rules; its decision is printed as JSON.
    #[arg(long)]
    application: Option<PathBuf>,
    /// With --application: a value further than this many widths of its training range
    /// (0.1-99.9 percentiles) beyond that range sends the application to review.
    #[arg(long, default_value_t = riskscore_server::scorer::INTAKE_MARGIN)]
    intake_margin: f64,
}

pub fn run(args: Args) -> Result<()> {
    crate::table_args::must_exist(&args.model, "--model")?;
    if let Some(path) = &args.application {
        crate::table_args::must_exist(path, "--application")?;
        return one_application(&args, path);
    }
    let (Some(data), Some(out)) = (&args.data, &args.out) else {
        bail!("give --data and --out, or --application");
    };
    let bundle = ModelBundle::load(&args.model)?;
    crate::table_args::must_exist(data, "--data")?;
    let scores =
        score_path(&bundle, data).with_context(|| format!("scoring {}", data.display()))?;
    write_csv(&scores, &bundle.pipeline.id, out)?;
    let refused = scores
        .iter()
        .filter(|s| s.decision == Decision::Refused)
        .count();
    println!(
        "{} clients scored, {refused} refused (threshold {:.4}) -> {}",
        scores.len(),
        bundle.manifest.threshold,
        out.display()
    );
    Ok(())
}

/// The single-application path: the same intake as the server's `POST /v1/score` (required
/// fields and domain rules refuse it, values far outside training and categories it never saw
/// send it to review).
fn one_application(args: &Args, path: &Path) -> Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read it as UTF-8 text", path.display()))?;
    let body: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", path.display()))?;
    let bundle = ModelBundle::load(&args.model)?;
    let (id, app) = application::parse(&bundle.pipeline, &body).map_err(|fields| {
        let each: Vec<String> = fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect();
        anyhow::anyhow!(
            "{}: the application is refused at intake ({} problem(s)): {}",
            path.display(),
            each.len(),
            each.join("; ")
        )
    })?;
    let names = bundle.manifest.feature_names();
    let x = riskscore_server::scorer::features_of(&bundle.pipeline, &names, app)?;
    let p = *bundle
        .predict(&x)?
        .first()
        .context("the model gave no probability")?;
    let ranges = application::ranges(&bundle.profile()?);
    let review_reasons =
        application::review_reasons(&bundle.pipeline, &body, &ranges, args.intake_margin);
    let answer = serde_json::json!({
        "id": id,
        "probability": p,
        "decision": match bundle.decide(p) {
            Decision::Granted => "granted",
            Decision::Refused => "refused",
        },
        "threshold": bundle.manifest.threshold,
        "review": bundle.in_review_band(p) || !review_reasons.is_empty(),
        "review_reasons": review_reasons,
    });
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}
