//! The training run: compare imbalance strategies, search hyperparameters, calibrate, choose the
//! cost-minimising threshold, measure against baselines, then fit the final booster on all rows.

use std::time::Instant;

use lightgbm3::{Booster, ImportanceType};
use serde::{Deserialize, Serialize};

use crate::calibration::{self, Calibration, CalibrationCheck};
use crate::challenger::{self, ChallengerFit, ChallengerSummary};
use crate::config::{CalibrationChoice, TrainConfig};
use crate::cost::{self, Optimum, ThresholdUncertainty};
use crate::cv::{self, mean_std, CvResult, CvSpec, FoldFit};
use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::estimate::{self, Estimate, Part};
use crate::folds;
use crate::imbalance::{self, Strategy};
use crate::lgbm::{self, Binning, LgbmParams, Rows};
use crate::logistic::Logistic;
use crate::metrics::{self, Confusion};
use crate::prune::{Prune, Rungs};
use crate::search::{self, Objective, Outcome, Proposer};

/// One cross-validated configuration (a strategy comparison or a search trial).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trial {
    pub number: usize,
    /// "strategy" for the imbalance comparison, "random" or "tpe" for search trials.
    pub kind: String,
    pub strategy: Strategy,
    pub params: LgbmParams,
    pub cv_auc: f64,
    pub cv_auc_std: f64,
    /// Out-of-fold cost per client at that trial's own best threshold.
    pub cost_per_client: f64,
    pub mean_best_iteration: f64,
    pub seconds: f64,
    /// Folds done when successive halving stopped it (`None`: it ran every fold). Its figures
    /// are then those of the folds done, or of its first fold's cut booster when stopped
    /// part-way through the first fold (`pruned_at` below 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned_after: Option<usize>,
    /// The rung it was stopped at, in folds of resource: a share of the first fold's expected
    /// rounds (below 1) or whole folds. Absent in models trained before rungs inside a fold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned_at: Option<f64>,
    /// (rung, loss) at each rung of successive halving it reached, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub judged: Vec<(f64, f64)>,
}

impl Trial {
    /// Folds this configuration ran to their end, of `folds`.
    pub fn folds_done(&self, folds: usize) -> usize {
        self.pruned_after.unwrap_or(folds)
    }

    /// The resource it used, in folds (a share of the first fold's expected rounds when it was
    /// stopped part-way through it).
    pub fn resource(&self, folds: usize) -> f64 {
        match (self.pruned_at, self.pruned_after) {
            (Some(at), _) => at,
            (None, Some(done)) => done as f64,
            (None, None) => folds as f64,
        }
    }
}

/// Configurations successive halving stopped early, and the fold fits all of them ran.
pub fn pruning_counts(trials: &[Trial], folds: usize) -> (usize, usize) {
    let pruned = trials.iter().filter(|t| t.pruned_after.is_some()).count();
    let fits = trials.iter().map(|t| t.folds_done(folds)).sum();
    (pruned, fits)
}

/// Metrics of one fold of the chosen configuration, with the calibration and the threshold
/// fitted on the other folds (fitted inside, measured outside).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FoldMetrics {
    pub fold: usize,
    pub rows: usize,
    /// The threshold chosen on the other folds, applied to this one.
    #[serde(default)]
    pub threshold: f64,
    pub auc: f64,
    pub pr_auc: f64,
    pub brier: f64,
    pub ks: f64,
    pub cost_per_client: f64,
    pub recall: f64,
    pub precision: f64,
    pub f2: f64,
    pub confusion: Confusion,
    pub best_iteration: u32,
}

/// Mean and standard deviation over folds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct MeanStd {
    pub mean: f64,
    pub std: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Baseline {
    pub name: String,
    pub auc: f64,
    pub threshold: f64,
    pub cost_per_client: f64,
}

