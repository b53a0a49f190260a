//! Performance estimated before the labels arrive: NannyML's confidence-based performance
//! estimation (CBPE) for binary classification, on the served (calibrated) probabilities and
//! decisions. A calibrated probability p of default is the expected share of defaulters among
//! such applicants, so a chunk's confusion matrix, business cost and ROC AUC can be estimated
//! from its probabilities alone.
//!
//! NannyML 0.13.1's method, formula for formula (tested against it): the estimated ROC AUC
//! from cumulative expected positives (rounded to five decimals as NannyML rounds them), the
//! expected confusion matrix cells (shares of the chunk), chunks of a fixed size (the last one
//! kept short), alert bands of the realized metric over the reference chunks' mean ± 3
//! standard deviations clipped to the metric's range, and sampling errors from the reference.
//! The reference is the bundle's out-of-fold predictions. NannyML's calibration check runs on
//! it as NannyML runs it ([`crate::calibration::needs_calibration`]); when the check asks, an
//! isotonic fit on the whole reference recalibrates the probabilities the estimates read (the
//! decisions, the realized figures, the bands and the sampling errors keep the served ones), as
//! NannyML's default `IsotonicCalibrator` does. riskscore's probabilities are calibrated out of
//! fold already, so the check often finds nothing to gain; it is reported either way.

use serde::Serialize;

use std::sync::{Arc, OnceLock};

use crate::calibration::{fit_isotonic, needs_calibration, Calibration, NeedsCalibration};
use crate::cost::CostMatrix;
use crate::metrics::roc_auc;

/// The reference of the estimates (the bundle's out-of-fold probabilities and outcomes), with
/// NannyML's calibration check and, when it asks, the isotonic recalibration, computed once
/// on first use.
#[derive(Debug, Default, Clone)]
pub struct Reference {
    pub p: Vec<f64>,
    pub y: Vec<u8>,
    checked: OnceLock<(NeedsCalibration, Arc<Calibration>)>,
}

impl Reference {
    pub fn new(p: Vec<f64>, y: Vec<u8>) -> Self {
        Reference {
            p,
            y,
            checked: OnceLock::new(),
        }
    }

    fn checked(&self) -> &(NeedsCalibration, Arc<Calibration>) {
        self.checked.get_or_init(|| {
            let check = needs_calibration(&self.p, &self.y);
            let cal = if check.needed {
                fit_isotonic(&self.p, &self.y)
            } else {
                Calibration::None
            };
            (check, Arc::new(cal))
        })
    }

    /// NannyML's calibration check on the reference.
    pub fn check(&self) -> NeedsCalibration {
        self.checked().0
    }

    /// What the estimates read: the recalibrated probabilities when the check asked (shared,
    /// not copied, by every fit on this reference).
    pub fn recalibration(&self) -> Arc<Calibration> {
        self.checked().1.clone()
    }
}

/// NannyML's alert band: the reference chunks' mean ± this many standard deviations.
pub const BAND_STDS: f64 = 3.0;

/// One figure of a chunk for each metric.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Metrics {
    /// `null` when undefined (no decision, or one class only).
    #[schema(value_type = Option<f64>)]
    pub roc_auc: f64,
    /// Shares of the chunk: defaulters refused, good clients refused, defaulters granted,
    /// good clients granted.
    /// `null` when undefined (no decision, or one class only).
    #[schema(value_type = Option<f64>)]
    pub true_positive: f64,
    /// `null` when undefined (no decision, or one class only).
    #[schema(value_type = Option<f64>)]
    pub false_positive: f64,
    /// `null` when undefined (no decision, or one class only).
    #[schema(value_type = Option<f64>)]
    pub false_negative: f64,
    /// `null` when undefined (no decision, or one class only).
    #[schema(value_type = Option<f64>)]
    pub true_negative: f64,
    /// The bundle's cost matrix, per client.
    /// `null` when undefined (no decision, or one class only).
    #[schema(value_type = Option<f64>)]
    pub cost: f64,
}

impl Metrics {
    fn each(&self) -> [f64; 6] {
        [
            self.roc_auc,
            self.true_positive,
            self.false_positive,
            self.false_negative,
            self.true_negative,
            self.cost,
        ]
    }

