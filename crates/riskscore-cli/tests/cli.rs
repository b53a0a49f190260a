//! The binary end to end: exit codes, messages, files written.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::loans_csv;

fn riskscore(args: &[&str]) -> Output {
    common::command()
        .args(args)
        .output()
        .expect("riskscore runs")
}

fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../riskscore-features/tests/fixtures/tiny")
}

fn shared_sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/home-credit")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn features_writes_matrix_and_pipeline() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("f.parquet");
    let o = riskscore(&[
        "-q",
        "features",
        tiny().to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).starts_with("3 rows x "),
        "{}",
        text(&o.stdout)
    );
    assert!(out.is_file());
    let pipeline = dir.path().join("f.pipeline.json");
    assert!(pipeline.is_file());
    // Reusing the fitted pipeline gives the same number of features.
    let again = dir.path().join("g.parquet");
    let o2 = riskscore(&[
        "-q",
        "features",
        tiny().to_str().expect("utf8"),
        "--pipeline",
        pipeline.to_str().expect("utf8"),
        "--out",
        again.to_str().expect("utf8"),
    ]);
    assert!(o2.status.success(), "{}", text(&o2.stderr));
    let count = |s: &str| s.split(" features").next().map(str::to_owned);
    assert_eq!(count(&text(&o.stdout)), count(&text(&o2.stdout)));
}

#[test]
fn bad_value_exits_1_with_place() {
    let dir = tempfile::tempdir().expect("tmp");
    for entry in std::fs::read_dir(tiny()).expect("fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
    }
    let bureau = dir.path().join("bureau.csv");
    let t = std::fs::read_to_string(&bureau)
        .expect("read")
        .replacen(",-300,", ",minus 300,", 1);
    std::fs::write(&bureau, t).expect("write");
    let out = dir.path().join("f.parquet");
    let o = riskscore(&[
        "-q",
        "features",
        dir.path().to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains(r#"bureau.csv:3: column "DAYS_CREDIT": cannot parse "minus 300" as a number"#),
        "{err}"
    );
    assert!(!out.exists(), "no output on failure");
}

#[test]
fn single_table_needs_id_and_target() {
    let dir = tempfile::tempdir().expect("tmp");
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, "id,x,y\n1,2,0\n").expect("write");
    let o = riskscore(&[
        "features",
        csv.to_str().expect("utf8"),
        "--out",
        "x.parquet",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("a single table needs --id and --target"));
}

#[test]
fn missing_input_is_named() {
    let o = riskscore(&["features", "/nonexistent/data", "--out", "x.parquet"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("/nonexistent/data: no such file or folder"));
}

#[test]
fn synth_is_deterministic_and_has_the_real_headers() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = |name: &str, seed: &str| {
        let out = dir.path().join(name);
        let o = riskscore(&[
            "-q",
            "synth",
            "--scale",
            "0.001",
            "--seed",
            seed,
            "--out",
            out.to_str().expect("utf8"),
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        out
    };
    let (a, b, c) = (run("a", "5"), run("b", "5"), run("c", "6"));
    let mut differs = false;
    for entry in std::fs::read_dir(&a).expect("dir") {
        let name = entry.expect("entry").file_name();
        let bytes_a = std::fs::read(a.join(&name)).expect("a");
        assert_eq!(
            bytes_a,
            std::fs::read(b.join(&name)).expect("b"),
            "{name:?} differs for one seed"
        );
        differs |= bytes_a != std::fs::read(c.join(&name)).expect("c");
        let real = std::fs::read_to_string(shared_sample().join(&name)).expect("real file");
        let header = |s: &str| s.lines().next().map(str::to_owned);
        assert_eq!(header(&text(&bytes_a)), header(&real), "{name:?} header");
    }
    assert!(differs, "another seed gives other data");
}

#[test]
fn synth_rejects_bad_scale() {
    let o = riskscore(&["synth", "--scale", "0", "--out", "/tmp/never"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("scale must be in (0, 100]"),
        "{}",
        text(&o.stderr)
    );
}

const QUICK: [&str; 8] = [
    "--folds",
    "3",
    "--trials",
    "1",
    "--max-rounds",
    "60",
    "--bootstrap",
    "20",
];

#[test]
fn train_json_summary_then_predict() {
    let dir = tempfile::tempdir().unwrap();
    let csv = loans_csv(dir.path(), 400);
    let model = dir.path().join("model");
    let mut args = vec![
        "train",
        "--data",
        csv.to_str().unwrap(),
        "--id",
        "client_id",
        "--target",
        "defaulted",
        "--out",
        model.to_str().unwrap(),
        "--json",
        "--imbalance",
        "class_weight",
        "--no-baseline",
    ];
    args.extend(QUICK);
    let out = riskscore(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    for key in [
        "cv_auc",
        "cv_auc_std",
        "threshold",
        "cost_per_client",
        "n_features",
        "n_rows",
    ] {
        assert!(v[key].is_number(), "{key} missing in {v}");
    }
    assert_eq!(v["n_rows"], 400);
    // Progress goes to stderr, per fold.
    assert!(
        text(&out.stderr).contains("fold 3/3"),
        "{}",
        text(&out.stderr)
    );

    let scores = dir.path().join("scores.csv");
    let out = riskscore(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        csv.to_str().unwrap(),
        "--out",
        scores.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&scores).unwrap();
    assert_eq!(written.lines().count(), 401);
    assert!(written.starts_with("client_id,probability_raw,probability,decision,review\n"));
}

#[test]
fn train_checks_parameters_before_reading_data() {
    // The data does not exist: the parameter error must come first.
    let out = riskscore(&[
        "train",
        "--data",
        "/nonexistent/data.csv",
        "--out",
        "/nonexistent/model",
        "--learning-rate",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: invalid parameter learning-rate: 0 is not in (0, 1]"
    );
    let out = riskscore(&[
        "train",
        "--data",
        "x",
        "--out",
        "y",
        "--imbalance",
        "oversample",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr)
        .contains("\"oversample\" is not one of auto, none, class_weight, undersample, smote"));
}

#[test]
fn predict_refuses_a_directory_that_is_not_a_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let out = riskscore(&[
        "predict",
        "--model",
        dir.path().to_str().unwrap(),
        "--data",
        "x.csv",
        "--out",
        "y.csv",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("checksums.sha256 is missing; not a model bundle"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn explain_a_client_and_refuse_an_unknown_one() {
    let dir = tempfile::tempdir().unwrap();
    let csv = loans_csv(dir.path(), 300);
    let model = dir.path().join("model");
    let mut args = vec![
        "train",
        "--data",
        csv.to_str().unwrap(),
        "--id",
        "client_id",
        "--target",
        "defaulted",
        "--out",
        model.to_str().unwrap(),
        "--imbalance",
        "none",
        "--no-baseline",
        "--trials",
        "0",
    ];
    args.extend(&QUICK[..2]);
    assert!(riskscore(&args).status.success());
    let base = [
        "explain",
        "--model",
        model.to_str().unwrap(),
        "--data",
        csv.to_str().unwrap(),
    ];
    let mut json = base.to_vec();
    json.extend(["--client", "1007", "--json"]);
    let out = riskscore(&json);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], 1007);
    assert!(v["contributions"].as_array().is_some_and(|c| !c.is_empty()));
    assert!(v["base_value"].is_number() && v["reasons"].is_array());
    let mut unknown = base.to_vec();
    unknown.extend(["--client", "999999"]);
    let out = riskscore(&unknown);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: unknown client 999999: no such id in the data"
    );
}
