//! The model watched from its journal: performance estimated before the labels arrive (CBPE,
//! `riskscore_model::cbpe`, the bundle's out-of-fold predictions as the reference), and
//! realized once outcomes are recorded, by cohort, each against the cross-validated figures.

use std::collections::HashMap;
use std::path::Path;

use riskscore_model::cbpe::{Band, Cbpe, Chunk, Reference};
use riskscore_model::cost::CostMatrix;
use riskscore_model::metrics::roc_auc;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{Error, Result};
use crate::journal::outcomes::Stored;
use crate::journal::Entry;

/// Decisions per CBPE chunk unless told otherwise.
pub const DEFAULT_CHUNK: usize = 500;

/// How decisions are grouped for the realized figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cohorts {
    /// The calendar month of the decision (UTC).
    Month,
    /// Runs of this many decisions, in journal order.
    Size(usize),
}

/// The realized figures of a cohort of decisions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Cohort {
    /// `2026-12` (month) or `[start:end]` (decision positions).
    pub key: String,
    pub decided: usize,
    pub labelled: usize,
    pub labelled_share: f64,
    /// ROC AUC of the labelled decisions (None with fewer than both outcomes).
    pub roc_auc: Option<f64>,
    /// Default rate among the labelled granted and refused.
    pub default_rate_granted: Option<f64>,
    pub default_rate_refused: Option<f64>,
    /// The bundle's cost per labelled client at the served threshold.
    pub cost_per_client: Option<f64>,
    /// Calibration: the mean predicted probability and the observed default rate (labelled).
    pub mean_predicted: Option<f64>,
    pub observed_default_rate: Option<f64>,
}

/// The bundle's cross-validated figures the live ones are read against.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Baseline {
    pub cv_auc: f64,
    pub cost_per_client: f64,
    /// Reference rows (the out-of-fold predictions).
    pub rows: usize,
    /// NannyML's calibration check on the reference; when `needed`, the estimates read the
    /// probabilities recalibrated by isotonic regression on the reference.
    pub calibration: riskscore_model::calibration::NeedsCalibration,
}

/// What `riskscore monitor` and `GET /v1/monitor` give.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Monitor {
    pub model_version: String,
    pub threshold: f64,
    pub cost: CostMatrix,
    pub baseline: Baseline,
    /// Decisions of this model in the window (known clients and new applications).
    pub decisions: usize,
    pub labelled: usize,
    pub cohorts: Vec<Cohort>,
    /// CBPE per chunk of decisions, in journal order, with the realized figures of a chunk
    /// whose outcomes are all known.
    pub chunk_size: usize,
    pub estimated: Vec<Chunk>,
    /// Alert bands (roc_auc, the four cells, cost), from the reference chunks.
    pub bands: Vec<Band>,
    /// The challenger against the champion on the decisions it shadowed (None without one).
    pub challenger: Option<Comparison>,
}

/// A figure with its 95 % bootstrap interval.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Interval {
    /// `null` when undefined (no decision, or one class only).
    #[schema(value_type = Option<f64>)]
    pub value: f64,
    /// `null` when undefined (no decision, or one class only).
    #[schema(value_type = Option<f64>)]
    pub low: f64,
    /// `null` when undefined (no decision, or one class only).
    #[schema(value_type = Option<f64>)]
    pub high: f64,
}

/// One model's figures on the decisions both scored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Side {
    pub model_version: String,
    pub refused: usize,
    /// CBPE over all the pairs, against the model's own out-of-fold reference.
    /// `null` when undefined (no decision, or one class only).
    #[schema(value_type = Option<f64>)]
    pub estimated_auc: f64,
    /// `null` when undefined (no decision, or one class only).
    #[schema(value_type = Option<f64>)]
    pub estimated_cost: f64,
    /// On the pairs with an outcome (None without both outcomes among them).
    pub realized_auc: Option<Interval>,
    pub realized_cost: Option<Interval>,
}

