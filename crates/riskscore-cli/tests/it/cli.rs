//! The binary end to end: exit codes, messages, files written.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{loans_csv, tiny, tiny_copy, train_loans};

fn riskscore(args: &[&str]) -> Output {
    crate::common::command()
        .args(args)
        .output()
        .expect("riskscore runs")
}

fn shared_sample() -> PathBuf {
    riskscore_testkit::real_sample()
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
        text(&o.stdout).starts_with("4 rows x "),
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
    tiny_copy(dir.path());
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

/// Ids that are text (`C00001`) are named with their row: they were cast to nothing and
/// `train` said `row 1 has no client`.
#[test]
fn text_ids_are_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let csv = dir.path().join("t.csv");
    let mut text_ids = String::from("client,x,y\n");
    for i in 0..40 {
        text_ids.push_str(&format!("C{i:03},{},{}\n", i % 7, i % 2));
    }
    std::fs::write(&csv, text_ids).expect("write");
    let out = dir.path().join("m");
    let mut args = vec![
        "train",
        "--data",
        csv.to_str().expect("utf8"),
        "--id",
        "client",
        "--target",
        "y",
        "--out",
        out.to_str().expect("utf8"),
    ];
    args.extend(QUICK);
    let o = riskscore(&args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr)
            .contains("column \"client\" holds ids that are not integers (row 1: `C000`)"),
        "{}",
        text(&o.stderr)
    );
    assert!(!out.exists(), "no bundle");
}

/// Fair lending: a protected attribute that is not a column is named, for both layouts; a
/// protected column leaves the model inputs and its one-hot columns with it.
#[test]
fn protected_attributes_are_checked_and_kept_out_of_the_inputs() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("f.parquet");
    let o = riskscore(&[
        "features",
        tiny().to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
        "--protected",
        "CODE_GENDER,CODE_GENDR",
    ]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("\"CODE_GENDR\", which is not an application column"),
        "{err}"
    );
    let o = riskscore(&[
        "features",
        tiny().to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
        "--protected",
        "CODE_GENDER,NAME_CONTRACT_TYPE",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("(and 3 protected, kept out of the model: NAME_CONTRACT_TYPE_Cash loans, NAME_CONTRACT_TYPE_Revolving loans, CODE_GENDER)"),
        "{}",
        text(&o.stdout)
    );
    let pipeline: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("f.pipeline.json")).expect("pipeline"),
    )
    .expect("json");
    let features = pipeline["features"].as_array().expect("features");
    assert!(!features.iter().any(|f| f
        .as_str()
        .is_some_and(|f| f.starts_with("NAME_CONTRACT_TYPE") || f == "CODE_GENDER")));
    assert_eq!(
        pipeline["protected"],
        serde_json::json!(["CODE_GENDER", "NAME_CONTRACT_TYPE"])
    );
    let csv = loans_csv(dir.path(), 50);
    let o = riskscore(&[
        "train",
        "--data",
        csv.to_str().expect("utf8"),
        "--id",
        "client_id",
        "--target",
        "defaulted",
        "--protected",
        "gender",
        "--out",
        dir.path().join("m").to_str().expect("utf8"),
        "--no-tracking",
    ]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("--protected names \"gender\""), "{err}");
}