/// Everything the report and the manifest say about a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainSummary {
    pub n_rows: usize,
    pub n_positives: usize,
    pub n_features: usize,
    pub folds: usize,
    pub seed: u64,
    pub strategy: Strategy,
    pub params: LgbmParams,
    pub rounds: u32,
    pub cv_auc: f64,
    pub cv_auc_std: f64,
    pub oof_auc: f64,
    pub threshold: f64,
    /// Cost per client at `threshold` on the out-of-fold predictions it was chosen on
    /// (in-sample: the honest figure is `estimate.cost_per_client`).
    pub cost_per_client: f64,
    /// Bootstrap of the out-of-fold predictions: the threshold's sampling spread (the cost
    /// interval there ignores the selection; `estimate` has the intervals for new applicants).
    pub uncertainty: ThresholdUncertainty,
    /// What the model will do on new applicants, and how honest that figure is.
    #[serde(default)]
    pub estimate: Option<Estimate>,
    pub bayes_threshold: f64,
    pub review_band: f64,
    pub calibration: String,
    pub calibration_check: CalibrationCheck,
    pub fold_metrics: Vec<FoldMetrics>,
    pub mean: Vec<(String, MeanStd)>,
    pub confusion: Confusion,
    pub baselines: Vec<Baseline>,
    /// The model this summary describes: `lightgbm`, or `scorecard` (`--model scorecard`).
    #[serde(default = "lightgbm")]
    pub model: String,
    /// The challenger's cross-validated figures (`--challenger scorecard`).
    #[serde(default)]
    pub challenger: Option<ChallengerSummary>,
    pub trials: Vec<Trial>,
    /// Successive halving of the configurations: `asha` or `none` (runs before it: none).
    #[serde(default = "prune_none")]
    pub prune: String,
    /// LightGBM's dataset construction over every fit of the run (folds, cuts trained anew,
    /// the final fit): part of `seconds`. Absent in runs before it was timed.
    #[serde(default)]
    pub binning: Binning,
    pub seconds: f64,
}

fn prune_none() -> String {
    Prune::None.name().into()
}

/// What a run produces: the final booster and what is needed to report on and reuse it.
pub struct Trained {
    pub booster: Booster,
    pub lightgbm_names: Vec<String>,
    pub calibration: Calibration,
    pub summary: TrainSummary,
    /// Calibrated out-of-fold probabilities, row for row with the data.
    pub oof: Vec<f64>,
    /// Out-of-fold probabilities before calibration.
    pub oof_raw: Vec<f64>,
    /// Gain importance of the final booster, one per feature.
    pub gain: Vec<f64>,
    /// The cross-validation fold of every row.
    pub folds: Vec<u8>,
    /// The challenger, cross-validated on the same folds and fitted on all rows.
    pub challenger: Option<ChallengerFit>,
}

impl std::fmt::Debug for Trained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trained")
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

