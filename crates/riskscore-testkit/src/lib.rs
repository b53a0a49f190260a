//! What the workspace's tests share (a dev-dependency only): the small trained bundles, trained
//! once per test binary ([`home_credit`], [`single_table`]); the generated single table with a
//! known signal ([`loans`]); the training configurations that keep tests short; the oracles'
//! interpreters ([`oracle`]); and the places of the repository and of the shared real sample.
//!
//! Panics on failure: it is test code, and a fixture that cannot be built is a failed test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod fairlearn;
pub mod loans;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use polars::prelude::DataFrame;
use riskscore_data::synth::{generate, SynthConfig};
use riskscore_features::{pipeline_path_for, write_parquet, FeaturePipeline};
use riskscore_model::input::{self, TableOptions};
use riskscore_model::lgbm::LgbmParams;
use riskscore_model::run::{train_to_bundle, Summary};
use riskscore_model::{Strategy, TrainConfig, Trained};

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A script of `scripts/`.
pub fn script(name: &str) -> PathBuf {
    repo_root().join("scripts").join(name)
}

/// The real public sample, beside the repository in `../shared` (never copied into it).
pub fn real_sample() -> PathBuf {
    repo_root().join("../shared/data/home-credit")
}

/// The interpreter or command an oracle runs with, from the environment variable `var`. When
/// it is not set the test is skipped (None, with a note naming `what` it needs), unless
/// `RISKSCORE_REQUIRE_ORACLES=1` (scripts/test, CI): then it fails.
pub fn oracle(var: &str, what: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            assert!(
                std::env::var("RISKSCORE_REQUIRE_ORACLES").as_deref() != Ok("1"),
                "{var} is not set but the oracles are required"
            );
            eprintln!("skipped: set {var} to {what}");
            None
        }
    }
}

/// Runs a Python oracle; its output, or the test fails with it.
pub fn run_python(python: &Path, args: &[&Path]) -> String {
    let out = Command::new(python)
        .args(args)
        .output()
        .expect("python runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "python {args:?} failed:\n{text}");
    text
}

/// The shortest training that still makes a model: three folds, class weights, no search, no
/// baseline, 10 bootstrap resamples, at most 60 rounds.
pub fn short_config() -> TrainConfig {
    TrainConfig {
        folds: 3,
        imbalance: Some(Strategy::ClassWeight),
        trials: 0,
        skip_baseline: true,
        bootstrap: 10,
        lgbm: LgbmParams {
            max_rounds: 60,
            early_stopping_rounds: 10,
            ..LgbmParams::default()
        },
        ..TrainConfig::default()
    }
}

/// A short training with a search: three folds, class weights, two trials, 50 resamples, at most
/// 150 rounds.
pub fn search_config() -> TrainConfig {
    TrainConfig {
        folds: 3,
        imbalance: Some(Strategy::ClassWeight),
        trials: 2,
        bootstrap: 50,
        lgbm: LgbmParams {
            max_rounds: 150,
            early_stopping_rounds: 20,
            ..LgbmParams::default()
        },
        ..TrainConfig::default()
    }
}

/// A trained bundle with the data it was trained on.
#[derive(Debug)]
pub struct Bundle {
    pub dir: tempfile::TempDir,
    /// The training data: a Home Credit folder or the single table's CSV.
    pub data: PathBuf,
    /// The feature matrix as Parquet, its fitted pipeline beside it.
    pub features: PathBuf,
    pub model: PathBuf,
    pub pipeline: FeaturePipeline,
    pub frame: DataFrame,
    pub trained: Trained,
    pub summary: Summary,
}

/// Features, the matrix written with its pipeline, and a bundle trained with `cfg`, in `dir`.
pub fn train(
    dir: tempfile::TempDir,
    data: PathBuf,
    options: &TableOptions,
    cfg: &TrainConfig,
) -> Bundle {
    let (pipeline, mut frame) = input::load(&data, options).expect("features");
    let features = dir.path().join("features.parquet");
    write_parquet(&mut frame, &features).expect("parquet");
    pipeline
        .save(&pipeline_path_for(&features))
        .expect("pipeline");
    let model = dir.path().join("model");
    let (trained, summary) = train_to_bundle(&frame, &pipeline, cfg, &model).expect("train");
    Bundle {
        dir,
        data,
        features,
        model,
        pipeline,
        frame,
        trained,
        summary,
    }
}

/// A bundle trained once and shared by the tests of a binary (the booster is read back from
/// `model` by whoever needs it: LightGBM's handle is not shared between threads).
#[derive(Debug)]
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub features: PathBuf,
    pub model: PathBuf,
    pub pipeline: FeaturePipeline,
    pub frame: DataFrame,
    pub summary: Summary,
}

impl From<Bundle> for Fixture {
    fn from(b: Bundle) -> Self {
        Fixture {
            dir: b.dir,
            data: b.data,
            features: b.features,
            model: b.model,
            pipeline: b.pipeline,
            frame: b.frame,
            summary: b.summary,
        }
    }
}

/// Synthetic Home Credit data (scale 0.004, about 1,200 training applicants, seed 3) and a
/// bundle trained with [`short_config`]: built once per test binary.
pub fn home_credit() -> &'static Fixture {
    static B: OnceLock<Fixture> = OnceLock::new();
    B.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tmp");
        let data = dir.path().join("data");
        generate(
            &SynthConfig {
                scale: 0.004,
                seed: 3,
                out: data.clone(),
            },
            &|_, _| {},
        )
        .expect("synth");
        train(dir, data, &TableOptions::default(), &short_config()).into()
    })
}

/// [`loans::write`] (1,200 applicants, seed 7) and a bundle trained with [`short_config`]:
/// built once per test binary.
pub fn single_table() -> &'static Fixture {
    static B: OnceLock<Fixture> = OnceLock::new();
    B.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tmp");
        let data = loans::write(dir.path(), 1200, 7);
        train(dir, data, &loans::options(), &short_config()).into()
    })
}
