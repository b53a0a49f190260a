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
use crate::fairness;
use crate::imbalance;
use crate::profile;
use crate::report;
use crate::train::{train_observed, Observer, Trained, Unobserved};

pub const REPORT_FILE: &str = "report.html";
/// A sample of the training rows (features and out-of-fold probability), the reference of
/// drift checks against the bundle.
pub const REFERENCE_FILE: &str = "reference.parquet";
/// Rows kept in the reference sample.
pub const REFERENCE_ROWS: usize = 10_000;
/// The reference sample's column of the (calibrated, out-of-fold) predicted probability.
pub const PROBABILITY_COLUMN: &str = "predicted_probability";

/// The `--json` summary of a run. `estimate` holds the figures for new applicants; `honesty`
/// says, figure by figure, what each one was measured on.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub estimate: Option<crate::estimate::Estimate>,
    pub honesty: Vec<(String, String)>,
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
    /// Protected attributes kept out of the model.
    pub protected: Vec<String>,
    /// Fairness at the threshold on the out-of-fold decisions, and the age rule.
    pub fairness: fairness::Fairness,
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
    train_owned_to_bundle(frame.clone(), pipeline, cfg, out, observer)
}

/// [`train_to_bundle_observed`] on a frame handed over: once the training matrix is built,
/// the frame's feature columns are let go (the matrix holds them as doubles), so that a
/// caller that keeps no other handle on the frame does not hold every feature twice while
/// training (at full Home Credit size, 1.2 GB of the peak).
pub fn train_owned_to_bundle(
    frame: DataFrame,
    pipeline: &FeaturePipeline,
    cfg: &TrainConfig,
    out: &Path,
    observer: &mut dyn Observer,
) -> Result<(Trained, Summary)> {
    cfg.check()?;
    let (prepared, pipeline, cfg) = prepare(&frame, pipeline, cfg)?;
    drop(frame);
    let data = TrainingData::from_frame(
        &prepared,
        &pipeline.id,
        &pipeline.target,
        &pipeline.features,
    )?;
    let frame = without_features(&prepared, &pipeline);
    drop(prepared);
    let (frame, pipeline, cfg) = (&frame, &pipeline, &cfg);
    let trained = train_observed(&data, cfg, observer)?;
    let started = std::time::Instant::now();
    let prof = profile::profile(&data, &trained.oof)?;
    tracing::info!(
        "profile of the training rows, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = std::time::Instant::now();
    let fair = training_fairness(frame, pipeline, &data, &trained, cfg)?;
    tracing::info!(
        "fairness of the out-of-fold decisions{}, {:.1} s",
        fair.age_rule.as_ref().map_or(String::new(), |a| format!(
            " (the age rule scored {} applicants aged {} or more)",
            a.elderly,
            riskscore_features::protect::ELDERLY_AGE
        )),
        started.elapsed().as_secs_f64()
    );
    let started = std::time::Instant::now();
    let html = report::render(&trained, &data.y, &cfg.cost, &data.features, &fair);
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
        protected: pipeline.protected.clone(),
        protected_features: pipeline.audit.clone(),
        monotone_age: cfg.monotone_age,
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
    let mut extra = challenger_files(&trained, pipeline)?;
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
                    bundle::FAIRNESS_FILE,
                    serde_json::to_vec_pretty(&fair).map_err(|e| Error::Data(e.to_string()))?,
                ),
                (
                    bundle::OOF_FILE,
                    oof_csv(&data, &trained, &pipeline.id, &pipeline.target, cfg.seed),
                ),
                (
                    REFERENCE_FILE,
                    reference_sample(&data, &trained.oof, &pipeline.id, cfg.seed)?,
                ),
            ]
            .into_iter()
            .chain(extra.drain(..))
            .collect(),
        },
    )?;
    tracing::info!(
        "bundle written to {}, {:.1} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    let s = &trained.summary;
    let summary = Summary {
        estimate: s.estimate.clone(),
        honesty: honesty(s.estimate.as_ref()),
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
        protected: pipeline.protected.clone(),
        fairness: fair,
    };
    Ok((trained, summary))
}

/// The frame without the model's features, but with the age column: what the fairness
/// measures read (the id, the target, the protected attributes kept out of the model, age).
fn without_features(frame: &DataFrame, pipeline: &FeaturePipeline) -> DataFrame {
    let age = pipeline.age_column();
    frame.drop_many(
        pipeline
            .features
            .iter()
            .filter(|f| Some(f.as_str()) != age)
            .map(String::as_str),
    )
}

