//! Successive halving of the strategy comparison and the search, asynchronous as Optuna's
//! `SuccessiveHalvingPruner` (Li et al., ASHA, 2020). A configuration's resource is its folds,
//! run in the same order by every configuration, so that a rung compares configurations on the
//! same rows; the first fold is also judged part-way, on boosters cut at a share of the rounds
//! the configuration is expected to need (Hyperband's rounds as the resource). The rungs are at
//! η⁻², η⁻¹, 1, η, η², ... folds (below the number of folds): a configuration goes on only if
//! its loss there is among the best 1/η of the losses every configuration had there (the best so
//! far while fewer than η configurations have reached that rung). The configuration chosen has
//! always run every fold.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lgbm::LgbmParams;

/// Whether configurations are stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prune {
    /// Successive halving with reduction factor [`REDUCTION`] (the default).
    Asha,
    /// Every configuration runs every fold.
    None,
}

impl Prune {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "asha" => Ok(Prune::Asha),
            "none" => Ok(Prune::None),
            _ => Err(Error::param(
                "prune",
                format!("{s:?} is not one of asha, none"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Prune::Asha => "asha",
            Prune::None => "none",
        }
    }
}

/// Successive halving's reduction factor η: a third of the configurations at a rung go on.
pub const REDUCTION: usize = 3;

/// The shares of the first fold's expected rounds at which it is judged part-way: η⁻², η⁻¹.
pub const SHARES: [f64; 2] = [1.0 / (REDUCTION * REDUCTION) as f64, 1.0 / REDUCTION as f64];

/// The learning rate at which a configuration is expected to need all of its `max_rounds`
/// (the search's lowest). A configuration is expected to need the rounds in which its learning
/// rate adds up to as much, `max_rounds x 0.01 / learning_rate`, at most `max_rounds`: the
/// learning rate times the rounds early stopping keeps stays near a constant (on the synthetic
/// data at scale 0.1, 50 rounds at 0.196 and 400 to 900 at 0.011 to 0.018). A share of those
/// rounds is then about the same share of the fold's work for every configuration, and
/// configurations are compared at the same progress, not at the same number of trees (which
/// would favour the fast learning rates).
pub const REFERENCE_LEARNING_RATE: f64 = 0.01;

/// The rounds a booster of `params` is cut at for the rung at `share` of a fold.
pub fn rounds_at(params: &LgbmParams, share: f64) -> u32 {
    let max = f64::from(params.max_rounds);
    let expected = (max * REFERENCE_LEARNING_RATE / params.learning_rate)
        .ceil()
        .min(max);
    (share * expected).ceil().max(1.0) as u32
}

/// The rungs of one training run and the losses recorded at each.
#[derive(Debug, Clone)]
pub struct Rungs {
    /// The resource at each rung, in folds: η⁻², η⁻¹ (shares of the first fold), then 1, η,
    /// η², ... below the number of folds.
    steps: Vec<f64>,
    losses: Vec<Vec<f64>>,
}

impl Rungs {
    pub fn new(method: Prune, folds: usize) -> Self {
        let mut steps = Vec::new();
        if method == Prune::Asha && folds > 1 {
            steps.extend(SHARES);
            let mut s = 1;
            while s < folds {
                steps.push(s as f64);
                s *= REDUCTION;
            }
        }
        Rungs {
            losses: vec![Vec::new(); steps.len()],
            steps,
        }
    }

    /// The resource at each rung, in folds (a share of the first fold below 1).
    pub fn steps(&self) -> &[f64] {
        &self.steps
    }

    /// The shares of the first fold at which a configuration is judged part-way.
    pub fn shares(&self) -> &[f64] {
        let n = self.steps.iter().take_while(|&&s| s < 1.0).count();
        &self.steps[..n]
    }

    /// Whether a configuration at `step` goes on whatever its loss: nothing is recorded there
    /// yet (it is the first to reach the rung), or `step` is not a rung.
    pub fn goes_on_whatever(&self, step: f64) -> bool {
        self.steps
            .iter()
            .position(|&s| s == step)
            .is_none_or(|r| self.losses[r].is_empty())
    }