/// Champion and challenger on the same decisions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Comparison {
    /// Champion decisions with their shadow entry.
    pub pairs: usize,
    /// Champion decisions of the window without a shadow entry (dropped, failed or pending).
    pub unshadowed: usize,
    pub labelled: usize,
    /// Share of pairs where both decide alike.
    /// `null` when undefined (no decision, or one class only).
    #[schema(value_type = Option<f64>)]
    pub agreement: f64,
    /// Mean and largest |challenger - champion| probability.
    /// `null` when undefined (no decision, or one class only).
    #[schema(value_type = Option<f64>)]
    pub mean_abs_difference: f64,
    /// `null` when undefined (no decision, or one class only).
    #[schema(value_type = Option<f64>)]
    pub max_abs_difference: f64,
    pub champion: Side,
    pub challenger: Side,
}

/// A model the monitor reads: its manifest, version and out-of-fold reference.
#[derive(Debug, Clone, Copy)]
pub struct ModelRef<'a> {
    pub manifest: &'a riskscore_model::bundle::Manifest,
    pub version: &'a str,
    pub reference: &'a Reference,
}

/// Bootstrap resamples of the realized comparison.
const RESAMPLES: usize = 200;

/// The challenger's shadow entries against their champion entries.
pub fn compare(
    entries: &[Entry],
    outcomes: &[Stored],
    champion: ModelRef<'_>,
    challenger: ModelRef<'_>,
) -> Comparison {
    let by_seq: HashMap<i64, &Entry> = entries
        .iter()
        .filter(|e| {
            matches!(e.decided.kind.as_str(), "known" | "new")
                && e.decided.model_version == champion.version
        })
        .map(|e| (e.seq, e))
        .collect();
    let mut pairs: Vec<(&Entry, &Entry)> = entries
        .iter()
        .filter(|e| e.decided.kind == "shadow" && e.decided.model_version == challenger.version)
        .filter_map(|s| {
            let c = by_seq.get(&s.decided.champion?)?;
            Some((*c, s))
        })
        .collect();
    pairs.sort_by_key(|(c, _)| c.seq);
    let label: HashMap<&str, u8> = outcomes
        .iter()
        .filter(|o| o.model_version == champion.version)
        .map(|o| (o.client.as_str(), o.defaulted))
        .collect();
    let pc: Vec<f64> = pairs.iter().map(|(c, _)| c.decided.probability).collect();
    let ps: Vec<f64> = pairs.iter().map(|(_, s)| s.decided.probability).collect();
    let y: Vec<Option<u8>> = pairs
        .iter()
        .map(|(c, _)| label.get(c.decided.client.as_str()).copied())
        .collect();
    let n = pairs.len();
    let agree = pairs
        .iter()
        .filter(|(c, s)| c.decided.decision == s.decided.decision)
        .count();
    let diffs: Vec<f64> = pc.iter().zip(&ps).map(|(a, b)| (b - a).abs()).collect();
    let labelled: Vec<usize> = (0..n).filter(|&i| y[i].is_some()).collect();
    let side = |m: ModelRef<'_>, p: &[f64]| -> Side {
        let t = m.manifest.threshold;
        let cost = m.manifest.cost;
        let est = Cbpe::fit(m.reference, t, cost, n.max(1))
            .estimate(p, None)
            .into_iter()
            .next();
        let realized = |rows: &[usize]| -> (f64, f64) {
            let lp: Vec<f64> = rows.iter().map(|&i| p[i]).collect();
            let ly: Vec<u8> = rows.iter().filter_map(|&i| y[i]).collect();
            let both = ly.contains(&0) && ly.contains(&1);
            let c: f64 = lp
                .iter()
                .zip(&ly)
                .map(|(&q, &t1)| match (q >= t, t1 == 1) {
                    (true, true) => cost.tp_cost,
                    (true, false) => cost.fp_cost,
                    (false, true) => cost.fn_cost,
                    (false, false) => cost.tn_cost,
                })
                .sum::<f64>()
                / lp.len().max(1) as f64;
            (if both { roc_auc(&lp, &ly) } else { f64::NAN }, c)
        };
        let (auc, cost_pc) = realized(&labelled);
        let mut rng = riskscore_data::synth::rng::Rng::new(20);
        let mut aucs = Vec::new();
        let mut costs = Vec::new();
        if !labelled.is_empty() {
            for _ in 0..RESAMPLES {
                let rows: Vec<usize> = (0..labelled.len())
                    .map(|_| labelled[rng.range(0, labelled.len() as i64 - 1) as usize])
                    .collect();
                let (a, c) = realized(&rows);
                if !a.is_nan() {
                    aucs.push(a);
                }
                costs.push(c);
            }
        }
        let interval = |value: f64, mut v: Vec<f64>| -> Option<Interval> {
            if value.is_nan() || v.is_empty() {
                return None;
            }
            v.sort_by(f64::total_cmp);
            let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
            Some(Interval {
                value,
                low: at(0.025),
                high: at(0.975),
            })
        };
        Side {
            model_version: m.version.to_owned(),
            refused: p.iter().filter(|&&q| q >= t).count(),
            estimated_auc: est.as_ref().map_or(f64::NAN, |c| c.estimated.roc_auc),
            estimated_cost: est.as_ref().map_or(f64::NAN, |c| c.estimated.cost),
            realized_auc: interval(auc, aucs),
            realized_cost: if labelled.is_empty() {
                None
            } else {
                interval(cost_pc, costs)
            },
        }
    };
    Comparison {
        pairs: n,
        unshadowed: by_seq.len() - n,
        labelled: labelled.len(),
        agreement: agree as f64 / n.max(1) as f64,
        mean_abs_difference: diffs.iter().sum::<f64>() / n.max(1) as f64,
        max_abs_difference: diffs.iter().copied().fold(0.0, f64::max),
        champion: side(champion, &pc),
        challenger: side(challenger, &ps),
    }
}

