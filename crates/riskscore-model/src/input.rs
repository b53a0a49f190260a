//! What `train` accepts: a feature matrix written by `riskscore features` (Parquet with its
//! `X.pipeline.json` beside it), a Home Credit folder, or one CSV/Parquet table with an id and a
//! target column. Raw inputs go through a freshly fitted feature pipeline.

use std::path::Path;

use polars::prelude::*;
use riskscore_data::Folder;
use riskscore_features::{pipeline_path_for, FeaturePipeline, GenericTable};

use crate::error::{Error, Result};

/// Options for a single raw table.
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    pub id: Option<String>,
    pub target: Option<String>,
    pub categorical: Vec<String>,
    pub numeric: Vec<String>,
    pub max_categories: Option<usize>,
}

/// Loads or builds the feature matrix and the pipeline that produced it.
pub fn load(path: &Path, opts: &TableOptions) -> Result<(FeaturePipeline, DataFrame)> {
    if path.is_dir() {
        let folder = Folder::new(path).map_err(riskscore_features::Error::from)?;
        tracing::info!(dir = %path.display(), "building Home Credit features");
        let (pipeline, df, report) = FeaturePipeline::fit_home_credit(&folder)?;
        if report.dropped_xna > 0 {
            tracing::info!(
                rows = report.dropped_xna,
                "dropped applications with CODE_GENDER = XNA"
            );
        }
        return Ok((pipeline, df));
    }
    if !path.is_file() {
        return Err(Error::Data(format!(
            "{}: no such file or folder",
            path.display()
        )));
    }
    let pipeline_path = pipeline_path_for(path);
    if pipeline_path.is_file() && opts.id.is_none() {
        let pipeline = FeaturePipeline::load(&pipeline_path)?;
        let df = read_parquet(path)?;
        return Ok((pipeline, df));
    }
    let (Some(id), Some(target)) = (&opts.id, &opts.target) else {
        return Err(Error::Data(format!(
            "{} is a single table without a fitted pipeline beside it ({}): give --id and --target",
            path.display(),
            pipeline_path.display()
        )));
    };
    let mut table = GenericTable::new(path, id, target);
    table.categorical = opts.categorical.clone();
    table.numeric = opts.numeric.clone();
    if let Some(m) = opts.max_categories {
        table.max_categories = m;
    }
    Ok(FeaturePipeline::fit_generic(&table)?)
}

/// Reads a feature matrix written as Parquet.
pub fn read_parquet(path: &Path) -> Result<DataFrame> {
    let file = std::fs::File::open(path).map_err(Error::io(path))?;
    ParquetReader::new(file).finish().map_err(|e| {
        Error::Data(format!(
            "{}: not a readable Parquet feature matrix: {}",
            path.display(),
            riskscore_data::error::brief(&e)
        ))
    })
}
