use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use riskscore_model::estimate::Method as EstimateMethod;
use riskscore_model::input;
use riskscore_model::prune::Prune;
use riskscore_model::run::train_owned_to_bundle;
use riskscore_model::search::{Method, Objective};
use riskscore_model::train::{Observer, Unobserved};
use riskscore_model::{CalibrationChoice, CostMatrix, LgbmParams, Strategy, TrainConfig};
use riskscore_tracking::training::{self, Session};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A feature matrix from `riskscore features` (Parquet with X.pipeline.json beside it), a
    /// Home Credit folder, or a single CSV/Parquet table (with --id and --target).
    #[arg(long)]
    data: PathBuf,
    /// The model bundle directory to write.
    #[arg(long, short)]
    out: PathBuf,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    options: TrainOptions,
    #[command(flatten)]
    table: crate::table_args::TableArgs,
    #[command(flatten)]
    tracking: crate::tracking::TrackingArgs,
    /// Track nothing (no MLflow server, no local run directory).
    #[arg(long, conflicts_with = "register")]
    no_tracking: bool,
    /// Register the model under this name in the MLflow model registry (needs a server).
    #[arg(long)]
    register: Option<String>,
    /// The alias the registered version gets.
    #[arg(long, default_value = "champion", requires = "register")]
    alias: String,
    /// Learning-curve points per fold logged for every trial (each point predicts the
    /// validation fold once; 0 for none).
    #[arg(long, default_value_t = 20)]
    curve_points: usize,
}

/// The training settings `train` and `validate` share.
#[derive(Debug, clap::Args)]
pub struct TrainOptions {
    /// Cross-validation folds.
    #[arg(long, default_value_t = 5, env = "RISKSCORE_FOLDS")]
    folds: usize,
    /// Seed of folds, resampling, LightGBM and the search.
    #[arg(long, default_value_t = 42, env = "RISKSCORE_SEED")]
    seed: u64,
    /// Class-imbalance strategy: auto (compare all, keep the cheapest), none, class_weight,
    /// undersample, smote.
    #[arg(long, default_value = "auto")]
    imbalance: String,
    /// Defaulters per good client after undersampling or SMOTE.
    #[arg(long, default_value_t = 0.5)]
    resample_ratio: f64,
    /// Cost of a missed defaulter (granted, then defaults).
    #[arg(long, default_value_t = 10.0, env = "RISKSCORE_COST_FN")]
    cost_fn: f64,
    /// Cost of a good client wrongly refused.
    #[arg(long, default_value_t = 1.0, env = "RISKSCORE_COST_FP")]
    cost_fp: f64,
    /// Cost of a defaulter refused.
    #[arg(long, default_value_t = 0.0)]
    cost_tp: f64,
    /// Cost of a good client granted.
    #[arg(long, default_value_t = 0.0)]
    cost_tn: f64,
    /// Half-width of the review band around the threshold (probability).
    #[arg(long, default_value_t = 0.02)]
    review_band: f64,
    /// Search trials after the default configuration (0: no search).
    #[arg(long, default_value_t = 10)]
    trials: usize,
    /// Search method: tpe or random.
    #[arg(long, default_value = "tpe")]
    search: String,
    /// What the search minimises: cost (per client) or auc (maximised).
    #[arg(long, default_value = "cost")]
    objective: String,
    /// Stop starting trials after this many seconds of search.
    #[arg(long)]
    time_budget: Option<u64>,
    /// Successive halving of the strategy comparison and the search: asha (each configuration
    /// judged after fold 1 and fold 3, only the best third going on) or none (every
    /// configuration runs every fold). The chosen one always runs every fold.
    #[arg(long, default_value = "asha")]
    prune: String,
    /// Calibration of the probabilities: auto, none, platt, isotonic.
    #[arg(long, default_value = "auto")]
    calibration: String,
    /// Bootstrap resamples for the threshold's interval.
    #[arg(long, default_value_t = 200)]
    bootstrap: usize,
    /// Skip the logistic-regression baseline.
    #[arg(long)]
    no_baseline: bool,
    /// How the figures for new applicants are estimated: auto (nested up to 50,000 rows, cv
    /// above), nested (the whole procedure in each of --folds outer folds), holdout (see
    /// --holdout), cv (the chosen configuration's own folds: selection-biased).
    #[arg(long, default_value = "auto")]
    estimate: String,
    /// Hold out this share of the rows (stratified, seeded) before any choice and measure the
    /// procedure on it once; implies --estimate holdout.
    #[arg(long)]
    holdout: Option<f64>,
    /// Applicants in the new batch the prediction intervals are stated for (e.g. a month of
    /// applications).
    #[arg(long, default_value_t = riskscore_model::estimate::DEFAULT_NEW_BATCH)]
    new_batch: usize,
    /// Regulation B's age rule by construction: age capped at 62 years (older applicants are
    /// scored as 62), a monotone constraint so that older never means riskier, and the other
    /// features computed from age dropped. The Home Credit tables' DAYS_BIRTH, or a single
    /// table's --age column.
    #[arg(long)]
    monotone_age: bool,
    #[command(flatten)]
    lgbm: LgbmArgs,
    #[command(flatten)]
    scorecard: ScorecardArgs,
}

