//! `riskscore drift`: data drift between a reference (a data set or a model bundle's training
//! sample) and a current data set (CSV or Parquet) or the decision journal over a time window,
//! with Evidently's default tests, PSI, an HTML report and a JSON file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use polars::prelude::{Column, DataFrame};
use riskscore_drift::{drift_frames, DataDrift};
use riskscore_model::bundle::MANIFEST_FILE;
use riskscore_model::run::REFERENCE_FILE;
use riskscore_model::ModelBundle;
use riskscore_server::drift::journal_drift;
use riskscore_server::journal::{instant, Filter};
use riskscore_server::Location;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The reference data: a CSV or Parquet table (e.g. the training feature matrix), or a
    /// model bundle (its sample of the training rows, with their out-of-fold probability; the
    /// current data then goes through the bundle's pipeline and is scored).
    #[arg(long)]
    reference: PathBuf,
    /// The current data, with the reference's columns.
    #[arg(long, required_unless_present = "journal", conflicts_with = "journal")]
    current: Option<PathBuf>,
    /// The decision journal as the current data (a SQLite file or postgres://...): the feature
    /// rows the model scored (the latest of a repeated application), with their probability.
    /// Needs the model: its bundle as --reference or --model.
    #[arg(long)]
    journal: Option<String>,
    /// With --journal: scores from this time on: a date (2026-11-28), a UTC time
    /// (2026-11-28T14:30:00Z) or a span before now (90m, 24h, 7d).
    #[arg(long, requires = "journal")]
    since: Option<String>,
    /// With --journal: scores before this time (same forms as --since).
    #[arg(long, requires = "journal")]
    until: Option<String>,
    /// With --journal: only the most recent N scores of the window.
    #[arg(long, requires = "journal")]
    last: Option<usize>,
    /// The HTML report to write.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// The JSON file to write (the same numbers as the report).
    #[arg(long)]
    json: Option<PathBuf>,
    /// A model bundle: both data sets go through its feature pipeline (raw data such as a Home
    /// Credit folder is accepted), are scored, and the predicted probability is tested too.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Columns not tested (ids, the target), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "SK_ID_CURR,TARGET")]
    exclude: Vec<String>,
}

/// A data set: a CSV or Parquet file, or a folder of Parquet part files (`features --engine
/// spark`).
fn read(path: &Path) -> Result<DataFrame> {
    if riskscore_model::input::parquet_parts(path).is_some() {
        return Ok(riskscore_model::input::read_parquet(path)?);
    }
    Ok(riskscore_data::read::read_inferred(path)?)
}

/// The data set through the model's pipeline, with its predicted probability.
fn scored(bundle: &ModelBundle, path: &Path) -> Result<DataFrame> {
    let frame = riskscore_model::predict::frame_for(bundle, path)
        .with_context(|| format!("building the model's features of {}", path.display()))?;
    with_probability(bundle, frame).with_context(|| format!("scoring {}", path.display()))
}

/// A feature frame of the bundle's pipeline with the model's probability added, as the
/// bundle's training sample has it.
pub(crate) fn with_probability(bundle: &ModelBundle, mut frame: DataFrame) -> Result<DataFrame> {
    let scores = riskscore_model::predict::score_frame(bundle, &frame)?;
    let p: Vec<f64> = scores.iter().map(|s| s.probability).collect();
    frame.with_column(Column::new(
        riskscore_model::run::PROBABILITY_COLUMN.into(),
        p,
    ))?;
    Ok(frame)
}

/// The bundle's training sample (`reference.parquet`), which bundles written before it existed
/// lack.
pub(crate) fn training_sample(bundle: &Path) -> Result<DataFrame> {
    riskscore_server::scorer::read_reference(bundle)?.with_context(|| {
        format!(
            "{}: this bundle has no reference sample ({REFERENCE_FILE}); retrain it, or give \
             the training data as --reference and the bundle as --model",
            bundle.display()
        )
    })
}

fn is_bundle(path: &Path) -> bool {
    path.is_dir() && path.join(MANIFEST_FILE).is_file()
}

fn load(path: &Path) -> Result<ModelBundle> {
    ModelBundle::load(path).with_context(|| format!("loading the model {}", path.display()))
}

