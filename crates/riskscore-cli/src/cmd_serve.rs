//! `riskscore serve`: the scoring API on `$PORT`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use riskscore_server::{AppState, Journal, Location, Scorer, Settings};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model bundle directory written by `riskscore train`, or a registered model:
    /// models:/NAME@ALIAS or models:/NAME/VERSION (from the MLflow server of
    /// MLFLOW_TRACKING_URI).
    #[arg(long, env = "RISKSCORE_MODEL")]
    model: String,
    /// The clients: a Home Credit folder, a single CSV/Parquet table, or a feature matrix built
    /// with the model's pipeline.
    #[arg(long, env = "RISKSCORE_DATA")]
    data: PathBuf,
    /// Port to listen on (the platform's $PORT).
    #[arg(long, env = "PORT", default_value_t = 8000)]
    port: u16,
    /// Address to bind (0.0.0.0 in a container).
    #[arg(long, env = "RISKSCORE_HOST", default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// The decision journal: a SQLite file, or postgres://user:password@host/db.
    #[arg(
        long,
        env = "RISKSCORE_JOURNAL",
        default_value = "riskscore-journal.sqlite"
    )]
    journal: String,
    /// Threads one explanation's trees are split over when it is the only one being
    /// computed (among others, each runs on one thread: the cores are busy already).
    #[arg(long, default_value_t = 2)]
    explain_threads: usize,
    /// Do not compute the refused clients' reasons and recourse in the background after start
    /// (then each is computed at its first score).
    #[arg(long)]
    no_warm: bool,
    /// Most applications in one batch request.
    #[arg(long, default_value_t = 100)]
    batch_max: usize,
    /// Time limit of one request, in seconds.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// A posted value further than this many widths of its training range (0.1-99.9
    /// percentiles) beyond that range is scored but sent to review.
    #[arg(long, env = "RISKSCORE_INTAKE_MARGIN", default_value_t = riskscore_server::scorer::INTAKE_MARGIN)]
    intake_margin: f64,
    /// The lender named on adverse-action notices (`/v1/clients/{id}/notice`).
    #[arg(long, env = "RISKSCORE_LENDER_NAME")]
    lender_name: Option<String>,
    /// How an applicant reaches the lender for the reasons or a human review (on notices).
    #[arg(long, env = "RISKSCORE_LENDER_CONTACT")]
    lender_contact: Option<String>,
    /// The recourse action set (CSV: field,direction,min,max,step,text, with a "# version: N"
    /// line); default: the layout's shipped set (none for a single table).
    #[arg(long, env = "RISKSCORE_ACTIONS", value_name = "FILE.csv")]
    actions: Option<std::path::PathBuf>,
    /// A challenger model (a bundle directory or models:/NAME@ALIAS) scored in the shadow of
    /// every decision, after the answer: journaled as non-binding `shadow` entries, compared in
    /// `GET /v1/monitor` and `riskscore monitor --challenger`.
    #[arg(long, env = "RISKSCORE_CHALLENGER")]
    challenger: Option<String>,
    /// Every refusal enters the review queue, not only those in the review band.
    #[arg(long, env = "RISKSCORE_REVIEW_REFUSALS")]
    review_refusals: bool,
    /// The share (0 to 1) of the other decisions drawn into the review queue for audit.
    #[arg(long, env = "RISKSCORE_AUDIT_SHARE", default_value_t = 0.0)]
    audit_share: f64,
}

/// The bundle directory of `--model`: the path itself, or a registered model's bundle
/// downloaded from the MLflow server into a fresh directory under the system's temp dir (its
/// checksums are verified when it loads).
fn model_dir(model: &str) -> Result<PathBuf> {
    if !model.starts_with("models:/") {
        return Ok(PathBuf::from(model));
    }
    let rest = crate::tracking::server_from_env(&format!("--model {model}"))?;
    let mv = riskscore_tracking::registry::resolve(&rest, model)
        .with_context(|| format!("resolving {model}"))?;
    let dest = std::env::temp_dir().join(format!(
        "riskscore-model-{}-v{}-{}",
        mv.name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        mv.version,
        std::process::id()
    ));
    if dest.exists() {
        std::fs::remove_dir_all(&dest).with_context(|| format!("clearing {}", dest.display()))?;
    }
    riskscore_tracking::registry::download(
        &rest,
        &mv,
        riskscore_tracking::mlmodel::BUNDLE_DIR,
        &dest,
    )
    .with_context(|| format!("downloading {model} (version {})", mv.version))?;
    eprintln!(
        "model {model}: version {} of run {}, downloaded to {}",
        mv.version,
        mv.run_id,
        dest.display()
    );
    Ok(dest)
}

