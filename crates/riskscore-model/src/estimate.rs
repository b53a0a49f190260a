//! Honest estimates: what the model will do on new applicants, measured on rows no choice was
//! made on.
//!
//! A training run chooses things on its out-of-fold predictions: the imbalance strategy, the
//! search's best trial, the calibration and the threshold. Figures read on those same predictions
//! are optimistic. Three estimates, from the most to the least honest:
//!
//! - **nested** cross-validation: the whole procedure (comparison, search, calibration,
//!   threshold, refit) runs on each outer training part; its model, calibration and threshold
//!   are then measured on the outer fold it never saw. Costs `folds + 1` trainings, so it is the
//!   default only under [`NESTED_MAX_ROWS`] rows (`--estimate nested` forces it);
//! - **holdout**: a stratified, seeded share of the rows is set aside before anything is chosen;
//!   the procedure runs on the rest and is measured once on it (costs about 1.8 trainings);
//! - **cv**: the chosen configuration's folds, with the calibration and the threshold fitted on
//!   the other folds and measured on each fold (no peeking), but the configuration itself chosen
//!   on all folds: selection-biased, said so wherever it is shown.
//!
//! In every case the final model is then fitted on all rows, as before.
//!
//! Intervals. Let `c_i` be the cost of the decision on scored client `i` and `K` the number of
//! parts (outer folds, or 1 for the holdout). The expected cost per client is estimated by the
//! pooled mean of `c_i`; its variance is the larger of the spread of the part means
//! (`s²/K`, which carries the variability of the procedure: other data, other choices, another
//! model) and the clients' sampling variance (`var(c)/n`). A new batch of `N` applicants scored
//! by one model adds that model's own deviation (`s² − K·var(c)/n` when positive) and the
//! batch's sampling noise (`var(c)/N`). The AUC follows the same rule with the Hanley–McNeil
//! variance for the sampling terms. All intervals are normal, 95 %.

use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::cost::{CostMatrix, Interval};
use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::folds;
use crate::lgbm;
use crate::metrics::{self, Confusion};
use crate::train::{self, Trained};
use riskscore_data::synth::rng::seed_of;

/// Above this many rows `--estimate auto` uses cross-validation (selection-biased, said so)
/// rather than nested cross-validation: nested costs `folds + 1` whole trainings, and at
/// 50,000 rows of Home Credit's width one training with the defaults already takes about an hour
/// on two cores. `--estimate nested` or `--holdout` give an honest estimate at any size.
pub const NESTED_MAX_ROWS: usize = 50_000;

/// Size of the new batch the prediction intervals are stated for, unless set (`--new-batch`):
/// about a month of applications at a mid-size lender.
pub const DEFAULT_NEW_BATCH: usize = 10_000;

const Z95: f64 = 1.959_963_984_540_054;

/// How the figures for new applicants are estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Nested when the data has at most [`NESTED_MAX_ROWS`] rows, cross-validation otherwise.
    Auto,
    Cv,
    Nested,
    Holdout,
}

impl Method {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Self::Auto),
            "cv" => Ok(Self::Cv),
            "nested" => Ok(Self::Nested),
            "holdout" => Ok(Self::Holdout),
            _ => Err(Error::param(
                "estimate",
                format!("{s:?} is not one of auto, cv, nested, holdout"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Cv => "cv",
            Self::Nested => "nested",
            Self::Holdout => "holdout",
        }
    }

    /// The method used on `rows` rows (never `Auto`).
    pub fn resolve(self, rows: usize) -> Self {
        match self {
            Self::Auto if rows <= NESTED_MAX_ROWS => Self::Nested,
            Self::Auto => Self::Cv,
            m => m,
        }
    }
}

/// One set of scored rows: predictions of a model that never saw them, the labels, and the
/// threshold that model's procedure chose.
#[derive(Debug, Clone)]
pub struct Part {
    /// Calibrated probabilities.
    pub p: Vec<f64>,
    pub y: Vec<u8>,
    pub threshold: f64,
    /// What the procedure chose there (the strategy and the calibration), for the report.
    pub chosen: String,
}

/// The figures of one part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartFigures {
    pub rows: usize,
    pub defaulters: usize,
    pub auc: f64,
    pub cost_per_client: f64,
    pub recall: f64,
    pub approval_rate: f64,
    pub threshold: f64,
    pub chosen: String,
}

