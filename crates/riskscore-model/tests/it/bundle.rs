//! The bundle: save, load, identical predictions, refusal of altered or incomplete bundles.

use std::path::Path;

use riskscore_model::bundle::{self, ModelBundle};
use riskscore_model::predict::score_frame;
use riskscore_model::TrainConfig;

use crate::common::*;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn save_then_load_predicts_identically() {
    let run = train_quick(
        600,
        &TrainConfig {
            trials: 0,
            skip_baseline: true,
            ..quick_config()
        },
    );
    let loaded = ModelBundle::load(&run.model).unwrap();
    let scored = score_frame(&loaded, &run.frame).unwrap();
    // The in-memory booster, before it was written.
    let names = &loaded.manifest.features;
    assert_eq!(names.len(), run.pipeline.features.len());
    let (_, x) =
        riskscore_model::data::matrix(&run.frame, "client_id", &run.pipeline.features).unwrap();
    let before = riskscore_model::lgbm::predict(&run.trained.booster, &x, names.len()).unwrap();
    assert_eq!(scored.len(), before.len());
    for (s, b) in scored.iter().zip(&before) {
        assert_eq!(s.probability_raw.to_bits(), b.to_bits());
        // The served calibration is the manifest's, read back from JSON (serde_json's parser
        // may differ from the written value in the last bit).
        assert_eq!(s.probability, loaded.manifest.calibration.apply(*b));
        assert!((s.probability - run.trained.calibration.apply(*b)).abs() < 1e-15);
        assert_eq!(s.decision, loaded.decide(s.probability));
    }
    assert!((loaded.manifest.threshold - run.summary.threshold).abs() < 1e-15);
    assert_eq!(loaded.pipeline, run.pipeline);
    assert_eq!(loaded.profile().unwrap().rows, run.summary.n_rows);
}

#[test]
fn altered_or_missing_files_are_refused() {
    let run = train_quick(
        400,
        &TrainConfig {
            trials: 0,
            skip_baseline: true,
            ..quick_config()
        },
    );
    let src = run.model.clone();
    let check = |name: &str, change: &dyn Fn(&Path), expected: &str| {
        let dir = run.dir.path().join(name);
        copy_dir(&src, &dir);
        change(&dir);
        let err = ModelBundle::load(&dir).unwrap_err().to_string();
        assert!(err.contains(expected), "{name}: {err}");
    };
    check(
        "edited-model",
        &|d| {
            let t = std::fs::read_to_string(d.join("model.txt")).unwrap();
            std::fs::write(
                d.join("model.txt"),
                t.replacen("leaf_value=", "leaf_value=1", 1),
            )
            .unwrap();
        },
        "model.txt was altered since the bundle was written",
    );
    check(
        "edited-threshold",
        &|d| {
            let t = std::fs::read_to_string(d.join("manifest.json")).unwrap();
            std::fs::write(
                d.join("manifest.json"),
                t.replacen("\"threshold\": 0.", "\"threshold\": 0.9", 1),
            )
            .unwrap();
        },
        "manifest.json was altered",
    );
    check(
        "no-pipeline",
        &|d| std::fs::remove_file(d.join("pipeline.json")).unwrap(),
        "pipeline.json is missing",
    );
    check(
        "no-checksums",
        &|d| std::fs::remove_file(d.join(bundle::CHECKSUMS_FILE)).unwrap(),
        "not a model bundle",
    );
    check(
        "unlisted-profile",
        &|d| {
            let t = std::fs::read_to_string(d.join(bundle::CHECKSUMS_FILE)).unwrap();
            let kept: String = t
                .lines()
                .filter(|l| !l.ends_with("profile.json"))
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(d.join(bundle::CHECKSUMS_FILE), kept).unwrap();
        },
        "profile.json is not listed",
    );
    // The untouched bundle still loads.
    assert!(ModelBundle::load(&src).is_ok());
}

#[test]
fn the_report_has_its_sections() {
    let run = train_quick(
        500,
        &TrainConfig {
            trials: 1,
            ..quick_config()
        },
    );
    let html = std::fs::read_to_string(run.model.join("report.html")).unwrap();
    for needle in [
        "Decision threshold",
        "ROC curve",
        "Precision-recall curve",
        "Reliability diagram",
        "Confusion matrix at the threshold",
        "Metrics per fold",
        "logistic regression",
        "grant everyone",
        "Trials: imbalance strategies and hyperparameter search",
        "Top 20 features by total gain",
    ] {
        assert!(html.contains(needle), "report lacks {needle:?}");
    }
    assert!(
        !html.contains("<script") && !html.contains("http://")
            || html.contains("xmlns=\"http://www.w3.org/2000/svg\"")
    );
    assert!(!html.contains("src=\"http"), "no remote resources");
}

/// Without bootstrap resamples the threshold's interval is not a number: the manifest writes it
/// as null and the bundle still loads (`scripts/bench-train` trains with `--bootstrap 0`).
#[test]
fn a_bundle_trained_without_bootstrap_loads() {
    let cfg = TrainConfig {
        bootstrap: 0,
        trials: 0,
        ..quick_config()
    };
    let run = train_quick(300, &cfg);
    let bundle = ModelBundle::load(&run.model).unwrap();
    let u = &bundle.manifest.metrics.uncertainty;
    assert_eq!(u.resamples, 0);
    assert!(u.threshold.low.is_nan() && u.cost_per_client.high.is_nan());
}
