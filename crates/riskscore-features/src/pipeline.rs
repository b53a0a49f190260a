//! The fitted feature pipeline: what `features` learned (category vocabularies, feature names)
//! and what training and serving both apply.

use std::path::Path;

use polars::prelude::*;
use riskscore_data::TableSource;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::generic::{GenericSpec, GenericTable};
use crate::home_credit::{self, BuildReport, Out};
use crate::parquet_out::PageSink;
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

/// A fitted pipeline. Applying it to data gives the columns `id`, `target`, then exactly
/// `features` (the model inputs) and `audit` (the features derived from protected
/// attributes, kept for the fairness audit), in that order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeaturePipeline {
    pub format_version: u32,
    pub riskscore_version: String,
    pub id: String,
    pub target: String,
    pub layout: Layout,
    pub features: Vec<String>,
    /// Protected attributes (source columns): neither they nor any feature derived from them
    /// is a model input (see the `protect` module).
    #[serde(default)]
    pub protected: Vec<String>,
    /// The features derived from the protected attributes: computed after `features`, never
    /// given to the model.
    #[serde(default)]
    pub audit: Vec<String>,
    /// With `train --monotone-age`: the age column's value at 62 years, to which every older
    /// applicant's is capped (a floor on days before the application, a ceiling on years; see
    /// [`crate::protect::AgeCap`]), so every applicant aged 62 or more is seen as 62.
    #[serde(default, alias = "age_floor", skip_serializing_if = "Option::is_none")]
    pub age_cap: Option<f64>,
}

impl FeaturePipeline {
    /// Fits the Home Credit pipeline on a source and returns it with the feature matrix.
    pub fn fit_home_credit(source: &dyn TableSource) -> Result<(Self, DataFrame, BuildReport)> {
        let mut columns: Vec<Column> = Vec::new();
        let (pipeline, rows, report) = Self::fit_home_credit_into(source, &mut columns)?;
        let df = DataFrame::new(rows, columns).map_err(Error::polars("feature matrix"))?;
        Ok((pipeline, df, report))
    }

    /// Fits the Home Credit pipeline and writes the feature matrix to a Parquet file, never
    /// holding it whole (see the `parquet_out` module). Returns the pipeline and the row count.
    pub fn fit_home_credit_to_parquet(
        source: &dyn TableSource,
        path: &Path,
    ) -> Result<(Self, usize, BuildReport)> {
        let mut sink = PageSink::new()?;
        let (pipeline, rows, report) = Self::fit_home_credit_into(source, &mut sink)?;
        sink.write(path, None)?;
        Ok((pipeline, rows, report))
    }

    fn fit_home_credit_into(
        source: &dyn TableSource,
        out: &mut dyn NamedOut,
    ) -> Result<(Self, usize, BuildReport)> {
        let mut vocab = VocabMode::Fit(Vocabularies::default());
        let mut report = BuildReport::default();
        let rows = home_credit::build(source, &mut vocab, &mut report, out.as_out())?;
        let names = out.names()?;
        let vocabularies = vocab.into_fitted().unwrap_or_default();
        let pipeline = Self::new(
            "SK_ID_CURR",
            "TARGET",
            Layout::HomeCredit { vocabularies },
            &names,
        );
        Ok((pipeline, rows, report))
    }

    /// The Home Credit pipeline of a feature matrix built elsewhere (the Spark engine): its
    /// vocabularies and its columns (id, target, features), protected attributes by default.
    pub fn home_credit(vocabularies: Vocabularies, columns: &[String]) -> Self {
        Self::new(
            "SK_ID_CURR",
            "TARGET",
            Layout::HomeCredit { vocabularies },
            columns,
        )
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
        let mut pipeline = FeaturePipeline {
            format_version: FORMAT_VERSION,
            riskscore_version: env!("CARGO_PKG_VERSION").into(),
            id: id.into(),
            target: target.into(),
            layout,
            features,
            protected: Vec::new(),
            audit: Vec::new(),
            age_cap: None,
        };
        let protected = pipeline.default_protected();
        // The defaults are columns of the layout: this cannot fail.
        let _ = pipeline.protect(&protected);
        pipeline
    }

    /// Applies the fitted Home Credit pipeline to new tables (one application or many).
    pub fn transform_home_credit(&self, source: &dyn TableSource) -> Result<DataFrame> {
        let mut columns: Vec<Column> = Vec::new();
        let rows = self.transform_home_credit_into(source, &mut columns)?;
        let df = DataFrame::new(rows, columns).map_err(Error::polars("feature matrix"))?;
        self.conform(df)
    }

    /// As `transform_home_credit`, written to a Parquet file without holding the matrix.
    /// Returns the row count.
    pub fn transform_home_credit_to_parquet(
        &self,
        source: &dyn TableSource,
        path: &Path,
    ) -> Result<usize> {
        let mut sink = PageSink::new()?;
        self.transform_home_credit_into(source, &mut sink)?;
        sink.write(path, Some(&self.column_names()))
    }

    /// As [`FeaturePipeline::transform_home_credit`], handing each column to `sink` as soon as
    /// it is made instead of holding the matrix: no matrix, no file. The columns come in the
    /// order they are made, not the fitted order, and without the age cap of `--monotone-age`
    /// ([`FeaturePipeline::age_cap`]); Float64 columns come as their values, NaN where
    /// missing. Fails, after the last column, if a fitted column was not made. Returns the row
    /// count and how many rows of each history table every applicant has.
    pub fn transform_home_credit_each(
        &self,
        source: &dyn TableSource,
        sink: &mut dyn ColumnSink,
    ) -> Result<(usize, HistoryRows)> {
        let mut out = Each {
            sink,
            seen: std::collections::HashSet::new(),
            rows: Vec::new(),
        };
        let n = self.transform_home_credit_into(source, &mut out)?;
        if let Some(missing) = self
            .column_names()
            .into_iter()
            .find(|c| !out.seen.contains(c))
        {
            return Err(Error::Invalid(format!(
                "the tables give no column {missing}, a column of the fitted pipeline"
            )));
        }
        Ok((n, out.rows))
    }

