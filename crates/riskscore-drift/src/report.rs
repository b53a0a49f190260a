//! The drift report: one self-contained HTML page (share of drifted columns, every column
//! sorted by how far it moved, distribution overlays of the columns that moved most).

use riskscore_report::chart::{LineChart, Series};
use riskscore_report::{esc, kpis, num, table, Page};

use crate::detect::{ColumnDrift, DataDrift};

/// How far a column moved, for sorting: drifted first, then by PSI.
fn severity(c: &ColumnDrift) -> (bool, f64) {
    (c.drifted, c.psi.unwrap_or(-1.0))
}

/// The columns, most drifted first.
pub fn ranked(d: &DataDrift) -> Vec<&ColumnDrift> {
    let mut cols: Vec<&ColumnDrift> = d.columns.iter().collect();
    cols.sort_by(|a, b| {
        let (sa, sb) = (severity(a), severity(b));
        sb.0.cmp(&sa.0).then(sb.1.total_cmp(&sa.1))
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