/// The scorecard challenger (docs/scorecard.md).
#[derive(Debug, clap::Args)]
struct ScorecardArgs {
    /// Cross-validate a challenger on the same folds and ship it in the bundle beside the
    /// model: scorecard (optimal binning, WoE, logistic regression, points).
    #[arg(long, value_parser = ["scorecard"])]
    challenger: Option<String>,
    /// Scorecard points to double the good:bad odds.
    #[arg(long, default_value_t = 20.0, allow_negative_numbers = true)]
    pdo: f64,
    /// Scorecard score of good:bad odds --base-odds.
    #[arg(long, default_value_t = 600.0, allow_negative_numbers = true)]
    base_points: f64,
    /// Good:bad odds at --base-points.
    #[arg(long, default_value_t = 50.0, allow_negative_numbers = true)]
    base_odds: f64,
    /// A characteristic needs at least this information value.
    #[arg(long, default_value_t = 0.02)]
    min_iv: f64,
    /// A characteristic whose WoE correlates beyond this with a stronger one is left out.
    #[arg(long, default_value_t = 0.7)]
    max_correlation: f64,
    /// At most this many characteristics.
    #[arg(long, default_value_t = 20)]
    max_characteristics: usize,
    /// The model the bundle ships: lightgbm, or scorecard (the challenger, cross-validated on
    /// the same folds; needs --challenger scorecard).
    #[arg(long, default_value = "lightgbm", value_parser = ["lightgbm", "scorecard"])]
    model: String,
}

impl ScorecardArgs {
    /// The challenger's options; the scorecard's settings are checked even without it, so a
    /// mistyped `--pdo 0` is not silently ignored.
    fn options(&self) -> Result<Option<riskscore_scorecard::ScorecardOptions>> {
        let options = riskscore_scorecard::ScorecardOptions {
            pdo: self.pdo,
            base_points: self.base_points,
            base_odds: self.base_odds,
            min_iv: self.min_iv,
            max_correlation: self.max_correlation,
            max_characteristics: self.max_characteristics,
            ..Default::default()
        };
        options.check()?;
        Ok(self.challenger.as_ref().map(|_| options))
    }
}

/// The default LightGBM configuration (the starting point of the search).
#[derive(Debug, clap::Args)]
struct LgbmArgs {
    #[arg(long, default_value_t = 31)]
    num_leaves: u32,
    #[arg(long, default_value_t = 0.05)]
    learning_rate: f64,
    #[arg(long, default_value_t = 20)]
    min_child_samples: u32,
    #[arg(long, default_value_t = 0.8)]
    feature_fraction: f64,
    #[arg(long, default_value_t = 0.8)]
    bagging_fraction: f64,
    #[arg(long, default_value_t = 0.0)]
    lambda_l1: f64,
    #[arg(long, default_value_t = 0.0)]
    lambda_l2: f64,
    /// Upper bound on boosting rounds.
    #[arg(long, default_value_t = 1000)]
    max_rounds: u32,
    /// Early stopping patience on the validation fold's AUC.
    #[arg(long, default_value_t = 50)]
    early_stopping_rounds: u32,
}

impl Args {
    fn config(&self) -> Result<TrainConfig> {
        let curve_points = if self.no_tracking {
            0
        } else {
            self.curve_points
        };
        self.options.config(curve_points)
    }
}

impl TrainOptions {
    /// The training settings, learning curves of `curve_points` points per fold.
    pub fn config(&self, curve_points: usize) -> Result<TrainConfig> {
        let estimate = match (EstimateMethod::parse(&self.estimate)?, self.holdout) {
            (EstimateMethod::Auto | EstimateMethod::Holdout, Some(_)) => EstimateMethod::Holdout,
            (m, None) => m,
            (m, Some(_)) => anyhow::bail!(
                "--holdout holds rows out for the holdout estimate; it cannot go with --estimate {}",
                m.name()
            ),
        };
        let imbalance = match self.imbalance.as_str() {
            "auto" => None,
            s => Some(Strategy::parse(s)?),
        };
        let l = &self.lgbm;
        Ok(TrainConfig {
            folds: self.folds,
            seed: self.seed,
            imbalance,
            resample_ratio: self.resample_ratio,
            cost: CostMatrix {
                fn_cost: self.cost_fn,
                fp_cost: self.cost_fp,
                tp_cost: self.cost_tp,
                tn_cost: self.cost_tn,
            },
            review_band: self.review_band,
            lgbm: LgbmParams {
                num_leaves: l.num_leaves,
                learning_rate: l.learning_rate,
                min_child_samples: l.min_child_samples,
                feature_fraction: l.feature_fraction,
                bagging_fraction: l.bagging_fraction,
                lambda_l1: l.lambda_l1,
                lambda_l2: l.lambda_l2,
                max_rounds: l.max_rounds,
                early_stopping_rounds: l.early_stopping_rounds,
                monotone: Vec::new(),
            },
            trials: self.trials,
            search: Method::parse(&self.search)?,
            objective: Objective::parse(&self.objective)?,
            time_budget: self.time_budget.map(Duration::from_secs),
            prune: Prune::parse(&self.prune)?,
            calibration: CalibrationChoice::parse(&self.calibration)?,
            bootstrap: self.bootstrap,
            skip_baseline: self.no_baseline,
            curve_points,
            estimate,
            holdout: self.holdout.unwrap_or(0.2),
            new_batch: self.new_batch,
            monotone_age: self.monotone_age,
            challenger: self.scorecard.options()?,
            ship_challenger: self.scorecard.model == "scorecard",
        })
    }
}

