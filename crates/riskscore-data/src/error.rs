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
    #[error(
        "no application table in {dir} (looked for application_train and application_test, \
         .csv or .parquet)"
    )]
    NoApplications { dir: PathBuf },
    #[error("{context}: {}", brief(.source))]
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

/// Longest message kept of a library's error.
const BRIEF: usize = 300;

/// A polars error in one line: the innermost error's first line, without the query plan or
/// the context stack polars adds (those show with `-v`, where the whole error is printed).
pub fn brief(e: &polars::error::PolarsError) -> String {
    use polars::error::PolarsError;
    match e {
        PolarsError::Context { error, .. } | PolarsError::ExprContext { error, .. } => brief(error),
        other => one_line(&other.to_string()),
    }
}

/// The first non-empty line of a message, at most 300 characters.
pub fn one_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    match line.char_indices().nth(BRIEF) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    /// Two frames whose column is Int64 in one and Float64 in the other, concatenated: polars'
    /// error carries its plan; the brief keeps one line that says what went wrong.
    #[test]
    fn a_polars_error_in_one_line() {
        let a = df!("x" => [1i64, 2]).unwrap().lazy();
        let b = df!("x" => [1.5f64]).unwrap().lazy();
        let err = concat([a, b], UnionArgs::default())
            .and_then(|lf| lf.collect())
            .unwrap_err();
        let text = Error::Polars {
            context: "applications".into(),
            source: err,
        }
        .to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.starts_with("applications: "), "{text}");
        assert!(text.len() < 320, "{text}");
    }

    #[test]
    fn long_lines_are_cut() {
        assert_eq!(one_line("\n\n  short \nrest"), "short");
        assert_eq!(one_line(&"x".repeat(400)).len(), BRIEF + 3);
    }
}
