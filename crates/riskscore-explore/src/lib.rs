//! Exploratory analysis of raw tables, before any feature is built: per table its size, column
//! types, missing values, duplicates and key integrity; the class balance; anomalies (sentinel
//! codes such as DAYS_EMPLOYED = 365243, `XNA` categories, far outliers); and, on the table with
//! the target, each column's default rate by category or bin, its information value and its
//! correlation with the target. One self-contained HTML report (`report.rs`) and the same
//! numbers as JSON.
//!
//! Works on a Home Credit folder (the seven tables, typed by the layout, with the column
//! dictionary's descriptions) or on any single CSV/Parquet table with an id and a target.

pub mod profile;
pub mod report;
pub mod target;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::DataFrame;
use riskscore_data::read::{find_table_file, read_typed};
use riskscore_data::source::specs;
use riskscore_data::Table;
use serde::Serialize;

pub use profile::{Anomaly, ColumnProfile, KeyCheck, TableProfile};
pub use target::{Bin, FeatureTarget, TargetSummary};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Data(#[from] riskscore_data::Error),
    #[error("{context}: {}", riskscore_data::error::brief(.source))]
    Polars {
        context: String,
        source: polars::error::PolarsError,
    },
    #[error("{0}")]
    Input(String),
    /// A bug of ours (a worker thread's panic), not the input's.
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn polars_err(
    context: impl Into<String>,
) -> impl FnOnce(polars::error::PolarsError) -> Error {
    let context = context.into();
    move |source| Error::Polars { context, source }
}

/// The whole analysis.
#[derive(Debug, Clone, Serialize)]
pub struct Eda {
    /// The folder or file analysed.
    pub source: String,
    pub tables: Vec<TableProfile>,
    /// The target of the labelled table.
    pub target: Option<TargetSummary>,
    /// The labelled table's columns against the target, by information value (largest first).
    pub features: Vec<FeatureTarget>,
    pub anomalies: Vec<Anomaly>,
    pub seconds: f64,
}

/// Descriptions of columns by (table, column), from the Home Credit column dictionary.
#[derive(Debug, Clone, Default)]
pub struct Descriptions {
    by_table: HashMap<(String, String), String>,
}

impl Descriptions {
    /// The dictionary's file in `dir`, if there is one (`HomeCredit_columns_description.csv`).
    pub fn from_folder(dir: &Path) -> Result<Self> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(Self::default());
        };
        let file = entries.flatten().map(|e| e.path()).find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.to_ascii_lowercase().contains("columns_description"))
        });
        let Some(file) = file else {
            return Ok(Self::default());
        };
        let mut by_table = HashMap::new();
        for d in riskscore_data::dictionary::read_dictionary(&file)? {
            by_table.insert(
                (table_key(&d.table), d.column.trim().to_owned()),
                d.description,
            );
        }
        Ok(Descriptions { by_table })
    }

    /// The description of `column` in table `stem`.
    pub fn get(&self, stem: &str, column: &str) -> Option<&str> {
        self.by_table
            .get(&(table_key(stem), column.to_owned()))
            .map(String::as_str)
    }
}

/// A table's name as the dictionary and the files share it: `application_{train|test}.csv` and
/// `application_train` are both `application`.
fn table_key(name: &str) -> String {
    let name = name.trim().to_ascii_lowercase();
    let name = name.strip_suffix(".csv").unwrap_or(&name);
    let name = name.split("_{").next().unwrap_or(name);
    let name = name
        .strip_suffix("_train")
        .or_else(|| name.strip_suffix("_test"))
        .unwrap_or(name);
    name.to_owned()
}

/// Progress of a long analysis: (what, done, of).
pub type Progress<'a> = &'a (dyn Fn(&str, usize, usize) + Sync);