pub fn run(args: Args) -> Result<()> {
    if !args.model.starts_with("models:/") {
        crate::table_args::must_exist(std::path::Path::new(&args.model), "--model")?;
    }
    crate::table_args::must_exist(&args.data, "--data")?;
    if !(args.intake_margin >= 0.0 && args.intake_margin.is_finite()) {
        anyhow::bail!("--intake-margin must be a number of 0 or more");
    }
    if !(0.0..=1.0).contains(&args.audit_share) {
        anyhow::bail!("--audit-share must be a share from 0 to 1");
    }
    // Reviewers' names and keys: NAME=KEY,NAME=KEY.
    let reviewers = riskscore_server::Reviewer::parse_list(
        &std::env::var("RISKSCORE_REVIEWERS").unwrap_or_default(),
    )
    .map_err(|e| anyhow::anyhow!("RISKSCORE_REVIEWERS: {e}"))?;
    let settings = Settings {
        api_keys: std::env::var("RISKSCORE_API_KEYS")
            .unwrap_or_default()
            .split(',')
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect(),
        journal_key: std::env::var("RISKSCORE_JOURNAL_KEY")
            .ok()
            .filter(|k| !k.is_empty())
            .map(String::into_bytes),
        batch_max: args.batch_max.max(1),
        timeout: Duration::from_secs_f64(args.timeout.max(0.001)),
        lender: {
            let d = riskscore_server::notice::Lender::default();
            riskscore_server::notice::Lender {
                name: args.lender_name.clone().unwrap_or(d.name),
                contact: args.lender_contact.clone().unwrap_or(d.contact),
            }
        },
        reviewers,
        review_refusals: args.review_refusals,
        audit_share: args.audit_share,
    };
    if settings.api_keys.is_empty() && settings.reviewers.is_empty() {
        tracing::warn!("RISKSCORE_API_KEYS is not set: the API is open");
    }
    if settings.reviewers.is_empty() {
        tracing::info!(
            "no reviewers (RISKSCORE_REVIEWERS): the review queue fills but nobody can decide"
        );
    }
    // The address is taken before the load: one in use fails at once.
    let addr = SocketAddr::new(args.host, args.port);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let listener = runtime.block_on(riskscore_server::bind(addr))?;
    let location = Location::parse(&args.journal);
    let journal = Journal::open(&location)?;
    tracing::info!(journal = %journal.location(), "decision journal open");
    let model = model_dir(&args.model)?;
    let mut scorer = Scorer::load(&model, &args.data, args.explain_threads.max(1))
        .with_context(|| format!("loading {} with {}", args.model, args.data.display()))?;
    scorer.intake_margin = args.intake_margin;
    if let Some(path) = &args.actions {
        let set = riskscore_explain::recourse::ActionSet::read(path)?;
        scorer = scorer.with_actions(set)?;
    }
    let challenger = match &args.challenger {
        Some(c) => {
            let dir = model_dir(c)?;
            let sc =
                Scorer::load(&dir, &args.data, args.explain_threads.max(1)).with_context(|| {
                    format!("loading the challenger {c} with {}", args.data.display())
                })?;
            tracing::info!(challenger = %sc.model_version, "challenger loaded: scored in the shadow of every decision");
            Some(std::sync::Arc::new(sc))
        }
        None => None,
    };
    eprintln!("riskscore serving on http://{addr}/ (API docs: http://{addr}/docs)");
    runtime.block_on(async move {
        let mut state = AppState::new(scorer, journal.clone(), settings);
        if !args.no_warm {
            let sc = state.scorer.clone();
            // Without it, each refusal is computed at its first score: not fatal.
            if let Err(e) = std::thread::Builder::new()
                .name("warm-refusals".into())
                .spawn(move || sc.warm_refusals())
            {
                tracing::warn!(error = %e, "the refusals' warm-up could not start");
            }
        }
        if let Some(sc) = challenger {
            state = state.with_challenger(riskscore_server::challenger::Challenger::start(
                sc,
                journal,
                riskscore_server::challenger::QUEUE,
                None,
            ));
        }
        riskscore_server::serve(state, listener).await
    })?;
    Ok(())
}