/// Told about every cross-validated configuration as it ends, e.g. to track it as a run.
pub trait Observer {
    /// `folds` are the trial's fold fits, with learning curves when the configuration asks
    /// for them.
    fn trial_done(&mut self, trial: &Trial, folds: &[FoldFit]);
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unobserved;

impl Observer for Unobserved {
    fn trial_done(&mut self, _: &Trial, _: &[FoldFit]) {}
}

/// The scorecard challenger's row among the baselines (LightGBM's once the scorecard ships).
const SCORECARD_BASELINE: &str = "scorecard (challenger)";

fn lightgbm() -> String {
    "lightgbm".into()
}

pub fn train(data: &TrainingData, cfg: &TrainConfig) -> Result<Trained> {
    train_observed(data, cfg, &mut Unobserved)
}

/// [`train`], telling `observer` about each trial as it ends. The procedure runs on all rows
/// for the model that ships; then the figures for new applicants are estimated (nested or held
/// out, see [`estimate`]), by the same procedure on parts of the rows.
pub fn train_observed(
    data: &TrainingData,
    cfg: &TrainConfig,
    observer: &mut dyn Observer,
) -> Result<Trained> {
    cfg.check()?;
    cfg.check_data(data.rows(), data.positives())?;
    let started = Instant::now();
    // The model that ships first (its trials are tracked as they end), then the estimate.
    let mut trained = procedure(data, cfg, observer)?;
    let honest = match cfg.estimate.resolve(data.rows()) {
        // The nested and held-out estimates re-run LightGBM's procedure, not the scorecard's.
        _ if cfg.ship_challenger => None,
        estimate::Method::Nested => Some(estimate::nested(data, cfg)?),
        estimate::Method::Holdout => Some(estimate::holdout(data, cfg)?),
        _ => None,
    };
    if let Some(h) = honest {
        tracing::info!(
            "{} estimate for new applicants: AUC {:.4}, cost per client {:.4} (95 % for {} applicants [{:.4}, {:.4}])",
            h.method.name(),
            h.auc,
            h.cost_per_client,
            h.new_batch,
            h.cost_prediction.low,
            h.cost_prediction.high
        );
        trained.summary.estimate = Some(h);
    }
    trained.summary.seconds = started.elapsed().as_secs_f64();
    Ok(trained)
}

/// The procedure: strategies, search, calibration, threshold, final fit on all rows. Its
/// `estimate` is the cross-validated one (selection-biased).
fn procedure(
    data: &TrainingData,
    cfg: &TrainConfig,
    observer: &mut dyn Observer,
) -> Result<Trained> {
    let started = Instant::now();
    let names = lgbm::safe_names(&data.features);
    let fold_of = folds::stratified(&data.y, cfg.folds, cfg.seed);
    tracing::info!(
        rows = data.rows(),
        defaulters = data.positives(),
        features = data.n_features(),
        folds = cfg.folds,
        "training"
    );

    let mut runner = Runner {
        data,
        fold_of: &fold_of,
        names: &names,
        cfg,
        rungs: Rungs::new(cfg.prune, cfg.folds),
        trials: Vec::new(),
        best: None,
        binning: Binning::default(),
        observer,
    };
    let strategies: Vec<Strategy> = match cfg.imbalance {
        Some(s) => vec![s],
        None => Strategy::ALL.to_vec(),
    };
    for (i, &strategy) in strategies.iter().enumerate() {
        let label = format!(
            "strategy {} ({}/{})",
            strategy.name(),
            i + 1,
            strategies.len()
        );
        runner.run_trial(&cfg.lgbm, strategy, "strategy", &label)?;
    }
    // The search tunes the booster for the strategy the comparison kept.
    let strategy = best_trial(&runner.trials, cfg.objective).strategy;
    runner.search(strategy)?;
    let Runner {
        trials,
        best,
        mut binning,
        ..
    } = runner;
    let chosen = best_trial(&trials, cfg.objective).clone();
    let Some((_, cvr)) = best else {
        return Err(Error::Data("no configuration was trained".into()));
    };
    log_pruning(&trials, cfg);

    let (calibration, check) = calibrate(cfg.calibration, chosen.strategy, &cvr.oof, &data.y);
    let oof = calibration.apply_all(&cvr.oof);
    let (optimum, uncertainty) = threshold(&oof, &data.y, cfg);
    let parts = cross_fitted(cfg, chosen.strategy, &cvr.oof, &data.y, &fold_of);
    let fold_metrics = per_fold(&parts, cfg, &cvr.folds);
    let cv_estimate = estimate::from_folds(&parts, &cfg.cost, cfg.new_batch);
    let mut baselines = baselines(data, &fold_of, cfg)?;
    let challenger = match &cfg.challenger {
        Some(options) => Some(challenger::scorecard(data, &fold_of, cfg, options)?),
        None => None,
    };
    if let Some(c) = &challenger {
        baselines.push(Baseline {
            name: SCORECARD_BASELINE.into(),
            auc: c.summary.oof_auc,
            threshold: c.summary.threshold,
            cost_per_client: c.summary.cost_per_client,
        });
    }

    let rounds = (chosen.mean_best_iteration.round() as u32).max(1);
    tracing::info!(
        rounds,
        strategy = chosen.strategy.name(),
        "fitting the final model on all rows"
    );
    // Resampled rows are a new matrix; otherwise the booster reads the training matrix in
    // place (no second copy of it at full size, 1.8 GB for Home Credit).
    let resampled = chosen.strategy.resamples().then(|| {
        imbalance::apply(
            chosen.strategy,
            data.x.clone(),
            data.y.clone(),
            data.n_features(),
            cfg.resample_ratio,
            cfg.seed,
        )
    });
    let (x, y, scale_pos_weight) = match &resampled {
        Some(bal) => (&bal.x[..], &bal.y[..], bal.scale_pos_weight),
        None => (
            &data.x[..],
            &data.y[..],
            chosen.strategy.scale_pos_weight(&data.y),
        ),
    };
    let params = chosen
        .params
        .to_lightgbm(cfg.seed, scale_pos_weight, rounds);
    let final_fit = lgbm::fit_timed(
        Rows {
            x,
            y,
            n_features: data.n_features(),
        },
        None,
        &names,
        &params,
    )?;
    binning.add(final_fit.binning);
    tracing::info!(
        "LightGBM built its datasets for {} fits (folds, cuts, the final fit): {:.1} s of the {:.0} s so far",
        binning.fits,
        binning.seconds,
        started.elapsed().as_secs_f64()
    );
    let booster = final_fit.booster;
    // Keep the booster as it reads back from its text form: what is reported on is exactly the
    // model that ships.
    let booster = lgbm::reload(&booster)?;
    let gain = booster
        .feature_importance(ImportanceType::Gain)
        .map_err(Error::lightgbm("reading gain importance"))?;

    let (cv_auc, cv_auc_std) = cvr.fold_auc();
    let summary = TrainSummary {
        n_rows: data.rows(),
        n_positives: data.positives(),
        n_features: data.n_features(),
        folds: cfg.folds,
        seed: cfg.seed,
        strategy: chosen.strategy,
        params: chosen.params.clone(),
        rounds,
        cv_auc,
        cv_auc_std,
        oof_auc: metrics::roc_auc(&oof, &data.y),
        threshold: optimum.threshold,
        cost_per_client: optimum.cost_per_client,
        uncertainty,
        estimate: Some(cv_estimate),
        bayes_threshold: cfg.cost.bayes_threshold(),
        review_band: cfg.review_band,
        calibration: calibration.name().to_string(),
        calibration_check: check,
        mean: summarise(&fold_metrics),
        confusion: Confusion::at(&oof, &data.y, optimum.threshold),
        fold_metrics,
        baselines,
        challenger: challenger.as_ref().map(|c| c.summary.clone()),
        model: lightgbm(),
        trials,
        prune: cfg.prune.name().into(),
        binning,
        seconds: started.elapsed().as_secs_f64(),
    };
    let trained = Trained {
        booster,
        lightgbm_names: names,
        calibration,
        summary,
        oof,
        oof_raw: cvr.oof,
        gain,
        folds: fold_of,
        challenger,
    };
    if cfg.ship_challenger {
        ship_scorecard(data, cfg, trained)
    } else {
        Ok(trained)
    }
}

/// `--model scorecard`: the scorecard becomes the model that ships, written as a LightGBM text
/// model (one tree per characteristic, see `riskscore_scorecard::forest`) so that everything
/// that reads a bundle serves, explains and monitors it unchanged; LightGBM becomes its
/// challenger. Its figures are the scorecard's own, on the same folds and cost.
fn ship_scorecard(data: &TrainingData, cfg: &TrainConfig, lgbm: Trained) -> Result<Trained> {
    let Some(fit) = lgbm.challenger.clone() else {
        return Err(Error::Data("no scorecard was fitted to ship".into()));
    };
    let card = &fit.scorecard;
    let text = riskscore_scorecard::forest::lightgbm_text(card, &lgbm.lightgbm_names).ok_or_else(
        || {
            Error::Data(
                "the scorecard has a characteristic LightGBM's text model cannot hold".into(),
            )
        },
    )?;
    let booster = lgbm::reload(&lgbm::from_text(&text)?)?;
    let oof = fit.oof.clone();
    let uncalibrated = TrainConfig {
        calibration: CalibrationChoice::None,
        ..cfg.clone()
    };
    let parts = cross_fitted(&uncalibrated, Strategy::None, &oof, &data.y, &lgbm.folds);
    let fold_metrics = per_fold(&parts, cfg, &[]);
    let (optimum, uncertainty) = threshold(&oof, &data.y, cfg);
    let brier = metrics::brier(&oof, &data.y);
    let mut gain = vec![0.0; data.n_features()];
    for c in &card.characteristics {
        gain[c.column] = c.binning.iv;
    }
    let s = &lgbm.summary;
    let n = data.rows() as f64;
    let other = ChallengerSummary {
        name: "LightGBM".into(),
        cv_auc: s.cv_auc,
        cv_auc_std: s.cv_auc_std,
        oof_auc: s.oof_auc,
        threshold: s.threshold,
        cost_per_client: s.cost_per_client,
        brier: metrics::brier(&lgbm.oof, &data.y),
        mean_probability: lgbm.oof.iter().sum::<f64>() / n,
        default_rate: data.positives() as f64 / n,
        fold_characteristics: Vec::new(),
        characteristics: data.n_features(),
        seconds: s.seconds,
    };
    let mut baselines = s.baselines.clone();
    for b in &mut baselines {
        if b.name == SCORECARD_BASELINE {
            *b = Baseline {
                name: "LightGBM (challenger)".into(),
                auc: s.oof_auc,
                threshold: s.threshold,
                cost_per_client: s.cost_per_client,
            };
        }
    }
    let summary = TrainSummary {
        strategy: Strategy::None,
        rounds: card.characteristics.len() as u32,
        cv_auc: fit.summary.cv_auc,
        cv_auc_std: fit.summary.cv_auc_std,
        oof_auc: fit.summary.oof_auc,
        threshold: optimum.threshold,
        cost_per_client: optimum.cost_per_client,
        uncertainty,
        estimate: Some(estimate::from_folds(&parts, &cfg.cost, cfg.new_batch)),
        calibration: Calibration::None.name().to_string(),
        calibration_check: CalibrationCheck {
            brier_before: brier,
            brier_after: brier,
        },
        mean: summarise(&fold_metrics),
        confusion: Confusion::at(&oof, &data.y, optimum.threshold),
        fold_metrics,
        baselines,
        model: "scorecard".into(),
        challenger: Some(other.clone()),
        ..s.clone()
    };
    Ok(Trained {
        booster,
        lightgbm_names: lgbm.lightgbm_names,
        calibration: Calibration::None,
        summary,
        oof: oof.clone(),
        oof_raw: oof,
        gain,
        folds: lgbm.folds,
        challenger: Some(ChallengerFit {
            summary: other,
            scorecard: fit.scorecard,
            scorecard_threshold: fit.scorecard_threshold,
            oof: lgbm.oof,
        }),
    })
}

/// The configurations of one run: each cross-validated, judged at the rungs of successive
/// halving, the best one that ran every fold kept with its out-of-fold predictions.
struct Runner<'a> {
    data: &'a TrainingData,
    fold_of: &'a [u8],
    names: &'a [String],
    cfg: &'a TrainConfig,
    rungs: Rungs,
    trials: Vec<Trial>,
    best: Option<(f64, CvResult)>,
    binning: Binning,
    observer: &'a mut dyn Observer,
}

