//! Hyperparameter search over LightGBM's main parameters: random search, or a Tree-structured
//! Parzen Estimator (TPE, Bergstra et al. 2011) that, after a few random trials, proposes the
//! candidate maximising l(x)/g(x) where l and g are Parzen densities of the best quarter of the
//! trials and of the rest. Every parameter is searched on [0, 1] and mapped to its range.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lgbm::LgbmParams;
use riskscore_data::synth::rng::{seed_of, Rng};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Random,
    Tpe,
}

impl Method {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "random" => Ok(Method::Random),
            "tpe" => Ok(Method::Tpe),
            _ => Err(Error::param(
                "search",
                format!("{s:?} is not one of random, tpe"),
            )),
        }
    }
}

/// What the search minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Out-of-fold cost per client at the cost-minimising threshold.
    Cost,
    /// Out-of-fold ROC AUC (maximised).
    Auc,
}

impl Objective {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "cost" => Ok(Objective::Cost),
            "auc" => Ok(Objective::Auc),
            _ => Err(Error::param(
                "objective",
                format!("{s:?} is not one of cost, auc"),
            )),
        }
    }
}

/// The dimensions searched: (name, low, high, log scale, integer).
const SPACE: [(&str, f64, f64, bool, bool); 7] = [
    ("num_leaves", 8.0, 128.0, true, true),
    ("learning_rate", 0.01, 0.2, true, false),
    ("min_child_samples", 5.0, 200.0, true, true),
    ("feature_fraction", 0.3, 1.0, false, false),
    ("bagging_fraction", 0.5, 1.0, false, false),
    ("lambda_l1", 1e-4, 10.0, true, false),
    ("lambda_l2", 1e-4, 10.0, true, false),
];

/// A point of the unit cube turned into parameters (rounds and early stopping from `base`).
pub fn params_at(u: &[f64], base: &LgbmParams) -> LgbmParams {
    let v = |d: usize| {
        let (_, lo, hi, log, int) = SPACE[d];
        let t = u[d].clamp(0.0, 1.0);
        let x = if log {
            (lo.ln() + t * (hi.ln() - lo.ln())).exp()
        } else {
            lo + t * (hi - lo)
        };
        if int {
            x.round()
        } else {
            x
        }
    };
    LgbmParams {
        num_leaves: v(0) as u32,
        learning_rate: v(1),
        min_child_samples: v(2) as u32,
        feature_fraction: v(3),
        bagging_fraction: v(4),
        lambda_l1: v(5),
        lambda_l2: v(6),
        ..base.clone()
    }
}

/// How a tried point did: configurations that ran every fold rank before those stopped early
/// (less of the folds' resource missing first), then by loss (lower is better), as Optuna's
/// TPE ranks complete trials before pruned ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Folds of resource not used (a share of the first fold counts as that share).
    pub missing: f64,
    pub loss: f64,
}

impl Outcome {
    /// A configuration that ran every fold.
    pub fn complete(loss: f64) -> Self {
        Outcome { missing: 0.0, loss }
    }

    fn rank(&self, other: &Self) -> std::cmp::Ordering {
        self.missing
            .total_cmp(&other.missing)
            .then(self.loss.total_cmp(&other.loss))
    }
}

/// Proposes the next point to try, given the points tried and how they did.
#[derive(Debug)]
pub struct Proposer {
    method: Method,
    rng: Rng,
    startup: usize,
}

const CANDIDATES: usize = 24;
const GAMMA: f64 = 0.25;

impl Proposer {
    pub fn new(method: Method, trials: usize, seed: u64) -> Self {
        Proposer {
            method,
            rng: Rng::new(seed_of(&[seed, 31])),
            startup: (trials / 3).clamp(3, 10),
        }
    }

