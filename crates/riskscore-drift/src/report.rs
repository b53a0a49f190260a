//! The drift report: one self-contained HTML page (share of drifted columns, every column
//! sorted by how far it moved, distribution overlays of the columns that moved most).

use riskscore_report::chart::{LineChart, Series};
use riskscore_report::{esc, kpis, num, table, Page};

use crate::detect::{ColumnDrift, DataDrift};

/// How far a column moved, for sorting: drifted first, then by PSI.
/// How far a column moved by its test's score: a p-value the smaller the further, a distance
/// the larger (negated p-values, so that larger is always further); untested columns last.
fn strength(c: &ColumnDrift) -> f64 {
    match c.score {
        Some(s) if c.test.contains("p_value") => -s,
        Some(s) => s,
        None => f64::NEG_INFINITY,
    }
}

/// The columns, drifted first, then by score (most moved first), then by PSI.
pub fn ranked(d: &DataDrift) -> Vec<&ColumnDrift> {
    let mut cols: Vec<&ColumnDrift> = d.columns.iter().collect();
    cols.sort_by(|a, b| {
        b.drifted
            .cmp(&a.drifted)
            .then(strength(b).total_cmp(&strength(a)))
            .then(b.psi.unwrap_or(-1.0).total_cmp(&a.psi.unwrap_or(-1.0)))
    });
    cols
}

pub fn render(d: &DataDrift, reference: &str, current: &str) -> String {
    let mut page = Page::new("Data drift");
    page.raw(&format!(
        "<p>Reference: {} ({} rows). Current: {} ({} rows). Tests and thresholds are \
         Evidently's DataDriftPreset defaults; PSI bands: below 0.1 stable, 0.1 to 0.25 \
         moderate, above significant.</p>",
        esc(reference),
        d.reference_rows,
        esc(current),
        d.current_rows
    ));
    page.raw(&kpis(&[
        (
            "data set drift",
            if d.dataset_drift { "yes" } else { "no" }.into(),
        ),
        ("drifted columns", format!("{} of {}", d.drifted, d.tested)),
        ("share drifted", format!("{:.1} %", 100.0 * d.share)),
    ]));
    let cols = ranked(d);
    let rows: Vec<Vec<String>> = cols
        .iter()
        .map(|c| {
            vec![
                c.column.clone(),
                format!("{:?}", c.kind).to_lowercase(),
                c.test.clone(),
                c.score.map_or("–".into(), |s| format!("{s:.6}")),
                num(c.threshold, 2),
                if c.drifted { "drift" } else { "no drift" }.into(),
                c.psi.map_or("–".into(), |p| num(p, 4)),
                c.psi_band.clone().unwrap_or_else(|| "–".into()),
                c.note.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let drifted: Vec<usize> = (0..cols.len()).filter(|&i| cols[i].drifted).collect();
    page.section(
        "Columns",
        &table(
            &[
                "column",
                "type",
                "test",
                "score",
                "threshold",
                "verdict",
                "PSI",
                "PSI band",
                "note",
            ],
            &rows,
            &drifted,
        ),
    );
    let mut charts = String::new();
    for c in cols.iter().filter(|c| !c.buckets.is_empty()).take(12) {
        let mut chart = LineChart::new(
            &format!(
                "{} ({})",
                c.column,
                if c.drifted { "drift" } else { "no drift" }
            ),
            "bucket",
            "share of values",
        );
        let pts = |f: fn(&(String, f64, f64)) -> f64| {
            c.buckets
                .iter()
                .enumerate()
                .map(|(i, b)| (i as f64, f(b)))
                .collect::<Vec<_>>()
        };
        chart
            .series
            .push(Series::line("reference", pts(|b| b.1)).dots());
        chart
            .series
            .push(Series::line("current", pts(|b| b.2)).dashed().dots());
        chart.description = format!(
            "Share of {} in each bucket ({}), reference against current.",
            c.column,
            c.buckets
                .iter()
                .enumerate()
                .take(40)
                .map(|(i, b)| format!("{i}: {}", b.0))
                .collect::<Vec<_>>()
                .join("; ")
        );
        charts.push_str(&chart.svg());
    }
    page.section("Distributions of the columns that moved most", &charts);
    page.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{dataset_drift, Kind};

    fn col(name: &str, test: &str, score: Option<f64>, drifted: bool) -> ColumnDrift {
        ColumnDrift {
            column: name.into(),
            kind: Kind::Numerical,
            test: test.into(),
            score,
            threshold: 0.1,
            drifted,
            psi: Some(0.0),
            psi_band: None,
            reference_values: 1,
            current_values: 1,
            buckets: Vec::new(),
            note: None,
        }
    }

    #[test]
    fn drifted_first_then_by_score() {
        let w = "Wasserstein distance (normed)";
        let d = dataset_drift(
            vec![
                col("calm", w, Some(0.05), false),
                col("none", "not tested", None, false),
                col("some", w, Some(0.2), true),
                col("most", w, Some(0.9), true),
            ],
            10,
            10,
        );
        let order: Vec<&str> = ranked(&d).iter().map(|c| c.column.as_str()).collect();
        assert_eq!(order, ["most", "some", "calm", "none"]);
        // p-values: the smaller, the further.
        let p = "K-S p_value";
        let d = dataset_drift(
            vec![
                col("a", p, Some(0.04), true),
                col("b", p, Some(1e-9), true),
                col("c", p, Some(0.9), false),
                col("d", p, Some(0.3), false),
            ],
            10,
            10,
        );
        let order: Vec<&str> = ranked(&d).iter().map(|c| c.column.as_str()).collect();
        assert_eq!(order, ["b", "a", "d", "c"]);
    }
}
