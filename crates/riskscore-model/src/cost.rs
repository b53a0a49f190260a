//! The business cost of decisions and the threshold that minimises it.
//!
//! A client is refused when its probability of default is at or above the threshold. The mean
//! cost per client is `(c_fn*FN + c_fp*FP + c_tp*TP + c_tn*TN) / n`; with the default matrix a
//! missed defaulter (FN) costs 10 and a wrongly refused good client (FP) costs 1.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::metrics::{order_desc, Confusion};
use riskscore_data::synth::rng::Rng;

/// Cost of each outcome, in the lender's unit (e.g. the loss of one refused good client).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CostMatrix {
    /// A defaulter granted a loan.
    pub fn_cost: f64,
    /// A good client refused.
    pub fp_cost: f64,
    /// A defaulter refused.
    pub tp_cost: f64,
    /// A good client granted.
    pub tn_cost: f64,
}

impl Default for CostMatrix {
    fn default() -> Self {
        CostMatrix {
            fn_cost: 10.0,
            fp_cost: 1.0,
            tp_cost: 0.0,
            tn_cost: 0.0,
        }
    }
}

impl CostMatrix {
    /// Costs must be finite, and a wrong decision must cost more than the right one.
    pub fn check(&self) -> Result<()> {
        for (name, v) in [
            ("cost-fn", self.fn_cost),
            ("cost-fp", self.fp_cost),
            ("cost-tp", self.tp_cost),
            ("cost-tn", self.tn_cost),
        ] {
            if !v.is_finite() {
                return Err(Error::param(name, format!("{v} is not a finite number")));
            }
        }
        if self.fn_cost <= self.tp_cost || self.fp_cost <= self.tn_cost {
            return Err(Error::param(
                "cost",
                format!(
                    "a wrong decision must cost more than the right one (FN {} vs TP {}, FP {} vs TN {})",
                    self.fn_cost, self.tp_cost, self.fp_cost, self.tn_cost
                ),
            ));
        }
        Ok(())
    }

    pub fn total(&self, c: &Confusion) -> f64 {
        self.fn_cost * c.fn_ as f64
            + self.fp_cost * c.fp as f64
            + self.tp_cost * c.tp as f64
            + self.tn_cost * c.tn as f64
    }

    /// Mean cost per client at a threshold.
    pub fn per_client(&self, p: &[f64], y: &[u8], threshold: f64) -> f64 {
        self.total(&Confusion::at(p, y, threshold)) / p.len() as f64
    }

    /// The threshold a perfectly calibrated model would use: refuse when the expected cost of
    /// granting, p*c_fn + (1-p)*c_tn, exceeds that of refusing, p*c_tp + (1-p)*c_fp.
    pub fn bayes_threshold(&self) -> f64 {
        let good = self.fp_cost - self.tn_cost;
        good / (good + self.fn_cost - self.tp_cost)
    }
}

/// The cost-minimising threshold on a set of predictions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Optimum {
    pub threshold: f64,
    pub cost_per_client: f64,
}

/// Scans every distinct probability as a cut (refuse it and everything above) and returns the
/// cheapest; the threshold is put halfway between the cut and the next lower probability, so
/// the same decisions follow from `p >= threshold`. O(n log n).
pub fn best_threshold(p: &[f64], y: &[u8], cost: &CostMatrix) -> Optimum {
    let order = order_desc(p);
    let weights = vec![1u32; p.len()];
    scan(p, y, &order, &weights, cost)
}

