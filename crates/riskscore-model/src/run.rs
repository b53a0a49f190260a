//! Train on a feature frame and write the bundle: the one call behind `riskscore train`.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use polars::prelude::DataFrame;
use riskscore_features::FeaturePipeline;
use serde::Serialize;

use crate::bundle::{self, BundleFiles, FeatureSpec, Manifest, FORMAT_VERSION};
use crate::config::TrainConfig;
use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::imbalance;
use crate::profile;
use crate::report;
use crate::train::{train_observed, Observer, Trained, Unobserved};

pub const REPORT_FILE: &str = "report.html";

/// The `--json` summary of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub cv_auc: f64,
    pub cv_auc_std: f64,
    pub oof_auc: f64,
    pub threshold: f64,
    pub cost_per_client: f64,
    pub threshold_interval: (f64, f64),
    pub cost_interval: (f64, f64),
    pub strategy: String,
    pub calibration: String,
    pub rounds: u32,
    pub n_features: usize,
    pub n_rows: usize,
    pub n_positives: usize,
    pub trials: usize,
    pub bundle: String,
    pub report: String,
    pub seconds: f64,
}

/// Trains on `frame` (the output of `pipeline`), writes the bundle and its report into `out`.
pub fn train_to_bundle(
    frame: &DataFrame,
    pipeline: &FeaturePipeline,
    cfg: &TrainConfig,
    out: &Path,
) -> Result<(Trained, Summary)> {
    train_to_bundle_observed(frame, pipeline, cfg, out, &mut Unobserved)
}

/// [`train_to_bundle`], telling `observer` about each trial as it ends.
pub fn train_to_bundle_observed(
    frame: &DataFrame,
    pipeline: &FeaturePipeline,
    cfg: &TrainConfig,
    out: &Path,
    observer: &mut dyn Observer,
) -> Result<(Trained, Summary)> {
    cfg.check()?;
    let data = TrainingData::from_frame(frame, &pipeline.id, &pipeline.target, &pipeline.features)?;
    let trained = train_observed(&data, cfg, observer)?;
    let prof = profile::profile(&data, &trained.oof);
    let html = report::render(&trained, &data.y, &cfg.cost, &data.features);
    let model_text = trained
        .booster
        .save_string()
        .map_err(Error::lightgbm("writing the model text"))?;
    let bal_weight = (trained.summary.strategy == imbalance::Strategy::ClassWeight)
        .then(|| imbalance::class_weight(&data.y));
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        riskscore_version: env!("CARGO_PKG_VERSION").into(),
        created_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        id: pipeline.id.clone(),
        target: pipeline.target.clone(),
        features: data
            .features
            .iter()
            .zip(&trained.lightgbm_names)
            .zip(&prof.features)
            .zip(&trained.gain)
            .map(|(((name, lgbm_name), fp), &gain)| FeatureSpec {
                name: name.clone(),
                lightgbm_name: lgbm_name.clone(),
                kind: kind(fp),
                gain,
            })
            .collect(),
        threshold: trained.summary.threshold,
        review_band: cfg.review_band,
        cost: cfg.cost,
        calibration: trained.calibration.clone(),
        strategy: trained.summary.strategy,
        params: trained.summary.params.clone(),
        lightgbm_params: trained.summary.params.to_lightgbm(
            cfg.seed,
            bal_weight,
            trained.summary.rounds,
        ),
        cv_lightgbm_params: trained.summary.params.to_lightgbm(
            cfg.seed,
            None,
            trained.summary.params.max_rounds,
        ),
        rounds: trained.summary.rounds,
        data_hash: bundle::data_hash(&data.ids, &data.y, &data.x),
        metrics: trained.summary.clone(),
    };
    bundle::save(
        out,
        &manifest,
        BundleFiles {
            model_text: &model_text,
            pipeline,
            profile: &prof,
            extra: vec![
                (REPORT_FILE, html.into_bytes()),
                (
                    bundle::OOF_FILE,
                    oof_csv(&data, &trained, &pipeline.id, &pipeline.target),
                ),
            ],
        },
    )?;
    let s = &trained.summary;
    let summary = Summary {
        cv_auc: s.cv_auc,
        cv_auc_std: s.cv_auc_std,
        oof_auc: s.oof_auc,
        threshold: s.threshold,
        cost_per_client: s.cost_per_client,
        threshold_interval: (s.uncertainty.threshold.low, s.uncertainty.threshold.high),
        cost_interval: (
            s.uncertainty.cost_per_client.low,
            s.uncertainty.cost_per_client.high,
        ),
        strategy: s.strategy.name().into(),
        calibration: s.calibration.clone(),
        rounds: s.rounds,
        n_features: s.n_features,
        n_rows: s.n_rows,
        n_positives: s.n_positives,
        trials: s.trials.len(),
        bundle: out.display().to_string(),
        report: out.join(REPORT_FILE).display().to_string(),
        seconds: s.seconds,
    };
    Ok((trained, summary))
}

fn oof_csv(data: &TrainingData, t: &Trained, id: &str, target: &str) -> Vec<u8> {
    use std::fmt::Write;
    let mut s = format!("{id},{target},fold,probability_raw,probability\n");
    for i in 0..data.rows() {
        let _ = writeln!(
            s,
            "{},{},{},{},{}",
            data.ids[i], data.y[i], t.folds[i], t.oof_raw[i], t.oof[i]
        );
    }
    s.into_bytes()
}

fn kind(fp: &profile::FeatureProfile) -> String {
    let binary = fp
        .distinct
        .as_ref()
        .is_some_and(|d| d.iter().all(|(v, _)| *v == 0.0 || *v == 1.0));
    if binary { "binary" } else { "numeric" }.into()
}