impl Runner<'_> {
    fn run_trial(
        &mut self,
        params: &LgbmParams,
        strategy: Strategy,
        kind: &str,
        label: &str,
    ) -> Result<()> {
        let started = Instant::now();
        let cfg = self.cfg;
        let shares = self.rungs.shares().to_vec();
        let spec = CvSpec {
            params,
            strategy,
            ratio: cfg.resample_ratio,
            seed: cfg.seed,
            label,
            curve_points: cfg.curve_points,
            shares: &shares,
            // The first configuration to reach fold 1's rungs goes on from each (nothing to
            // compare it with): its cuts are read off its fold booster, not trained.
            shares_go_on: shares.iter().all(|&s| self.rungs.goes_on_whatever(s)),
        };
        let (data, fold_of, rungs) = (self.data, self.fold_of, &mut self.rungs);
        let mut pruned_at = None;
        let mut judged = Vec::new();
        let result = cv::run_pruned(data, fold_of, cfg.folds, self.names, spec, &mut |p| {
            let (auc, cost) = figures(cfg, strategy, p.oof, &data.y, p.folds);
            let loss = objective_loss(cfg.objective, auc, cost);
            if rungs.steps().contains(&p.step) {
                judged.push((p.step, loss));
            }
            let go_on = rungs.keep(p.step, loss);
            if !go_on {
                pruned_at = Some(p.step);
                let at = if p.step < 1.0 {
                    format!(
                        "part-way through fold 1/{} ({:.0} % of its expected rounds)",
                        cfg.folds,
                        p.step * 100.0
                    )
                } else {
                    format!("after fold {}/{}", p.step, cfg.folds)
                };
                tracing::info!(
                    "{label}: pruned {at} (AUC {auc:.4}, cost per client {cost:.4} so far)"
                );
            }
            go_on
        })?;
        self.binning.merge(result.binning);
        let (cv_auc, cost_per_client) = figures(cfg, strategy, &result.oof, &data.y, &result.folds);
        let done = result.folds.iter().filter(|f| f.cut.is_none()).count();
        let trial = Trial {
            number: self.trials.len(),
            kind: kind.to_string(),
            strategy,
            params: params.clone(),
            cv_auc,
            cv_auc_std: result.fold_auc().1,
            cost_per_client,
            mean_best_iteration: result.mean_best_iteration(),
            seconds: started.elapsed().as_secs_f64(),
            pruned_after: pruned_at.map(|_| done),
            pruned_at,
            judged,
        };
        if trial.pruned_after.is_none() {
            tracing::info!(
                "{label}: CV AUC {:.4} ± {:.4}, cost per client {:.4}, {:.0} s",
                trial.cv_auc,
                trial.cv_auc_std,
                trial.cost_per_client,
                trial.seconds
            );
        }
        self.observer.trial_done(&trial, &result.folds);
        let l = loss(&trial, cfg.objective);
        if trial.pruned_after.is_none() && self.best.as_ref().is_none_or(|(b, _)| l < *b) {
            self.best = Some((l, result));
        }
        self.trials.push(trial);
        Ok(())
    }

    fn search(&mut self, strategy: Strategy) -> Result<()> {
        let cfg = self.cfg;
        let started = Instant::now();
        let mut proposer = Proposer::new(cfg.search, cfg.trials, cfg.seed);
        let mut history: Vec<(Vec<f64>, Outcome)> = Vec::new();
        let kind = match cfg.search {
            search::Method::Random => "random",
            search::Method::Tpe => "tpe",
        };
        for t in 0..cfg.trials {
            if let Some(budget) = cfg.time_budget {
                if started.elapsed() >= budget {
                    tracing::info!(done = t, planned = cfg.trials, "search time budget spent");
                    break;
                }
            }
            let u = proposer.next(&history);
            let params = search::params_at(&u, &cfg.lgbm);
            let label = format!("trial {}/{}", t + 1, cfg.trials);
            self.run_trial(&params, strategy, kind, &label)?;
            if let Some(last) = self.trials.last() {
                history.push((
                    u,
                    Outcome {
                        missing: cfg.folds as f64 - last.resource(cfg.folds),
                        loss: loss(last, cfg.objective),
                    },
                ));
            }
        }
        Ok(())
    }
}

