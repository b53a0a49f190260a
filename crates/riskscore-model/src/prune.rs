//! Successive halving of the strategy comparison and the search, asynchronous as Optuna's
//! `SuccessiveHalvingPruner` (Li et al., ASHA, 2020): a configuration's cross-validation is
//! judged after its first fold, then after η folds, η² folds...; it goes on only if its loss
//! over the folds done is among the best 1/η of the losses every configuration had there (the
//! best so far while fewer than η configurations have reached that rung). The resource is the
//! folds, run in the same order by every configuration, so a rung compares configurations on
//! the same rows. The configuration chosen has always run every fold.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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

/// The rungs of one training run and the losses recorded at each.
#[derive(Debug, Clone)]
pub struct Rungs {
    /// Folds done at each rung: 1, η, η², ... below the number of folds.
    steps: Vec<usize>,
    losses: Vec<Vec<f64>>,
}

impl Rungs {
    pub fn new(method: Prune, folds: usize) -> Self {
        let mut steps = Vec::new();
        if method == Prune::Asha {
            let mut s = 1;
            while s < folds {
                steps.push(s);
                s *= REDUCTION;
            }
        }
        Rungs {
            losses: vec![Vec::new(); steps.len()],
            steps,
        }
    }

    /// Folds done at each rung.
    pub fn steps(&self) -> &[usize] {
        &self.steps
    }

    /// Records the loss (lower is better) of a configuration that has done `done` folds and
    /// says whether it goes on. Off a rung it always goes on; an undefined loss is not
    /// recorded and goes on.
    pub fn keep(&mut self, done: usize, loss: f64) -> bool {
        let Some(r) = self.steps.iter().position(|&s| s == done) else {
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
        assert_eq!(Rungs::new(Prune::Asha, 5).steps(), [1, 3]);
        assert_eq!(Rungs::new(Prune::Asha, 10).steps(), [1, 3, 9]);
        assert_eq!(Rungs::new(Prune::Asha, 2).steps(), [1]);
        assert!(Rungs::new(Prune::None, 5).steps().is_empty());
    }

    #[test]
    fn a_third_go_on_and_the_best_so_far_before_that() {
        let mut r = Rungs::new(Prune::Asha, 5);
        // The first always goes on; the next two only if best so far.
        assert!(r.keep(1, 0.50));
        assert!(!r.keep(1, 0.60));
        assert!(r.keep(1, 0.40));
        // Four recorded: ⌊4/3⌋ = 1, still the best only.
        assert!(!r.keep(1, 0.45));
        // Six recorded (0.40 0.45 0.50 0.60 + these): the second best goes on.
        assert!(!r.keep(1, 0.55));
        assert!(r.keep(1, 0.42));
        // Off a rung, always on; an undefined loss goes on and is not recorded.
        assert!(r.keep(2, 9.0));
        assert!(r.keep(3, f64::NAN));
        assert!(r.keep(3, 0.9));
        assert!(!r.keep(3, 1.0));
        // No pruning: no rung.
        let mut none = Rungs::new(Prune::None, 5);
        assert!(none.keep(1, 0.9) && none.keep(1, 1.0));
    }
}
