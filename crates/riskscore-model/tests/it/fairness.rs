//! Fair lending at training: the protected attribute out of the model, every applicant scored,
//! and the fairness figures equal to fairlearn's on the same decisions.

use riskscore_model::bundle::FAIRNESS_FILE;
use riskscore_model::fairness::{self, Fairness};
use riskscore_model::predict::score_path;
use riskscore_model::ModelBundle;

fn tiny() -> std::path::PathBuf {
    riskscore_testkit::repo_root().join("crates/riskscore-features/tests/fixtures/tiny")
}

#[test]
fn gender_is_kept_out_of_the_model_and_xna_applicants_are_scored() {
    let f = riskscore_testkit::home_credit();
    let bundle = ModelBundle::load(&f.model).unwrap();
    let m = &bundle.manifest;
    assert_eq!(m.protected, ["CODE_GENDER"]);
    assert_eq!(m.protected_features, ["CODE_GENDER"]);
    assert!(!m.features.iter().any(|s| s.name == "CODE_GENDER"));
    let model_text = std::fs::read_to_string(f.model.join("model.txt")).unwrap();
    assert!(!model_text.contains("CODE_GENDER"));
    assert!(model_text.contains("DAYS_BIRTH"));
    // The matrix keeps it beside the inputs, for the audit.
    assert!(f.frame.column("CODE_GENDER").is_ok());
    // The tiny fixture's 100003 has CODE_GENDER = XNA: scored like everyone else.
    let scores = score_path(&bundle, &tiny()).unwrap();
    let ids: Vec<i64> = scores.iter().map(|s| s.id).collect();
    assert_eq!(ids, [100001, 100002, 100003, 100004]);
    assert!(scores[2].probability > 0.0 && scores[2].probability < 1.0);
}

/// The training report's figures (out-of-fold decisions at the threshold) against fairlearn on
/// the out-of-fold file and the groups read back from the matrix.
#[test]
fn training_fairness_equals_fairlearn() {
    let f = riskscore_testkit::home_credit();
    let written: Fairness =
        serde_json::from_slice(&std::fs::read(f.model.join(FAIRNESS_FILE)).unwrap()).unwrap();
    assert_eq!(written, f.summary.fairness);
    let names: Vec<&str> = written
        .attributes
        .iter()
        .map(|a| a.attribute.as_str())
        .collect();
    assert_eq!(names, ["CODE_GENDER", "age band"]);
    let bands: Vec<&str> = written.attributes[1]
        .groups
        .iter()
        .map(|g| g.group.as_str())
        .collect();
    assert_eq!(bands, ["under 25", "25-39", "40-61", "62 and over"]);
    let rule = written.age_rule.as_ref().unwrap();
    assert_eq!(rule.age_features, ["DAYS_BIRTH", "DAYS_EMPLOYED_PERC"]);
    assert!(rule.elderly > 0 && !rule.monotone);
    assert!(f.summary.report.ends_with("report.html"));
    let page = std::fs::read_to_string(&f.summary.report).unwrap();
    assert!(page.contains("Fairness at the decision threshold") && page.contains("Age rule"));

    // The rows: oof.csv (ids, labels, calibrated probabilities) and the groups.
    let oof = std::fs::read_to_string(f.model.join("oof.csv")).unwrap();
    let groupings = fairness::groupings(&f.frame, &f.pipeline, true).unwrap();
    let mut rows = String::from("defaulted,probability");
    for g in &groupings {
        rows.push(',');
        rows.push_str(&g.attribute);
    }
    rows.push('\n');
    for (i, line) in oof.lines().skip(1).enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        rows.push_str(&format!("{},{}", cells[1], cells[4]));
        for g in &groupings {
            rows.push(',');
            rows.push_str(g.groups[i].as_deref().unwrap_or(""));
        }
        rows.push('\n');
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.csv");
    std::fs::write(&path, rows).unwrap();
    let Some(oracle) = riskscore_testkit::fairlearn::run(&path, written.threshold, None) else {
        return;
    };
    riskscore_testkit::fairlearn::assert_agrees(&written, &oracle);
}

