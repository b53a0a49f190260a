//! A generated single table with a known signal, and a quick training configuration.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;
use riskscore_features::FeaturePipeline;
use riskscore_model::input::{self, TableOptions};
use riskscore_model::lgbm::LgbmParams;
use riskscore_model::run::{train_to_bundle, Summary};
use riskscore_model::{Strategy, TrainConfig, Trained};

/// Writes `rows` applicants: default risk rises with the credit/income ratio and falls with
/// age; `kind` C is riskier; `share` is missing for one row in seven; `noise` carries nothing.
pub fn write_table(dir: &Path, rows: usize, seed: u64) -> PathBuf {
    let mut s = String::from("client_id,defaulted,income,credit,age,share,kind,noise\n");
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut uniform = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    for i in 0..rows {
        let income = 20_000.0 + 80_000.0 * uniform();
        let credit = 10_000.0 + 190_000.0 * uniform();
        let age = 20.0 + 45.0 * uniform();
        let kind = ["A", "B", "C"][(uniform() * 3.0) as usize % 3];
        let share = if i % 7 == 3 {
            String::new()
        } else {
            format!("{:.3}", uniform())
        };
        let z = -2.6 + 1.4 * (credit / income).ln() - 0.04 * (age - 40.0)
            + if kind == "C" { 0.8 } else { 0.0 };
        let p = 1.0 / (1.0 + (-z).exp());
        let y = u8::from(uniform() < p);
        let _ = writeln!(
            s,
            "{},{y},{income:.2},{credit:.2},{age:.1},{share},{kind},{:.4}",
            100_000 + i,
            uniform()
        );
    }
    let path = dir.join("loans.csv");
    std::fs::write(&path, s).unwrap();
    path
}

pub fn options() -> TableOptions {
    TableOptions {
        id: Some("client_id".into()),
        target: Some("defaulted".into()),
        ..TableOptions::default()
    }
}

pub fn load(path: &Path) -> (FeaturePipeline, DataFrame) {
    input::load(path, &options()).unwrap()
}

/// Three folds, short boosting, two search trials, one imbalance strategy.
pub fn quick_config() -> TrainConfig {
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

pub struct Run {
    pub dir: tempfile::TempDir,
    pub pipeline: FeaturePipeline,
    pub frame: DataFrame,
    pub trained: Trained,
    pub summary: Summary,
}

impl Run {
    pub fn bundle(&self) -> PathBuf {
        self.dir.path().join("model")
    }
}

pub fn train_quick(rows: usize, cfg: &TrainConfig) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let path = write_table(dir.path(), rows, 7);
    let (pipeline, frame) = load(&path);
    let (trained, summary) =
        train_to_bundle(&frame, &pipeline, cfg, &dir.path().join("model")).unwrap();
    Run {
        dir,
        pipeline,
        frame,
        trained,
        summary,
    }
}

/// The Python interpreter with lightgbm (RISKSCORE_PYTHON), if configured; with
/// RISKSCORE_REQUIRE_ORACLES set, a missing interpreter fails instead of skipping.
pub fn python() -> Option<PathBuf> {
    match std::env::var_os("RISKSCORE_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("RISKSCORE_REQUIRE_ORACLES").is_some() => {
            panic!("RISKSCORE_PYTHON is not set but oracles are required")
        }
        None => {
            eprintln!("skipped: set RISKSCORE_PYTHON to a python with lightgbm");
            None
        }
    }
}

pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts")
        .join(name)
}