/// Explores a Home Credit folder: every table present, keys checked against their parents,
/// `application_train`'s columns against TARGET.
pub fn explore_home_credit(dir: &Path, progress: Progress<'_>) -> Result<Eda> {
    let started = Instant::now();
    let dictionary = Descriptions::from_folder(dir)?;
    let present: Vec<(Table, PathBuf)> = Table::ALL
        .iter()
        .filter_map(|t| find_table_file(dir, t.stem()).map(|p| (*t, p)))
        .collect();
    if !present.iter().any(|(t, _)| *t == Table::ApplicationTrain) {
        return Err(Error::Data(riskscore_data::Error::MissingTable {
            dir: dir.to_owned(),
            table: Table::ApplicationTrain.stem().into(),
        }));
    }
    let mut keys = profile::ParentKeys::default();
    let mut eda = Eda {
        source: dir.display().to_string(),
        tables: Vec::new(),
        target: None,
        features: Vec::new(),
        anomalies: Vec::new(),
        seconds: 0.0,
    };
    for (i, (table, path)) in present.iter().enumerate() {
        progress(table.stem(), i, present.len());
        let t = Instant::now();
        let df = read_typed(path, table.stem(), &specs(*table))?;
        tracing::info!(table = table.stem(), rows = df.height(), "read; profiling");
        let key = table.primary_key();
        let foreign: Vec<(&str, &str)> = table
            .foreign_keys()
            .iter()
            .map(|f| (f.column, keys_name(f.parent)))
            .collect();
        let describe = |c: &str| dictionary.get(table.stem(), c).map(str::to_owned);
        let (profiled, mut anomalies) =
            profile::profile_table(table.stem(), path, &df, key, &foreign, &keys, &describe)?;
        if *table == Table::ApplicationTrain {
            let (summary, features) = target::analyse(&df, "TARGET", &["SK_ID_CURR"], &describe)?;
            target::annotate_sentinels(&df, "TARGET", &mut anomalies)?;
            eda.target = Some(summary);
            eda.features = features;
        }
        eda.anomalies.extend(anomalies);
        eda.tables.push(profiled);
        // The parents' keys, for their children's orphan counts.
        match table {
            Table::ApplicationTrain | Table::ApplicationTest => {
                keys.add(&df, "SK_ID_CURR", "applications")?
            }
            Table::Bureau => keys.add(&df, "SK_ID_BUREAU", "bureau")?,
            Table::PreviousApplication => keys.add(&df, "SK_ID_PREV", "previous_application")?,
            _ => {}
        }
        tracing::info!(
            table = table.stem(),
            seconds = format!("{:.1}", t.elapsed().as_secs_f64()),
            "profiled"
        );
    }
    progress("done", present.len(), present.len());
    sort_anomalies(&mut eda.anomalies);
    eda.seconds = started.elapsed().as_secs_f64();
    Ok(eda)
}

/// Broken data first (keys, duplicates), then codes that hide missing values, then outliers;
/// the largest share first within a kind.
fn sort_anomalies(a: &mut [Anomaly]) {
    let rank = |k: &str| match k {
        "orphan keys" | "duplicate keys" | "duplicate rows" => 0,
        "sentinel" | "placeholder category" => 1,
        _ => 2,
    };
    a.sort_by(|x, y| {
        rank(&x.kind)
            .cmp(&rank(&y.kind))
            .then(y.share.total_cmp(&x.share))
    });
}

fn keys_name(parent: Table) -> &'static str {
    match parent {
        Table::ApplicationTrain | Table::ApplicationTest => "applications",
        Table::Bureau => "bureau",
        _ => "previous_application",
    }
}

/// Explores one table (CSV or Parquet) with an id column and a 0/1 target column.
pub fn explore_table(path: &Path, id: &str, target_column: &str) -> Result<Eda> {
    let started = Instant::now();
    let df = read_any(path)?;
    for c in [id, target_column] {
        if df.column(c).is_err() {
            return Err(Error::Input(format!(
                "{}: no column {c:?} (columns: {})",
                path.display(),
                df.get_column_names()
                    .iter()
                    .take(20)
                    .map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("table")
        .to_owned();
    let keys = profile::ParentKeys::default();
    let (table, mut anomalies) =
        profile::profile_table(&stem, path, &df, Some(id), &[], &keys, &|_| None)?;
    let (summary, features) = target::analyse(&df, target_column, &[id], &|_| None)?;
    target::annotate_sentinels(&df, target_column, &mut anomalies)?;
    sort_anomalies(&mut anomalies);
    Ok(Eda {
        source: path.display().to_string(),
        tables: vec![table],
        target: Some(summary),
        features,
        anomalies,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn read_any(path: &Path) -> Result<DataFrame> {
    if path.is_dir() {
        return Err(Error::Input(format!(
            "{}: not a Home Credit folder (no application_train table)",
            path.display()
        )));
    }
    Ok(riskscore_data::read::read_plain(path)?)
}
