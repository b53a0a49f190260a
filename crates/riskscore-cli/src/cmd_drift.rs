//! `riskscore drift`: data drift between a reference and a current data set (CSV or Parquet),
//! with Evidently's default tests, PSI, an HTML report and a JSON file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use polars::prelude::{
    Column, CsvReadOptions, DataFrame, DataType, ParquetReader, SerReader, Series,
};
use riskscore_drift::{column_drift, dataset_drift, ColumnData, ColumnDrift, Kind};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The reference data: a CSV or Parquet table (e.g. the training feature matrix), or a
    /// model bundle (its sample of the training rows, with their out-of-fold probability; the
    /// current data then goes through the bundle's pipeline and is scored).
    #[arg(long)]
    reference: PathBuf,
    /// The current data, with the reference's columns.
    #[arg(long)]
    current: PathBuf,
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

fn read(path: &Path) -> Result<DataFrame> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "parquet" => {
            let f =
                std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            ParquetReader::new(f)
                .finish()
                .with_context(|| format!("{}: not a readable Parquet file", path.display()))
        }
        "csv" => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(10_000))
            .try_into_reader_with_file_path(Some(path.to_owned()))
            .and_then(|r| r.finish())
            .with_context(|| format!("{}: not a readable CSV file", path.display())),
        _ => bail!("{}: give a .csv or .parquet file", path.display()),
    }
}

/// Evidently's `infer_column_type`, on the reference column: floats are numerical; integers
/// categorical with at most 10 distinct values (numerical when they have missing values, which
/// pandas reads as floats); strings categorical unless more than half are distinct (text, not
/// tested); booleans categorical.
fn kind_of(s: &Series) -> Option<Kind> {
    let dt = s.dtype();
    if dt.is_float() {
        return Some(Kind::Numerical);
    }
    if dt.is_integer() {
        if s.null_count() > 0 {
            return Some(Kind::Numerical);
        }
        let distinct = s.n_unique().unwrap_or(usize::MAX);
        return Some(if distinct <= 10 {
            Kind::Categorical
        } else {
            Kind::Numerical
        });
    }
    if matches!(dt, DataType::String) {
        let count = s.len() - s.null_count();
        let distinct = s.drop_nulls().n_unique().unwrap_or(0);
        return (distinct as f64 <= count as f64 * 0.5).then_some(Kind::Categorical);
    }
    if matches!(dt, DataType::Boolean) {
        return Some(Kind::Categorical);
    }
    None
}