/// The bundle's out-of-fold probabilities and outcomes (`oof.csv`).
pub fn read_oof(model: &Path) -> Result<Reference> {
    let path = model.join("oof.csv");
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        context: format!("reading {}", path.display()),
        source,
    })?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| Error::Input(format!("{}: no column {name}", path.display())))
    };
    let (p_at, y_at) = (col("probability")?, 1);
    let (mut p, mut y) = (Vec::new(), Vec::new());
    for (n, line) in lines.enumerate() {
        let c: Vec<&str> = line.split(',').collect();
        let bad = || {
            Error::Input(format!(
                "{}, line {}: not a probability and a 0/1 outcome",
                path.display(),
                n + 2
            ))
        };
        p.push(
            c.get(p_at)
                .and_then(|v| v.parse::<f64>().ok())
                .ok_or_else(bad)?,
        );
        y.push(match c.get(y_at) {
            Some(&"1") => 1,
            Some(&"0") => 0,
            _ => return Err(bad()),
        });
    }
    Ok(Reference::new(p, y))
}

/// The monitor of `model_version`'s decisions in `entries` (journal order), with `outcomes`.
pub fn monitor(
    entries: &[Entry],
    outcomes: &[Stored],
    manifest: &riskscore_model::bundle::Manifest,
    model_version: &str,
    reference: &Reference,
    cohorts: Cohorts,
    chunk_size: usize,
) -> Monitor {
    let decided: Vec<&Entry> = entries
        .iter()
        .filter(|e| {
            matches!(e.decided.kind.as_str(), "known" | "new")
                && e.decided.model_version == model_version
        })
        .collect();
    let label: HashMap<&str, u8> = outcomes
        .iter()
        .filter(|o| o.model_version == model_version)
        .map(|o| (o.client.as_str(), o.defaulted))
        .collect();
    let p: Vec<f64> = decided.iter().map(|e| e.decided.probability).collect();
    let y: Vec<Option<u8>> = decided
        .iter()
        .map(|e| label.get(e.decided.client.as_str()).copied())
        .collect();
    let threshold = manifest.threshold;
    let cost = manifest.cost;
    let chunk_size = chunk_size.max(1);
    let cbpe = Cbpe::fit(reference, threshold, cost, chunk_size);
    let estimated = cbpe.estimate(&p, Some(&y));
    // Cohorts.
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, e) in decided.iter().enumerate() {
        let key = match cohorts {
            Cohorts::Month => e.decided.time.get(..7).unwrap_or("?").to_owned(),
            Cohorts::Size(n) => {
                let s = i / n.max(1) * n.max(1);
                format!("[{s}:{}]", (s + n.max(1)).min(decided.len()) - 1)
            }
        };
        match groups.last_mut() {
            Some((k, rows)) if *k == key => rows.push(i),
            _ => groups.push((key, vec![i])),
        }
    }
    let cohorts = groups
        .into_iter()
        .map(|(key, rows)| cohort(key, &rows, &p, &y, threshold, &cost))
        .collect();
    let m = &manifest.metrics;
    Monitor {
        model_version: model_version.to_owned(),
        threshold,
        cost,
        baseline: Baseline {
            cv_auc: m.cv_auc,
            cost_per_client: m.cost_per_client,
            rows: reference.p.len(),
            calibration: cbpe.calibration,
        },
        decisions: decided.len(),
        labelled: y.iter().filter(|l| l.is_some()).count(),
        cohorts,
        chunk_size,
        estimated,
        bands: cbpe.bands.to_vec(),
        challenger: None,
    }
}