/// What a run says about new applicants.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Estimate {
    /// `nested`, `holdout` or `cv`.
    pub method: Method,
    /// True when no choice of the procedure was made on the scored rows.
    pub selection_aware: bool,
    /// One sentence on how the figures were obtained.
    pub how: String,
    /// Rows scored (every row for nested and cv, the held-out rows for holdout).
    pub rows: usize,
    pub auc: f64,
    pub cost_per_client: f64,
    pub recall: f64,
    pub approval_rate: f64,
    /// 95 % interval of the expected AUC of the procedure.
    pub auc_interval: Interval,
    /// 95 % interval of the AUC measured on a new batch of `new_batch` applicants.
    pub auc_prediction: Interval,
    /// 95 % interval of the expected cost per client.
    pub cost_interval: Interval,
    /// 95 % interval of the cost per client measured on a new batch of `new_batch` applicants.
    pub cost_prediction: Interval,
    pub new_batch: usize,
    pub parts: Vec<PartFigures>,
}

/// The outer folds of a nested estimate (seeded apart from the inner folds).
pub fn outer_folds(y: &[u8], k: usize, seed: u64) -> Vec<u8> {
    folds::stratified(y, k, seed_of(&[seed, 0x006f_7574_6572]))
}

/// A stratified, seeded split: (kept rows, held-out rows), `share` of each class held out.
pub fn holdout_split(y: &[u8], share: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut out = vec![false; y.len()];
    for class in [0u8, 1u8] {
        let mut idx: Vec<usize> = (0..y.len()).filter(|&i| y[i] == class).collect();
        folds::shuffle(&mut idx, seed_of(&[seed, 0x686f_6c64, class as u64]));
        let take = (idx.len() as f64 * share).round() as usize;
        for &i in &idx[..take.min(idx.len())] {
            out[i] = true;
        }
    }
    let keep = (0..y.len()).filter(|&i| !out[i]).collect();
    let held = (0..y.len()).filter(|&i| out[i]).collect();
    (keep, held)
}

/// The settings of the procedure run inside an estimate: the same choices, without what only
/// the final run reports (baseline, bootstrap, learning curves) and without a nested estimate
/// of its own.
pub fn inner_config(cfg: &TrainConfig) -> TrainConfig {
    TrainConfig {
        estimate: Method::Cv,
        skip_baseline: true,
        challenger: None,
        ship_challenger: false,
        bootstrap: 0,
        curve_points: 0,
        ..cfg.clone()
    }
}

/// Calibrated probabilities of a trained run on row-major rows.
pub fn score(trained: &Trained, x: &[f64], n_features: usize) -> Result<Vec<f64>> {
    Ok(trained
        .calibration
        .apply_all(&lgbm::predict(&trained.booster, x, n_features)?))
}

/// What the procedure chose, in a few words.
fn chosen(t: &Trained) -> String {
    format!(
        "{}, calibration {}",
        t.summary.strategy.name(),
        t.summary.calibration
    )
}

/// Runs the procedure on `keep` and scores `held` with its model, calibration and threshold.
fn part(data: &TrainingData, cfg: &TrainConfig, keep: &[usize], held: &[usize]) -> Result<Part> {
    let inner = data.subset(keep);
    let trained = train::train(&inner, &inner_config(cfg))?;
    let (x, y) = data.take(held);
    Ok(Part {
        p: score(&trained, &x, data.n_features())?,
        y,
        threshold: trained.summary.threshold,
        chosen: chosen(&trained),
    })
}

/// Nested cross-validation with `cfg.folds` outer folds.
pub fn nested(data: &TrainingData, cfg: &TrainConfig) -> Result<Estimate> {
    let k = cfg.folds;
    let outer = outer_folds(&data.y, k, cfg.seed);
    let mut parts = Vec::with_capacity(k);
    for f in 0..k {
        let (keep, held) = folds::split(&outer, f as u8);
        tracing::info!(
            "nested estimate: outer fold {}/{k}, the whole procedure on {} rows",
            f + 1,
            keep.len()
        );
        let part = part(data, cfg, &keep, &held)?;
        tracing::info!(
            "nested estimate: outer fold {}/{k} AUC {:.4}, cost per client {:.4}",
            f + 1,
            metrics::roc_auc(&part.p, &part.y),
            cfg.cost.per_client(&part.p, &part.y, part.threshold)
        );
        parts.push(part);
    }
    let how = format!(
        "nested cross-validation: the whole procedure (strategy, search, calibration, threshold) \
         ran on each of {k} outer training parts and was measured on the outer fold it never saw"
    );
    Ok(from_parts(
        Method::Nested,
        how,
        &parts,
        &cfg.cost,
        cfg.new_batch,
    ))
}