    fn from_each(v: [f64; 6]) -> Self {
        Metrics {
            roc_auc: v[0],
            true_positive: v[1],
            false_positive: v[2],
            false_negative: v[3],
            true_negative: v[4],
            cost: v[5],
        }
    }
}

/// A metric's alert band.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Band {
    /// `null` when undefined (no decision, or one class only).
    #[schema(value_type = Option<f64>)]
    pub lower: f64,
    /// `null` when undefined (no decision, or one class only).
    #[schema(value_type = Option<f64>)]
    pub upper: f64,
}

/// One chunk's estimate.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Chunk {
    /// Rows `start..end` of the analysed decisions.
    pub start: usize,
    pub end: usize,
    pub estimated: Metrics,
    /// Per metric: the estimate's sampling error (NannyML's, from the reference).
    pub sampling_error: Metrics,
    /// The realized figures when every decision of the chunk has its outcome.
    pub realized: Option<Metrics>,
    /// The metrics whose estimate is outside its band.
    pub alerts: Vec<String>,
}

/// CBPE fitted on a reference: its bands and sampling-error components.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Cbpe {
    pub threshold: f64,
    /// NannyML's calibration check on the reference: when `needed`, the estimates read the
    /// probabilities recalibrated by an isotonic fit on the reference.
    pub calibration: NeedsCalibration,
    #[serde(skip)]
    #[schema(ignore)]
    recalibration: Arc<Calibration>,
    pub cost: CostMatrix,
    pub chunk_size: usize,
    pub bands: [Band; 6],
    /// Reference components: the AUC's (standard deviation, positive share), the cells'
    /// and the cost's standard deviations.
    auc_std: f64,
    auc_fraction: f64,
    stds: [f64; 5],
}

/// The metric names, in the order of [`Metrics`]' fields.
pub const NAMES: [&str; 6] = [
    "roc_auc",
    "true_positive",
    "false_positive",
    "false_negative",
    "true_negative",
    "cost",
];

/// NumPy's `np.round(x, 5)`: rint(x · 1e5) / 1e5, half to even.
fn round5(x: f64) -> f64 {
    (x * 1e5).round_ties_even() / 1e5
}

/// NannyML's estimated ROC AUC of calibrated probabilities `p` (NaN when they are all 0 or
/// all 1).
pub fn estimated_auc(p: &[f64]) -> f64 {
    estimated_auc_ranked(p, p)
}

/// NannyML's estimated ROC AUC: the rows ranked by the model's probabilities `model`, the
/// expected positives summed from the calibrated ones `p`.
fn estimated_auc_ranked(p: &[f64], model: &[f64]) -> f64 {
    let n = p.len();
    if n == 0 {
        return f64::NAN;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| model[b].total_cmp(&model[a]));
    let mut tps = Vec::with_capacity(n + 1);
    let mut fps = Vec::with_capacity(n + 1);
    tps.push(0.0);
    fps.push(0.0);
    let mut c = 0.0;
    for (k, &i) in order.iter().enumerate() {
        c += p[i];
        tps.push(round5(c));
        fps.push(round5((k + 1) as f64 - c));
    }
    let (tp_n, fp_n) = (tps[n], fps[n]);
    let mut area = 0.0;
    for k in 1..=n {
        let (x0, x1) = (fps[k - 1] / fp_n, fps[k] / fp_n);
        let (y0, y1) = (tps[k - 1] / tp_n, tps[k] / tp_n);
        area += (x1 - x0) * (y0 + y1) / 2.0;
    }
    area
}

/// The estimated cells (shares) and cost per client of calibrated probabilities `p` whose
/// served probabilities `model` were decided at `threshold` (refused when model >= threshold).
fn estimated_cells(p: &[f64], model: &[f64], threshold: f64, cost: &CostMatrix) -> [f64; 5] {
    let n = p.len() as f64;
    let (mut tp, mut fp, mut fn_, mut tn) = (0.0, 0.0, 0.0, 0.0);
    for (&q, &m) in p.iter().zip(model) {
        if m >= threshold {
            tp += q;
            fp += 1.0 - q;
        } else {
            fn_ += q;
            tn += 1.0 - q;
        }
    }
    let c = cost.tp_cost * tp + cost.fp_cost * fp + cost.fn_cost * fn_ + cost.tn_cost * tn;
    [tp / n, fp / n, fn_ / n, tn / n, c / n]
}

