//! The exploratory report: one self-contained HTML page (inline SVG charts with text
//! alternatives, no script, no network).

use riskscore_report::{esc, kpis, num, table, BarChart, LineChart, Page, Series};

use crate::{Eda, FeatureTarget, TableProfile};

/// Columns whose default rate by bin is charted.
const DETAILED: usize = 12;

pub fn render(e: &Eda) -> String {
    let mut page = Page::new("Exploratory data analysis");
    page.raw(&format!(
        "<p>Source: {}. Analysed in {:.1} s.</p>",
        esc(&e.source),
        e.seconds
    ));
    overview(&mut page, e);
    tables(&mut page, e);
    balance(&mut page, e);
    missing(&mut page, e);
    anomalies(&mut page, e);
    ranking(&mut page, e);
    correlations(&mut page, e);
    details(&mut page, e);
    dictionary(&mut page, e);
    page.finish()
}

fn pct(x: f64) -> String {
    format!("{:.2} %", 100.0 * x)
}

fn overview(page: &mut Page, e: &Eda) {
    let rows: usize = e.tables.iter().map(|t| t.rows).sum();
    let cols: usize = e.tables.iter().map(|t| t.columns.len()).sum();
    let mut items = vec![
        ("tables", e.tables.len().to_string()),
        ("rows", rows.to_string()),
        ("columns", cols.to_string()),
        ("anomalies", e.anomalies.len().to_string()),
    ];
    if let Some(t) = &e.target {
        items.push(("default rate", pct(t.rate)));
    }
    page.section("Overview", &kpis(&items));
}

fn tables(page: &mut Page, e: &Eda) {
    let rows: Vec<Vec<String>> = e
        .tables
        .iter()
        .map(|t| {
            let keys = t
                .foreign_keys
                .iter()
                .map(|k| match k.orphans {
                    Some(n) => format!("{} → {}: {n} orphan(s)", k.column, k.parent),
                    None => format!("{} → {}: parent absent", k.column, k.parent),
                })
                .collect::<Vec<_>>()
                .join("; ");
            vec![
                t.name.clone(),
                t.rows.to_string(),
                t.columns.len().to_string(),
                types(t),
                pct(t.missing_cells),
                t.duplicate_rows.to_string(),
                match (&t.key, t.duplicate_keys) {
                    (Some(k), Some(d)) => format!("{k}: {d} repeated"),
                    _ => "–".into(),
                },
                if keys.is_empty() { "–".into() } else { keys },
            ]
        })
        .collect();
    page.section(
        "Tables",
        &table(
            &[
                "table",
                "rows",
                "columns",
                "types",
                "missing cells",
                "duplicate rows",
                "primary key",
                "foreign keys",
            ],
            &rows,
            &[],
        ),
    );
}

fn types(t: &TableProfile) -> String {
    let n = |k: &str| t.columns.iter().filter(|c| c.kind == k).count();
    format!("{} numeric, {} categorical", n("numeric"), n("categorical"))
}

fn balance(page: &mut Page, e: &Eda) {
    let Some(t) = &e.target else { return };
    let chart = BarChart {
        title: format!("Class balance ({})", t.column),
        value_label: "clients".into(),
        bars: vec![
            ("repaid (0)".into(), t.negatives as f64),
            ("defaulted (1)".into(), t.positives as f64),
        ],
        description: format!(
            "{} clients repaid and {} defaulted: a default rate of {}.",
            t.negatives,
            t.positives,
            pct(t.rate)
        ),
    };
    page.section(
        "Class balance",
        &format!(
            "{}<p>{} labelled rows: {} repaid, {} defaulted ({}); about {:.1} repaid for each \
             default, so accuracy is a poor measure: training weighs the classes or resamples, \
             and the threshold follows the business cost.{}</p>",
            chart.svg(),
            t.rows,
            t.negatives,
            t.positives,
            pct(t.rate),
            t.negatives as f64 / t.positives as f64,
            if t.unlabelled > 0 {
                format!(" {} rows have no label and are left out.", t.unlabelled)
            } else {
                String::new()
            }
        ),
    );
}