/// A configuration's AUC (the mean of its folds') and cost per client (on its out-of-fold
/// predictions, calibrated where the strategy distorts them, as the served model's will be,
/// at their own best threshold), over the folds it has done.
fn figures(
    cfg: &TrainConfig,
    strategy: Strategy,
    oof: &[f64],
    y: &[u8],
    folds: &[FoldFit],
) -> (f64, f64) {
    let (p, yy): (Vec<f64>, Vec<u8>) = oof
        .iter()
        .zip(y)
        .filter(|(p, _)| !p.is_nan())
        .map(|(&p, &y)| (p, y))
        .unzip();
    let (cal, _) = calibrate(cfg.calibration, strategy, &p, &yy);
    let cost = cost::best_threshold(&cal.apply_all(&p), &yy, &cfg.cost).cost_per_client;
    let (auc, _) = mean_std(&folds.iter().map(|f| f.auc).collect::<Vec<_>>());
    (auc, cost)
}

fn objective_loss(objective: Objective, auc: f64, cost: f64) -> f64 {
    match objective {
        Objective::Cost => cost,
        Objective::Auc => -auc,
    }
}

fn loss(t: &Trial, objective: Objective) -> f64 {
    objective_loss(objective, t.cv_auc, t.cost_per_client)
}

/// The best configuration that ran every fold (the first always does).
fn best_trial(trials: &[Trial], objective: Objective) -> &Trial {
    let mut complete = trials.iter().filter(|t| t.pruned_after.is_none());
    let mut best = complete.next().unwrap_or(&trials[0]);
    for t in complete {
        if loss(t, objective) < loss(best, objective) {
            best = t;
        }
    }
    best
}