fn values(s: &Series, kind: Kind, file: &Path) -> Result<ColumnData> {
    let name = s.name().to_string();
    let as_f64 = || -> Result<Vec<f64>> {
        let f = s
            .cast(&DataType::Float64)
            .with_context(|| format!("{}: column {name:?} is not numeric", file.display()))?;
        Ok(f.f64()?.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
    };
    match (kind, s.dtype()) {
        (Kind::Numerical, _) => Ok(ColumnData::Numeric(as_f64()?)),
        (Kind::Categorical, dt) if dt.is_primitive_numeric() => {
            // Integers (or numbers) as categories: labelled like the numeric path.
            let v = as_f64()?;
            Ok(ColumnData::Category(
                v.into_iter()
                    .map(|x| {
                        x.is_finite().then(|| {
                            if x == 0.0 {
                                "0".to_string()
                            } else {
                                x.to_string()
                            }
                        })
                    })
                    .collect(),
            ))
        }
        (Kind::Categorical, _) => {
            let t = s.cast(&DataType::String)?;
            Ok(ColumnData::Category(
                t.str()?.iter().map(|v| v.map(str::to_owned)).collect(),
            ))
        }
    }
}

/// The data set through the model's pipeline, with its predicted probability.
fn scored(bundle: &riskscore_model::ModelBundle, path: &Path) -> Result<DataFrame> {
    let mut frame = riskscore_model::predict::frame_for(bundle, path)
        .with_context(|| format!("building the model's features of {}", path.display()))?;
    let scores = riskscore_model::predict::score_frame(bundle, &frame)
        .with_context(|| format!("scoring {}", path.display()))?;
    let p: Vec<f64> = scores.iter().map(|s| s.probability).collect();
    frame.with_column(Column::new(
        riskscore_model::run::PROBABILITY_COLUMN.into(),
        p,
    ))?;
    Ok(frame)
}

pub fn run(mut args: Args) -> Result<()> {
    let manifest = args.reference.join(riskscore_model::bundle::MANIFEST_FILE);
    if args.reference.is_dir() && manifest.is_file() {
        if args.model.as_ref().is_some_and(|m| m != &args.reference) {
            bail!("--reference is a model bundle: --model must be the same bundle or left out");
        }
        let bundle = riskscore_model::ModelBundle::load(&args.reference)
            .with_context(|| format!("loading the model {}", args.reference.display()))?;
        let sample = args.reference.join(riskscore_model::run::REFERENCE_FILE);
        if !sample.is_file() {
            bail!(
                "{}: this bundle has no reference sample ({}); retrain it, or give the training \
                 data as --reference and the bundle as --model",
                args.reference.display(),
                riskscore_model::run::REFERENCE_FILE
            );
        }
        args.exclude.push(bundle.pipeline.id.clone());
        args.exclude.push(bundle.pipeline.target.clone());
        let reference = read(&sample)?;
        let current = scored(&bundle, &args.current)?;
        return report(&args, reference, current);
    }
    let (reference, current) = match args.model.clone() {
        Some(model) => {
            let bundle = riskscore_model::ModelBundle::load(&model)
                .with_context(|| format!("loading the model {}", model.display()))?;
            args.exclude.push(bundle.pipeline.id.clone());
            args.exclude.push(bundle.pipeline.target.clone());
            (
                scored(&bundle, &args.reference)?,
                scored(&bundle, &args.current)?,
            )
        }
        None => (read(&args.reference)?, read(&args.current)?),
    };
    report(&args, reference, current)
}

/// Tests every column of the reference, writes the JSON and HTML, prints the verdict.
fn report(args: &Args, reference: DataFrame, current: DataFrame) -> Result<()> {
    let names: Vec<String> = reference
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .filter(|n| !args.exclude.contains(n))
        .collect();
    // Every column the reference has must be in the current data.
    for name in &names {
        if current.column(name).is_err() {
            bail!(
                "{}: no column {name:?} (the reference {} has it)",
                args.current.display(),
                args.reference.display()
            );
        }
    }
    // Columns are independent: split them over the cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = names.len().div_ceil(threads).max(1);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = names.len();
    let results: Vec<Result<Vec<ColumnDrift>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = names
            .chunks(chunk)
            .map(|part| {
                let (reference, current, args, done) = (&reference, &current, &args, &done);
                scope.spawn(move || -> Result<Vec<ColumnDrift>> {
                    let mut out = Vec::with_capacity(part.len());
                    for name in part {
                        let r = reference.column(name)?.as_materialized_series();
                        let c = current.column(name)?.as_materialized_series();
                        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        if n % 100 == 0 {
                            tracing::info!(done = n, of = total, "columns tested");
                        }
                        let Some(kind) = kind_of(r) else {
                            tracing::info!(column = name.as_str(), dtype = %r.dtype(), "not tested (text or unsupported type)");
                            continue;
                        };
                        let rv = values(r, kind, &args.reference)?;
                        let cv = values(c, kind, &args.current)?;
                        out.push(column_drift(name, kind, &rv, &cv));
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a drift worker failed")))
            })
            .collect()
    });
    let mut columns: Vec<ColumnDrift> = Vec::with_capacity(names.len());
    for r in results {
        columns.extend(r?);
    }
    let drift = dataset_drift(columns, reference.height(), current.height());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&drift)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.out {
        let html = riskscore_drift::report::render(
            &drift,
            &args.reference.display().to_string(),
            &args.current.display().to_string(),
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
    for c in riskscore_drift::report::ranked(&drift)
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