fn missing(page: &mut Page, e: &Eda) {
    let mut html = String::new();
    for t in &e.tables {
        let mut cols: Vec<_> = t.columns.iter().filter(|c| c.missing > 0).collect();
        if cols.is_empty() {
            html += &format!("<p>{}: no missing values.</p>", esc(&t.name));
            continue;
        }
        cols.sort_by(|a, b| b.missing_rate.total_cmp(&a.missing_rate));
        let shown: Vec<_> = cols.iter().take(30).collect();
        let chart = BarChart {
            title: format!("{}: missing values by column", t.name),
            value_label: "share missing".into(),
            bars: shown
                .iter()
                .map(|c| (c.name.clone(), c.missing_rate))
                .collect(),
            description: shown
                .iter()
                .map(|c| format!("{}: {}", c.name, pct(c.missing_rate)))
                .collect::<Vec<_>>()
                .join("; "),
        };
        html += &chart.svg();
        if cols.len() > shown.len() {
            html += &format!(
                "<p class=\"note\">{} more columns with missing values in {}: see the column \
                 dictionary below.</p>",
                cols.len() - shown.len(),
                esc(&t.name)
            );
        }
    }
    page.section("Missing values (sorted)", &html);
}

fn anomalies(page: &mut Page, e: &Eda) {
    if e.anomalies.is_empty() {
        page.section("Anomalies", "<p>None found.</p>");
        return;
    }
    let rows: Vec<Vec<String>> = e
        .anomalies
        .iter()
        .map(|a| {
            vec![
                a.table.clone(),
                a.column.clone(),
                a.kind.clone(),
                a.count.to_string(),
                pct(a.share),
                a.note.clone(),
            ]
        })
        .collect();
    page.section(
        "Anomalies",
        &table(
            &["table", "column", "kind", "rows", "share", "note"],
            &rows,
            &[],
        ),
    );
}

fn ranking(page: &mut Page, e: &Eda) {
    if e.features.is_empty() {
        return;
    }
    let top: Vec<&FeatureTarget> = e.features.iter().take(30).collect();
    let chart = BarChart {
        title: "Information value (top 30)".into(),
        value_label: "information value".into(),
        bars: top.iter().map(|f| (f.name.clone(), f.iv)).collect(),
        description: top
            .iter()
            .map(|f| format!("{}: {:.4} ({})", f.name, f.iv, f.strength))
            .collect::<Vec<_>>()
            .join("; "),
    };
    let rows: Vec<Vec<String>> = e
        .features
        .iter()
        .enumerate()
        .map(|(i, f)| {
            vec![
                (i + 1).to_string(),
                f.name.clone(),
                f.kind.clone(),
                num(f.iv, 4),
                f.strength.clone(),
                f.correlation.map_or("–".into(), |r| num(r, 4)),
                pct(f.missing_rate),
                f.description.clone().unwrap_or_default(),
            ]
        })
        .collect();
    page.section(
        "Information value ranking",
        &format!(
            "{}<p class=\"note\">IV = Σ (share of the repaid − share of the defaulted) × WoE \
             over deciles (numeric) or categories, missing values as their own bin; below 0.02 \
             useless, 0.1 weak, 0.3 medium, 0.5 strong, above suspicious (a leak?).</p>\
             <details><summary>All {} columns</summary>{}</details>",
            chart.svg(),
            e.features.len(),
            table(
                &[
                    "rank",
                    "column",
                    "type",
                    "IV",
                    "strength",
                    "correlation",
                    "missing",
                    "description"
                ],
                &rows,
                &[]
            )
        ),
    );
}

fn correlations(page: &mut Page, e: &Eda) {
    let mut c: Vec<(&str, f64)> = e
        .features
        .iter()
        .filter_map(|f| f.correlation.map(|r| (f.name.as_str(), r)))
        .collect();
    if c.is_empty() {
        return;
    }
    c.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    c.truncate(20);
    let chart = BarChart {
        title: "Correlation with the target (top 20 by size)".into(),
        value_label: "|Pearson r| (sign in the label)".into(),
        bars: c
            .iter()
            .map(|(n, r)| {
                (
                    format!("{n} ({})", if *r < 0.0 { "−" } else { "+" }),
                    r.abs(),
                )
            })
            .collect(),
        description: c
            .iter()
            .map(|(n, r)| format!("{n}: {r:+.4}"))
            .collect::<Vec<_>>()
            .join("; "),
    };
    page.section(
        "Correlations with the target",
        &format!(
            "{}<p class=\"note\">Pearson correlation of each numeric column with the 0/1 target \
             on the rows where it has a value; a negative sign means higher values default less.</p>",
            chart.svg()
        ),
    );
}

