//! A training's experiment tracking (`riskscore train`'s observer): a parent run for the command, a nested run per
//! trial (params, per-fold metrics, learning curves by boosting round), the final metrics, the
//! report, plots and the model in MLflow's LightGBM layout; the run ends FINISHED, or FAILED on
//! an error or an interruption (Ctrl-C, SIGTERM).

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use riskscore_model::bundle::Manifest;
use riskscore_model::cv::FoldFit;
use riskscore_model::run::Summary;
use riskscore_model::train::{Observer, Trial};
use riskscore_model::{LgbmParams, TrainConfig};
use riskscore_report::chart::{LineChart, Series};

use crate::error::{Error, Result};
use crate::{mlmodel, registry, Metric, RunKey, Status, Target, Tracker};

/// The tracking session of one `train` command, shared with the signal handler.
#[derive(Debug, Clone)]
pub struct Session {
    tracker: Arc<Mutex<Tracker>>,
    parent: RunKey,
    /// Learning curves of every trial, by trial number, for the plots.
    curves: Arc<Mutex<Vec<TrialFits>>>,
    /// Where the runs go, for the user: experiment, store and the parent run's link.
    banner: String,
}

/// Where and how a training is tracked.
#[derive(Debug, Clone)]
pub struct Settings<'a> {
    pub target: &'a Target,
    pub experiment: &'a str,
    /// The local run directory (MLflow's file layout), also where runs are kept when the
    /// server fails.
    pub local_runs: &'a Path,
    /// The git commit riskscore was built from, when known.
    pub commit: Option<&'a str>,
}