/// `--monotone-age`: age capped at 62 years, the other age features dropped, LightGBM's
/// monotone constraint on age. No applicant aged 62 or more has an age contribution that raises
/// their probability, on the training rows and on new data scored through the bundle.
#[test]
fn monotone_age_leaves_no_elderly_applicant_scored_down_for_age() {
    let f = riskscore_testkit::home_credit();
    let cfg = riskscore_model::TrainConfig {
        monotone_age: true,
        ..riskscore_testkit::short_config()
    };
    let dir = tempfile::tempdir().unwrap();
    let run = riskscore_testkit::train(dir, f.data.clone(), &Default::default(), &cfg);
    let bundle = ModelBundle::load(&run.model).unwrap();
    assert!(bundle.manifest.monotone_age);
    let floor = bundle.pipeline.age_cap.unwrap();
    assert!((floor / -365.25 - 62.0).abs() < 1e-9);
    let names = bundle.manifest.feature_names();
    assert!(names.iter().any(|n| n == "DAYS_BIRTH"));
    assert!(!names.iter().any(|n| n == "DAYS_EMPLOYED_PERC"));
    let params = &bundle.manifest.lightgbm_params;
    assert_eq!(params["monotone_constraints_method"], "basic");
    let constraints = params["monotone_constraints"].as_str().unwrap();
    assert_eq!(constraints.split(',').count(), names.len());
    let rule = run.summary.fairness.age_rule.clone().unwrap();
    assert!(rule.monotone && rule.elderly > 20, "{rule:?}");
    assert_eq!(rule.raised, 0, "{rule:?}");
    assert_eq!(rule.age_features, ["DAYS_BIRTH"]);
    // On data scored through the bundle (its pipeline caps the age as training did).
    let frame = riskscore_model::predict::frame_for(&bundle, &f.data).unwrap();
    let (fair, _) = fairness::of_frame(&bundle, &frame, "synthetic").unwrap();
    let rule = fair.age_rule.unwrap();
    assert!(rule.elderly > 20 && rule.raised == 0, "{rule:?}");
}

/// `riskscore train` hands its frame over (`train_owned_to_bundle`), which lets the feature
/// columns go once the training matrix is built. The fairness figures it writes are the ones
/// measured with the groups of the whole frame (every column kept) on the same out-of-fold
/// decisions, the gender groups and the age bands included, and the bundle is the fixture's
/// (trained through the borrowing call), file for file.
#[test]
fn a_frame_handed_over_trains_the_same_bundle_fairness_included() {
    let f = riskscore_testkit::home_credit();
    let cfg = riskscore_testkit::short_config();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("owned");
    let (trained, summary) = riskscore_model::run::train_owned_to_bundle(
        f.frame.clone(),
        &f.pipeline,
        &cfg,
        &out,
        &mut riskscore_model::train::Unobserved,
    )
    .unwrap();
    let fair = &summary.fairness;
    let attributes: Vec<&str> = fair
        .attributes
        .iter()
        .map(|a| a.attribute.as_str())
        .collect();
    assert!(attributes.contains(&"CODE_GENDER"), "{attributes:?}");
    assert!(attributes.len() >= 2, "no age bands: {attributes:?}");
    assert!(fair.age_rule.is_some());
    let p = &f.pipeline;
    let data =
        riskscore_model::TrainingData::from_frame(&f.frame, &p.id, &p.target, &p.features).unwrap();
    let whole = fairness::measure(
        "",
        &data.y,
        &trained.oof,
        summary.threshold,
        &fairness::groupings(&f.frame, p, true).unwrap(),
        fairness::RESAMPLES,
        cfg.seed,
    );
    assert_eq!(
        serde_json::to_value(&whole.attributes).unwrap(),
        serde_json::to_value(&fair.attributes).unwrap()
    );
    for file in [
        "model.txt",
        FAIRNESS_FILE,
        "oof.csv",
        "reference.parquet",
        "profile.json",
    ] {
        let kept = std::fs::read(f.model.join(file)).unwrap();
        let owned = std::fs::read(out.join(file)).unwrap();
        assert!(kept == owned, "{file} differs");
    }
}