fn details(page: &mut Page, e: &Eda) {
    let Some(t) = &e.target else { return };
    let mut html = String::new();
    for f in e.features.iter().take(DETAILED) {
        let idx = |g: &dyn Fn(&crate::Bin) -> f64| {
            f.bins
                .iter()
                .enumerate()
                .map(|(i, b)| (i as f64, g(b)))
                .collect::<Vec<_>>()
        };
        let legend = f
            .bins
            .iter()
            .enumerate()
            .map(|(i, b)| format!("{i}: {}", b.label))
            .collect::<Vec<_>>()
            .join("; ");
        let mut dist = LineChart::new(
            &format!("{}: distribution by target", f.name),
            "bin",
            "share of the class",
        );
        dist.series.push(
            Series::line(
                "repaid",
                idx(&|b| (b.count - b.defaults) as f64 / t.negatives as f64),
            )
            .dots(),
        );
        dist.series.push(
            Series::line(
                "defaulted",
                idx(&|b| b.defaults as f64 / t.positives as f64),
            )
            .dashed()
            .dots(),
        );
        dist.description = format!(
            "Share of the repaid and of the defaulted clients in each bin of {} ({legend}).",
            f.name
        );
        let mut rate = LineChart::new(
            &format!("{}: default rate by bin", f.name),
            "bin",
            "default rate",
        );
        rate.series
            .push(Series::line("default rate", idx(&|b| b.rate)).dots());
        rate.series.push(
            Series::line(
                "overall",
                vec![(0.0, t.rate), ((f.bins.len().max(2) - 1) as f64, t.rate)],
            )
            .dashed(),
        );
        rate.description = format!(
            "Default rate in each bin of {}: {}; overall {}.",
            f.name,
            f.bins
                .iter()
                .map(|b| format!("{} {}", b.label, pct(b.rate)))
                .collect::<Vec<_>>()
                .join("; "),
            pct(t.rate)
        );
        let rows: Vec<Vec<String>> = f
            .bins
            .iter()
            .enumerate()
            .map(|(i, b)| {
                vec![
                    i.to_string(),
                    b.label.clone(),
                    b.count.to_string(),
                    b.defaults.to_string(),
                    pct(b.rate),
                    num(b.woe, 4),
                ]
            })
            .collect();
        html += &format!(
            "<h3>{} (IV {:.4}, {})</h3>{}<div class=\"charts\">{}{}</div>{}",
            esc(&f.name),
            f.iv,
            esc(&f.strength),
            f.description
                .as_ref()
                .map(|d| format!("<p class=\"note\">{}</p>", esc(d)))
                .unwrap_or_default(),
            dist.svg(),
            rate.svg(),
            table(
                &[
                    "bin",
                    "values",
                    "clients",
                    "defaults",
                    "default rate",
                    "WoE"
                ],
                &rows,
                &[]
            )
        );
    }
    page.section(
        &format!(
            "Distributions by target and default rates ({} columns of highest IV)",
            e.features.len().min(DETAILED)
        ),
        &html,
    );
}

fn dictionary(page: &mut Page, e: &Eda) {
    let mut html = String::new();
    for t in &e.tables {
        let rows: Vec<Vec<String>> = t
            .columns
            .iter()
            .map(|c| {
                let summary = if c.kind == "numeric" {
                    match (c.min, c.median, c.max) {
                        (Some(a), Some(m), Some(b)) => format!(
                            "min {} · median {} · max {} · mean {}",
                            num(a, 4),
                            num(m, 4),
                            num(b, 4),
                            c.mean.map_or("–".into(), |x| num(x, 4))
                        ),
                        _ => "–".into(),
                    }
                } else {
                    c.top
                        .iter()
                        .map(|(v, n)| format!("{v} ({n})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                vec![
                    c.name.clone(),
                    c.dtype.clone(),
                    pct(c.missing_rate),
                    c.distinct.to_string(),
                    summary,
                    c.outliers.to_string(),
                    c.description.clone().unwrap_or_default(),
                ]
            })
            .collect();
        html += &format!(
            "<details><summary>{} ({} columns)</summary>{}</details>",
            esc(&t.name),
            t.columns.len(),
            table(
                &[
                    "column",
                    "type",
                    "missing",
                    "distinct",
                    "values",
                    "outliers (3 IQR)",
                    "description"
                ],
                &rows,
                &[]
            )
        );
    }
    page.section("Columns", &html);
}