/// Fairness of the out-of-fold decisions by protected attribute and age band, and the age
/// rule on the final model.
fn training_fairness(
    frame: &DataFrame,
    pipeline: &FeaturePipeline,
    data: &TrainingData,
    trained: &Trained,
    cfg: &TrainConfig,
) -> Result<fairness::Fairness> {
    let groupings = fairness::groupings(frame, pipeline, true)?;
    let mut fair = fairness::measure(
        &format!(
            "out-of-fold predictions of the {} training applicants",
            data.rows()
        ),
        &data.y,
        &trained.oof,
        trained.summary.threshold,
        &groupings,
        fairness::RESAMPLES,
        cfg.seed,
    );
    if let (Some(age), Some(years)) = (
        pipeline.age_column(),
        fairness::ages(frame, pipeline, true)?,
    ) {
        fair.age_rule = Some(fairness::age_rule(
            &trained.booster,
            &data.x,
            &data.features,
            &years,
            age,
            &pipeline.age_features(),
            cfg.monotone_age,
        )?);
    }
    Ok(fair)
}

/// What training sees. With `monotone_age`: the pipeline caps the age column at 62 years and
/// drops the other features computed from age, the frame is capped likewise, and LightGBM's
/// constraint is set on the age column so that an older applicant never raises the
/// prediction: +1 on `DAYS_BIRTH` (days before the application, negative: a higher value is a
/// younger applicant), -1 on an age in years. Every applicant aged 62 or more then has the
/// oldest age value, on the older side of every age split, whose leaves the basic method keeps
/// at or below the other side's: their age contribution cannot be positive. The scorecard
/// challenger's age bins follow the same direction (their default rate never rises with age).
pub fn prepare(
    frame: &DataFrame,
    pipeline: &FeaturePipeline,
    cfg: &TrainConfig,
) -> Result<(DataFrame, FeaturePipeline, TrainConfig)> {
    let (mut pipeline, mut cfg) = (pipeline.clone(), cfg.clone());
    if !cfg.monotone_age {
        return Ok((frame.clone(), pipeline, cfg));
    }
    pipeline.cap_age()?;
    let frame = pipeline.apply_age_cap(frame.clone())?;
    let age = pipeline.age_column().unwrap_or_default();
    if pipeline.age_unit() == Some(riskscore_features::protect::AgeUnit::Years) {
        no_missing_age(&frame, &pipeline, age)?;
    }
    let direction = pipeline
        .age_unit()
        .map_or(0, riskscore_features::protect::AgeUnit::older_never_riskier);
    cfg.lgbm.monotone = pipeline
        .features
        .iter()
        .map(|f| if f == age { direction } else { 0 })
        .collect();
    // The scorecard's age bins likewise: their default rates never rise with age, so the
    // oldest bin, where every applicant of 62 or more is, has the most points.
    if let Some(card) = cfg.challenger.as_mut() {
        let trend = if direction > 0 {
            riskscore_scorecard::Trend::Ascending
        } else {
            riskscore_scorecard::Trend::Descending
        };
        card.binning.trends.push((age.to_owned(), trend));
    }
    tracing::info!(
        age,
        cap_years = riskscore_features::protect::ELDERLY_AGE,
        "monotone age: older never riskier, 62 and over scored as 62"
    );
    Ok((frame, pipeline, cfg))
}

/// `--monotone-age` on an age in years needs every applicant's age. LightGBM splits the
/// applicants without one from those with one as if a missing value were above every age, and
/// so under the constraint (older never riskier) it scores them as the oldest: an applicant of
/// 62 or more would then be scored down for age against them. Days before the application
/// (`DAYS_BIRTH`) order the other way, a missing age beside the youngest, and need no check.
fn no_missing_age(frame: &DataFrame, pipeline: &FeaturePipeline, age: &str) -> Result<()> {
    let values = crate::data::column_f64(frame, age)?;
    let missing: Vec<usize> = (0..values.len()).filter(|&r| values[r].is_nan()).collect();
    let Some(&first) = missing.first() else {
        return Ok(());
    };
    let id = pipeline.row_label(frame, first);
    Err(Error::Data(format!(
        "--monotone-age on {age}: {} of {} applicants have no age (the first: {id}); the \
         constraint would score them as older than every applicant with an age, and so those of \
         62 or more down for age against them: give every applicant's age, or leave those rows out",
        missing.len(),
        values.len()
    )))
}