    fn transform_home_credit_into(
        &self,
        source: &dyn TableSource,
        out: &mut dyn Out,
    ) -> Result<usize> {
        let mut vocab = VocabMode::Use(self.home_credit_vocabularies()?, source.reports_progress());
        home_credit::build(source, &mut vocab, &mut BuildReport::default(), out)
    }

    /// The values a categorical column took in training, sorted: `table` is `application` (the
    /// application tables, or the single table) or a history table's stem (`bureau`); `None`
    /// when the column is not categorical.
    pub fn vocabulary(&self, table: &str, column: &str) -> Option<&[String]> {
        match &self.layout {
            Layout::HomeCredit { vocabularies } => vocabularies.get(table, column).ok(),
            Layout::Generic(spec) => (table == "application")
                .then(|| spec.categorical.iter().find(|(n, _)| n == column))
                .flatten()
                .map(|(_, values)| values.as_slice()),
        }
    }

    /// The category vocabularies of a Home Credit pipeline; an error for a single-table one.
    pub fn home_credit_vocabularies(&self) -> Result<&Vocabularies> {
        match &self.layout {
            Layout::HomeCredit { vocabularies } => Ok(vocabularies),
            Layout::Generic(_) => Err(Error::Invalid(
                "this pipeline was fitted on a single table, not on Home Credit tables".into(),
            )),
        }
    }

    /// The id, the target, the features, then the audit columns.
    pub fn column_names(&self) -> Vec<String> {
        [self.id.clone(), self.target.clone()]
            .into_iter()
            .chain(self.all_features())
            .collect()
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
        let df = df
            .select(self.column_names())
            .map_err(Error::polars("columns of the fitted pipeline"))?;
        self.apply_age_cap(df)
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

/// Rows per applicant of each history table, in the matrix's row order.
pub type HistoryRows = Vec<(riskscore_data::Table, Vec<u32>)>;

/// Where [`FeaturePipeline::transform_home_credit_each`] hands the columns it makes.
pub trait ColumnSink {
    /// A column that is not Float64 (codes, dummies, counts, the id).
    fn column(&mut self, column: Column) -> Result<()>;

    /// A Float64 column's values, NaN where missing.
    fn floats(&mut self, name: &str, values: Vec<f64>) -> Result<()>;

    /// An empty buffer with room for `len` values, if the sink has one to give back (the
    /// pipeline fills it with a later column).
    fn buffer(&mut self, _len: usize) -> Option<Vec<f64>> {
        None
    }

    /// A buffer the pipeline no longer uses.
    fn recycle(&mut self, _buffer: Vec<f64>) {}

    /// Whether the pipeline should hold less at once for a little more CPU (the split tables'
    /// statistics kept only for the applicants with rows in each split): a sink that keeps
    /// every column it is handed (the server's rows) sets the peak with them.
    fn lean(&self) -> bool {
        false
    }

    /// History table `table` is folded: its columns are handed over and its running statistics
    /// given back.
    fn table_done(&mut self, _table: riskscore_data::Table) {}
}

/// The pipeline's output handed to a [`ColumnSink`], with the names seen and the history
/// counts kept.
struct Each<'a> {
    sink: &'a mut dyn ColumnSink,
    seen: std::collections::HashSet<String>,
    rows: HistoryRows,
}

impl Out for Each<'_> {
    fn push(&mut self, column: Column) -> Result<()> {
        self.seen.insert(column.name().to_string());
        self.sink.column(column)
    }

    fn push_floats(&mut self, name: &str, values: Vec<f64>) -> Result<()> {
        self.seen.insert(name.to_string());
        self.sink.floats(name, values)
    }

    fn buffer(&mut self, len: usize) -> Vec<f64> {
        match self.sink.buffer(len) {
            Some(mut v) => {
                v.clear();
                v.reserve(len);
                v
            }
            None => Vec::with_capacity(len),
        }
    }

    fn recycle(&mut self, buffer: Vec<f64>) {
        self.sink.recycle(buffer);
    }

    fn lean(&self) -> bool {
        self.sink.lean()
    }

    fn history_rows(&mut self, table: riskscore_data::Table, rows: Vec<u32>) {
        self.rows.push((table, rows));
        self.sink.table_done(table);
    }
}

/// The conventional place of the pipeline next to a feature file: `X.parquet` → `X.pipeline.json`.
pub fn pipeline_path_for(features: &Path) -> std::path::PathBuf {
    features.with_extension("pipeline.json")
}

/// An output that can name the columns pushed to it.
trait NamedOut {
    fn as_out(&mut self) -> &mut dyn Out;
    fn names(&mut self) -> Result<Vec<String>>;
}

impl NamedOut for Vec<Column> {
    fn as_out(&mut self) -> &mut dyn Out {
        self
    }
    fn names(&mut self) -> Result<Vec<String>> {
        Ok(self.iter().map(|c| c.name().to_string()).collect())
    }
}

impl NamedOut for PageSink {
    fn as_out(&mut self) -> &mut dyn Out {
        self
    }
    fn names(&mut self) -> Result<Vec<String>> {
        PageSink::names(self)
    }
}
