//! The scorecard as ANSI SQL: one `CASE` per characteristic giving its points, their sum the
//! score, the probability of default and the decision from it. Every number is written as
//! `CAST('…' AS DOUBLE PRECISION)` of its shortest exact decimal, so that a database computes
//! in doubles (PostgreSQL would otherwise add `numeric` literals exactly and round once) and
//! adds the points in riskscore's order: the score is riskscore's, bit for bit.
//!
//! Missing values are SQL `NULL`s; a numeric column's text in a categorical characteristic is
//! compared as text.

use std::fmt::Write;

use crate::binning::Bins;
use crate::scorecard::{Characteristic, Scorecard};

/// What the query reads and how it names the result.
#[derive(Debug, Clone)]
pub struct SqlTarget<'a> {
    /// The table (or view) of one row per client with the characteristics' columns.
    pub table: &'a str,
    /// Its id column, returned as `id`.
    pub id: &'a str,
    /// Refused when the score is at or below it (`Scaling::cutoff` of the threshold).
    pub cutoff: f64,
    /// Also return the probability of default, with `EXP` (PostgreSQL has it; SQLite only
    /// when built with its math functions).
    pub probability: bool,
}

/// A double literal that every SQL database reads as the same double.
fn number(v: f64) -> String {
    format!("CAST({v:?} AS DOUBLE PRECISION)")
}

/// An identifier, double-quoted (ANSI), inner quotes doubled.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The `CASE` expression giving one characteristic's points.
pub fn points_case(c: &Characteristic) -> String {
    let col = ident(&c.binning.name);
    let n = c.points.len();
    let missing = c.points[n - 1];
    let special = c.points[n - 2];
    let mut s = format!("CASE WHEN {col} IS NULL THEN {}", number(missing));
    match &c.binning.bins {
        Bins::Numeric {
            splits,
            special: codes,
        } => {
            if !codes.is_empty() {
                let list: Vec<String> = codes.iter().map(|&v| number(v)).collect();
                let _ = write!(
                    s,
                    " WHEN {col} IN ({}) THEN {}",
                    list.join(", "),
                    number(special)
                );
            }
            for (i, &split) in splits.iter().enumerate() {
                let _ = write!(
                    s,
                    " WHEN {col} < {} THEN {}",
                    number(split),
                    number(c.points[i])
                );
            }
            let _ = write!(s, " ELSE {} END", number(c.points[splits.len()]));
        }
        Bins::Categorical { groups } => {
            for (i, g) in groups.iter().enumerate() {
                let list: Vec<String> = g.iter().map(|k| text(k)).collect();
                let _ = write!(
                    s,
                    " WHEN CAST({col} AS VARCHAR(200)) IN ({}) THEN {}",
                    list.join(", "),
                    number(c.points[i])
                );
            }
            // An unseen category scores as the special row (weight of evidence 0).
            let _ = write!(s, " ELSE {} END", number(special));
        }
    }
    s
}

/// The whole query: `id`, `score`, `decision` (and `probability`) for every row of the table.
pub fn scorecard_query(card: &Scorecard, target: &SqlTarget) -> String {
    let mut q = String::new();
    let _ = writeln!(
        q,
        "-- riskscore scorecard: {} characteristics; score = the sum of their points; refused at or below {};",
        card.characteristics.len(),
        target.cutoff
    );
    let _ = writeln!(
        q,
        "-- probability of default = 1 / (1 + exp((score - {}) / {})).",
        card.scaling.offset, card.scaling.factor
    );
    let _ = write!(q, "SELECT id, score,");
    if target.probability {
        let _ = write!(
            q,
            "\n  {} / ({} + EXP((score - {}) / {})) AS probability,",
            number(1.0),
            number(1.0),
            number(card.scaling.offset),
            number(card.scaling.factor)
        );
    }
    let _ = writeln!(
        q,
        "\n  CASE WHEN score <= {} THEN 'refused' ELSE 'granted' END AS decision",
        number(target.cutoff)
    );
    let _ = writeln!(q, "FROM (");
    let _ = writeln!(q, "  SELECT {} AS id,", ident(target.id));
    let terms: Vec<String> = card
        .characteristics
        .iter()
        .map(|c| format!("    ({})", points_case(c)))
        .collect();
    let _ = writeln!(q, "{} AS score", terms.join("\n    + "));
    let _ = writeln!(q, "  FROM {}", ident(target.table));
    let _ = write!(q, ") AS scored");
    q
}

/// Binning tables as CSV: characteristic, bin, counts, event rate, WoE, IV per row, the
/// characteristic's IV last.
pub fn binning_csv(binnings: &[crate::binning::Binning]) -> String {
    let mut s =
        String::from("characteristic,bin,non_events,events,event_rate,woe,iv,characteristic_iv\n");
    for b in binnings {
        for row in &b.table {
            let _ = writeln!(s, "{},{}", row_fields(&b.name, row), b.iv);
        }
    }
    s
}

/// The points table as CSV: characteristic, bin, points, then the rows' counts, WoE and IV.
pub fn points_csv(card: &Scorecard) -> String {
    let mut s =
        String::from("characteristic,bin,points,non_events,events,event_rate,woe,iv,coefficient\n");
    for c in &card.characteristics {
        for (row, &points) in c.binning.table.iter().zip(&c.points) {
            let _ = writeln!(
                s,
                "{},{},{points},{},{}",
                csv_field(&c.binning.name),
                csv_field(&row.label),
                fields_after_bin(row),
                c.coefficient
            );
        }
    }
    s
}

/// characteristic, bin, non-events, events, event rate, WoE, IV.
fn row_fields(name: &str, row: &crate::binning::BinRow) -> String {
    format!(
        "{},{},{}",
        csv_field(name),
        csv_field(&row.label),
        fields_after_bin(row)
    )
}

fn fields_after_bin(row: &crate::binning::BinRow) -> String {
    format!(
        "{},{},{},{},{}",
        row.non_events, row.events, row.event_rate, row.woe, row.iv
    )
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}
