//! Category vocabularies: learned when the pipeline is fitted, reused unchanged when it
//! transforms new data, so that one application gives the columns the batch gave.

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Sorted category values per `table.column`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocabularies(pub BTreeMap<String, Vec<String>>);

impl Vocabularies {
    /// The key of a column's vocabulary.
    pub fn key(table: &str, column: &str) -> String {
        format!("{table}.{column}")
    }

    /// The stored vocabulary of `table.column`; an error when the pipeline has none.
    pub fn get(&self, table: &str, column: &str) -> Result<&[String]> {
        let key = Self::key(table, column);
        self.0
            .get(&key)
            .map(Vec::as_slice)
            .ok_or(Error::NoVocabulary(key))
    }
}

/// What is said of category values a fitted pipeline never saw (one table or a folder).
pub(crate) const UNSEEN: &str =
    "values never seen in training: they count as none of the known values";

/// Learns vocabularies (fit) or reads them from a fitted pipeline (transform).
#[derive(Debug)]
pub(crate) enum VocabMode<'a> {
    Fit(Vocabularies),
    /// The fitted vocabularies; `loud`: values never seen in training are a warning (files),
    /// else a debug line (a posted application, whose intake answers with them).
    Use(&'a Vocabularies, bool),
}

impl VocabMode<'_> {
    /// The vocabulary of `column`: `seen` (sorted distinct values of the data) when fitting,
    /// the stored one otherwise.
    pub fn resolve(&mut self, table: &str, column: &str, seen: Vec<String>) -> Result<Vec<String>> {
        match self {
            VocabMode::Use(v, loud) => {
                let values = v.get(table, column)?;
                let unseen: Vec<&String> = seen.iter().filter(|s| !values.contains(s)).collect();
                if let Some(first) = unseen.first() {
                    let n = unseen.len();
                    if *loud {
                        tracing::warn!(table, column, values = n, first = %first, "{UNSEEN}");
                    } else {
                        tracing::debug!(table, column, values = n, first = %first, "{UNSEEN}");
                    }
                }
                Ok(values.to_vec())
            }
            VocabMode::Fit(v) => {
                v.0.insert(Vocabularies::key(table, column), seen.clone());
                Ok(seen)
            }
        }
    }

    /// Whether `value` can be in the vocabulary of `column`: always when fitting (every value
    /// seen joins it), when stored otherwise.
    pub fn admits(&self, table: &str, column: &str, value: &str) -> bool {
        match self {
            VocabMode::Use(v, _) => v
                .get(table, column)
                .is_ok_and(|values| values.iter().any(|x| x == value)),
            VocabMode::Fit(_) => true,
        }
    }

    pub fn into_fitted(self) -> Option<Vocabularies> {
        match self {
            VocabMode::Fit(v) => Some(v),
            VocabMode::Use(..) => None,
        }
    }
}

/// Sorted distinct non-null strings of a column (byte order, which is pandas' code-point order).
pub fn distinct_strings(df: &DataFrame, column: &str) -> Result<Vec<String>> {
    let context = format!("categories of {column}");
    let unique = df
        .column(column)
        .map_err(Error::polars(context.clone()))?
        .as_materialized_series()
        .unique()
        .map_err(Error::polars(context.clone()))?;
    let strings = unique.str().map_err(Error::polars(context))?;
    let mut values: Vec<String> = strings.iter().flatten().map(str::to_owned).collect();
    values.sort_unstable();
    Ok(values)
}