/// NannyML's calibration check in words.
fn calibration_sentence(c: &riskscore_model::calibration::NeedsCalibration) -> String {
    if c.ece_before.is_nan() {
        return "NannyML's calibration check did not run (one class, an AUC above 0.999 or too few \
                rows): the estimates read the served probabilities."
            .to_owned();
    }
    let verdict = if c.needed {
        "it lowers the error, so the estimates read the probabilities recalibrated by isotonic \
         regression on the reference (the decisions and the realized figures keep the served ones)"
    } else {
        "it does not lower the error, so the estimates read the served probabilities"
    };
    format!(
        "NannyML's calibration check on the reference: expected calibration error {:.4} before \
         and {:.4} after an isotonic fit on held-out splits; {verdict}.",
        c.ece_before, c.ece_after
    )
}

fn cohort(
    key: String,
    rows: &[usize],
    p: &[f64],
    y: &[Option<u8>],
    threshold: f64,
    cost: &CostMatrix,
) -> Cohort {
    let lab: Vec<(f64, u8)> = rows
        .iter()
        .filter_map(|&i| y[i].map(|t| (p[i], t)))
        .collect();
    let n = lab.len();
    let rate = |refused: bool| {
        let v: Vec<u8> = lab
            .iter()
            .filter(|(q, _)| (*q >= threshold) == refused)
            .map(|(_, t)| *t)
            .collect();
        (!v.is_empty()).then(|| v.iter().map(|&t| f64::from(t)).sum::<f64>() / v.len() as f64)
    };
    let (lp, ly): (Vec<f64>, Vec<u8>) = lab.iter().copied().unzip();
    let both = ly.contains(&0) && ly.contains(&1);
    let total: f64 = lab
        .iter()
        .map(|&(q, t)| match (q >= threshold, t == 1) {
            (true, true) => cost.tp_cost,
            (true, false) => cost.fp_cost,
            (false, true) => cost.fn_cost,
            (false, false) => cost.tn_cost,
        })
        .sum();
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    Cohort {
        key,
        decided: rows.len(),
        labelled: n,
        labelled_share: n as f64 / rows.len().max(1) as f64,
        roc_auc: both.then(|| roc_auc(&lp, &ly)),
        default_rate_granted: rate(false),
        default_rate_refused: rate(true),
        cost_per_client: (n > 0).then(|| total / n as f64),
        mean_predicted: mean(&lp),
        observed_default_rate: mean(&ly.iter().map(|&t| f64::from(t)).collect::<Vec<_>>()),
    }
}

