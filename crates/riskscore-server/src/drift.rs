//! Drift of the applications the service has scored: the journal's feature rows over a time
//! window against the model's training sample (the bundle's `reference.parquet`), with the
//! tests of `riskscore-drift`. Shared by `GET /v1/drift` and `riskscore drift --journal`.

use std::collections::HashSet;

use polars::prelude::{Column, DataFrame};
use riskscore_drift::{drift_frames, DataDrift};
use riskscore_model::run::PROBABILITY_COLUMN;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::journal::{read_window, Entry, Filter, Location};

/// Most recent scores read when no window is given.
pub const DEFAULT_LAST: usize = 10_000;
/// Most scores one request may read.
pub const MAX_LAST: usize = 100_000;

/// What the window held and what was used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Window {
    pub since: Option<String>,
    pub until: Option<String>,
    pub last: Option<usize>,
    /// Scores read (`known` and `new` entries; explanations are not counted).
    pub read: usize,
    /// Distinct applications tested (a client scored again with the same row counts once).
    pub used: usize,
    pub repeated: usize,
    /// Entries written before rows were stored.
    pub without_row: usize,
    /// Entries of other model versions (another feature layout).
    pub other_models: usize,
    /// Times of the first and last applications used.
    pub first_time: Option<String>,
    pub last_time: Option<String>,
}

/// The model's scores in the journal as a table: one column per feature (the model's order)
/// and the predicted probability, the latest entry of each (client, row) pair.
pub fn journal_frame(
    entries: &[Entry],
    names: &[String],
    model_version: &str,
    mut window: Window,
) -> Result<(DataFrame, Window)> {
    window.read = entries.len();
    let mut seen = HashSet::new();
    let mut rows: Vec<(Vec<f64>, f64, &str)> = Vec::new();
    // Newest first, so the latest of a repeated application is the one kept.
    for e in entries.iter().rev() {
        if e.decided.model_version != model_version {
            window.other_models += 1;
            continue;
        }
        let Some(x) = e.features() else {
            window.without_row += 1;
            continue;
        };
        if x.len() != names.len() {
            window.other_models += 1;
            continue;
        }
        if !seen.insert((e.decided.client.as_str(), e.decided.input_hash.as_str())) {
            window.repeated += 1;
            continue;
        }
        rows.push((x, e.decided.probability, e.decided.time.as_str()));
    }
    rows.reverse();
    window.used = rows.len();
    window.first_time = rows.first().map(|r| r.2.to_owned());
    window.last_time = rows.last().map(|r| r.2.to_owned());
    let mut cols: Vec<Column> = names
        .iter()
        .enumerate()
        .map(|(j, n)| {
            Column::new(
                n.as_str().into(),
                rows.iter().map(|r| r.0[j]).collect::<Vec<f64>>(),
            )
        })
        .collect();
    cols.push(Column::new(
        PROBABILITY_COLUMN.into(),
        rows.iter().map(|r| r.1).collect::<Vec<f64>>(),
    ));
    let frame = DataFrame::new(rows.len(), cols).map_err(|e| Error::Input(e.to_string()))?;
    Ok((frame, window))
}

/// Reads the window's scores of `model_version` from the journal and tests them against
/// `reference` (the columns of `names` and the predicted probability).
pub fn journal_drift(
    journal: &Location,
    filter: Filter,
    reference: &DataFrame,
    names: &[String],
    model_version: &str,
) -> Result<(DataDrift, Window)> {
    let filter = Filter {
        scores_only: true,
        rows: true,
        ..filter
    };
    let window = Window {
        since: filter.since.clone(),
        until: filter.until.clone(),
        last: filter.last,
        ..Window::default()
    };
    let entries = read_window(journal, &filter)?;
    let (current, window) = journal_frame(&entries, names, model_version, window)?;
    if window.used == 0 {
        return Err(Error::NoData(format!(
            "the journal {} has no scored applications of model {model_version} with their \
             feature rows in the window ({} scores read, {} of other models, {} without rows)",
            journal.display(),
            window.read,
            window.other_models,
            window.without_row
        )));
    }
    // Test only the model's features and the probability (not the id of the sample).
    let exclude: Vec<String> = reference
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .filter(|c| c != PROBABILITY_COLUMN && !names.contains(c))
        .collect();
    let drift = drift_frames(
        reference,
        &current,
        &exclude,
        "the model's training sample",
        &format!("the journal {}", journal.display()),
    )
    .map_err(|e| Error::Input(e.to_string()))?;
    Ok((drift, window))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{encode_row, input_hash, Decided};

    fn entry(seq: i64, client: &str, model: &str, row: Option<&[f64]>, p: f64) -> Entry {
        Entry {
            seq,
            decided: Decided {
                time: format!("2026-11-29T10:00:{seq:02}.000Z"),
                request_id: format!("r{seq}"),
                client: client.into(),
                kind: "known".into(),
                model_version: model.into(),
                probability: p,
                decision: "granted".into(),
                reasons: Vec::new(),
                input_hash: row.map(input_hash).unwrap_or_default(),
                review: Vec::new(),
                notice: Vec::new(),
                champion: None,
                reviewed: None,
            },
            prev_hash: String::new(),
            hash: String::new(),
            row: row.map(encode_row),
        }
    }

    #[test]
    fn the_latest_of_each_application_of_the_model_with_its_row() {
        let names = vec!["a".to_string(), "b".to_string()];
        let entries = vec![
            entry(1, "1", "m", Some(&[1.0, 2.0]), 0.1),
            entry(2, "2", "old", Some(&[9.0, 9.0]), 0.9),
            entry(3, "3", "m", None, 0.5),
            entry(4, "4", "m", Some(&[3.0]), 0.5),
            entry(5, "1", "m", Some(&[1.0, 2.0]), 0.1),
            entry(6, "5", "m", Some(&[f64::NAN, 4.0]), 0.3),
        ];
        let (frame, w) = journal_frame(&entries, &names, "m", Window::default()).unwrap();
        assert_eq!(
            (w.read, w.used, w.repeated, w.other_models, w.without_row),
            (6, 2, 1, 2, 1)
        );
        assert_eq!(w.first_time.as_deref(), Some("2026-11-29T10:00:05.000Z"));
        assert_eq!(w.last_time.as_deref(), Some("2026-11-29T10:00:06.000Z"));
        let a: Vec<Option<f64>> = frame.column("a").unwrap().f64().unwrap().iter().collect();
        assert_eq!(a[0], Some(1.0));
        assert!(a[1].unwrap().is_nan());
        let p: Vec<Option<f64>> = frame
            .column(PROBABILITY_COLUMN)
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(p, [Some(0.1), Some(0.3)]);
    }
}