pub fn run(mut args: Args) -> Result<()> {
    crate::table_args::must_exist(&args.reference, "--reference")?;
    for (p, flag) in [(&args.current, "--current"), (&args.model, "--model")] {
        if let Some(p) = p {
            crate::table_args::must_exist(p, flag)?;
        }
    }
    let reference_is_bundle = is_bundle(&args.reference);
    let bundle = if reference_is_bundle {
        if args.model.as_ref().is_some_and(|m| m != &args.reference) {
            bail!("--reference is a model bundle: --model must be the same bundle or left out");
        }
        Some(load(&args.reference)?)
    } else {
        args.model.as_deref().map(load).transpose()?
    };
    if let Some(b) = &bundle {
        args.exclude.push(b.pipeline.id.clone());
        args.exclude.push(b.pipeline.target.clone());
    }
    let reference = match &bundle {
        Some(_) if reference_is_bundle => training_sample(&args.reference)?,
        Some(b) => scored(b, &args.reference)?,
        None => read(&args.reference)?,
    };
    if let Some(current) = &args.current {
        let current = match &bundle {
            Some(b) => scored(b, current)?,
            None => read(current)?,
        };
        return report(&args, reference, current);
    }
    let Some(journal) = &args.journal else {
        bail!("give the current data (--current) or the decision journal (--journal)");
    };
    let Some(bundle) = &bundle else {
        bail!(
            "--journal stores the model's feature rows without their names: give the model's \
             bundle as --reference or --model"
        );
    };
    let bound = |flag: &str, v: &Option<String>| -> Result<Option<String>> {
        v.as_deref()
            .map(|t| instant(t).map_err(|m| anyhow::anyhow!("{flag}: {m}")))
            .transpose()
    };
    let filter = Filter {
        since: bound("--since", &args.since)?,
        until: bound("--until", &args.until)?,
        last: args.last,
        ..Filter::default()
    };
    let location = Location::parse(journal);
    if let Location::Sqlite(p) = &location {
        if !p.is_file() {
            bail!("--journal {}: no such journal file", p.display());
        }
    }
    let version = riskscore_server::scorer::model_version(bundle);
    let (drift, window) = journal_drift(
        &location,
        filter,
        &reference,
        &bundle.manifest.feature_names(),
        &version,
    )?;
    eprintln!(
        "journal {}: {} scores read, {} applications of model {version} tested ({} repeated, \
         {} of other models, {} without rows), from {} to {}",
        location.display(),
        window.read,
        window.used,
        window.repeated,
        window.other_models,
        window.without_row,
        window.first_time.as_deref().unwrap_or("-"),
        window.last_time.as_deref().unwrap_or("-"),
    );
    write(&args, &drift)
}

/// Tests every column of the reference, writes the JSON and HTML, prints the verdict.
fn report(args: &Args, reference: DataFrame, current: DataFrame) -> Result<()> {
    let drift = drift_frames(
        &reference,
        &current,
        &args.exclude,
        &args.reference.display().to_string(),
        &current_name(args),
    )?;
    write(args, &drift)
}

fn current_name(args: &Args) -> String {
    match (&args.current, &args.journal) {
        (Some(c), _) => c.display().to_string(),
        (None, Some(j)) => format!("journal {}", Location::parse(j).display()),
        (None, None) => String::new(),
    }
}

/// Writes the JSON and HTML, prints the verdict.
fn write(args: &Args, drift: &DataDrift) -> Result<()> {
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(drift)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.out {
        let html = riskscore_drift::report::render(
            drift,
            &args.reference.display().to_string(),
            &current_name(args),
        );
        std::fs::write(path, html).with_context(|| format!("writing {}", path.display()))?;
    }
    println!(
        "{} of {} columns drifted ({:.1} %): data set drift {}",
        drift.drifted,
        drift.tested,
        100.0 * drift.share,
        if drift.dataset_drift { "yes" } else { "no" }
    );
    for c in riskscore_drift::report::ranked(drift)
        .iter()
        .take(10)
        .filter(|c| c.drifted)
    {
        println!(
            "  {}: {} {:.6} (PSI {:.4})",
            c.column,
            c.test,
            c.score.unwrap_or(f64::NAN),
            c.psi.unwrap_or(f64::NAN)
        );
    }
    Ok(())
}
