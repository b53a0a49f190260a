//! The fitted feature pipeline: what `features` learned (category vocabularies, feature names)
//! and what training and serving both apply.

use std::path::Path;

use polars::prelude::*;
use riskscore_data::TableSource;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::generic::{GenericSpec, GenericTable};
use crate::home_credit::{self, BuildReport, FeatureMatrix};
use crate::vocab::{VocabMode, Vocabularies};

/// The file format of a saved pipeline; bumped when the meaning of a field changes.
pub const FORMAT_VERSION: u32 = 1;

/// Which input layout the pipeline reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Layout {
    /// The seven Home Credit tables, joined on `SK_ID_CURR`.
    HomeCredit { vocabularies: Vocabularies },
    /// One table with an id and a target column.
    Generic(GenericSpec),
}

/// A fitted pipeline. Applying it to data gives the columns `id`, `target` and then exactly
/// `features`, in that order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeaturePipeline {
    pub format_version: u32,
    pub riskscore_version: String,
    pub id: String,
    pub target: String,
    pub layout: Layout,
    pub features: Vec<String>,
}

impl FeaturePipeline {
    /// Fits the Home Credit pipeline on a source and returns it with the feature matrix.
    pub fn fit_home_credit(source: &dyn TableSource) -> Result<(Self, DataFrame, BuildReport)> {
        let (pipeline, matrix, report) = Self::fit_home_credit_lazy(source)?;
        Ok((pipeline, matrix.collect()?, report))
    }

    /// Fits the Home Credit pipeline; the matrix is left as a lazy join of the per-table
    /// aggregates, collected by the caller.
    pub fn fit_home_credit_lazy(
        source: &dyn TableSource,
    ) -> Result<(Self, FeatureMatrix, BuildReport)> {
        let mut vocab = VocabMode::Fit(Vocabularies::default());
        let mut report = BuildReport::default();
        let matrix = home_credit::build_parts(source, &mut vocab, &mut report)?;
        let names = matrix.column_names()?;
        let vocabularies = vocab.into_fitted().unwrap_or_default();
        let pipeline = Self::new(
            "SK_ID_CURR",
            "TARGET",
            Layout::HomeCredit { vocabularies },
            &names,
        );
        Ok((pipeline, matrix, report))
    }

    /// Fits the generic pipeline on one table.
    pub fn fit_generic(table: &GenericTable) -> Result<(Self, DataFrame)> {
        let (spec, df) = table.fit()?;
        let (id, target) = (spec.id.clone(), spec.target.clone());
        let names: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let pipeline = Self::new(&id, &target, Layout::Generic(spec), &names);
        Ok((pipeline, df))
    }

    fn new(id: &str, target: &str, layout: Layout, columns: &[String]) -> Self {
        let features = columns
            .iter()
            .filter(|n| n.as_str() != id && n.as_str() != target)
            .cloned()
            .collect();
        FeaturePipeline {
            format_version: FORMAT_VERSION,
            riskscore_version: env!("CARGO_PKG_VERSION").into(),
            id: id.into(),
            target: target.into(),
            layout,
            features,
        }
    }

    /// Applies the fitted Home Credit pipeline to new tables (one application or many).
    pub fn transform_home_credit(&self, source: &dyn TableSource) -> Result<DataFrame> {
        self.transform_home_credit_lazy(source)?.collect()
    }

    /// As `transform_home_credit`, with the final join left lazy.
    pub fn transform_home_credit_lazy(&self, source: &dyn TableSource) -> Result<FeatureMatrix> {
        let Layout::HomeCredit { vocabularies } = &self.layout else {
            return Err(Error::Invalid(
                "this pipeline was fitted on a single table, not on Home Credit tables".into(),
            ));
        };
        let mut vocab = VocabMode::Use(vocabularies);
        let matrix = home_credit::build_parts(source, &mut vocab, &mut BuildReport::default())?;
        let columns = [self.id.clone(), self.target.clone()]
            .into_iter()
            .chain(self.features.iter().cloned())
            .collect();
        Ok(matrix.with_columns(columns))
    }

    /// Applies the fitted generic pipeline to a table (the target column may be absent).
    pub fn transform_generic(&self, table: &GenericTable) -> Result<DataFrame> {
        let Layout::Generic(spec) = &self.layout else {
            return Err(Error::Invalid(
                "this pipeline was fitted on Home Credit tables, not on a single table".into(),
            ));
        };
        self.conform(table.transform(spec)?)
    }

    /// Puts the columns in the fitted order, failing if any is missing.
    fn conform(&self, df: DataFrame) -> Result<DataFrame> {
        let mut names = vec![self.id.as_str(), self.target.as_str()];
        names.extend(self.features.iter().map(String::as_str));
        df.select(names)
            .map_err(Error::polars("columns of the fitted pipeline"))
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::Pipeline {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        std::fs::write(path, json).map_err(|e| Error::Pipeline {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::Pipeline {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let pipeline: Self = serde_json::from_slice(&bytes).map_err(|e| Error::Pipeline {
            path: path.display().to_string(),
            message: format!("not a riskscore feature pipeline: {e}"),
        })?;
        if pipeline.format_version != FORMAT_VERSION {
            return Err(Error::Pipeline {
                path: path.display().to_string(),
                message: format!(
                    "format version {} is not supported (this riskscore reads {FORMAT_VERSION})",
                    pipeline.format_version
                ),
            });
        }
        Ok(pipeline)
    }
}

/// The conventional place of the pipeline next to a feature file: `X.parquet` → `X.pipeline.json`.
pub fn pipeline_path_for(features: &Path) -> std::path::PathBuf {
    features.with_extension("pipeline.json")
}
