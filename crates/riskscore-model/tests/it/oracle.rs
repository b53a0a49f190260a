//! Python LightGBM as the oracle: it loads riskscore's model file and predicts the same
//! probabilities, and re-running the cross-validation with the bundle's folds and parameters
//! gives the same out-of-fold predictions.

use std::process::Command;

use riskscore_features::{pipeline_path_for, write_parquet};
use riskscore_model::predict::{score_path, write_csv};
use riskscore_model::run::train_to_bundle;
use riskscore_model::{ModelBundle, Strategy, TrainConfig};

use crate::common::*;

/// Runs scripts/train_peer.py with `args`; its stdout.
fn peer(py: &std::path::Path, args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(py)
        .arg(script("train_peer.py"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json_field(out: &str, key: &str) -> f64 {
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    v[key].as_f64().unwrap_or_else(|| panic!("{key} in {out}"))
}

#[test]
fn python_lightgbm_agrees_with_the_bundle() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let csv = write_table(dir.path(), 1000, 3);
    let (pipeline, mut frame) = load(&csv);
    let features = dir.path().join("X.parquet");
    write_parquet(&mut frame, &features).unwrap();
    pipeline.save(&pipeline_path_for(&features)).unwrap();
    let cfg = TrainConfig {
        imbalance: Some(Strategy::None),
        trials: 0,
        skip_baseline: true,
        ..quick_config()
    };
    let model = dir.path().join("model");
    train_to_bundle(&frame, &pipeline, &cfg, &model).unwrap();

    let bundle = ModelBundle::load(&model).unwrap();
    let scores = dir.path().join("scores.csv");
    write_csv(&score_path(&bundle, &csv).unwrap(), "client_id", &scores).unwrap();
    let text = peer(
        &py,
        &[
            "predict".as_ref(),
            "--bundle".as_ref(),
            model.as_os_str(),
            "--features".as_ref(),
            features.as_os_str(),
            "--scores".as_ref(),
            scores.as_os_str(),
        ],
    );
    assert_eq!(json_field(&text, "rows"), 1000.0);
    assert!(json_field(&text, "max_abs_diff") < 1e-12, "{text}");

    let text = peer(
        &py,
        &[
            "cv".as_ref(),
            "--bundle".as_ref(),
            model.as_os_str(),
            "--features".as_ref(),
            features.as_os_str(),
        ],
    );
    let ours = bundle.manifest.metrics.cv_auc;
    assert!(
        (json_field(&text, "cv_auc") - ours).abs() < 1e-9,
        "{text} vs {ours}"
    );
    assert!(json_field(&text, "max_abs_diff_oof") < 1e-9, "{text}");
}
