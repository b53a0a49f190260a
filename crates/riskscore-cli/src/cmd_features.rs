use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use riskscore_data::Folder;
use riskscore_features::{pipeline_path_for, write_parquet, FeaturePipeline, GenericTable};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A Home Credit folder (application_train.csv, bureau.csv, ...) or a single CSV/Parquet file.
    data: PathBuf,
    /// Where to write the feature matrix (Parquet). The fitted pipeline is written beside it
    /// as X.pipeline.json.
    #[arg(long, short)]
    out: PathBuf,
    /// Apply this fitted pipeline instead of fitting a new one (same columns as at training).
    #[arg(long)]
    pipeline: Option<PathBuf>,
    #[command(flatten)]
    table: crate::table_args::TableArgs,
    /// Single table: text columns with more distinct values are left out.
    #[arg(long, default_value_t = 100)]
    max_categories: usize,
    /// Where the features are computed: on this machine, or on Apache Spark (Home Credit
    /// tables; DATA and --out are then paths as the cluster sees them: local, hdfs://, s3a://).
    #[arg(long, value_enum, default_value = "local")]
    engine: Engine,
    /// The Spark Connect server of `--engine spark` (scripts/start-spark starts a local one).
    #[arg(
        long,
        env = "RISKSCORE_SPARK_REMOTE",
        default_value = "sc://127.0.0.1:15002"
    )]
    spark_remote: String,
    /// Where to save the fitted pipeline (default: beside --out, X.pipeline.json; needed when
    /// --out is not a local path).
    #[arg(long)]
    pipeline_out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Engine {
    Local,
    Spark,
}

/// Whether a path names a file system by scheme (`s3a://`, `hdfs://`, ...) rather than a local
/// path.
fn is_url(path: &std::path::Path) -> bool {
    path.to_str()
        .and_then(|p| p.split_once("://"))
        .is_some_and(|(scheme, _)| scheme != "file" && !scheme.contains('/'))
}

/// A path as a cluster on this machine sees it: URLs as given, local paths made absolute.
fn cluster_path(path: &std::path::Path) -> Result<String> {
    let path = if is_url(path) || path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()?.join(path)
    };
    path.to_str()
        .map(str::to_owned)
        .with_context(|| format!("{}: not a UTF-8 path", path.display()))
}

/// `features --engine spark`: the Home Credit features computed on Spark.
fn run_spark(args: &Args, fitted: Option<FeaturePipeline>) -> Result<(FeaturePipeline, usize)> {
    if args.table.id.is_some() || args.table.target.is_some() {
        bail!("--engine spark builds the Home Credit features from a folder of its tables; a single table runs on the local engine");
    }
    if let Some(p) = &fitted {
        p.home_credit_vocabularies()?; // before reaching for the server
    }
    let (data, out) = (cluster_path(&args.data)?, cluster_path(&args.out)?);
    tracing::info!(remote = %args.spark_remote, data, out, "building Home Credit features on Spark");
    on_spark(&args.spark_remote, &data, &out, fitted.as_ref())
}

#[cfg(feature = "spark")]
fn on_spark(
    remote: &str,
    data: &str,
    out: &str,
    fitted: Option<&FeaturePipeline>,
) -> Result<(FeaturePipeline, usize)> {
    let session = riskscore_spark::connect(remote)?;
    Ok(riskscore_spark::build(&session, data, out, fitted)?)
}

/// A build without the `spark` feature (scripts/demo's) has no Spark Connect client.
#[cfg(not(feature = "spark"))]
fn on_spark(
    _remote: &str,
    _data: &str,
    _out: &str,
    _fitted: Option<&FeaturePipeline>,
) -> Result<(FeaturePipeline, usize)> {
    bail!("--engine spark: this riskscore was built without the Spark engine (cargo feature `spark`, on by default; scripts/demo builds without it)")
}