/// `weights[i]` copies of row `i` (a bootstrap resample), scanned in `order`.
fn scan(p: &[f64], y: &[u8], order: &[usize], weights: &[u32], cost: &CostMatrix) -> Optimum {
    let n: f64 = weights.iter().map(|&w| f64::from(w)).sum();
    let pos: f64 = order
        .iter()
        .map(|&i| f64::from(weights[i]) * f64::from(y[i]))
        .sum();
    let neg = n - pos;
    // Nobody refused: every defaulter is a FN, every good client a TN.
    let grant_all = cost.fn_cost * pos + cost.tn_cost * neg;
    let mut best = Optimum {
        threshold: 1.0_f64.max(p.iter().copied().fold(f64::MIN, f64::max) + 1e-12),
        cost_per_client: grant_all / n,
    };
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        // A run of equal probabilities.
        let j = crate::metrics::run_end(p, order, i);
        for &k in &order[i..j] {
            let w = f64::from(weights[k]);
            if y[k] == 1 {
                tp += w;
            } else {
                fp += w;
            }
        }
        let total = cost.tp_cost * tp
            + cost.fp_cost * fp
            + cost.fn_cost * (pos - tp)
            + cost.tn_cost * (neg - fp);
        if total / n < best.cost_per_client {
            let next = if j < order.len() { p[order[j]] } else { 0.0 };
            best = Optimum {
                threshold: (p[order[i]] + next) / 2.0,
                cost_per_client: total / n,
            };
        }
        i = j;
    }
    best
}

/// Percentile interval from bootstrap resamples of the predictions (not a number without
/// resamples: written as null, read back as NaN).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    #[serde(deserialize_with = "crate::profile::nullable::f64")]
    pub low: f64,
    #[serde(deserialize_with = "crate::profile::nullable::f64")]
    pub high: f64,
}

/// Bootstrap intervals (95 %) of the optimal threshold and of the cost per client at the
/// chosen threshold, from `resamples` resamples of the rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdUncertainty {
    pub resamples: usize,
    pub threshold: Interval,
    pub cost_per_client: Interval,
}

pub fn bootstrap(
    p: &[f64],
    y: &[u8],
    cost: &CostMatrix,
    chosen: f64,
    resamples: usize,
    seed: u64,
) -> ThresholdUncertainty {
    let order = order_desc(p);
    let mut rng = Rng::new(seed);
    let mut weights = vec![0u32; p.len()];
    let row_cost: Vec<f64> = p
        .iter()
        .zip(y)
        .map(|(&q, &t)| cost.total(&Confusion::at(&[q], &[t], chosen)))
        .collect();
    let (mut thresholds, mut costs) = (Vec::new(), Vec::new());
    for _ in 0..resamples {
        resample(&mut rng, &mut weights);
        thresholds.push(scan(p, y, &order, &weights, cost).threshold);
        let total: f64 = weights
            .iter()
            .zip(&row_cost)
            .map(|(&w, &c)| f64::from(w) * c)
            .sum();
        costs.push(total / p.len() as f64);
    }
    ThresholdUncertainty {
        resamples,
        threshold: percentile_interval(&mut thresholds),
        cost_per_client: percentile_interval(&mut costs),
    }
}

/// One bootstrap resample: `weights[i]` becomes how many times row `i` is drawn, out of as
/// many draws with replacement as there are rows.
pub(crate) fn resample(rng: &mut Rng, weights: &mut [u32]) {
    let n = weights.len() as u64;
    weights.iter_mut().for_each(|w| *w = 0);
    for _ in 0..n {
        weights[(rng.next_u64() % n) as usize] += 1;
    }
}

/// [`resample`]'s draws counted by cell: `counts[c]` becomes how many of the draws fell on a
/// row `i` with `cells[i] == c`. From the same generator state it makes the same draws, so
/// the counts are those of `resample`'s weights summed by cell, without the weights or a pass
/// over the rows to sum them.
pub(crate) fn resample_cells(rng: &mut Rng, cells: &[u32], counts: &mut [u64]) {
    let n = cells.len() as u64;
    counts.iter_mut().for_each(|c| *c = 0);
    for _ in 0..n {
        counts[cells[(rng.next_u64() % n) as usize] as usize] += 1;
    }
}