/// One line on what successive halving saved.
fn log_pruning(trials: &[Trial], cfg: &TrainConfig) {
    if cfg.prune == Prune::None {
        return;
    }
    let (pruned, fits) = pruning_counts(trials, cfg.folds);
    tracing::info!(
        "successive halving: {pruned} of {} configurations stopped early; {fits} of {} fold fits run",
        trials.len(),
        trials.len() * cfg.folds
    );
}

/// The cost-minimising threshold of out-of-fold probabilities and its bootstrap spread.
fn threshold(oof: &[f64], y: &[u8], cfg: &TrainConfig) -> (Optimum, ThresholdUncertainty) {
    let optimum = cost::best_threshold(oof, y, &cfg.cost);
    let uncertainty = cost::bootstrap(
        oof,
        y,
        &cfg.cost,
        optimum.threshold,
        cfg.bootstrap,
        cfg.seed,
    );
    (optimum, uncertainty)
}

fn calibrate(
    choice: CalibrationChoice,
    strategy: Strategy,
    p: &[f64],
    y: &[u8],
) -> (Calibration, CalibrationCheck) {
    let before = metrics::brier(p, y);
    let fixed = |cal: Calibration, fit: fn(&[f64], &[u8]) -> Calibration| {
        let after = calibration::cross_fitted_brier(p, y, fit);
        (
            cal,
            CalibrationCheck {
                brier_before: before,
                brier_after: after,
            },
        )
    };
    match choice {
        CalibrationChoice::None => (
            Calibration::None,
            CalibrationCheck {
                brier_before: before,
                brier_after: before,
            },
        ),
        CalibrationChoice::Platt => fixed(calibration::fit_platt(p, y), calibration::fit_platt),
        CalibrationChoice::Isotonic => {
            fixed(calibration::fit_isotonic(p, y), calibration::fit_isotonic)
        }
        CalibrationChoice::Auto if strategy.distorts() => calibration::choose(p, y),
        CalibrationChoice::Auto => (
            Calibration::None,
            CalibrationCheck {
                brier_before: before,
                brier_after: before,
            },
        ),
    }
}

