use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use riskscore_model::input::{self, TableOptions};
use riskscore_model::run::train_to_bundle;
use riskscore_model::search::{Method, Objective};
use riskscore_model::{CalibrationChoice, CostMatrix, LgbmParams, Strategy, TrainConfig};

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
    /// Calibration of the probabilities: auto, none, platt, isotonic.
    #[arg(long, default_value = "auto")]
    calibration: String,
    /// Bootstrap resamples for the threshold's interval.
    #[arg(long, default_value_t = 200)]
    bootstrap: usize,
    /// Skip the logistic-regression baseline.
    #[arg(long)]
    no_baseline: bool,
    #[command(flatten)]
    lgbm: LgbmArgs,
    #[command(flatten)]
    table: crate::table_args::TableArgs,
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
            },
            trials: self.trials,
            search: Method::parse(&self.search)?,
            objective: Objective::parse(&self.objective)?,
            time_budget: self.time_budget.map(Duration::from_secs),
            calibration: CalibrationChoice::parse(&self.calibration)?,
            bootstrap: self.bootstrap,
            skip_baseline: self.no_baseline,
        })
    }
}

pub fn run(args: Args) -> Result<()> {
    // Every setting is checked before the data is read.
    let cfg = args.config()?;
    cfg.check()?;
    let opts = TableOptions {
        id: args.table.id.clone(),
        target: args.table.target.clone(),
        categorical: args.table.categorical.clone(),
        numeric: args.table.numeric.clone(),
        max_categories: None,
    };
    let (pipeline, frame) = input::load(&args.data, &opts)
        .with_context(|| format!("reading {}", args.data.display()))?;
    let (_, summary) = train_to_bundle(&frame, &pipeline, &cfg, &args.out)
        .with_context(|| format!("training on {}", args.data.display()))?;
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
        println!("model bundle: {}", summary.bundle);
        println!("report: {}", summary.report);
    }
    tracing::info!(cpu = riskscore_data::usage::cpu_label(), "done");
    Ok(())
}