/// What each figure of the summary was measured on.
pub fn honesty(estimate: Option<&crate::estimate::Estimate>) -> Vec<(String, String)> {
    let biased =
        "selection-biased: measured on the folds the strategy and the search were chosen on";
    let mut out = vec![(
        "estimate".to_string(),
        match estimate {
            Some(e) if e.selection_aware => format!("honest: {}", e.how),
            Some(e) => format!("selection-biased: {}", e.how),
            None => "absent (a bundle written before estimates)".to_string(),
        },
    )];
    for (figure, what) in [
        ("cv_auc", biased),
        ("oof_auc", biased),
        (
            "cost_per_client",
            "in-sample: the cost at the threshold chosen on these same out-of-fold predictions",
        ),
        (
            "cost_interval",
            "in-sample: a bootstrap of the out-of-fold predictions, ignoring the selection",
        ),
    ] {
        out.push((figure.to_string(), what.to_string()));
    }
    out
}

/// Up to [`REFERENCE_ROWS`] training rows, chosen by the seed, in their order: the id, the
/// features and the out-of-fold probability, as Parquet.
fn reference_sample(data: &TrainingData, oof: &[f64], id: &str, seed: u64) -> Result<Vec<u8>> {
    use polars::prelude::{Column, DataFrame, ParquetWriter};
    let n = data.rows();
    let mut rows: Vec<usize> = (0..n).collect();
    if n > REFERENCE_ROWS {
        let key = |i: usize| riskscore_data::synth::rng::seed_of(&[seed, i as u64]);
        rows.sort_by_key(|&i| key(i));
        rows.truncate(REFERENCE_ROWS);
        rows.sort_unstable();
    }
    let nf = data.n_features();
    let mut cols = Vec::with_capacity(nf + 2);
    cols.push(Column::new(
        id.into(),
        rows.iter().map(|&i| data.ids[i]).collect::<Vec<i64>>(),
    ));
    for (j, name) in data.features.iter().enumerate() {
        cols.push(Column::new(
            name.as_str().into(),
            rows.iter()
                .map(|&i| data.x[i * nf + j])
                .collect::<Vec<f64>>(),
        ));
    }
    cols.push(Column::new(
        PROBABILITY_COLUMN.into(),
        rows.iter().map(|&i| oof[i]).collect::<Vec<f64>>(),
    ));
    let mut df = DataFrame::new_infer_height(cols)
        .map_err(|e| Error::Data(format!("building the reference sample: {e}")))?;
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes)
        .finish(&mut df)
        .map_err(|e| Error::Data(format!("writing the reference sample: {e}")))?;
    Ok(bytes)
}

/// Every row's fold, its out-of-fold probabilities, and the folds whose boosters stopped early
/// on it (`stopped`: fold numbers separated by spaces), so a peer can re-run the
/// cross-validation exactly.
fn oof_csv(data: &TrainingData, t: &Trained, id: &str, target: &str, seed: u64) -> Vec<u8> {
    use std::fmt::Write;
    let k = t.summary.folds;
    let mut stopped = vec![String::new(); data.rows()];
    for f in 0..k {
        let (_, stop, _) = crate::cv::fold_rows(&data.y, &t.folds, f, seed);
        for i in stop {
            if !stopped[i].is_empty() {
                stopped[i].push(' ');
            }
            let _ = write!(stopped[i], "{f}");
        }
    }
    let mut s = format!("{id},{target},fold,probability_raw,probability,stopped\n");
    for (i, stopped) in stopped.iter().enumerate() {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{stopped}",
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

/// The scorecard challenger's files in the bundle: the scorecard, its points table and its SQL
/// over a table named `features` of one row per client.
fn challenger_files(
    trained: &Trained,
    pipeline: &FeaturePipeline,
) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let Some(c) = &trained.challenger else {
        return Ok(Vec::new());
    };
    let card = &c.scorecard;
    let target = riskscore_scorecard::sql::SqlTarget {
        table: "features",
        id: &pipeline.id,
        cutoff: card.scaling.cutoff(c.scorecard_threshold),
        probability: true,
    };
    Ok(vec![
        (
            bundle::SCORECARD_FILE,
            serde_json::to_vec_pretty(&ShippedScorecard {
                threshold: c.scorecard_threshold,
                cutoff: card.scaling.cutoff(c.scorecard_threshold),
                scorecard: card.clone(),
            })
            .map_err(|e| Error::Data(e.to_string()))?,
        ),
        (
            bundle::SCORECARD_POINTS_FILE,
            riskscore_scorecard::sql::points_csv(card).into_bytes(),
        ),
        (
            bundle::SCORECARD_SQL_FILE,
            riskscore_scorecard::sql::scorecard_query(card, &target).into_bytes(),
        ),
    ])
}

/// `scorecard.json`: the challenger and the threshold its cross-validation chose.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ShippedScorecard {
    /// The probability threshold the cross-validation chose.
    pub threshold: f64,
    /// Refused when the score is at or below it (the threshold as a score).
    pub cutoff: f64,
    pub scorecard: riskscore_scorecard::Scorecard,
}