pub fn run(args: Args) -> Result<()> {
    // Every setting is checked before the data is read.
    let cfg = args.config()?;
    cfg.check()?;
    crate::table_args::must_exist(&args.data, "--data")?;
    let opts = args.table.options();
    if args.register.is_some() && args.tracking.tracking_uri.is_none() {
        anyhow::bail!(
            "--register needs an MLflow server: set --tracking-uri or MLFLOW_TRACKING_URI"
        );
    }
    // The tracking server is reached before the data is read: a wrong address fails at once.
    let mut session = if args.no_tracking {
        None
    } else {
        let target = args.tracking.target()?;
        let settings = training::Settings {
            target: &target,
            experiment: &args.tracking.experiment,
            local_runs: &args.tracking.local_runs,
            commit: crate::tracking::git_commit(),
        };
        let session = Session::start(&settings, &args.data, &cfg)?;
        eprintln!("{}", session.banner());
        Some(session)
    };
    if let Some(s) = &session {
        crate::tracking::end_on_signal(s);
    }
    let trained = input::load(&args.data, &opts)
        .with_context(|| format!("reading {}", args.data.display()))
        .and_then(|(pipeline, frame)| {
            let observer: &mut dyn Observer = match session.as_mut() {
                Some(s) => s,
                None => &mut Unobserved,
            };
            train_owned_to_bundle(frame, &pipeline, &cfg, &args.out, observer)
                .with_context(|| format!("training on {}", args.data.display()))
        });
    let summary = match trained {
        Ok((_, summary)) => summary,
        Err(e) => {
            if let Some(s) = &session {
                s.fail(&format!("{e:#}"));
            }
            return Err(e);
        }
    };
    let outcome = match &session {
        Some(s) => {
            let register = args.register.as_deref().map(|n| (n, args.alias.as_str()));
            match s.finish(&summary, &args.out, register) {
                Ok(o) => Some(o),
                Err(e) => {
                    s.fail(&format!("{e:#}"));
                    return Err(anyhow::Error::from(e).context(format!(
                        "tracking the run (the model bundle is kept in {})",
                        args.out.display()
                    )));
                }
            }
        }
        None => None,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "CV AUC {:.4} ± {:.4}; threshold {:.4} (95 % [{:.4}, {:.4}]); cost per client {:.4}; {} rows x {} features; strategy {}, calibration {}",
            summary.cv_auc,
            summary.cv_auc_std,
            summary.threshold,
            summary.threshold_interval.0,
            summary.threshold_interval.1,
            summary.cost_per_client,
            summary.n_rows,
            summary.n_features,
            summary.strategy,
            summary.calibration
        );
        if let Some(e) = &summary.estimate {
            println!(
                "new applicants ({}{}): AUC {:.4} (95 % for {} applicants [{:.4}, {:.4}]), cost per client {:.4} ([{:.4}, {:.4}]), recall {:.3}, approval rate {:.3}",
                e.method.name(),
                if e.selection_aware { ", honest" } else { ", selection-biased" },
                e.auc,
                e.new_batch,
                e.auc_prediction.low,
                e.auc_prediction.high,
                e.cost_per_client,
                e.cost_prediction.low,
                e.cost_prediction.high,
                e.recall,
                e.approval_rate
            );
        }
        println!("model bundle: {}", summary.bundle);
        println!("report: {}", summary.report);
    }
    if let Some(o) = &outcome {
        eprintln!("MLflow run {} on {}: {}", o.run_id, o.location, o.run_link);
        if o.location.starts_with("local run directory") {
            eprintln!(
                "  view it with: MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri {}",
                args.tracking.local_runs.display()
            );
        }
        if let Some(r) = &o.registered {
            eprintln!("registered {r} with alias {:?}", args.alias);
        }
        if let Some(why) = &o.failure {
            anyhow::bail!(
                "the MLflow server failed during the run ({why}); the runs were written to {} \
                 and the model bundle to {}",
                o.location,
                summary.bundle
            );
        }
    }
    tracing::info!(cpu = riskscore_data::usage::cpu_label(), "done");
    Ok(())
}
