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
}

pub fn run(args: Args) -> Result<()> {
    crate::table_args::must_exist(&args.data, "data")?;
    if let Some(p) = &args.pipeline {
        crate::table_args::must_exist(p, "--pipeline")?;
    }
    let started = Instant::now();
    if args.pipeline.is_some() && args.table.protected.is_some() {
        bail!("--protected is set when a pipeline is fitted; the pipeline given keeps its own");
    }
    let fitted = match &args.pipeline {
        Some(path) => Some(FeaturePipeline::load(path)?),
        None => None,
    };
    let (pipeline, rows) = if args.data.is_dir() {
        if args.table.id.is_some() || args.table.target.is_some() {
            bail!(
                "--id and --target are for a single table; {} is a folder",
                args.data.display()
            );
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
            None => FeaturePipeline::fit_generic(&table)?,
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
    let pipeline_path = pipeline_path_for(&args.out);
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