/// The monitor as one self-contained HTML page.
pub fn html(m: &Monitor) -> String {
    use riskscore_report::{esc, kpis, table, LineChart, Page, Series};
    type Pick = fn(&riskscore_model::cbpe::Metrics) -> f64;
    let mut page = Page::new(&format!("Monitoring of model {}", m.model_version));
    page.section(
        "Summary",
        &format!(
            "{}<p>Estimated figures (CBPE, NannyML's method on the served probabilities, the \
             bundle's out-of-fold predictions as reference) need no outcome; realized ones \
             appear as outcomes are recorded. Alert bands: the reference chunks' mean ± 3 \
             standard deviations.</p><p>{}</p>",
            kpis(&[
                ("decisions", m.decisions.to_string()),
                ("with an outcome", m.labelled.to_string()),
                ("threshold", format!("{:.4}", m.threshold)),
                ("cross-validated AUC", format!("{:.4}", m.baseline.cv_auc)),
                (
                    "cross-validated cost per client",
                    format!("{:.4}", m.baseline.cost_per_client)
                ),
            ]),
            calibration_sentence(&m.baseline.calibration)
        ),
    );
    let charts: [(&str, Pick, usize); 2] = [
        ("ROC AUC", |c| c.roc_auc, 0),
        ("cost per client", |c| c.cost, 5),
    ];
    let mut svgs = String::new();
    for (name, pick, band_at) in charts {
        let band = m.bands[band_at];
        let points = |f: &dyn Fn(&Chunk) -> f64| -> Vec<(f64, f64)> {
            m.estimated
                .iter()
                .enumerate()
                .map(|(i, c)| (i as f64, f(c)))
                .collect()
        };
        let mut c = LineChart::new(
            &format!(
                "Estimated and realized {name} by chunk of {} decisions",
                m.chunk_size
            ),
            "chunk",
            name,
        );
        c.series
            .push(Series::line("estimated", points(&|c| pick(&c.estimated))).dots());
        c.series.push(
            Series::line(
                "realized",
                points(&|c| c.realized.as_ref().map_or(f64::NAN, pick)),
            )
            .dots(),
        );
        c.series
            .push(Series::line("alert band, lower", points(&|_| band.lower)).dashed());
        c.series
            .push(Series::line("alert band, upper", points(&|_| band.upper)).dashed());
        c.description = format!(
            "{name} estimated for each chunk of {} decisions, realized where every outcome is \
             known, between the alert band {:.4} to {:.4}.",
            m.chunk_size, band.lower, band.upper
        );
        svgs.push_str(&c.svg());
    }
    page.section("By chunk", &svgs);
    let f = |v: f64| {
        if v.is_nan() {
            "–".into()
        } else {
            format!("{v:.4}")
        }
    };
    let rows: Vec<Vec<String>> = m
        .estimated
        .iter()
        .map(|c| {
            vec![
                format!("{}–{}", c.start, c.end - 1),
                f(c.estimated.roc_auc),
                c.realized.map_or("–".into(), |r| f(r.roc_auc)),
                f(c.estimated.cost),
                c.realized.map_or("–".into(), |r| f(r.cost)),
                esc(&c.alerts.join(", ")),
            ]
        })
        .collect();
    page.section(
        "Estimated (CBPE) and realized by chunk",
        &table(
            &[
                "decisions",
                "AUC est.",
                "AUC real.",
                "cost est.",
                "cost real.",
                "alerts",
            ],
            &rows,
            &[],
        ),
    );
    let opt = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.4}"));
    let rows: Vec<Vec<String>> = m
        .cohorts
        .iter()
        .map(|c| {
            vec![
                esc(&c.key),
                c.decided.to_string(),
                format!("{:.1} %", 100.0 * c.labelled_share),
                opt(c.roc_auc),
                opt(c.default_rate_granted),
                opt(c.default_rate_refused),
                opt(c.cost_per_client),
                opt(c.mean_predicted),
                opt(c.observed_default_rate),
            ]
        })
        .collect();
    page.section(
        "Realized by cohort",
        &table(
            &[
                "cohort",
                "decided",
                "labelled",
                "AUC",
                "default rate, granted",
                "default rate, refused",
                "cost per client",
                "mean predicted",
                "observed default rate",
            ],
            &rows,
            &[],
        ),
    );
    page.finish()
}
