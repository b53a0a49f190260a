//! The coverage check behind `riskscore validate`: does what a training run promises hold on
//! applicants it never saw?
//!
//! Each split holds out a stratified share of the rows, trains on the rest with the given
//! settings (as `riskscore train` would, baseline aside), then scores the held-out rows with the
//! trained model, its calibration and its threshold. The run's estimate states a 95 % prediction
//! interval for a batch of exactly that many new applicants; the check counts how often the
//! held-out cost falls inside it, and how far the estimated AUC is from the held-out one.

use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::estimate::{self, holdout_split};
use crate::metrics::roc_auc;
use crate::train;
use riskscore_data::synth::rng::seed_of;

/// One held-out split.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitOutcome {
    pub split: usize,
    pub trained_rows: usize,
    pub held_out_rows: usize,
    /// The estimate's method on the training part (`nested`, `holdout` or `cv`).
    pub method: String,
    pub estimated_auc: f64,
    pub held_out_auc: f64,
    pub auc_low: f64,
    pub auc_high: f64,
    pub estimated_cost: f64,
    pub held_out_cost: f64,
    pub cost_low: f64,
    pub cost_high: f64,
    /// The held-out cost is inside the stated 95 % prediction interval.
    pub covered: bool,
    pub auc_covered: bool,
    pub seconds: f64,
}

/// All splits and what they say together.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Coverage {
    pub held_out_share: f64,
    pub splits: Vec<SplitOutcome>,
    /// Share of splits whose held-out cost is inside the prediction interval (goal: >= 0.90).
    pub cost_coverage: f64,
    pub auc_coverage: f64,
    /// Mean of estimated minus held-out AUC (goal: within ±0.005) and its standard error.
    pub mean_auc_gap: f64,
    pub auc_gap_se: f64,
    /// Mean of estimated minus held-out cost per client.
    pub mean_cost_gap: f64,
    pub cost_gap_se: f64,
}

/// Runs `splits` held-out splits of `share` of the rows (seeded by `cfg.seed`).
pub fn run(data: &TrainingData, cfg: &TrainConfig, splits: usize, share: f64) -> Result<Coverage> {
    cfg.check()?;
    check(splits, share)?;
    let mut out = Vec::with_capacity(splits);
    for s in 0..splits {
        let started = std::time::Instant::now();
        let (keep, held) = split_rows(&data.y, share, cfg.seed, s);
        let part = data.subset(&keep);
        let inner = TrainConfig {
            new_batch: held.len(),
            skip_baseline: true,
            challenger: None,
            ship_challenger: false,
            ..cfg.clone()
        };
        tracing::info!(
            "validate: split {}/{splits}, training on {} rows, {} held out",
            s + 1,
            keep.len(),
            held.len()
        );
        let trained = train::train(&part, &inner)?;
        let (x, y) = data.take(&held);
        let p = estimate::score(&trained, &x, data.n_features())?;
        let held_out_cost = cfg.cost.per_client(&p, &y, trained.summary.threshold);
        let held_out_auc = roc_auc(&p, &y);
        let e = trained
            .summary
            .estimate
            .as_ref()
            .ok_or_else(|| Error::Data("the training run gave no estimate".into()))?;
        let outcome = SplitOutcome {
            split: s,
            trained_rows: keep.len(),
            held_out_rows: held.len(),
            method: e.method.name().into(),
            estimated_auc: e.auc,
            held_out_auc,
            auc_low: e.auc_prediction.low,
            auc_high: e.auc_prediction.high,
            estimated_cost: e.cost_per_client,
            held_out_cost,
            cost_low: e.cost_prediction.low,
            cost_high: e.cost_prediction.high,
            covered: (e.cost_prediction.low..=e.cost_prediction.high).contains(&held_out_cost),
            auc_covered: (e.auc_prediction.low..=e.auc_prediction.high).contains(&held_out_auc),
            seconds: started.elapsed().as_secs_f64(),
        };
        tracing::info!(
            "validate: split {}/{splits}: held-out cost {:.4} {} [{:.4}, {:.4}] (estimated {:.4}); AUC held out {:.4}, estimated {:.4}",
            s + 1,
            outcome.held_out_cost,
            if outcome.covered { "inside" } else { "OUTSIDE" },
            outcome.cost_low,
            outcome.cost_high,
            outcome.estimated_cost,
            outcome.held_out_auc,
            outcome.estimated_auc
        );
        out.push(outcome);
    }
    Ok(summarise(share, out))
}

/// What `run` would refuse, checked before any data is read.
pub fn check(splits: usize, share: f64) -> Result<()> {
    if splits == 0 {
        return Err(Error::param("splits", "must be at least 1"));
    }
    if !(0.05..=0.5).contains(&share) {
        return Err(Error::param(
            "test-share",
            format!("{share} is not in [0.05, 0.5]"),
        ));
    }
    Ok(())
}

/// The (trained, held-out) rows of split `split`.
pub fn split_rows(y: &[u8], share: f64, seed: u64, split: usize) -> (Vec<usize>, Vec<usize>) {
    holdout_split(y, share, seed_of(&[seed, 0x0076_616c, split as u64]))
}

/// The coverage and the gaps of a set of splits.
pub fn summarise(share: f64, splits: Vec<SplitOutcome>) -> Coverage {
    let n = splits.len().max(1) as f64;
    let share_of = |f: fn(&SplitOutcome) -> bool| splits.iter().filter(|s| f(s)).count() as f64 / n;
    let gap = |f: fn(&SplitOutcome) -> f64| {
        let v: Vec<f64> = splits.iter().map(f).collect();
        let (mean, std) = crate::cv::mean_std(&v);
        (mean, std / n.sqrt())
    };
    let (mean_auc_gap, auc_gap_se) = gap(|s| s.estimated_auc - s.held_out_auc);
    let (mean_cost_gap, cost_gap_se) = gap(|s| s.estimated_cost - s.held_out_cost);
    Coverage {
        held_out_share: share,
        cost_coverage: share_of(|s| s.covered),
        auc_coverage: share_of(|s| s.auc_covered),
        mean_auc_gap,
        auc_gap_se,
        mean_cost_gap,
        cost_gap_se,
        splits,
    }
}
