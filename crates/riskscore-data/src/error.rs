use std::path::PathBuf;

/// What can go wrong while reading and checking input tables.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: the file is empty (no header line)")]
    Empty { path: PathBuf },
    #[error("{path}: missing column(s) {}; expected the {table} columns", .columns.join(", "))]
    MissingColumns {
        path: PathBuf,
        table: String,
        columns: Vec<String>,
    },
    #[error("{path}: column {column:?} appears more than once in the header")]
    DuplicateColumn { path: PathBuf, column: String },
    #[error("{path}:{line}: column {column:?}: cannot parse {value:?} as {expected}")]
    BadValue {
        path: PathBuf,
        line: u64,
        column: String,
        value: String,
        expected: &'static str,
    },
    #[error("{path}:{line}: {message}")]
    BadLine {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{path}: column {column:?} has type {found}, expected {expected}")]
    BadColumnType {
        path: PathBuf,
        column: String,
        found: String,
        expected: String,
    },
    #[error("{table}: {count} duplicate value(s) of the key {column}, first {first}")]
    DuplicateKey {
        table: String,
        column: String,
        count: usize,
        first: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("no {table} table in {dir} (looked for {table}.csv and {table}.parquet)")]
    MissingTable { dir: PathBuf, table: String },
    #[error("{context}: {source}")]
    Polars {
        context: String,
        source: polars::error::PolarsError,
    },
}

impl Error {
    pub(crate) fn polars(
        context: impl Into<String>,
    ) -> impl FnOnce(polars::error::PolarsError) -> Self {
        let context = context.into();
        move |source| Error::Polars { context, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
