//! The global explanation report: mean |SHAP| and gain importance, a beeswarm summary and the
//! dependence plot of the most important feature, as one self-contained HTML file.

use std::fmt::Write;

use riskscore_report::{esc, kpis, num, table, BarChart, LineChart, Page, Series};

use crate::wording::Wording;

/// What the report is drawn from.
#[derive(Debug)]
pub struct GlobalInput<'a> {
    pub names: &'a [String],
    /// Row-major feature values.
    pub x: &'a [f64],
    /// Row-major SHAP values, n_features + 1 per row (base value last).
    pub shap: &'a [f64],
    /// Gain importance of the model, one per feature.
    pub gain: &'a [f64],
    pub wording: &'a Wording,
}

/// Mean |SHAP| per feature.
pub fn mean_abs(shap: &[f64], k: usize) -> Vec<f64> {
    let rows = shap.len() / (k + 1);
    let mut m = vec![0.0; k];
    for r in shap.chunks(k + 1) {
        for (a, v) in m.iter_mut().zip(r) {
            *a += v.abs();
        }
    }
    m.iter().map(|v| v / rows.max(1) as f64).collect()
}

pub fn render(g: &GlobalInput) -> String {
    let k = g.names.len();
    let rows = g.shap.len() / (k + 1);
    let importance = mean_abs(g.shap, k);
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| importance[b].total_cmp(&importance[a]));
    let mut page = Page::new("riskscore global explanation");
    page.raw(&kpis(&[
        ("clients explained", rows.to_string()),
        ("features", k.to_string()),
        (
            "base value (log-odds)",
            num(g.shap.get(k).copied().unwrap_or(f64::NAN), 4),
        ),
    ]));
    page.raw("<p class=\"note\">Exact TreeSHAP values in log-odds of default. Positive values push towards \
default (refusal), negative towards repayment.</p>");
    let top: Vec<usize> = order.iter().copied().take(20).collect();
    let bars = BarChart {
        title: "Mean |SHAP| (top 20)".into(),
        value_label: "mean absolute contribution (log-odds)".into(),
        bars: top
            .iter()
            .map(|&j| (g.names[j].clone(), importance[j]))
            .collect(),
        description: "Average size of each feature's contribution over the clients explained."
            .into(),
    };
    let mut by_gain: Vec<usize> = (0..k).collect();
    by_gain.sort_by(|&a, &b| g.gain[b].total_cmp(&g.gain[a]));
    let gain = BarChart {
        title: "Gain importance (top 20)".into(),
        value_label: "total gain of the splits".into(),
        bars: by_gain
            .iter()
            .take(20)
            .map(|&j| (g.names[j].clone(), g.gain[j]))
            .collect(),
        description: "Total loss reduction of the splits on each feature, from the model.".into(),
    };
    page.section(
        "Global importance",
        &format!("<div class=\"charts\">{}{}</div>", bars.svg(), gain.svg()),
    );
    page.section(
        "Summary (beeswarm)",
        &beeswarm(g, &order[..order.len().min(15)]),
    );
    if let Some(&first) = order.first() {
        page.section("Dependence", &dependence(g, first));
    }
    let rows_html: Vec<Vec<String>> = order
        .iter()
        .take(40)
        .enumerate()
        .map(|(r, &j)| {
            vec![
                (r + 1).to_string(),
                g.names[j].clone(),
                g.wording.describe(&g.names[j]),
                num(importance[j], 5),
                num(g.gain[j], 1),
            ]
        })
        .collect();
    page.section(
        "Top 40 features",
        &table(
            &["rank", "feature", "in words", "mean |SHAP|", "gain"],
            &rows_html,
            &[],
        ),
    );
    page.finish()
}

