//! Feature engineering: the Home Credit multi-table feature set (the "LightGBM with Simple
//! Features" kernel) and the generic single-table pipeline, both fitted once and then applied
//! unchanged by training and serving.

mod engine;
pub mod error;
pub mod exprs;
pub mod generic;
pub mod home_credit;
mod parquet_out;
pub mod pipeline;
pub mod protect;
pub mod vocab;

pub use error::{Error, Result};
pub use generic::{GenericSpec, GenericTable};
pub use home_credit::BuildReport;
pub use pipeline::{pipeline_path_for, ColumnSink, FeaturePipeline, Layout};
pub use protect::{group_of, Encoding, Formula};
pub use vocab::Vocabularies;

use std::path::Path;

use polars::prelude::*;

/// Writes a feature matrix as Parquet (Snappy, as pandas writes it).
pub fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::Pipeline {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Snappy)
        .finish(df)
        .map_err(Error::polars(path.display().to_string()))?;
    Ok(())
}