/// The 2.5 and 97.5 percentiles of resampled values (nearest rank; NaN without values).
pub(crate) fn percentile_interval(v: &mut [f64]) -> Interval {
    if v.is_empty() {
        return Interval {
            low: f64::NAN,
            high: f64::NAN,
        };
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
    Interval {
        low: at(0.025),
        high: at(0.975),
    }
}

/// Mean cost per client at `points` evenly spaced thresholds in [0, hi] (the report's chart).
pub fn cost_curve(
    p: &[f64],
    y: &[u8],
    cost: &CostMatrix,
    points: usize,
    hi: f64,
) -> Vec<(f64, f64)> {
    (0..points)
        .map(|k| {
            let t = hi * k as f64 / (points - 1).max(1) as f64;
            (t, cost.per_client(p, y, t))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A probability that is not a number ends its own run: the scan ends (it looped forever).
    #[test]
    fn a_nan_probability_does_not_stop_the_scan() {
        let p = [0.9, f64::NAN, 0.2, 0.2, f64::NAN, 0.7];
        let y = [1, 0, 0, 1, 1, 0];
        let best = best_threshold(&p, &y, &CostMatrix::default());
        assert!(best.cost_per_client.is_finite());
        let curve = crate::metrics::roc_points(&p, &y, 100);
        assert!(!curve.is_empty());
    }

    /// The cells' counts are `resample`'s weights summed by cell, resample after resample from
    /// one generator each (so the draws, not only their totals, stay in step).
    #[test]
    fn draws_counted_by_cell_are_the_weights_summed_by_cell() {
        let n = 1_013;
        let cells: Vec<u32> = (0..n).map(|i| ((i * 7 + i / 13) % 9) as u32).collect();
        let (mut a, mut b) = (Rng::new(5), Rng::new(5));
        let mut weights = vec![0u32; n];
        let mut counts = vec![0u64; 9];
        for _ in 0..20 {
            resample(&mut a, &mut weights);
            resample_cells(&mut b, &cells, &mut counts);
            let mut summed = vec![0u64; 9];
            for (&c, &w) in cells.iter().zip(&weights) {
                summed[c as usize] += u64::from(w);
            }
            assert_eq!(counts, summed);
            assert_eq!(counts.iter().sum::<u64>(), n as u64);
        }
        assert_eq!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn hand_checked_threshold() {
        // Five clients, default costs FN 10, FP 1.
        let p = [0.9, 0.6, 0.3, 0.2, 0.05];
        let y = [1, 0, 1, 0, 0];
        let c = CostMatrix::default();
        // Total cost of each cut: grant all = 2 FN = 20; refuse {.9} = 1 FN = 10;
        // refuse {.9,.6} = 1 FN + 1 FP = 11; refuse {.9,.6,.3} = 1 FP = 1; down to .2 = 2 FP = 2;
        // refuse all = 3 FP = 3. Best: refuse down to 0.3, cost 1/5; threshold (0.3+0.2)/2.
        let best = best_threshold(&p, &y, &c);
        assert!((best.threshold - 0.25).abs() < 1e-12);
        assert!((best.cost_per_client - 0.2).abs() < 1e-12);
        assert!((c.per_client(&p, &y, best.threshold) - 0.2).abs() < 1e-12);
    }

    #[test]
    fn grant_all_when_refusing_never_pays() {
        // Refusing anyone costs more than the defaults it avoids.
        let p = [0.5, 0.4];
        let y = [0, 0];
        let best = best_threshold(&p, &y, &CostMatrix::default());
        assert_eq!(best.cost_per_client, 0.0);
        assert!(best.threshold > 0.5);
    }

    #[test]
    fn bayes_threshold_of_the_default_matrix() {
        // 1 / (1 + 10).
        assert!((CostMatrix::default().bayes_threshold() - 1.0 / 11.0).abs() < 1e-15);
    }

    #[test]
    fn invalid_costs_are_refused() {
        let c = CostMatrix {
            fn_cost: 0.0,
            ..CostMatrix::default()
        };
        assert!(c.check().is_err());
        let c = CostMatrix {
            fp_cost: f64::NAN,
            ..CostMatrix::default()
        };
        assert!(c.check().is_err());
    }

    #[test]
    fn bootstrap_interval_contains_the_estimate() {
        let p: Vec<f64> = (0..400).map(|i| (i as f64 + 0.5) / 400.0).collect();
        // Defaults are more frequent at high scores.
        let y: Vec<u8> = (0..400).map(|i| u8::from(i % 10 < i / 40)).collect();
        let c = CostMatrix::default();
        let best = best_threshold(&p, &y, &c);
        let u = bootstrap(&p, &y, &c, best.threshold, 200, 3);
        assert!(u.cost_per_client.low <= best.cost_per_client);
        assert!(u.cost_per_client.high >= best.cost_per_client);
        assert!(u.threshold.low <= u.threshold.high);
    }
}