#[test]
fn missing_input_is_named() {
    let o = riskscore(&["features", "/nonexistent/data", "--out", "x.parquet"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("/nonexistent/data: no such file or folder"));
}

/// Issue 27: every command says that a path it reads does not exist (`explore` used to answer
/// that a single table needs --id and --target), in one line, with exit code 1.
#[test]
fn every_command_names_a_path_that_does_not_exist() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("out");
    let out = out.to_str().expect("utf8");
    let gone = "/no/such/dir";
    let cases: Vec<Vec<&str>> = vec![
        vec!["explore", gone, "--out", out],
        vec!["features", gone, "--out", out],
        vec!["train", "--data", gone, "--out", out, "--no-tracking"],
        vec!["predict", "--model", gone, "--data", gone, "--out", out],
        vec!["predict", "--model", gone, "--application", gone],
        vec!["explain", "--model", gone, "--data", gone, "--client", "1"],
        vec!["serve", "--model", gone, "--data", gone, "--journal", out],
        vec![
            "drift",
            "--reference",
            gone,
            "--current",
            gone,
            "--out",
            out,
        ],
        vec!["journal", "verify", "--journal", gone],
        vec!["demo", "--data", gone, "--out", out, "--no-serve"],
    ];
    for args in cases {
        let o = riskscore(&args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(&format!("{gone}: no such file or folder")),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
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
    // Under 50,000 rows the estimate for new applicants is nested, and says it is honest;
    // the cross-validated figures say they are not.
    let e = &v["estimate"];
    assert_eq!(e["method"], "nested", "{e}");
    assert_eq!(e["selection_aware"], true);
    assert_eq!(e["rows"], 400);
    assert_eq!(e["parts"].as_array().map(Vec::len), Some(3));
    let low = e["cost_prediction"]["low"].as_f64().unwrap();
    let high = e["cost_prediction"]["high"].as_f64().unwrap();
    let cost = e["cost_per_client"].as_f64().unwrap();
    assert!(low < cost && cost < high, "{e}");
    let honesty: Vec<(String, String)> = serde_json::from_value(v["honesty"].clone()).unwrap();
    let said = |figure: &str| {
        honesty
            .iter()
            .find(|(f, _)| f == figure)
            .map(|(_, what)| what.clone())
            .unwrap_or_default()
    };
    assert!(
        said("estimate").starts_with("honest: nested"),
        "{honesty:?}"
    );
    assert!(
        said("cv_auc").starts_with("selection-biased"),
        "{honesty:?}"
    );
    assert!(
        said("cost_per_client").starts_with("in-sample"),
        "{honesty:?}"
    );
    let report = std::fs::read_to_string(model.join("report.html")).unwrap();
    assert!(report.contains("What to expect on new applicants"));
    assert!(report.contains("Honest estimate"));
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
    // A region the model never saw: scored, and said.
    let new = dir.path().join("new.csv");
    std::fs::write(
        &new,
        "client_id,ratio,age,region\n5000,2.5,40,north\n5001,2.5,40,atlantis\n",
    )
    .unwrap();
    let (_, err) = predicted_saying(&model, &new, &scores);
    assert!(
        err.contains("values never seen in training")
            && err.contains("column=\"region\" rows=1 first=atlantis"),
        "{err}"
    );
}

#[test]
fn a_held_out_share_or_plain_cross_validation_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let csv = loans_csv(dir.path(), 400);
    let model = dir.path().join("model");
    let json = |extra: &[&str]| -> serde_json::Value {
        let out = train_loans(&csv, &model)
            .args(["-q", "--json", "--no-tracking", "--no-baseline"])
            .args(["--imbalance", "class_weight"])
            .args(QUICK)
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = json(&["--holdout", "0.25"]);
    assert_eq!(v["estimate"]["method"], "holdout");
    assert_eq!(v["estimate"]["parts"].as_array().map(Vec::len), Some(1));
    let held = v["estimate"]["rows"].as_u64().unwrap();
    assert!((98..=102).contains(&held), "{held}");
    // The final model is still fitted on every row.
    assert_eq!(v["n_rows"], 400);
    let v = json(&["--estimate", "cv", "--new-batch", "50"]);
    assert_eq!(v["estimate"]["method"], "cv");
    assert_eq!(v["estimate"]["selection_aware"], false);
    assert_eq!(v["estimate"]["new_batch"], 50);

    let out = train_loans(&csv, &model)
        .args(["--estimate", "nested", "--holdout", "0.2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot go with --estimate nested"),
        "{}",
        text(&out.stderr)
    );
    for (flag, value, says) in [
        (
            "--estimate",
            "bootstrap",
            "\"bootstrap\" is not one of auto, cv, nested, holdout",
        ),
        (
            "--holdout",
            "0.9",
            "invalid parameter holdout: 0.9 is not in [0.05, 0.5]",
        ),
        ("--new-batch", "0", "invalid parameter new-batch"),
        (
            "--prune",
            "hyperband",
            "invalid parameter prune: \"hyperband\" is not one of asha, none",
        ),
    ] {
        let out = train_loans(&csv, &model)
            .args([flag, value])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{flag} {value}");
        assert!(text(&out.stderr).contains(says), "{}", text(&out.stderr));
    }
}

#[test]
fn validate_reports_the_coverage_of_held_out_splits() {
    let dir = tempfile::tempdir().unwrap();
    let csv = loans_csv(dir.path(), 600);
    // Short trainings: three folds, class weights, no search, at most 60 rounds.
    let validate = |extra: &[&str]| {
        let mut args = vec![
            "-q",
            "validate",
            "--data",
            csv.to_str().unwrap(),
            "--id",
            "client_id",
            "--target",
            "defaulted",
            "--imbalance",
            "class_weight",
            "--folds",
            "3",
            "--trials",
            "0",
            "--max-rounds",
            "60",
        ];
        args.extend_from_slice(extra);
        riskscore(&args)
    };
    let out = validate(&["--splits", "3", "--test-share", "0.25", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let splits = v["splits"].as_array().unwrap();
    assert_eq!(splits.len(), 3);
    let mut inside = 0;
    for s in splits {
        assert_eq!(s["method"], "nested");
        assert_eq!(s["held_out_rows"], 150);
        assert_eq!(s["trained_rows"], 450);
        let cost = s["held_out_cost"].as_f64().unwrap();
        let covered =
            s["cost_low"].as_f64().unwrap() <= cost && cost <= s["cost_high"].as_f64().unwrap();
        assert_eq!(s["covered"], covered);
        inside += usize::from(covered);
    }
    assert!((v["cost_coverage"].as_f64().unwrap() - inside as f64 / 3.0).abs() < 1e-12);
    // The text form says the same.
    let out = validate(&["--splits", "1", "--estimate", "cv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("cost coverage: "), "{said}");
    assert!(said.contains("AUC: estimated minus held out"), "{said}");
    // Bad settings are refused before any training.
    let out = riskscore(&[
        "validate",
        "--data",
        csv.to_str().unwrap(),
        "--id",
        "client_id",
        "--target",
        "defaulted",
        "--test-share",
        "0.9",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("test-share"),
        "{}",
        text(&out.stderr)
    );
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

/// `riskscore -q explore DATA [table...]` writing its HTML and JSON in `dir`: the command's
/// output (it must succeed) and the JSON.
fn explore_in(data: &Path, dir: &Path, table: &[&str]) -> (Output, serde_json::Value) {
    let (html, js) = (dir.join("eda.html"), dir.join("eda.json"));
    let mut args = vec!["-q", "explore", data.to_str().unwrap()];
    args.extend(table);
    args.extend([
        "--out",
        html.to_str().unwrap(),
        "--json",
        js.to_str().unwrap(),
    ]);
    let o = riskscore(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let e = serde_json::from_slice(&std::fs::read(&js).unwrap()).unwrap();
    (o, e)
}

/// `riskscore explore DIR`: the JSON numbers and the HTML page.
fn explore(data: &Path) -> (serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let (_, e) = explore_in(data, dir.path(), &[]);
    (
        e,
        std::fs::read_to_string(dir.path().join("eda.html")).unwrap(),
    )
}

/// The exploratory report of the tiny fixture, whose figures its README states: 3 training
/// applicants (100001 defaulted), a pensioner's DAYS_EMPLOYED = 365243, an XNA gender, and two
/// credit card rows of an SK_ID_PREV without a previous application.
#[test]
fn explore_reports_the_tiny_fixture() {
    let (e, page) = explore(&tiny());
    let rows: Vec<(String, u64)> = e["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("application_train", 3),
        ("application_test", 1),
        ("bureau", 4),
        ("bureau_balance", 4),
        ("previous_application", 2),
        ("POS_CASH_balance", 3),
        ("installments_payments", 3),
        ("credit_card_balance", 2),
    ];
    assert_eq!(rows, expected.map(|(n, r)| (n.to_owned(), r)).to_vec());
    assert_eq!(e["target"]["positives"], 1);
    assert_eq!(e["target"]["negatives"], 2);
    let anomaly = |table: &str, column: &str, kind: &str| {
        e["anomalies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["table"] == table && a["column"] == column && a["kind"] == kind)
            .map(|a| a["count"].as_u64().unwrap())
    };
    assert_eq!(
        anomaly("credit_card_balance", "SK_ID_PREV", "orphan keys"),
        Some(2)
    );
    assert_eq!(
        anomaly("application_train", "DAYS_EMPLOYED", "sentinel"),
        Some(1)
    );
    assert_eq!(
        anomaly("application_train", "CODE_GENDER", "placeholder category"),
        Some(1)
    );
    // CODE_GENDER: F (defaulted), M and XNA (repaid), one client each. With 0.5 added to each
    // count and 3 bins, the shares of the repaid are 0.5/3.5, 1.5/3.5, 1.5/3.5 and of the
    // defaulted 1.5/2.5, 0.5/2.5, 0.5/2.5: IV = 1.00445.
    let gender = e["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "CODE_GENDER")
        .unwrap();
    let (g, d): ([f64; 3], [f64; 3]) = (
        [0.5 / 3.5, 1.5 / 3.5, 1.5 / 3.5],
        [1.5 / 2.5, 0.5 / 2.5, 0.5 / 2.5],
    );
    let iv: f64 = g.iter().zip(&d).map(|(g, d)| (g - d) * (g / d).ln()).sum();
    assert!(
        (gender["iv"].as_f64().unwrap() - iv).abs() < 1e-12,
        "{gender}"
    );
    assert!((iv - 1.00445).abs() < 1e-5);
    for section in [
        "Tables",
        "Class balance",
        "Missing values (sorted)",
        "Anomalies",
        "Information value ranking",
        "Correlations with the target",
        "Distributions by target and default rates",
        "Columns",
    ] {
        assert!(
            page.contains(&format!("<h2>{section}")),
            "no section {section}"
        );
    }
    assert!(page.contains("<svg") && page.contains("<desc>"));
    // Self-contained: no script, no stylesheet or image fetched from elsewhere.
    assert!(!page.contains("<script") && !page.contains("<link") && !page.contains("src="));
}

/// The real sample: descriptions from the Windows-1252 column dictionary, and the figures of
/// pandas on the same file (computed here from the CSV with the csv crate).
#[test]
fn explore_describes_columns_from_the_dictionary() {
    let (e, _) = explore(&shared_sample());
    let train = &e["tables"][0];
    let col = |n: &str| {
        train["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == n)
            .unwrap()
            .clone()
    };
    assert!(col("EXT_SOURCE_3")["description"]
        .as_str()
        .unwrap()
        .contains("Normalized score from external data source"));
    // Count the training file's defaults and pensioners directly.
    let mut r = csv::Reader::from_path(shared_sample().join("application_train.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let (t, d) = (
        h.iter().position(|c| c == "TARGET").unwrap(),
        h.iter().position(|c| c == "DAYS_EMPLOYED").unwrap(),
    );
    let (mut n, mut pos, mut code) = (0u64, 0u64, 0u64);
    for rec in r.records() {
        let rec = rec.unwrap();
        n += 1;
        pos += u64::from(&rec[t] == "1");
        code += u64::from(&rec[d] == "365243");
    }
    assert_eq!(e["target"]["rows"], n);
    assert_eq!(e["target"]["positives"], pos);
    let sentinel = e["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["table"] == "application_train" && a["column"] == "DAYS_EMPLOYED")
        .unwrap();
    assert_eq!(sentinel["count"], code);
    assert!(sentinel["note"].as_str().unwrap().contains("default rate"));
}

#[test]
fn explore_a_single_table_and_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let csv = loans_csv(dir.path(), 300);
    let html = dir.path().join("eda.html");
    let (c, h) = (csv.to_str().unwrap(), html.to_str().unwrap());
    let o = riskscore(&[
        "-q",
        "explore",
        c,
        "--id",
        "client_id",
        "--target",
        "defaulted",
        "--out",
        h,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // `ratio` carries the signal of the generator: it ranks first.
    assert!(
        text(&o.stdout).lines().nth(1).unwrap().contains("ratio"),
        "{}",
        text(&o.stdout)
    );
    let o = riskscore(&["-q", "explore", c, "--out", h]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("needs --id and --target"));
    // A missing column, and a target that is not 0/1: exit 1 naming them.
    for (target, message) in [("nope", "no column \"nope\""), ("age", "must be 0 or 1")] {
        let o = riskscore(&[
            "-q",
            "explore",
            c,
            "--id",
            "client_id",
            "--target",
            target,
            "--out",
            h,
        ]);
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o.stderr).contains(message), "{}", text(&o.stderr));
    }
}

/// [`explore_in`] a single table (`--id client_id --target defaulted`).
fn explore_table(data: &Path, dir: &Path) -> (Output, serde_json::Value) {
    explore_in(data, dir, &["--id", "client_id", "--target", "defaulted"])
}

/// A lender's table exported in a European locale writes its amounts `"2500,50"`: `explore`
/// reports the column as an anomaly (every value a number written with commas, `train`
/// refusing it) and `explore` and `drift` warn of it on stderr, where they read it as text. A
/// column of words with commas (`"a,b"`) is none.
#[test]
fn explore_and_drift_name_numbers_written_with_commas() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("loans.csv");
    let mut rows = String::from("client_id,defaulted,income,tags,age\n");
    for i in 0..60 {
        rows += &format!(
            "{i},{},\"{},{:02}\",\"x,{}\",{}\n",
            u8::from(i % 5 == 0),
            1000 + i * 37,
            i % 100,
            i % 3,
            20 + i
        );
    }
    std::fs::write(&csv, rows).unwrap();
    let (c, d) = (csv.to_str().unwrap(), dir.path());
    let (o, e) = explore_table(&csv, d);
    let warned = |stderr: &str| {
        stderr.contains("numbers written with commas")
            && stderr.contains("column=\"income\"")
            && stderr.contains("first=1000,00")
            && !stderr.contains("column=\"tags\"")
    };
    assert!(warned(&text(&o.stderr)), "{}", text(&o.stderr));
    let flagged: Vec<(&str, u64)> = e["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "numbers with commas")
        .map(|a| (a["column"].as_str().unwrap(), a["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(flagged, [("income", 60)], "{}", e["anomalies"]);
    assert!(std::fs::read_to_string(d.join("eda.html"))
        .unwrap()
        .contains("numbers with commas"));

    let o = riskscore(&[
        "-q",
        "drift",
        "--reference",
        c,
        "--current",
        c,
        "--exclude",
        "client_id,defaulted",
        "--out",
        d.join("drift.html").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(warned(&text(&o.stderr)), "{}", text(&o.stderr));
}

/// A Parquet table as pandas writes it (a `category` column, a date, a timedelta): `explore`
/// and `binning` read the category as text and the duration as days, not fail on them
/// (`casting from Duration('ns') to String not supported`).
#[test]
fn explore_and_binning_read_pandas_own_column_types() {
    use polars::prelude::*;
    let n: usize = 400;
    // 0, 1/n, ..., (n-1)/n in a scrambled order (149 is prime to 400).
    let u: Vec<f64> = (0..n).map(|i| ((i * 149) % n) as f64 / n as f64).collect();
    let defaulted: Vec<i64> = u.iter().map(|&x| i64::from(x < 0.25)).collect();
    let branch = Series::new(
        "branch".into(),
        u.iter()
            .map(|&x| if x < 0.5 { "city" } else { "town" })
            .collect::<Vec<_>>(),
    )
    .cast(&DataType::from_categories(Categories::global()))
    .unwrap();
    let opened = Series::new(
        "opened".into(),
        (0..n as i32).map(|i| 19_000 + i).collect::<Vec<_>>(),
    )
    .cast(&DataType::Date)
    .unwrap();
    let term = Series::new(
        "term".into(),
        u.iter()
            .map(|&x| (x * 720.0) as i64 * 86_400_000)
            .collect::<Vec<_>>(),
    )
    .cast(&DataType::Duration(TimeUnit::Milliseconds))
    .unwrap();
    let mut df = DataFrame::new_infer_height(vec![
        Column::new("client_id".into(), (0..n as i64).collect::<Vec<_>>()),
        Column::new("defaulted".into(), defaulted),
        branch.into(),
        opened.into(),
        term.into(),
    ])
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loans.parquet");
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut df)
        .unwrap();
    let (p, d) = (path.to_str().unwrap(), dir.path());
    let (_, e) = explore_table(&path, d);
    let kind = |name: &str| {
        e["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["kind"].clone())
    };
    assert_eq!(
        kind("branch"),
        Some("categorical".into()),
        "{}",
        e["features"]
    );
    assert_eq!(kind("term"), Some("numeric".into()), "{}", e["features"]);
    let bins = d.join("bins.csv");
    let o = riskscore(&[
        "-q",
        "binning",
        "--data",
        p,
        "--target",
        "defaulted",
        "--exclude",
        "client_id,opened",
        "--out",
        bins.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let table = std::fs::read_to_string(&bins).unwrap();
    assert!(table.lines().any(|l| l.starts_with("branch,")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("term,")), "{table}");
}

/// The columns a single table's pipeline left out when it was fitted (dates, too many
/// categories) are said once, with their reason, by `train`; scoring a file that has them does
/// not warn of them again as unexpected.
#[test]
fn columns_left_out_at_fitting_are_not_unexpected_when_scoring() {
    let dir = tempfile::tempdir().unwrap();
    let plain = crate::common::loans_csv(dir.path(), 300);
    let csv = dir.path().join("dated.csv");
    let mut rows = String::new();
    for (i, line) in std::fs::read_to_string(&plain).unwrap().lines().enumerate() {
        let extra = if i == 0 {
            "opened,branch_code".to_owned()
        } else {
            format!("2024-01-{:02},B{i:04}", 1 + i % 28)
        };
        rows += &format!("{line},{extra}\n");
    }
    std::fs::write(&csv, rows).unwrap();
    let model = dir.path().join("model");
    let o = crate::common::train_loans(&csv, &model)
        .args(["-q", "--folds", "3", "--trials", "0", "--bootstrap", "10"])
        .args(["--no-baseline", "--no-tracking"])
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("column=opened reason=dates or times (`2024-01-02`)")
            && err.contains("column=branch_code reason=300 distinct values"),
        "{err}"
    );
    let (_, err) = predicted_saying(&model, &csv, &dir.path().join("scores.csv"));
    assert!(!err.contains("unexpected"), "{err}");
}

/// Parquet as pyarrow writes a database's or a downcast frame's columns: decimals, 8- and
/// 16-bit integers are numbers; a 16-bit float (which polars cannot hold, and stopped the
/// process on: a panic) is refused naming the column, exit 1.
#[test]
fn parquet_numbers_of_every_width_and_a_type_refused_by_name() {
    let Some(py) = riskscore_testkit::oracle("RISKSCORE_PYTHON", "a python with pyarrow") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("write.py");
    std::fs::write(
        &script,
        r#"import sys, decimal
import pyarrow as pa, pyarrow.parquet as pq
n = 300
ids = list(range(1000, 1000 + n))
x = [((i * 149) % n) / n for i in range(n)]
cols = {
    "client_id": pa.array(ids, pa.int64()),
    "defaulted": pa.array([int(v < 0.2) for v in x], pa.int8()),
    "amount": pa.array([decimal.Decimal(f"{1000 * v:.2f}") for v in x], pa.decimal128(12, 2)),
    "small": pa.array([int(100 * v) for v in x], pa.int16()),
    "tiny": pa.array([int(9 * v) for v in x], pa.uint8()),
}
pq.write_table(pa.table(cols), sys.argv[1] + "/widths.parquet")
cols["half"] = pa.array(x, pa.float16())
pq.write_table(pa.table(cols), sys.argv[1] + "/half.parquet")
"#,
    )
    .unwrap();
    let o = std::process::Command::new(py)
        .arg(&script)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let model = dir.path().join("model");
    let o = train_loans(&dir.path().join("widths.parquet"), &model)
        .args(["-q", "--folds", "3", "--trials", "0", "--bootstrap", "10"])
        .args(["--no-baseline", "--no-tracking"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let pipeline: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("pipeline.json")).unwrap()).unwrap();
    assert_eq!(
        pipeline["features"],
        serde_json::json!(["amount", "small", "tiny"])
    );
    let half = dir.path().join("half.parquet");
    let (h, m, e) = (
        half.to_str().unwrap(),
        dir.path().join("m"),
        dir.path().join("e.html"),
    );
    let table = ["--id", "client_id", "--target", "defaulted"];
    let mut train = vec![
        "train",
        "--data",
        h,
        "--no-tracking",
        "--out",
        m.to_str().unwrap(),
    ];
    train.extend(table);
    let mut explore = vec!["explore", h, "--out", e.to_str().unwrap()];
    explore.extend(table);
    for o in [riskscore(&train), riskscore(&explore)] {
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains(r#"column "half" has type Float16, which riskscore does not read"#),
            "{err}"
        );
    }
}

/// Issue 25: logs written to a pipe or a file carry no terminal colour codes.
#[test]
fn logs_to_a_file_have_no_colour_codes() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("f.parquet");
    let o = riskscore(&[
        "features",
        tiny().to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("INFO"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

/// `riskscore predict` of `data` with `model` into `out`, which it returns.
fn predicted(model: &Path, data: &Path, out: &Path) -> String {
    predicted_saying(model, data, out).0
}

/// [`predicted`], with what the command said on stderr.
fn predicted_saying(model: &Path, data: &Path, out: &Path) -> (String, String) {
    let o = riskscore(&[
        "-q",
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        o.status.success(),
        "{}: {}",
        data.display(),
        text(&o.stderr)
    );
    (std::fs::read_to_string(out).unwrap(), text(&o.stderr))
}

/// `features loans.csv --out loans.parquet` writes `loans.pipeline.json`, which is also the
/// pipeline path of `loans.csv`: the CSV is still raw data (it was read as a Parquet matrix),
/// and scores as the matrix does.
#[test]
fn a_csv_beside_its_matrix_pipeline_is_raw_data() {
    let dir = tempfile::tempdir().unwrap();
    let csv = loans_csv(dir.path(), 400);
    let matrix = dir.path().join("loans.parquet");
    let o = riskscore(&[
        "-q",
        "features",
        csv.to_str().unwrap(),
        "--id",
        "client_id",
        "--target",
        "defaulted",
        "--out",
        matrix.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(dir.path().join("loans.pipeline.json").is_file());
    let model = dir.path().join("model");
    crate::common::train_loans_quickly(&csv, &model, "none");
    let (raw, built) = (
        predicted(&model, &csv, &dir.path().join("raw.csv")),
        predicted(&model, &matrix, &dir.path().join("built.csv")),
    );
    assert_eq!(raw.lines().count(), 401);
    assert_eq!(raw, built);
}

/// A column of huge values (1e308, whose sums overflow) and numbers written `inf` and `NaN`, as
/// pandas writes them: `train` finishes (it hung in the cost scan on the baseline's NaN
/// probabilities), the written-out numbers are a numeric feature, and the scores are numbers.
#[test]
fn huge_and_infinite_values_train_and_score() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = String::from("client_id,defaulted,ratio,huge,odd\n");
    for i in 0..400 {
        let ratio = ((i * 37) % 100) as f64 / 10.0;
        let y = u8::from((i * 7919) % 100 < (ratio * 3.0) as usize);
        let huge = if i % 3 == 0 {
            "1e308".to_owned()
        } else {
            ratio.to_string()
        };
        let odd = ["inf", "-inf", "NaN", "0.5", "1.5", "2"][i % 6];
        s.push_str(&format!("{},{y},{ratio},{huge},{odd}\n", 1000 + i));
    }
    let csv = dir.path().join("loans.csv");
    std::fs::write(&csv, s).unwrap();
    let model = dir.path().join("model");
    crate::common::train_loans_quickly(&csv, &model, "none");
    let manifest = std::fs::read_to_string(model.join("manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let features: Vec<&str> = manifest["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(features, ["ratio", "huge", "odd"]);
    let scores = predicted(&model, &csv, &dir.path().join("scores.csv"));
    for line in scores.lines().skip(1) {
        let p: f64 = line.split(',').nth(2).unwrap().parse().unwrap();
        assert!((0.0..=1.0).contains(&p), "{line}");
    }
}