pub fn run(args: Args) -> Result<()> {
    if args.engine == Engine::Local {
        crate::table_args::must_exist(&args.data, "data")?;
    }
    let pipeline_path = match &args.pipeline_out {
        Some(p) => p.clone(),
        None if is_url(&args.out) => bail!(
            "--out {} is not a local path: give --pipeline-out for the fitted pipeline",
            args.out.display()
        ),
        None => pipeline_path_for(&args.out),
    };
    if let Some(p) = &args.pipeline {
        crate::table_args::must_exist(p, "--pipeline")?;
    }
    let started = Instant::now();
    if args.pipeline.is_some() && args.table.protected.is_some() {
        bail!("--protected is set when a pipeline is fitted; the pipeline given keeps its own");
    }
    if args.pipeline.is_some() && args.table.age.is_some() {
        bail!("--age is set when a pipeline is fitted; the pipeline given keeps its own");
    }
    let fitted = match &args.pipeline {
        Some(path) => Some(FeaturePipeline::load(path)?),
        None => None,
    };
    let (pipeline, rows) = if args.engine == Engine::Spark {
        run_spark(&args, fitted)?
    } else if args.data.is_dir() {
        if args.table.id.is_some() || args.table.target.is_some() {
            bail!(
                "--id and --target are for a single table; {} is a folder",
                args.data.display()
            );
        }
        if let Some(age) = &args.table.age {
            riskscore_features::protect::home_credit_age(age.trim())?;
        }
        let folder = Folder::new(&args.data)?;
        tracing::info!(dir = %args.data.display(), "building Home Credit features");
        tracing::info!(file = %args.out.display(), "features to");
        let written = |e: riskscore_features::Error| {
            anyhow::Error::new(e).context(format!("writing {}", args.out.display()))
        };
        let (pipeline, rows) = match fitted {
            Some(p) => {
                let rows = p
                    .transform_home_credit_to_parquet(&folder, &args.out)
                    .map_err(written)?;
                (p, rows)
            }
            None => {
                let (p, rows, _) = FeaturePipeline::fit_home_credit_to_parquet(&folder, &args.out)
                    .map_err(written)?;
                (p, rows)
            }
        };
        (pipeline, rows)
    } else if args.data.is_file() {
        let mut table = match (&args.table.id, &args.table.target, &fitted) {
            (_, _, Some(p)) => GenericTable::new(&args.data, &p.id, &p.target),
            (Some(id), Some(target), None) => GenericTable::new(&args.data, id, target),
            _ => bail!(
                "a single table needs --id and --target (e.g. --id client_id --target default)"
            ),
        };
        table.categorical = args.table.categorical.clone();
        table.numeric = args.table.numeric.clone();
        table.max_categories = args.max_categories;
        let (pipeline, mut df) = match fitted {
            Some(p) => {
                let df = p.transform_generic(&table)?;
                (p, df)
            }
            None => {
                let (mut p, df) = FeaturePipeline::fit_generic(&table)?;
                if let Some(age) = &args.table.age {
                    p.set_age(age.trim())?;
                    p.check_ages(&df)?;
                }
                (p, df)
            }
        };
        write_parquet(&mut df, &args.out)
            .with_context(|| format!("writing {}", args.out.display()))?;
        (pipeline, df.height())
    } else {
        bail!("{}: no such file or folder", args.data.display());
    };
    let mut pipeline = pipeline;
    if let Some(protected) = args.table.protected() {
        pipeline.protect(&protected)?;
    }
    if args.pipeline.is_none() {
        pipeline.save(&pipeline_path)?;
    }
    tracing::info!(
        rows,
        features = pipeline.features.len(),
        seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
        cpu = riskscore_data::usage::cpu_label(),
        "done"
    );
    println!(
        "{rows} rows x {} features{} -> {}{}",
        pipeline.features.len(),
        if pipeline.audit.is_empty() {
            String::new()
        } else {
            format!(
                " (and {} protected, kept out of the model: {})",
                pipeline.audit.len(),
                pipeline.audit.join(", ")
            )
        },
        args.out.display(),
        if args.pipeline.is_none() {
            format!(" (pipeline: {})", pipeline_path.display())
        } else {
            String::new()
        }
    );
    Ok(())
}