/// Each fold's calibrated probabilities and threshold, both fitted on the other folds' raw
/// out-of-fold predictions.
fn cross_fitted(
    cfg: &TrainConfig,
    strategy: Strategy,
    raw: &[f64],
    y: &[u8],
    fold_of: &[u8],
) -> Vec<Part> {
    (0..cfg.folds)
        .map(|f| {
            let (other, idx) = folds::split(fold_of, f as u8);
            let op: Vec<f64> = other.iter().map(|&i| raw[i]).collect();
            let oy: Vec<u8> = other.iter().map(|&i| y[i]).collect();
            let (cal, _) = calibrate(cfg.calibration, strategy, &op, &oy);
            let threshold = cost::best_threshold(&cal.apply_all(&op), &oy, &cfg.cost).threshold;
            Part {
                p: idx.iter().map(|&i| cal.apply(raw[i])).collect(),
                y: idx.iter().map(|&i| y[i]).collect(),
                threshold,
                chosen: format!("{}, calibration {}", strategy.name(), cal.name()),
            }
        })
        .collect()
}

fn per_fold(parts: &[Part], cfg: &TrainConfig, fits: &[FoldFit]) -> Vec<FoldMetrics> {
    parts
        .iter()
        .enumerate()
        .map(|(f, part)| {
            let (fp, fy) = (&part.p, &part.y);
            let c = Confusion::at(fp, fy, part.threshold);
            FoldMetrics {
                fold: f,
                rows: fp.len(),
                threshold: part.threshold,
                auc: metrics::roc_auc(fp, fy),
                pr_auc: metrics::average_precision(fp, fy),
                brier: metrics::brier(fp, fy),
                ks: metrics::ks(fp, fy),
                cost_per_client: cfg.cost.total(&c) / fp.len() as f64,
                recall: c.recall(),
                precision: c.precision(),
                f2: c.f_beta(2.0),
                confusion: c,
                best_iteration: fits.get(f).map_or(0, |x| x.best_iteration),
            }
        })
        .collect()
}

