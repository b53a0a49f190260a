//! The review queue: decisions a person must look at (inside the review band around the
//! threshold, sent to review at intake, and by option every refusal or a random audit share),
//! stored beside the journal (a table `reviews` in the same SQLite file or PostgreSQL database).
//! An entry enters the queue in the transaction that commits it; a reviewer's final decision is
//! a new journal entry of kind `review` naming the automated one, so the hash chain covers it,
//! and it closes the review in its own transaction. The queue holds no decision of its own: what
//! it shows is read from the two journal entries.

use serde::Serialize;

use super::{Location, Store};
use crate::error::{Error, Result};

/// Why an entry is queued: inside the review band around the threshold.
pub const BAND: &str = "band";
/// Why an entry is queued: the intake found values outside the training data, or categories it never saw.
pub const INTAKE: &str = "intake";
/// Why an entry is queued: every refusal is reviewed (`serve --review-refusals`).
pub const REFUSAL: &str = "refusal";
/// Why an entry is queued: drawn for audit (`serve --audit-share`).
pub const AUDIT: &str = "audit";

/// An entry's audit draw, uniform in [0, 1): a hash of its request, time and row, so it can be
/// recomputed from the entry. Drawn by the journal's writer once the entry's time is final
/// (see [`super::Journal::record_queued`]).
pub fn audit_draw(request_id: &str, time: &str, input_hash: &str) -> f64 {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("{request_id}|{time}|{input_hash}"));
    u64::from_le_bytes(h[..8].try_into().unwrap_or_default()) as f64 / (u64::MAX as f64 + 1.0)
}

/// Which reviews to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Decided,
    All,
}

impl Status {
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "pending" => Some(Status::Pending),
            "decided" => Some(Status::Decided),
            "all" => Some(Status::All),
            _ => None,
        }
    }
}

/// A queued decision and, once reviewed, its final decision.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Review {
    /// The automated entry's sequence number (the review's id).
    pub entry: i64,
    /// `pending` or `decided`.
    #[schema(pattern = "^(pending|decided)$")]
    pub status: String,
    /// When it entered the queue (the automated decision's time).
    pub queued_at: String,
    /// Why it is reviewed: `band`, `intake`, `refusal` or `audit`.
    pub why: Vec<String>,
    /// The client id (or its pseudonym when the journal is keyed).
    pub client: String,
    /// `known` or `new`.
    pub kind: String,
    pub model_version: String,
    pub probability: f64,
    /// The automated decision.
    #[schema(pattern = "^(granted|refused)$")]
    pub decision: String,
    /// Its principal reasons (feature names), most important first.
    pub reasons: Vec<String>,
    /// The same reasons in words (the served model's wording).
    pub reasons_in_words: Vec<String>,
    /// Why the intake sent it to review (values outside the training data, categories it never saw), if it did.
    pub intake: Vec<String>,
    /// The reviewer's decision, once given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_decision: Option<FinalDecision>,
}

/// A reviewer's decision.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FinalDecision {
    /// The reviewer's journal entry.
    pub entry: i64,
    pub time: String,
    #[schema(pattern = "^(granted|refused)$")]
    pub decision: String,
    pub reviewer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The reviewer changed the automated decision.
    #[serde(rename = "override")]
    pub overrides: bool,
}

/// The queue's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// Reviews waiting.
    pub pending: usize,
    /// Age of the oldest waiting review, in seconds (absent when none waits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_pending_seconds: Option<f64>,
    /// Reviews decided.
    pub decided: usize,
    /// Per reviewer, in name order.
    pub reviewers: Vec<ReviewerFigures>,
}

/// One reviewer's decisions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReviewerFigures {
    pub reviewer: String,
    pub decided: usize,
    /// Automated refusals the reviewer granted.
    pub refused_to_granted: usize,
    /// Automated grants the reviewer refused.
    pub granted_to_refused: usize,
    /// Overrides over decisions.
    pub override_rate: f64,
}

/// The reviews `status` selects, at most `limit`: pending ones oldest first (the order to work
/// them in), the others most recent first.
pub fn list(loc: &Location, status: Status, limit: usize) -> Result<Vec<Review>> {
    let mut store = Store::open(loc)?;
    store
        .read_reviews(status, None, limit)
        .map_err(|message| Error::Journal {
            location: loc.display(),
            message,
        })
}

/// One review (None when the entry was never queued).
pub fn get(loc: &Location, entry: i64) -> Result<Option<Review>> {
    let mut store = Store::open(loc)?;
    store
        .read_reviews(Status::All, Some(entry), 1)
        .map(|v| v.into_iter().next())
        .map_err(|message| Error::Journal {
            location: loc.display(),
            message,
        })
}

/// The queue's figures at `now` (a journal time).
pub fn figures(loc: &Location, now: &str) -> Result<Figures> {
    let fail = |message| Error::Journal {
        location: loc.display(),
        message,
    };
    let mut store = Store::open(loc)?;
    let (pending, oldest) = store.pending_figures().map_err(fail)?;
    let decided = store.decided_figures().map_err(fail)?;
    let mut out = Figures {
        pending,
        oldest_pending_seconds: oldest.and_then(|t| seconds_between(&t, now)),
        ..Figures::default()
    };
    for (reviewer, automated, final_decision, n) in decided {
        let pos = match out.reviewers.iter().position(|r| r.reviewer == reviewer) {
            Some(i) => i,
            None => {
                out.reviewers.push(ReviewerFigures {
                    reviewer,
                    ..ReviewerFigures::default()
                });
                out.reviewers.len() - 1
            }
        };
        let r = &mut out.reviewers[pos];
        r.decided += n;
        out.decided += n;
        match (automated.as_str(), final_decision.as_str()) {
            ("refused", "granted") => r.refused_to_granted += n,
            ("granted", "refused") => r.granted_to_refused += n,
            _ => {}
        }
    }
    for r in &mut out.reviewers {
        r.override_rate = (r.refused_to_granted + r.granted_to_refused) as f64 / r.decided as f64;
    }
    out.reviewers.sort_by(|a, b| a.reviewer.cmp(&b.reviewer));
    Ok(out)
}

/// Seconds from `a` to `b`, two journal times (`YYYY-MM-DDTHH:MM:SS.mmmZ`).
pub fn seconds_between(a: &str, b: &str) -> Option<f64> {
    Some((millis(b)? - millis(a)?) as f64 / 1000.0)
}

/// Milliseconds since 1970 of a journal time.
fn millis(t: &str) -> Option<i64> {
    let n = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let fields = riskscore_data::clock::Utc {
        year: n(0..4)?,
        month: n(5..7)?,
        day: n(8..10)?,
        hour: n(11..13)?,
        minute: n(14..16)?,
        second: n(17..19)?,
        micros: 0,
    };
    Some(fields.unix_seconds() * 1000 + n(20..23)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_times_are_read_as_instants() {
        assert_eq!(millis("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(millis("2000-03-01T00:00:00.000Z"), Some(951_868_800_000));
        assert_eq!(
            seconds_between("2026-12-31T23:59:59.500Z", "2027-01-01T00:00:01.000Z"),
            Some(1.5)
        );
        // Across a leap day.
        assert_eq!(
            seconds_between("2028-02-28T12:00:00.000Z", "2028-03-01T12:00:00.000Z"),
            Some(2.0 * 86_400.0)
        );
        assert_eq!(millis("not a time"), None);
    }
}
