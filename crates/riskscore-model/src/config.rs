//! Training settings: one plain struct with documented defaults, checked once before any work.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cost::CostMatrix;
use crate::error::{Error, Result};
use crate::estimate::{self, Method as EstimateMethod};
use crate::imbalance::Strategy;
use crate::lgbm::LgbmParams;
use crate::prune::Prune;
use crate::search::{Method, Objective};

/// How probabilities are calibrated on the out-of-fold predictions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationChoice {
    /// Calibrate when the imbalance strategy distorts probabilities, with the method of lower
    /// cross-fitted Brier score.
    Auto,
    None,
    Platt,
    Isotonic,
}

impl CalibrationChoice {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Self::Auto),
            "none" => Ok(Self::None),
            "platt" => Ok(Self::Platt),
            "isotonic" => Ok(Self::Isotonic),
            _ => Err(Error::param(
                "calibration",
                format!("{s:?} is not one of auto, none, platt, isotonic"),
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Cross-validation folds (default 5).
    pub folds: usize,
    /// Seed of folds, resampling, LightGBM and the search (default 42).
    pub seed: u64,
    /// A fixed strategy, or `None` to compare all four and keep the cheapest (default).
    pub imbalance: Option<Strategy>,
    /// Defaulters per good client after undersampling or SMOTE (default 0.5).
    pub resample_ratio: f64,
    pub cost: CostMatrix,
    /// Half-width of the review band around the threshold, in probability (default 0.02).
    pub review_band: f64,
    pub lgbm: LgbmParams,
    /// Search trials after the default configuration (default 10; 0 = no search).
    pub trials: usize,
    pub search: Method,
    pub objective: Objective,
    /// No new trial starts after this much time spent searching.
    pub time_budget: Option<Duration>,
    /// Successive halving of the strategy comparison and the search (default asha).
    pub prune: Prune,
    pub calibration: CalibrationChoice,
    /// Bootstrap resamples for the threshold's interval (default 200).
    pub bootstrap: usize,
    /// Skip the logistic-regression baseline (it is the slowest part of a tiny run).
    pub skip_baseline: bool,
    /// Learning-curve points per fold recorded for every trial (default 0: none; experiment
    /// tracking asks for them).
    pub curve_points: usize,
    /// How the figures for new applicants are estimated (default auto: nested cross-validation
    /// up to [`estimate::NESTED_MAX_ROWS`] rows).
    pub estimate: EstimateMethod,
    /// Share of the rows held out by `estimate: Holdout` (default 0.2).
    pub holdout: f64,
    /// Applicants in the new batch the prediction intervals are stated for (default 10,000).
    pub new_batch: usize,
    /// Regulation B's age rule by construction: the age column capped at 62 years, LightGBM's
    /// monotone constraint (basic method) so that older never means riskier, the other age
    /// features dropped (see [`crate::run::prepare`]).
    pub monotone_age: bool,
    /// A challenger cross-validated on the same folds (`train --challenger scorecard`).
    pub challenger: Option<riskscore_scorecard::ScorecardOptions>,
    /// Ship the challenger instead of LightGBM (`--model scorecard`).
    pub ship_challenger: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            folds: 5,
            seed: 42,
            imbalance: None,
            resample_ratio: 0.5,
            cost: CostMatrix::default(),
            review_band: 0.02,
            lgbm: LgbmParams::default(),
            trials: 10,
            search: Method::Tpe,
            objective: Objective::Cost,
            time_budget: None,
            prune: Prune::Asha,
            calibration: CalibrationChoice::Auto,
            bootstrap: 200,
            skip_baseline: false,
            curve_points: 0,
            estimate: EstimateMethod::Auto,
            holdout: 0.2,
            new_batch: estimate::DEFAULT_NEW_BATCH,
            monotone_age: false,
            challenger: None,
            ship_challenger: false,
        }
    }
}

impl TrainConfig {
    /// Checks every setting that does not depend on the data.
    pub fn check(&self) -> Result<()> {
        if self.ship_challenger && self.challenger.is_none() {
            return Err(Error::param(
                "model",
                "--model scorecard ships the challenger: add --challenger scorecard",
            ));
        }
        if let Some(o) = &self.challenger {
            o.check()
                .map_err(|e| Error::param("challenger", e.to_string()))?;
        }
        if !(2..=20).contains(&self.folds) {
            return Err(Error::param(
                "folds",
                format!("{} is not in 2..=20", self.folds),
            ));
        }
        if !(self.resample_ratio > 0.0 && self.resample_ratio <= 1.0) {
            return Err(Error::param(
                "resample-ratio",
                format!("{} is not in (0, 1]", self.resample_ratio),
            ));
        }
        if !(0.0..0.5).contains(&self.review_band) {
            return Err(Error::param(
                "review-band",
                format!("{} is not in [0, 0.5)", self.review_band),
            ));
        }
        if self.curve_points > 10_000 {
            return Err(Error::param(
                "curve-points",
                "at most 10,000 points per fold",
            ));
        }
        if !(0.05..=0.5).contains(&self.holdout) {
            return Err(Error::param(
                "holdout",
                format!("{} is not in [0.05, 0.5]", self.holdout),
            ));
        }
        if self.new_batch == 0 {
            return Err(Error::param("new-batch", "must be at least 1 applicant"));
        }
        if self.bootstrap > 100_000 {
            return Err(Error::param("bootstrap", "at most 100,000 resamples"));
        }
        self.cost.check()?;
        self.lgbm.check()
    }

    /// Checks the settings against the data: every fold needs defaulters and good clients.
    pub fn check_data(&self, rows: usize, positives: usize) -> Result<()> {
        let smaller = positives.min(rows - positives);
        if smaller < self.folds {
            return Err(Error::param(
                "folds",
                format!(
                    "{} folds need at least {} rows of each class; the data has {positives} defaulters and {} good clients",
                    self.folds,
                    self.folds,
                    rows - positives
                ),
            ));
        }
        Ok(())
    }
}