/// The realized figures of probabilities `p` with outcomes `y`.
fn realized(p: &[f64], y: &[u8], threshold: f64, cost: &CostMatrix) -> Metrics {
    let n = p.len() as f64;
    let mut cells = [0.0; 4];
    for (&q, &t) in p.iter().zip(y) {
        let refused = q >= threshold;
        let k = match (refused, t == 1) {
            (true, true) => 0,
            (true, false) => 1,
            (false, true) => 2,
            (false, false) => 3,
        };
        cells[k] += 1.0;
    }
    let c = cost.tp_cost * cells[0]
        + cost.fp_cost * cells[1]
        + cost.fn_cost * cells[2]
        + cost.tn_cost * cells[3];
    let one_class = y.iter().all(|&t| t == y[0]);
    Metrics {
        roc_auc: if one_class { f64::NAN } else { roc_auc(p, y) },
        true_positive: cells[0] / n,
        false_positive: cells[1] / n,
        false_negative: cells[2] / n,
        true_negative: cells[3] / n,
        cost: c / n,
    }
}

/// Rows `0..n` in chunks of `size`, the last one shorter (NannyML's "keep").
pub fn chunks(n: usize, size: usize) -> Vec<(usize, usize)> {
    let size = size.max(1);
    (0..n)
        .step_by(size)
        .map(|s| (s, (s + size).min(n)))
        .collect()
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let v: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    (m, var.sqrt())
}

impl Cbpe {
    /// Fits on the reference (the out-of-fold probabilities and outcomes).
    pub fn fit(reference: &Reference, threshold: f64, cost: CostMatrix, chunk_size: usize) -> Self {
        let (p, y) = (&reference.p[..], &reference.y[..]);
        // Bands: the realized metric over the reference chunks.
        let per_chunk: Vec<Metrics> = chunks(p.len(), chunk_size)
            .into_iter()
            .map(|(s, e)| realized(&p[s..e], &y[s..e], threshold, &cost))
            .collect();
        let mut bands = [Band {
            lower: f64::NAN,
            upper: f64::NAN,
        }; 6];
        for (m, band) in bands.iter_mut().enumerate() {
            let v: Vec<f64> = per_chunk.iter().map(|c| c.each()[m]).collect();
            let (mean, std) = mean_std(&v);
            let (mut lower, mut upper) = (mean - BAND_STDS * std, mean + BAND_STDS * std);
            // AUC and shares live in [0, 1]; the cost has no limit.
            if m < 5 {
                if lower <= 0.0 {
                    lower = 0.0;
                }
                if upper >= 1.0 {
                    upper = 1.0;
                }
            }
            *band = Band { lower, upper };
        }
        // Sampling-error components.
        let (auc_std, auc_fraction) = auc_components(p, y);
        let mut stds = [0.0; 5];
        let cells: Vec<[f64; 5]> = p
            .iter()
            .zip(y)
            .map(|(&q, &t)| {
                let refused = q >= threshold;
                let d = t == 1;
                let v = |b: bool| f64::from(u8::from(b));
                let c = match (refused, d) {
                    (true, true) => cost.tp_cost,
                    (true, false) => cost.fp_cost,
                    (false, true) => cost.fn_cost,
                    (false, false) => cost.tn_cost,
                };
                [
                    v(refused && d),
                    v(refused && !d),
                    v(!refused && d),
                    v(!refused && !d),
                    c,
                ]
            })
            .collect();
        for (k, s) in stds.iter_mut().enumerate() {
            let v: Vec<f64> = cells.iter().map(|c| c[k]).collect();
            *s = mean_std(&v).1;
        }
        Cbpe {
            threshold,
            calibration: reference.check(),
            recalibration: reference.recalibration(),
            cost,
            chunk_size,
            bands,
            auc_std,
            auc_fraction,
            stds,
        }
    }