fn summarise(folds: &[FoldMetrics]) -> Vec<(String, MeanStd)> {
    let metric = |name: &str, get: fn(&FoldMetrics) -> f64| {
        let (mean, std) = mean_std(&folds.iter().map(get).collect::<Vec<_>>());
        (name.to_string(), MeanStd { mean, std })
    };
    vec![
        metric("roc_auc", |f| f.auc),
        metric("pr_auc", |f| f.pr_auc),
        metric("cost_per_client", |f| f.cost_per_client),
        metric("recall", |f| f.recall),
        metric("precision", |f| f.precision),
        metric("f2", |f| f.f2),
        metric("brier", |f| f.brier),
        metric("ks", |f| f.ks),
    ]
}

fn baselines(data: &TrainingData, fold_of: &[u8], cfg: &TrainConfig) -> Result<Vec<Baseline>> {
    let n = data.rows() as f64;
    let pos = data.positives() as f64;
    let mut out = vec![Baseline {
        name: "grant everyone".into(),
        auc: 0.5,
        threshold: 1.0,
        cost_per_client: (cfg.cost.fn_cost * pos + cfg.cost.tn_cost * (n - pos)) / n,
    }];
    if cfg.skip_baseline {
        return Ok(out);
    }
    let k = data.n_features();
    // The folds are fitted side by side, a thread per core (a fit is one thread's work, and
    // its result does not depend on the thread), each reading the rows it uses in place.
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(1, cfg.folds.max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let fit = || -> Vec<(usize, f64)> {
        let mut scored = Vec::new();
        loop {
            let f = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if f >= cfg.folds {
                return scored;
            }
            tracing::info!("logistic regression baseline: fold {}/{}", f + 1, cfg.folds);
            let (train_idx, valid_idx) = folds::split(fold_of, f as u8);
            let rows = Logistic::sample(&train_idx, cfg.seed);
            let model = Logistic::fit_rows(|i| data.row(i), &data.y, &rows, k);
            scored.extend(
                valid_idx
                    .iter()
                    .map(|&i| (i, model.predict_row(data.row(i)))),
            );
        }
    };
    let mut oof = vec![f64::NAN; data.rows()];
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(fit)).collect();
        for h in handles {
            let scored = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            for (i, p) in scored {
                oof[i] = p;
            }
        }
    });
    let best = cost::best_threshold(&oof, &data.y, &cfg.cost);
    out.push(Baseline {
        name: "logistic regression".into(),
        auc: metrics::roc_auc(&oof, &data.y),
        threshold: best.threshold,
        cost_per_client: best.cost_per_client,
    });
    Ok(out)
}