/// A stratified held-out share `cfg.holdout` set aside before any choice.
pub fn holdout(data: &TrainingData, cfg: &TrainConfig) -> Result<Estimate> {
    let (keep, held) = holdout_split(&data.y, cfg.holdout, cfg.seed);
    check_holdout(data, &keep, &held, cfg)?;
    tracing::info!(
        "holdout estimate: the whole procedure on {} rows, {} held out",
        keep.len(),
        held.len()
    );
    let part = part(data, cfg, &keep, &held)?;
    let how = format!(
        "held-out test split: {:.0} % of the rows (stratified, seed {}) set aside before any \
         choice, the procedure run on the rest and measured once on them",
        100.0 * cfg.holdout,
        cfg.seed
    );
    Ok(from_parts(
        Method::Holdout,
        how,
        &[part],
        &cfg.cost,
        cfg.new_batch,
    ))
}

fn check_holdout(
    data: &TrainingData,
    keep: &[usize],
    held: &[usize],
    cfg: &TrainConfig,
) -> Result<()> {
    let pos = |idx: &[usize]| idx.iter().filter(|&&i| data.y[i] == 1).count();
    let (kp, hp) = (pos(keep), pos(held));
    if hp == 0 || hp == held.len() || kp.min(keep.len() - kp) < cfg.folds {
        return Err(Error::param(
            "holdout",
            format!(
                "a held-out share of {} leaves {} rows ({hp} defaulters) held out and {} rows \
                 ({kp} defaulters) to train on: both need both classes, the training part at \
                 least {} of each",
                cfg.holdout,
                held.len(),
                keep.len(),
                cfg.folds
            ),
        ));
    }
    Ok(())
}

/// The selection-biased estimate from the chosen configuration's own folds: per fold, the
/// calibration and the threshold fitted on the other folds.
pub fn from_folds(parts: &[Part], cost: &CostMatrix, new_batch: usize) -> Estimate {
    let how = format!(
        "cross-validation of the chosen configuration ({} folds; calibration and threshold \
         fitted on the other folds): the strategy and the search were chosen on these same \
         folds, so the figures are selection-biased (optimistic); use --estimate nested or \
         --holdout for an honest estimate",
        parts.len()
    );
    from_parts(Method::Cv, how, parts, cost, new_batch)
}

/// Figures and intervals from scored parts (see the module's notes for the intervals).
pub fn from_parts(
    method: Method,
    how: String,
    parts: &[Part],
    cost: &CostMatrix,
    new_batch: usize,
) -> Estimate {
    let mut costs = Vec::new();
    let mut total = Confusion::default();
    let mut figures = Vec::with_capacity(parts.len());
    for part in parts {
        let c = Confusion::at(&part.p, &part.y, part.threshold);
        for (&p, &y) in part.p.iter().zip(&part.y) {
            costs.push(cost.total(&Confusion::at(&[p], &[y], part.threshold)));
        }
        total.tp += c.tp;
        total.fp += c.fp;
        total.tn += c.tn;
        total.fn_ += c.fn_;
        let rows = part.p.len();
        figures.push(PartFigures {
            rows,
            defaulters: part.y.iter().filter(|&&v| v == 1).count(),
            auc: metrics::roc_auc(&part.p, &part.y),
            cost_per_client: cost.total(&c) / rows.max(1) as f64,
            recall: c.recall(),
            approval_rate: (c.tn + c.fn_) as f64 / rows.max(1) as f64,
            threshold: part.threshold,
            chosen: part.chosen.clone(),
        });
    }
    let n = costs.len().max(1) as f64;
    let k = figures.len();
    let positives = (total.tp + total.fn_) as f64;
    let rate = positives / n;

    let (mean_cost, var_cost) = mean_var(&costs);
    let part_costs: Vec<f64> = figures.iter().map(|f| f.cost_per_client).collect();
    let cost_sampling = var_cost / n;
    let (cost_interval, cost_prediction) = intervals(
        mean_cost,
        &part_costs,
        cost_sampling,
        var_cost / new_batch.max(1) as f64,
    );

    let aucs: Vec<f64> = figures.iter().map(|f| f.auc).collect();
    let (auc, _) = mean_var(&aucs);
    // Sampling variance of the mean of the parts' AUCs: each part's Hanley-McNeil variance.
    let auc_sampling = figures
        .iter()
        .map(|f| hanley_mcneil(f.auc, f.defaulters as f64, (f.rows - f.defaulters) as f64))
        .sum::<f64>()
        / (k * k).max(1) as f64;
    let nb = new_batch.max(1) as f64;
    let (auc_interval, auc_prediction) = intervals(
        auc,
        &aucs,
        auc_sampling,
        hanley_mcneil(auc, (nb * rate).max(1.0), (nb * (1.0 - rate)).max(1.0)),
    );
    Estimate {
        method,
        selection_aware: method != Method::Cv,
        how,
        rows: costs.len(),
        auc,
        cost_per_client: mean_cost,
        recall: total.recall(),
        approval_rate: (total.tn + total.fn_) as f64 / n,
        auc_interval,
        auc_prediction,
        cost_interval,
        cost_prediction,
        new_batch,
        parts: figures,
    }
}