/// A trial and its folds' fits (with their learning curves).
type TrialFits = (Trial, Vec<FoldFit>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn p(k: &str, v: impl ToString) -> (String, String) {
    (k.to_owned(), v.to_string())
}

/// The booster parameters the search tunes, as params named `{prefix}num_leaves`, ...
fn booster_params(prefix: &str, l: &LgbmParams) -> Vec<(String, String)> {
    let k = |name: &str| format!("{prefix}{name}");
    vec![
        p(&k("num_leaves"), l.num_leaves),
        p(&k("learning_rate"), l.learning_rate),
        p(&k("min_child_samples"), l.min_child_samples),
        p(&k("feature_fraction"), l.feature_fraction),
        p(&k("bagging_fraction"), l.bagging_fraction),
        p(&k("lambda_l1"), l.lambda_l1),
        p(&k("lambda_l2"), l.lambda_l2),
    ]
}

impl Session {
    /// Opens the experiment (a server that cannot be reached fails here, before training) and
    /// starts the parent run with the settings as params.
    pub fn start(settings: &Settings, data: &Path, cfg: &TrainConfig) -> Result<Session> {
        let experiment = settings.experiment;
        let data = &std::fs::canonicalize(data).unwrap_or_else(|_| data.to_owned());
        let mut tracker =
            Tracker::open(settings.target, experiment, settings.local_runs).map_err(|e| {
                Error::Invalid(format!("opening the MLflow experiment {experiment:?}: {e}"))
            })?;
        let mut tags = vec![
            p("riskscore.version", env!("CARGO_PKG_VERSION")),
            p("riskscore.data", data.display()),
            p("mlflow.source.name", "riskscore train"),
            p("mlflow.source.type", "LOCAL"),
        ];
        if let Some(c) = settings.commit.filter(|c| !c.is_empty()) {
            tags.push(p("mlflow.source.git.commit", c));
            tags.push(p("riskscore.git_commit", c));
        }
        let parent = tracker.start_run("train", None, tags)?;
        let l = &cfg.lgbm;
        let params = vec![
            p("data", data.display()),
            p("folds", cfg.folds),
            p("seed", cfg.seed),
            p("imbalance", cfg.imbalance.map_or("auto", |s| s.name())),
            p("resample_ratio", cfg.resample_ratio),
            p("cost_fn", cfg.cost.fn_cost),
            p("cost_fp", cfg.cost.fp_cost),
            p("cost_tp", cfg.cost.tp_cost),
            p("cost_tn", cfg.cost.tn_cost),
            p("review_band", cfg.review_band),
            p("trials", cfg.trials),
            p("search", format!("{:?}", cfg.search).to_lowercase()),
            p("objective", format!("{:?}", cfg.objective).to_lowercase()),
            p("prune", cfg.prune.name()),
            p(
                "time_budget_seconds",
                cfg.time_budget
                    .map_or("none".into(), |d| d.as_secs().to_string()),
            ),
            p(
                "calibration_choice",
                format!("{:?}", cfg.calibration).to_lowercase(),
            ),
            p("bootstrap", cfg.bootstrap),
            p("estimate", cfg.estimate.name()),
            p("holdout", cfg.holdout),
            p("new_batch", cfg.new_batch),
            p("max_rounds", l.max_rounds),
            p("early_stopping_rounds", l.early_stopping_rounds),
            p(
                "model",
                if cfg.ship_challenger {
                    "scorecard"
                } else {
                    "lightgbm"
                },
            ),
        ];
        let mut params = [params, booster_params("start.", l)].concat();
        if let Some(o) = &cfg.challenger {
            params.extend([
                p("challenger", "scorecard"),
                p("scorecard.pdo", o.pdo),
                p("scorecard.base_points", o.base_points),
                p("scorecard.base_odds", o.base_odds),
                p("scorecard.min_iv", o.min_iv),
                p("scorecard.max_correlation", o.max_correlation),
                p("scorecard.max_characteristics", o.max_characteristics),
            ]);
        }
        tracker.log(parent, vec![], params, vec![])?;
        let banner = format!(
            "tracking: experiment {experiment:?} on {}, run {}",
            tracker.describe(),
            tracker.run_link(parent)
        );
        Ok(Session {
            tracker: Arc::new(Mutex::new(tracker)),
            parent,
            curves: Arc::new(Mutex::new(Vec::new())),
            banner,
        })
    }

    /// Where the runs go, in one line for the user.
    pub fn banner(&self) -> &str {
        &self.banner
    }

    /// Ends every open run with `status` (an interruption: FAILED).
    pub fn end_open(&self, status: Status) -> Result<()> {
        lock(&self.tracker).end_open(status)
    }

    /// After an error: every open run ends FAILED.
    pub fn fail(&self, why: &str) {
        let mut t = lock(&self.tracker);
        let _ = t.log(self.parent, vec![], vec![], vec![p("riskscore.error", why)]);
        if let Err(e) = t.end_open(Status::Failed) {
            tracing::error!("ending the MLflow runs: {e}");
        }
    }

    /// Logs the outcome: final metrics, report, plots, the model (MLflow LightGBM layout with
    /// the bundle), optionally registers it, and ends the run FINISHED.
    pub fn finish(
        &self,
        summary: &Summary,
        bundle: &Path,
        register: Option<(&str, &str)>,
    ) -> Result<Outcome> {
        let manifest = riskscore_model::ModelBundle::load(bundle)
            .map(|b| b.manifest)
            .map_err(|e| Error::Invalid(format!("reading the bundle {}: {e}", bundle.display())))?;
        let m = &manifest.metrics;
        let scratch = tempfile::tempdir().map_err(Error::io(&std::env::temp_dir()))?;
        let mut t = lock(&self.tracker);
        let parent = self.parent;

        let mut metrics = vec![
            Metric::new("cv_auc", m.cv_auc, 0),
            Metric::new("cv_auc_std", m.cv_auc_std, 0),
            Metric::new("oof_auc", m.oof_auc, 0),
            Metric::new("threshold", m.threshold, 0),
            Metric::new("cost_per_client", m.cost_per_client, 0),
            Metric::new("threshold_low", m.uncertainty.threshold.low, 0),
            Metric::new("threshold_high", m.uncertainty.threshold.high, 0),
            Metric::new("bayes_threshold", m.bayes_threshold, 0),
            Metric::new(
                "brier_before_calibration",
                m.calibration_check.brier_before,
                0,
            ),
            Metric::new(
                "brier_after_calibration",
                m.calibration_check.brier_after,
                0,
            ),
            Metric::new("rounds", f64::from(m.rounds), 0),
            Metric::new("rows", m.n_rows as f64, 0),
            Metric::new("defaulters", m.n_positives as f64, 0),
            Metric::new("features", m.n_features as f64, 0),
            Metric::new("training_seconds", m.seconds, 0),
        ];
        for (name, ms) in &m.mean {
            metrics.push(Metric::new(format!("mean_{name}"), ms.mean, 0));
            metrics.push(Metric::new(format!("std_{name}"), ms.std, 0));
        }
        for f in &m.fold_metrics {
            let step = f.fold as i64;
            for (k, v) in [
                ("fold_auc", f.auc),
                ("fold_pr_auc", f.pr_auc),
                ("fold_brier", f.brier),
                ("fold_ks", f.ks),
                ("fold_cost_per_client", f.cost_per_client),
                ("fold_recall", f.recall),
                ("fold_precision", f.precision),
                ("fold_best_iteration", f64::from(f.best_iteration)),
            ] {
                metrics.push(Metric::new(k, v, step));
            }
        }
        if let Some(e) = &m.estimate {
            // The figures for new applicants; `estimate_selection_aware` is 1 when honest.
            for (k, v) in [
                ("estimate_auc", e.auc),
                ("estimate_auc_low", e.auc_prediction.low),
                ("estimate_auc_high", e.auc_prediction.high),
                ("estimate_cost_per_client", e.cost_per_client),
                ("estimate_cost_low", e.cost_prediction.low),
                ("estimate_cost_high", e.cost_prediction.high),
                ("estimate_expected_cost_low", e.cost_interval.low),
                ("estimate_expected_cost_high", e.cost_interval.high),
                ("estimate_recall", e.recall),
                ("estimate_approval_rate", e.approval_rate),
                (
                    "estimate_selection_aware",
                    f64::from(u8::from(e.selection_aware)),
                ),
            ] {
                metrics.push(Metric::new(k, v, 0));
            }
        }
        for b in &m.baselines {
            let key: String = b
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            metrics.push(Metric::new(format!("baseline_{key}_auc"), b.auc, 0));
            metrics.push(Metric::new(
                format!("baseline_{key}_cost_per_client"),
                b.cost_per_client,
                0,
            ));
        }
        let params = [
            vec![
                p("strategy", m.strategy.name()),
                p("calibration", &m.calibration),
                p(
                    "estimate_method",
                    m.estimate.as_ref().map_or("none", |e| e.method.name()),
                ),
            ],
            booster_params("", &m.params),
        ]
        .concat();
        let tags = vec![
            p("riskscore.data_hash", &manifest.data_hash),
            p("riskscore.bundle", bundle.display()),
        ];
        t.log(parent, metrics, params, tags)?;

        // Artifacts: the report, the summary, plots, the model.
        let report = bundle.join(riskscore_model::run::REPORT_FILE);
        t.artifact(parent, "report.html", &report)?;
        let summary_path = scratch.path().join("summary.json");
        let text = serde_json::to_vec_pretty(summary)
            .map_err(|e| Error::Invalid(format!("the training summary as JSON: {e}")))?;
        std::fs::write(&summary_path, text).map_err(Error::io(&summary_path))?;
        t.artifact(parent, "summary.json", &summary_path)?;
        let plots = scratch.path().join("plots");
        std::fs::create_dir_all(&plots).map_err(Error::io(&plots))?;
        self.write_plots(&plots, &manifest)?;
        t.artifact(parent, "plots", &plots)?;
        let model_dir = scratch.path().join("model");
        let features: Vec<String> = manifest.features.iter().map(|f| f.name.clone()).collect();
        let metadata = vec![
            p("riskscore_version", &manifest.riskscore_version),
            p("threshold", manifest.threshold),
            p("calibration", &m.calibration),
            p("data_hash", &manifest.data_hash),
            p(
                "probability",
                "mlflow.pyfunc predicts the probability riskscore serves (booster, then the \
                 calibration); mlflow.lightgbm gives the booster alone (probability_raw)",
            ),
        ];
        mlmodel::write(
            &model_dir,
            &mlmodel::ModelSpec {
                bundle,
                features: &features,
                metadata: &metadata,
            },
        )?;
        t.artifact(parent, "model", &model_dir)?;

        let mut registered = None;
        if let Some((name, alias)) = register {
            match (t.failure(), t.rest()) {
                (None, Some(rest)) => {
                    let run_id = t.run(parent).run_id.clone();
                    let mv = registry::register(rest, name, &run_id, "model", Some(alias))
                        .map_err(|e| {
                            Error::Invalid(format!("registering the model as {name:?}: {e}"))
                        })?;
                    let _ = t.log(
                        parent,
                        vec![],
                        vec![],
                        vec![p("riskscore.registered", format!("{name}/{}", mv.version))],
                    );
                    registered = Some(mv);
                }
                _ => {
                    tracing::warn!(
                        "not registering {name:?}: the model registry needs an MLflow server"
                    )
                }
            }
        }
        t.end(parent, Status::Finished)?;
        let outcome = Outcome {
            location: t.describe(),
            run_link: t.run_link(parent),
            run_id: t.run(parent).run_id.clone(),
            failure: t.failure().map(str::to_owned),
            registered: registered.map(|mv| format!("models:/{}/{}", mv.name, mv.version)),
        };
        drop(t);
        drop(scratch);
        Ok(outcome)
    }

    fn write_plots(&self, dir: &Path, manifest: &Manifest) -> Result<()> {
        let curves = lock(&self.curves);
        let m = &manifest.metrics;
        // The manifest's parameters went through JSON: compare them to the trials' with a
        // tolerance.
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
        let chosen = curves.iter().find(|(t, _)| {
            let (a, b) = (&t.params, &m.params);
            t.strategy == m.strategy
                && a.num_leaves == b.num_leaves
                && a.min_child_samples == b.min_child_samples
                && close(a.learning_rate, b.learning_rate)
                && close(a.feature_fraction, b.feature_fraction)
                && close(a.bagging_fraction, b.bagging_fraction)
                && close(a.lambda_l1, b.lambda_l1)
                && close(a.lambda_l2, b.lambda_l2)
        });
        if let Some((trial, folds)) = chosen {
            let mut c = LineChart::new(
                &format!("Learning curves (trial {})", trial.number),
                "boosting round",
                "validation AUC",
            );
            for f in folds {
                let pts = f
                    .curve
                    .iter()
                    .map(|p| (f64::from(p.round), p.auc))
                    .collect();
                c.series
                    .push(Series::line(&format!("fold {}", f.fold + 1), pts));
            }
            c.description = "Validation AUC of each fold's booster by boosting round.".into();
            save_svg(&dir.join("learning_curves.svg"), &c.svg())?;
        }
        let mut s = LineChart::new("Search history", "trial", "cost per client");
        s.series.push(
            Series::line(
                "cost per client",
                m.trials
                    .iter()
                    .map(|t| (t.number as f64, t.cost_per_client))
                    .collect(),
            )
            .dots(),
        );
        s.description = "Out-of-fold cost per client of every trial.".into();
        save_svg(&dir.join("search_history.svg"), &s.svg())
    }
}

fn save_svg(path: &Path, html: &str) -> Result<()> {
    // The chart is a <figure> around the <svg>: keep the SVG alone.
    let svg = match (html.find("<svg"), html.rfind("</svg>")) {
        (Some(a), Some(b)) => &html[a..b + "</svg>".len()],
        _ => html,
    };
    std::fs::write(path, svg).map_err(Error::io(path))
}

/// Where the run went.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub location: String,
    pub run_link: String,
    pub run_id: String,
    /// The server's error when the runs had to go to the local run directory.
    pub failure: Option<String>,
    pub registered: Option<String>,
}

