//! Outcomes: whether a decided client defaulted, recorded beside the journal (its own table in
//! the same SQLite file or PostgreSQL database), never changing a journal entry, so the hash
//! chain is untouched. One outcome per client and model version (the model of the client's
//! latest decision): recording the same value again changes nothing; a different value is
//! refused, as is a client the journal never decided.

use serde::{Deserialize, Serialize};

use super::{Location, Store};
use crate::error::{Error, Result};

/// One outcome to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub client: i64,
    /// 1 defaulted, 0 repaid.
    pub defaulted: u8,
    /// When the outcome was observed (a date or an RFC 3339 time, as given).
    pub observed_at: String,
}

/// A recorded outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Stored {
    pub client: String,
    pub model_version: String,
    pub defaulted: u8,
    pub observed_at: String,
    pub recorded_at: String,
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Recorded {
    /// Outcomes new to the store.
    pub recorded: usize,
    /// Outcomes already recorded with the same value (idempotent).
    pub unchanged: usize,
}

/// Why a batch was refused (nothing of it is written).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Refused {
    /// Positions of outcomes whose client the journal never decided.
    pub unknown: Vec<usize>,
    /// Positions of outcomes that differ from the one recorded, with the recorded value.
    pub conflicts: Vec<(usize, i64)>,
    /// The store failed.
    pub store: Option<String>,
}

impl Refused {
    pub fn is_empty(&self) -> bool {
        self.unknown.is_empty() && self.conflicts.is_empty() && self.store.is_none()
    }
}

/// Records a batch: all of it, or nothing.
pub fn record(loc: &Location, outcomes: &[Outcome]) -> std::result::Result<Recorded, Refused> {
    let mut store = Store::open(loc).map_err(|e| Refused {
        store: Some(e.to_string()),
        ..Refused::default()
    })?;
    store.record_outcomes(outcomes, &super::now_rfc3339())
}

/// Every recorded outcome.
pub fn read(loc: &Location) -> Result<Vec<Stored>> {
    let mut store = Store::open(loc)?;
    store.read_outcomes().map_err(|message| Error::Journal {
        location: loc.display(),
        message,
    })
}

/// Reads one outcome's fields (`defaulted` 0 or 1, or `false`/`true` as pandas writes a column of
/// booleans, in any case; `observed_at` a date or UTC time); the error names the field.
pub fn check(
    defaulted: &str,
    observed_at: &str,
) -> std::result::Result<(u8, String), (&'static str, String)> {
    let d = match defaulted.trim() {
        "0" => 0,
        "1" => 1,
        b if b.eq_ignore_ascii_case("false") => 0,
        b if b.eq_ignore_ascii_case("true") => 1,
        other => return Err(("defaulted", format!("`{other}` is not 0 or 1"))),
    };
    let t = observed_at.trim();
    if t.ends_with(['m', 'h', 'd']) {
        return Err(("observed_at", format!("`{t}` is not a date or a UTC time")));
    }
    super::instant(t).map_err(|e| ("observed_at", e))?;
    Ok((d, t.to_owned()))
}