/// The interval of the expected value and the prediction interval for a new batch, around
/// `centre`: `parts` are the per-part values, `sampling` the sampling variance of `centre`,
/// `batch` the sampling variance of the value on the new batch.
fn intervals(centre: f64, parts: &[f64], sampling: f64, batch: f64) -> (Interval, Interval) {
    let k = parts.len() as f64;
    let (se2, model) = if parts.len() >= 2 {
        let (_, spread) = mean_var(parts);
        // The spread of one part's value: its model's deviation plus K times the sampling
        // variance of the pooled value.
        ((spread / k).max(sampling), (spread - k * sampling).max(0.0))
    } else {
        (sampling, 0.0)
    };
    let around = |var: f64| {
        let h = Z95 * var.max(0.0).sqrt();
        Interval {
            low: centre - h,
            high: centre + h,
        }
    };
    (around(se2), around(se2 + model + batch))
}

/// Mean and sample variance (0 for fewer than two values).
fn mean_var(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, 0.0);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var)
}

/// Hanley and McNeil (1982): the variance of an AUC `a` measured on `pos` positives and `neg`
/// negatives.
pub fn hanley_mcneil(a: f64, pos: f64, neg: f64) -> f64 {
    if !(pos > 0.0 && neg > 0.0 && a.is_finite()) {
        return 0.0;
    }
    let q1 = a / (2.0 - a);
    let q2 = 2.0 * a * a / (1.0 + a);
    ((a * (1.0 - a) + (pos - 1.0) * (q1 - a * a) + (neg - 1.0) * (q2 - a * a)) / (pos * neg))
        .max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hanley_mcneil_matches_its_paper() {
        // A = 0.9 on 50 positives and 50 negatives: Q1 = 0.9/1.1, Q2 = 1.62/1.9, so the
        // variance is (0.09 + 49 (Q1 - 0.81) + 49 (Q2 - 0.81)) / 2500 and the SE 0.0321.
        let se = hanley_mcneil(0.9, 50.0, 50.0).sqrt();
        assert!((se - 0.0321).abs() < 1e-4, "{se}");
        // More rows, a narrower AUC.
        assert!(hanley_mcneil(0.9, 500.0, 500.0) < hanley_mcneil(0.9, 50.0, 50.0));
    }

    #[test]
    fn the_holdout_split_is_stratified_and_seeded() {
        let y: Vec<u8> = (0..1000).map(|i| u8::from(i % 8 == 0)).collect();
        let (keep, held) = holdout_split(&y, 0.2, 5);
        assert_eq!(held.len(), 200);
        assert_eq!(held.iter().filter(|&&i| y[i] == 1).count(), 25);
        assert_eq!(keep.len() + held.len(), 1000);
        assert_eq!(holdout_split(&y, 0.2, 5).1, held);
        assert_ne!(holdout_split(&y, 0.2, 6).1, held);
    }

    #[test]
    fn a_new_batch_widens_the_interval_and_a_larger_one_less() {
        let part = |shift: f64| Part {
            p: (0..400)
                .map(|i| (i as f64 / 400.0 + shift).min(0.99))
                .collect(),
            y: (0..400).map(|i| u8::from(i % 5 == 0 || i > 360)).collect(),
            threshold: 0.5,
            chosen: String::new(),
        };
        let parts = [part(0.0), part(0.02), part(-0.02)];
        let small = from_parts(
            Method::Nested,
            String::new(),
            &parts,
            &CostMatrix::default(),
            100,
        );
        let large = from_parts(
            Method::Nested,
            String::new(),
            &parts,
            &CostMatrix::default(),
            100_000,
        );
        let width = |i: Interval| i.high - i.low;
        assert!(width(small.cost_prediction) > width(large.cost_prediction));
        assert!(width(large.cost_prediction) >= width(large.cost_interval));
        assert!(small.cost_interval.low < small.cost_per_client);
        assert!(small.cost_per_client < small.cost_interval.high);
        assert_eq!(small.rows, 1200);
        assert!(small.selection_aware);
        assert!(!from_folds(&parts, &CostMatrix::default(), 100).selection_aware);
    }
}
