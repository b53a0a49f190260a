//! Where the Home Credit tables come from: a folder of files, or frames already in memory (one
//! application with its history, as the server receives it).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;

use crate::error::{Error, Result};
use crate::read::{find_table_file, is_parquet, read_typed, ColumnSpec};
use crate::scan::{scan_csv, Batch};
use crate::schema::Table;
use crate::validate::check_primary_key;

/// Gives typed, validated tables one at a time, so that a pipeline holds one large table in
/// memory at once.
pub trait TableSource {
    /// The table with every column of the layout, typed; `None` when an optional table is absent.
    fn load(&self, table: Table) -> Result<Option<DataFrame>>;

    /// Streams the columns `names` of a table to `sink` in batches, in row order; `false` when
    /// an optional table is absent. By default one batch of the loaded table.
    fn scan(
        &self,
        table: Table,
        names: &[&str],
        sink: &mut dyn FnMut(&Batch) -> Result<()>,
    ) -> Result<bool> {
        sink_whole(self.load(table)?, table, names, sink)
    }

    /// Whether work on this source is long enough to report its progress (files: yes; tables
    /// in memory, such as a posted application, no: their steps are logged at debug level).
    fn reports_progress(&self) -> bool {
        false
    }
}

/// Hands a loaded table to a scan's sink as one batch; `false` when there is none.
fn sink_whole(
    df: Option<DataFrame>,
    table: Table,
    names: &[&str],
    sink: &mut dyn FnMut(&Batch) -> Result<()>,
) -> Result<bool> {
    let Some(df) = df else {
        return Ok(false);
    };
    sink(&Batch::from_frame(table, &df, names)?)?;
    Ok(true)
}

/// The expected columns of a Home Credit table.
pub fn specs(table: Table) -> Vec<ColumnSpec> {
    table
        .columns()
        .iter()
        .map(|(name, kind)| ColumnSpec {
            name: (*name).to_owned(),
            kind: *kind,
        })
        .collect()
}

/// Whether `dir` holds an application table (`application_train` or `application_test`, CSV
/// or Parquet): a Home Credit folder. New applicants alone (application_test and the history
/// tables) are scored and served; only fitting needs application_train's labelled applicants.
pub fn holds_applications(dir: &Path) -> bool {
    [Table::ApplicationTrain, Table::ApplicationTest]
        .iter()
        .any(|t| find_table_file(dir, t.stem()).is_some())
}

/// A folder holding the Kaggle files (`application_train.csv`, `bureau.parquet`, ...).
#[derive(Debug, Clone)]
pub struct Folder {
    dir: PathBuf,
}

impl Folder {
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        if !dir.is_dir() {
            return Err(Error::Invalid {
                path: dir,
                message: "not a folder".into(),
            });
        }
        if !holds_applications(&dir) {
            return Err(Error::NoApplications { dir });
        }
        Ok(Folder { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of a table's file, if present.
    pub fn path_of(&self, table: Table) -> Option<PathBuf> {
        find_table_file(&self.dir, table.stem())
    }
}

impl Folder {
    /// The path of a table's file; `None` (with a warning) when an optional table is absent.
    fn existing(&self, table: Table) -> Result<Option<PathBuf>> {
        match self.path_of(table) {
            Some(path) => Ok(Some(path)),
            // A folder of new applicants: application_test holds them (`Folder::new`).
            None if table == Table::ApplicationTrain => {
                tracing::info!(dir = %self.dir.display(), "no application_train table: the applicants are application_test's");
                Ok(None)
            }
            None if table.is_required() => Err(Error::MissingTable {
                dir: self.dir.clone(),
                table: table.stem().into(),
            }),
            None => {
                tracing::warn!(table = table.stem(), dir = %self.dir.display(), "table absent: its features will be missing");
                Ok(None)
            }
        }
    }
}

impl TableSource for Folder {
    fn reports_progress(&self) -> bool {
        true
    }

    /// CSV files are parsed in blocks on every core and streamed; Parquet files are loaded.
    fn scan(
        &self,
        table: Table,
        names: &[&str],
        sink: &mut dyn FnMut(&Batch) -> Result<()>,
    ) -> Result<bool> {
        let Some(path) = self.existing(table)? else {
            return Ok(false);
        };
        if is_parquet(&path) {
            return sink_whole(self.load(table)?, table, names, sink);
        }
        let started = std::time::Instant::now();
        let mut rows = 0;
        scan_csv(&path, table, names, &mut |batch: &Batch| {
            rows += batch.rows;
            sink(batch)
        })?;
        tracing::info!(
            table = table.stem(),
            rows,
            seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
            cpu = crate::usage::cpu_label(),
            memory = crate::usage::memory_label(),
            "scanned"
        );
        Ok(true)
    }

    fn load(&self, table: Table) -> Result<Option<DataFrame>> {
        let Some(path) = self.existing(table)? else {
            return Ok(None);
        };
        let started = std::time::Instant::now();
        let df = read_typed(&path, table.stem(), &specs(table))?;
        check_primary_key(table, &df)?;
        tracing::info!(
            table = table.stem(),
            rows = df.height(),
            seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
            cpu = crate::usage::cpu_label(),
            "read"
        );
        Ok(Some(df))
    }
}

/// Tables already in memory, e.g. one application and its history rows.
#[derive(Debug, Clone, Default)]
pub struct InMemory {
    tables: HashMap<Table, DataFrame>,
}

impl InMemory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a table; its columns must be those of the layout, with the layout's types.
    pub fn with(mut self, table: Table, df: DataFrame) -> Result<Self> {
        crate::validate::check_frame(table, &df)?;
        check_primary_key(table, &df)?;
        self.tables.insert(table, df);
        Ok(self)
    }
}

impl TableSource for InMemory {
    fn load(&self, table: Table) -> Result<Option<DataFrame>> {
        Ok(self.tables.get(&table).cloned())
    }
}
