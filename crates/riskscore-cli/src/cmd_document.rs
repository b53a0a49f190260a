//! `riskscore document`: the model's documentation pack (an HTML document and
//! `model_card.json`) from its bundle, its MLflow run and the drift and monitoring results.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use riskscore_explain::document::{self, Inputs};
use serde_json::{json, Value};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model bundle directory written by `riskscore train`.
    #[arg(long)]
    model: PathBuf,
    /// The training's MLflow run id (read from the server of MLFLOW_TRACKING_URI).
    #[arg(long)]
    run: Option<String>,
    /// A drift result (`riskscore drift --json FILE`).
    #[arg(long, value_name = "FILE.json")]
    drift: Option<PathBuf>,
    /// A monitoring result (`riskscore monitor --json > FILE`).
    #[arg(long, value_name = "FILE.json")]
    monitor: Option<PathBuf>,
    /// The model's name in the document and the card.
    #[arg(long, default_value = "credit-default")]
    name: String,
    /// The model's owner (a person or team).
    #[arg(long)]
    owner: Option<String>,
    /// How to reach the owner.
    #[arg(long, requires = "owner")]
    contact: Option<String>,
    /// The pack's directory.
    #[arg(long, default_value = "pack")]
    out: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    crate::table_args::must_exist(&args.model, "--model")?;
    let mut inputs = inputs(&args.model, &args.name)?;
    inputs.owner = args
        .owner
        .clone()
        .map(|o| (o, args.contact.clone().unwrap_or_default()));
    inputs.drift = args
        .drift
        .as_deref()
        .map(|p| result_file(p, "--drift", DRIFT_KEYS, "riskscore drift --json FILE"))
        .transpose()?;
    inputs.monitor = args
        .monitor
        .as_deref()
        .map(|p| {
            result_file(
                p,
                "--monitor",
                MONITOR_KEYS,
                "riskscore monitor --json > FILE",
            )
        })
        .transpose()?;
    inputs.run = args.run.as_deref().map(mlflow_run).transpose()?;
    let (doc, card) = document::write(&inputs, &args.out)?;
    println!("{}\n{}", doc.display(), card.display());
    Ok(())
}

/// What the pack reads from a bundle (loaded, so its checksums are verified); the caller adds
/// the owner and the drift, monitoring and MLflow results.
pub fn inputs(model: &Path, name: &str) -> Result<Inputs> {
    let bundle = riskscore_model::bundle::ModelBundle::load(model)
        .with_context(|| format!("loading the bundle {}", model.display()))?;
    let read = |file: &str| document::Inputs::read_json(model, file);
    let manifest = read(riskscore_model::bundle::MANIFEST_FILE)?
        .with_context(|| format!("{}: no manifest.json", model.display()))?;
    let pipeline = read(riskscore_model::bundle::PIPELINE_FILE)?
        .with_context(|| format!("{}: no pipeline.json", model.display()))?;
    let oof = if model.join(riskscore_model::bundle::OOF_FILE).is_file() {
        let r = riskscore_server::monitor::read_oof(model)?;
        Some((r.p, r.y))
    } else {
        None
    };
    Ok(Inputs {
        dir: model.to_owned(),
        name: name.to_owned(),
        version: riskscore_server::scorer::model_version(&bundle),
        owner: None,
        manifest,
        pipeline,
        fairness: read(riskscore_model::bundle::FAIRNESS_FILE)?,
        drift: None,
        monitor: None,
        run: None,
        wording: riskscore_explain::wording::Wording::for_pipeline(&bundle.pipeline)?,
        oof,
    })
}

/// The fields of a drift result the document reads (`riskscore drift --json`).
const DRIFT_KEYS: &[&str] = &[
    "reference_rows",
    "current_rows",
    "tested",
    "drifted",
    "columns",
];
/// The fields of a monitoring result the document reads (`riskscore monitor --json`).
const MONITOR_KEYS: &[&str] = &["decisions", "labelled", "estimated"];

/// A JSON result file with the fields `keys` (another file would print a document of empty
/// figures); the error names the option, the file and what made it.
fn result_file(path: &Path, option: &str, keys: &[&str], made_by: &str) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{option} {}: cannot read it", path.display()))?;
    let v: Value = serde_json::from_str(&text)
        .with_context(|| format!("{option} {}: not JSON", path.display()))?;
    if !v.is_object() {
        bail!("{option} {}: a JSON object was expected", path.display());
    }
    let missing: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| v.get(k).is_none())
        .collect();
    if !missing.is_empty() {
        bail!(
            "{option} {}: not the result it takes (no {}): give the file of `{made_by}`",
            path.display(),
            missing.join(", ")
        );
    }
    Ok(v)
}

/// The run's `runs/get` answer (`run`: info and data).
fn mlflow_run(id: &str) -> Result<Value> {
    let rest = crate::tracking::server_from_env("--run")?;
    let answer = rest
        .call(
            riskscore_tracking::rest::Method::GET,
            "runs/get",
            &json!({ "run_id": id }),
        )
        .with_context(|| format!("--run {id}: reading the run from {}", rest.base()))?;
    answer
        .get("run")
        .cloned()
        .with_context(|| format!("--run {id}: the server's answer has no run"))
}