    /// The estimate of each chunk of decisions `p` (served probabilities, in decision order;
    /// recalibrated for the estimates when the reference's check asked),
    /// with the realized figures of a chunk whose outcomes `y` are all known.
    pub fn estimate(&self, p: &[f64], y: Option<&[Option<u8>]>) -> Vec<Chunk> {
        chunks(p.len(), self.chunk_size)
            .into_iter()
            .map(|(s, e)| {
                let q = &p[s..e];
                let calibrated = self.recalibration.apply_all(q);
                let cells = estimated_cells(&calibrated, q, self.threshold, &self.cost);
                let estimated = Metrics::from_each([
                    estimated_auc_ranked(&calibrated, q),
                    cells[0],
                    cells[1],
                    cells[2],
                    cells[3],
                    cells[4],
                ]);
                let n = q.len() as f64;
                let auc_se = self.auc_std / (n * self.auc_fraction).sqrt();
                let se = Metrics::from_each([
                    auc_se,
                    self.stds[0] / n.sqrt(),
                    self.stds[1] / n.sqrt(),
                    self.stds[2] / n.sqrt(),
                    self.stds[3] / n.sqrt(),
                    self.stds[4] / n.sqrt(),
                ]);
                let realized = y.and_then(|y| {
                    let labels: Option<Vec<u8>> = y[s..e].iter().copied().collect();
                    labels.map(|l| realized(q, &l, self.threshold, &self.cost))
                });
                let alerts = NAMES
                    .iter()
                    .zip(estimated.each())
                    .zip(&self.bands)
                    .filter(|((_, v), b)| *v < b.lower || *v > b.upper)
                    .map(|((name, _), _)| (*name).to_owned())
                    .collect();
                Chunk {
                    start: s,
                    end: e,
                    estimated,
                    sampling_error: se,
                    realized,
                    alerts,
                }
            })
            .collect()
    }
}

/// NannyML's AUC sampling-error components (the Mann-Whitney view): the standard deviation of
/// the positives' normalised rank gaps, and the positive share.
fn auc_components(p: &[f64], y: &[u8]) -> (f64, f64) {
    let n = y.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let flip = y.iter().map(|&t| f64::from(t)).sum::<f64>() / n as f64 > 0.5;
    let (y, p): (Vec<u8>, Vec<f64>) = if flip {
        (
            y.iter().map(|&t| 1 - t).collect(),
            p.iter().map(|q| 1.0 - q).collect(),
        )
    } else {
        (y.to_vec(), p.to_vec())
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    // The ranks of the positives (rank 0 dropped, as NannyML's `np.unique(...)[1:]` does).
    let ranks: Vec<usize> = order
        .iter()
        .enumerate()
        .filter(|(r, &i)| y[i] == 1 && *r > 0)
        .map(|(r, _)| r)
        .collect();
    let n_pos = y.iter().filter(|&&t| t == 1).count() as f64;
    let n_neg = n as f64 - n_pos;
    let ser: Vec<f64> = ranks
        .iter()
        .enumerate()
        .map(|(i, &r)| (r - i) as f64 / n_neg)
        .collect();
    (mean_std(&ser).1, n_pos / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_the_short_last_one() {
        assert_eq!(chunks(7, 3), vec![(0, 3), (3, 6), (6, 7)]);
        assert_eq!(chunks(6, 3), vec![(0, 3), (3, 6)]);
    }

    #[test]
    fn the_estimated_auc_of_certain_probabilities_is_their_auc() {
        // Probabilities 0 and 1 are outcomes: the estimate is the realized AUC (1).
        assert!((estimated_auc(&[1.0, 0.0, 1.0, 0.0]) - 1.0).abs() < 1e-12);
        // Equal probabilities rank nothing.
        assert!((estimated_auc(&[0.3; 10]) - 0.5).abs() < 1e-9);
        assert!(estimated_auc(&[0.0, 0.0]).is_nan());
    }

    #[test]
    fn estimated_cells_are_expected_counts() {
        let c = CostMatrix {
            fn_cost: 10.0,
            fp_cost: 1.0,
            tp_cost: 0.0,
            tn_cost: 0.0,
        };
        let e = estimated_cells(&[0.5, 0.1], &[0.5, 0.1], 0.3, &c);
        // refused at 0.5: tp 0.5, fp 0.5; granted at 0.1: fn 0.1, tn 0.9.
        assert_eq!(e, [0.25, 0.25, 0.05, 0.45, (0.5 + 10.0 * 0.1) / 2.0]);
    }
}