impl Observer for Session {
    fn trial_done(&mut self, trial: &Trial, folds: &[FoldFit]) {
        lock(&self.curves).push((trial.clone(), folds.to_vec()));
        let mut t = lock(&self.tracker);
        let parent = self.parent;
        let name = format!("trial-{:02}-{}", trial.number, trial.kind);
        let logged = (|| -> Result<()> {
            let start = crate::now_ms() - (trial.seconds * 1000.0) as i64;
            let child = t.start_run_at(&name, Some(parent), vec![], start)?;
            let pr = &trial.params;
            let params = [
                vec![
                    p("kind", &trial.kind),
                    p("strategy", trial.strategy.name()),
                    p(
                        "pruned_after_folds",
                        trial.pruned_after.map_or("no".into(), |f| f.to_string()),
                    ),
                    p(
                        "pruned_at_folds",
                        trial.pruned_at.map_or("no".into(), |f| format!("{f:.4}")),
                    ),
                    p("max_rounds", pr.max_rounds),
                    p("early_stopping_rounds", pr.early_stopping_rounds),
                ],
                booster_params("", pr),
            ]
            .concat();
            let mut metrics = vec![
                Metric::new("cv_auc", trial.cv_auc, 0),
                Metric::new("cv_auc_std", trial.cv_auc_std, 0),
                Metric::new("cost_per_client", trial.cost_per_client, 0),
                Metric::new("mean_best_iteration", trial.mean_best_iteration, 0),
                Metric::new("seconds", trial.seconds, 0),
                Metric::new(
                    "folds_done",
                    folds.iter().filter(|f| f.cut.is_none()).count() as f64,
                    0,
                ),
            ];
            for f in folds {
                let step = f.fold as i64;
                if let Some(rounds) = f.cut {
                    // Stopped part-way through this fold: its booster cut at `rounds`.
                    metrics.push(Metric::new("cut_fold_auc", f.auc, step));
                    metrics.push(Metric::new("cut_rounds", f64::from(rounds), step));
                } else {
                    metrics.push(Metric::new("fold_auc", f.auc, step));
                    metrics.push(Metric::new(
                        "fold_best_iteration",
                        f64::from(f.best_iteration),
                        step,
                    ));
                }
                for c in &f.curve {
                    let round = i64::from(c.round);
                    metrics.push(Metric::new(
                        format!("fold_{}_valid_auc", f.fold),
                        c.auc,
                        round,
                    ));
                    metrics.push(Metric::new(
                        format!("fold_{}_valid_logloss", f.fold),
                        c.logloss,
                        round,
                    ));
                }
            }
            t.log(
                child,
                metrics,
                params,
                vec![p("riskscore.trial", trial.number)],
            )?;
            t.end(child, Status::Finished)?;
            let n = trial.number as i64;
            t.log(
                parent,
                vec![
                    Metric::new("trial_cv_auc", trial.cv_auc, n),
                    Metric::new("trial_cost_per_client", trial.cost_per_client, n),
                ],
                vec![],
                vec![],
            )
        })();
        if let Err(e) = logged {
            tracing::error!("tracking trial {}: {e}", trial.number);
        }
    }
}