    /// Records the loss (lower is better) of a configuration that has used `step` folds of
    /// resource (a share of the first fold, or whole folds) and says whether it goes on. Off
    /// a rung it always goes on; an undefined loss is not recorded and goes on.
    pub fn keep(&mut self, step: f64, loss: f64) -> bool {
        let Some(r) = self.steps.iter().position(|&s| s == step) else {
            return true;
        };
        if loss.is_nan() {
            return true;
        }
        let at = &mut self.losses[r];
        at.push(loss);
        let mut sorted = at.clone();
        sorted.sort_by(f64::total_cmp);
        // Optuna's promotable index: the ⌊n/η⌋-th best, the best while n < η.
        let cut = sorted[(sorted.len() / REDUCTION).max(1) - 1];
        loss <= cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_are_powers_of_the_reduction_below_the_folds() {
        let (a, b) = (1.0 / 9.0, 1.0 / 3.0);
        assert_eq!(Rungs::new(Prune::Asha, 5).steps(), [a, b, 1.0, 3.0]);
        assert_eq!(Rungs::new(Prune::Asha, 5).shares(), [a, b]);
        assert_eq!(Rungs::new(Prune::Asha, 10).steps(), [a, b, 1.0, 3.0, 9.0]);
        assert_eq!(Rungs::new(Prune::Asha, 2).steps(), [a, b, 1.0]);
        assert!(Rungs::new(Prune::None, 5).steps().is_empty());
        assert!(Rungs::new(Prune::None, 5).shares().is_empty());
    }

    #[test]
    fn a_share_of_the_rounds_is_a_share_of_the_expected_rounds() {
        let at = |lr: f64, max_rounds: u32, share: f64| {
            let p = LgbmParams {
                learning_rate: lr,
                max_rounds,
                ..LgbmParams::default()
            };
            rounds_at(&p, share)
        };
        // 1,000 rounds at the reference rate, 200 at 0.05, 50 at 0.2; never above max_rounds.
        assert_eq!(at(0.01, 1000, 1.0 / 9.0), 112);
        assert_eq!(at(0.05, 1000, 1.0 / 3.0), 67);
        assert_eq!(at(0.2, 1000, 1.0 / 9.0), 6);
        assert_eq!(at(0.005, 1000, 1.0 / 3.0), 334);
        // At least one round.
        assert_eq!(at(1.0, 10, 1.0 / 9.0), 1);
    }

    #[test]
    fn a_third_go_on_and_the_best_so_far_before_that() {
        let mut r = Rungs::new(Prune::Asha, 5);
        // The first always goes on; the next two only if best so far.
        assert!(r.keep(1.0, 0.50));
        assert!(!r.keep(1.0, 0.60));
        assert!(r.keep(1.0, 0.40));
        // Four recorded: ⌊4/3⌋ = 1, still the best only.
        assert!(!r.keep(1.0, 0.45));
        // Six recorded (0.40 0.45 0.50 0.60 + these): the second best goes on.
        assert!(!r.keep(1.0, 0.55));
        assert!(r.keep(1.0, 0.42));
        // Off a rung, always on; an undefined loss goes on and is not recorded.
        assert!(r.keep(2.0, 9.0));
        assert!(r.keep(3.0, f64::NAN));
        assert!(r.keep(3.0, 0.9));
        assert!(!r.keep(3.0, 1.0));
        // Each rung keeps its own losses: the shares of the first fold too.
        assert!(r.keep(1.0 / 9.0, 2.0));
        assert!(!r.keep(1.0 / 9.0, 2.5));
        assert!(r.keep(1.0 / 3.0, 2.5));
        // Only the first to reach a rung goes on whatever its loss.
        let mut fresh = Rungs::new(Prune::Asha, 5);
        assert!(fresh.goes_on_whatever(1.0 / 9.0) && fresh.goes_on_whatever(2.0));
        assert!(fresh.keep(1.0 / 9.0, 0.5));
        assert!(!fresh.goes_on_whatever(1.0 / 9.0) && fresh.goes_on_whatever(1.0 / 3.0));
        // No pruning: no rung.
        let mut none = Rungs::new(Prune::None, 5);
        assert!(none.keep(1.0, 0.9) && none.keep(1.0, 1.0));
    }
}