    pub fn next(&mut self, history: &[(Vec<f64>, Outcome)]) -> Vec<f64> {
        if self.method == Method::Random || history.len() < self.startup {
            return (0..SPACE.len()).map(|_| self.rng.uniform()).collect();
        }
        let mut sorted: Vec<&(Vec<f64>, Outcome)> = history.iter().collect();
        sorted.sort_by(|a, b| a.1.rank(&b.1));
        let n_good = ((GAMMA * sorted.len() as f64).ceil() as usize).max(1);
        let good: Vec<&[f64]> = sorted[..n_good].iter().map(|h| h.0.as_slice()).collect();
        let bad: Vec<&[f64]> = sorted[n_good..].iter().map(|h| h.0.as_slice()).collect();
        let (bw_good, bw_bad) = (bandwidths(&good), bandwidths(&bad));
        let mut best = (f64::MIN, Vec::new());
        for _ in 0..CANDIDATES {
            let centre = good[(self.rng.next_u64() % good.len() as u64) as usize];
            let cand: Vec<f64> = centre
                .iter()
                .zip(&bw_good)
                .map(|(&c, &bw)| (c + bw * self.rng.normal()).clamp(0.0, 1.0))
                .collect();
            let score = log_density(&cand, &good, &bw_good) - log_density(&cand, &bad, &bw_bad);
            if score > best.0 {
                best = (score, cand);
            }
        }
        best.1
    }
}

/// Per-dimension bandwidths by Silverman's rule on the points' spread, kept in [0.03, 0.5].
fn bandwidths(points: &[&[f64]]) -> Vec<f64> {
    let n = points.len().max(1) as f64;
    (0..SPACE.len())
        .map(|d| {
            let mean = points.iter().map(|p| p[d]).sum::<f64>() / n;
            let var = points.iter().map(|p| (p[d] - mean).powi(2)).sum::<f64>() / n;
            (1.06 * var.sqrt() * n.powf(-0.2)).clamp(0.03, 0.5)
        })
        .collect()
}

/// Log of a Parzen density: a mixture of Gaussians at the points plus a uniform prior component.
fn log_density(x: &[f64], points: &[&[f64]], bw: &[f64]) -> f64 {
    let mut total = 1.0; // the uniform prior on the unit cube has density 1
    for p in points {
        let mut log_k = 0.0;
        for ((a, b), &bw) in x.iter().zip(p.iter()).zip(bw) {
            let z = (a - b) / bw;
            log_k += -0.5 * z * z - (bw * (2.0 * std::f64::consts::PI).sqrt()).ln();
        }
        total += log_k.exp();
    }
    (total / (points.len() as f64 + 1.0)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_cube_maps_onto_the_ranges() {
        let lo = params_at(&[0.0; 7], &LgbmParams::default());
        let hi = params_at(&[1.0; 7], &LgbmParams::default());
        assert_eq!((lo.num_leaves, hi.num_leaves), (8, 128));
        assert!((lo.learning_rate - 0.01).abs() < 1e-12 && (hi.learning_rate - 0.2).abs() < 1e-12);
        // Log scale: the middle of [8, 128] is 32.
        assert_eq!(params_at(&[0.5; 7], &LgbmParams::default()).num_leaves, 32);
        assert!(lo.check().is_ok() && hi.check().is_ok());
    }

    #[test]
    fn tpe_concentrates_near_the_best_trials() {
        // Loss = distance of the first coordinate to 0.8; after 30 trials proposals should sit
        // closer to 0.8 than uniform draws do (mean distance 0.34 for uniform).
        let mut prop = Proposer::new(Method::Tpe, 40, 5);
        let mut history = Vec::new();
        for _ in 0..30 {
            let u = prop.next(&history);
            let loss = (u[0] - 0.8).abs();
            history.push((u, Outcome::complete(loss)));
        }
        let late: f64 = (0..10)
            .map(|_| {
                let u = prop.next(&history);
                (u[0] - 0.8).abs()
            })
            .sum::<f64>()
            / 10.0;
        assert!(late < 0.2, "mean distance {late}");
    }

    #[test]
    fn complete_trials_rank_before_pruned_ones() {
        let pruned = Outcome {
            missing: 2.0,
            loss: 0.1,
        };
        let worse_pruned = Outcome {
            missing: 4.0 + 8.0 / 9.0,
            loss: 0.05,
        };
        let complete = Outcome::complete(0.9);
        let mut v = [worse_pruned, pruned, complete];
        v.sort_by(Outcome::rank);
        assert_eq!(v, [complete, pruned, worse_pruned]);
    }
}