/// One row of dots per feature: x = SHAP value, colour = the feature's value from low (blue)
/// to high (vermillion), missing in grey. At most 600 clients, evenly sampled.
fn beeswarm(g: &GlobalInput, features: &[usize]) -> String {
    let k = g.names.len();
    let rows = g.shap.len() / (k + 1);
    let step = (rows / 600).max(1);
    let sample: Vec<usize> = (0..rows).step_by(step).collect();
    let (w, row_h, left) = (760.0, 26.0, 300.0);
    let h = 40.0 + row_h * features.len() as f64 + 40.0;
    let lim = features
        .iter()
        .flat_map(|&j| sample.iter().map(move |&r| (r, j)))
        .map(|(r, j)| g.shap[r * (k + 1) + j].abs())
        .fold(1e-9, f64::max);
    let sx = |v: f64| left + (v + lim) / (2.0 * lim) * (w - left - 20.0);
    let mut s = format!(
        "<figure><svg role=\"img\" viewBox=\"0 0 {w} {h:.0}\" width=\"{w}\" height=\"{h:.0}\" xmlns=\"http://www.w3.org/2000/svg\">\
<title>SHAP summary of the top features</title><desc>Each dot is a client: its horizontal position is the feature's contribution, \
its colour the feature's value (blue low, vermillion high, grey missing).</desc>\
<line x1=\"{z:.1}\" x2=\"{z:.1}\" y1=\"30\" y2=\"{b:.0}\" stroke=\"#888\"/>",
        z = sx(0.0),
        b = h - 30.0
    );
    for (i, &j) in features.iter().enumerate() {
        let y = 40.0 + row_h * i as f64 + row_h / 2.0;
        let vals: Vec<f64> = sample
            .iter()
            .map(|&r| g.x[r * k + j])
            .filter(|v| v.is_finite())
            .collect();
        let (lo, hi) = vals
            .iter()
            .fold((f64::MAX, f64::MIN), |a, &v| (a.0.min(v), a.1.max(v)));
        let _ = write!(
            s,
            "<text x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            y + 4.0,
            esc(&g.names[j])
        );
        for (n, &r) in sample.iter().enumerate() {
            let v = g.shap[r * (k + 1) + j];
            let fx = g.x[r * k + j];
            let colour = if fx.is_finite() {
                let t = if hi > lo { (fx - lo) / (hi - lo) } else { 0.5 };
                blend(t)
            } else {
                "#999999".to_string()
            };
            let jitter = ((n * 7919) % 17) as f64 / 17.0 * (row_h - 8.0) - (row_h - 8.0) / 2.0;
            let _ = write!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2\" fill=\"{colour}\"/>",
                sx(v),
                y + jitter
            );
        }
    }
    let _ = write!(
        s,
        "<text x=\"{left}\" y=\"{:.0}\" font-size=\"11\">{}</text><text x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\" text-anchor=\"end\">{}</text></svg>\
<figcaption>Contribution to the log-odds of default, from {} to {}.</figcaption></figure>",
        h - 12.0,
        esc(&format!("{:.3} (towards repayment)", -lim)),
        w - 20.0,
        h - 12.0,
        esc(&format!("{lim:.3} (towards default)")),
        num(-lim, 3),
        num(lim, 3)
    );
    s
}

/// Okabe-Ito blue (#0072B2) to vermillion (#D55E00).
fn blend(t: f64) -> String {
    let t = t.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    format!(
        "#{:02X}{:02X}{:02X}",
        mix(0.0, 213.0),
        mix(114.0, 94.0),
        mix(178.0, 0.0)
    )
}

fn dependence(g: &GlobalInput, j: usize) -> String {
    let k = g.names.len();
    let rows = g.shap.len() / (k + 1);
    let step = (rows / 1500).max(1);
    let pts: Vec<(f64, f64)> = (0..rows)
        .step_by(step)
        .map(|r| (g.x[r * k + j], g.shap[r * (k + 1) + j]))
        .filter(|p| p.0.is_finite())
        .collect();
    let mut c = LineChart::new(
        &format!("Dependence: {}", g.names[j]),
        &g.wording.describe(&g.names[j]),
        "SHAP value (log-odds)",
    );
    c.series.push(Series::line("clients", pts).dots());
    c.description = format!(
        "How the contribution of {} changes with its value, one dot per client.",
        g.names[j]
    );
    c.svg()
}
