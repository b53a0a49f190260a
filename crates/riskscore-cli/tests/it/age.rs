//! A single table's age (`--age`): fairness by age band, Regulation B's age rule and
//! `--monotone-age` for a lender's own table, as for the Home Credit layout's `DAYS_BIRTH`;
//! the age column's errors named; the real sample's `application_train.csv` read as one table
//! with `--age DAYS_BIRTH`.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::real_data::{ok, real_sample, s, Server};

fn riskscore(args: &[&str]) -> Output {
    crate::common::command()
        .args(args)
        .output()
        .expect("riskscore runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A lender's table whose default rate rises steeply with age past 60 (the signal a model
/// left alone scores the elderly down on), with debt and late payments as the other signals;
/// `age(i)` writes row i's age.
fn table(dir: &Path, name: &str, rows: usize, age: &dyn Fn(usize, u64) -> String) -> PathBuf {
    let mut s = String::from("loan_id,defaulted,Age (years),debt_ratio,late_payments,region\n");
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..rows {
        let years = 19 + next() % 66;
        let debt = (next() % 1000) as f64 / 1000.0;
        let late = next() % 3;
        let z = -1.5 + 2.0 * debt + 0.5 * late as f64 + 0.15 * years.saturating_sub(60) as f64;
        let p = 1.0 / (1.0 + (-z).exp());
        let y = u8::from(((next() % 10_000) as f64) < p * 10_000.0);
        let region = ["north", "south", "east"][i % 3];
        s.push_str(&format!(
            "{},{y},{},{debt},{late},{region}\n",
            5000 + i,
            age(i, years)
        ));
    }
    let path = dir.join(name);
    std::fs::write(&path, s).expect("write");
    path
}

/// `explain --client id --json` of `model` on `data`.
fn explain(model: &Path, data: &Path, id: &str) -> Value {
    let args = ["-q", "explain", "--model", s(model), "--data", s(data)];
    serde_json::from_str(&ok(&[&args[..], &["--client", id, "--json"]].concat())).expect("json")
}

/// The object of JSON array `list` whose `key` is `value`.
fn entry<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|e| e[key] == value))
        .unwrap_or_else(|| panic!("no {key} {value:?} in {list}"))
}

fn ages_as_drawn(_: usize, years: u64) -> String {
    years.to_string()
}

/// `train` on `data` (quick settings: 3 folds, no search, 10 resamples, no baseline, no
/// tracking) with `extra`, which must succeed; the summary printed with --json.
fn quick_train(data: &Path, model: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["-q", "train", "--data", s(data), "--out", s(model)];
    args.extend_from_slice(&["--folds", "3", "--trials", "0", "--bootstrap", "10"]);
    args.extend_from_slice(&["--no-baseline", "--no-tracking", "--json"]);
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(&args)).expect("json summary")
}

/// [`quick_train`] on a table of [`table`] (its id and target).
fn train(csv: &Path, model: &Path, extra: &[&str]) -> Value {
    let table = ["--id", "loan_id", "--target", "defaulted"];
    quick_train(csv, model, &[&table[..], extra].concat())
}

#[test]
fn a_single_tables_age_gets_the_age_rule_and_the_monotone_constraint() {
    let dir = tempfile::tempdir().expect("tmp");
    let csv = table(dir.path(), "loans.csv", 1500, &ages_as_drawn);

    // Left alone, the model scores the elderly up for age; the rule says so.
    let free = dir.path().join("free");
    let summary = train(&csv, &free, &["--age", "Age (years)"]);
    let rule = &summary["fairness"]["age_rule"];
    assert_eq!(rule["age_column"], "Age (years)", "{rule}");
    let elderly = rule["elderly"].as_u64().expect("elderly");
    assert!(elderly > 200, "{rule}");
    assert!(
        rule["raised"].as_u64().expect("raised") > elderly / 2,
        "{rule}"
    );
    let bands = entry(&summary["fairness"]["attributes"], "attribute", "age band");
    let counts: Vec<(String, u64)> = bands["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["group"].as_str().expect("group").to_owned(),
                g["count"].as_u64().expect("count"),
            )
        })
        .collect();
    assert_eq!(
        counts.iter().map(|(_, n)| n).sum::<u64>(),
        1500,
        "{counts:?}"
    );
    assert_eq!(
        counts.iter().find(|(g, _)| g == "62 and over").map(|c| c.1),
        Some(elderly)
    );

    // An elderly refused applicant whose age weighs most is not given age as a reason.
    let oof = std::fs::read_to_string(free.join("oof.csv")).expect("oof");
    let rows = std::fs::read_to_string(&csv).expect("csv");
    let old: Vec<&str> = rows
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(2).and_then(|a| a.parse::<u64>().ok()) >= Some(75))
        .filter_map(|l| l.split(',').next())
        .collect();
    assert!(!old.is_empty() && !oof.is_empty());
    let explained = explain(&free, &csv, old[0]);
    let top = &explained["contributions"][0];
    assert_eq!(top["feature"], "Age (years)", "{explained}");
    let reasons = explained["reasons"].as_array().expect("reasons");
    assert!(
        reasons.iter().all(|r| r["feature"] != "Age (years)"),
        "{explained}"
    );

    // Under --monotone-age, older is never riskier: no applicant of 62 or more is scored up
    // for age, the constraint is -1 on an age in years, and ages over 62 are seen as 62.
    let capped = dir.path().join("capped");
    let summary = train(&csv, &capped, &["--age", "Age (years)", "--monotone-age"]);
    let rule = &summary["fairness"]["age_rule"];
    assert_eq!(rule["elderly"].as_u64(), Some(elderly), "{rule}");
    assert_eq!(rule["raised"].as_u64(), Some(0), "{rule}");
    assert_eq!(rule["monotone"], true);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(capped.join("manifest.json")).expect("manifest"))
            .expect("json");
    let names: Vec<&str> = manifest["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    let constraints: Vec<&str> = manifest["lightgbm_params"]["monotone_constraints"]
        .as_str()
        .expect("constraints")
        .split(',')
        .collect();
    assert_eq!(constraints.len(), names.len());
    for (n, c) in names.iter().zip(&constraints) {
        assert_eq!(*c, if *n == "Age (years)" { "-1" } else { "0" }, "{n}");
    }
    let pipeline: Value =
        serde_json::from_slice(&std::fs::read(capped.join("pipeline.json")).expect("pipeline"))
            .expect("json");
    assert_eq!(pipeline["age_cap"], 62.0);
    assert_eq!(pipeline["layout"]["age"]["unit"], "years");
    let explained = explain(&capped, &csv, old[0]);
    let age = entry(&explained["contributions"], "feature", "Age (years)");
    assert!(age["shap"].as_f64().expect("shap") <= 0.0, "{age}");
    assert_eq!(age["value"].as_f64(), Some(62.0), "{age}");

    // Served, a posted application of 90 is scored, explained and journaled as 62.
    let server = Server::start(&capped, &csv, &dir.path().join("j.sqlite"));
    let post = |years: u32, id: u32| {
        server.ok(
            "POST",
            "/v1/score",
            &format!(
                r#"{{"application": {{"loan_id": {id}, "Age (years)": {years}, "debt_ratio": 0.9, "late_payments": 2, "region": "north"}}}}"#
            ),
        )
    };
    let (ninety, sixty_two) = (post(90, 90_001), post(62, 90_002));
    assert_eq!(
        ninety["score"]["probability"], sixty_two["score"]["probability"],
        "{ninety}"
    );
    let shown = entry(
        &ninety["explanation"]["contributions"],
        "feature",
        "Age (years)",
    );
    assert_eq!(shown["value"].as_f64(), Some(62.0), "{ninety}");
    assert!(shown["shap"].as_f64().expect("shap") <= 0.0, "{ninety}");
    // An age no applicant has is refused at intake, as Home Credit's DAYS_BIRTH is.
    let port: u16 = server
        .url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let body = r#"{"application": {"loan_id": 90003, "Age (years)": -5, "debt_ratio": 0.2, "late_payments": 0, "region": "north"}}"#;
    let (status, answer) =
        crate::common::http(port, "POST", "/v1/score", body, "age").expect("answer");
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer.contains(r#""field":"application.Age (years)","message":"the applicant must be 18 to 100 years old (got -5)""#),
        "{answer}"
    );
    drop(server);

    // The same from a feature matrix built with --age.
    let matrix = dir.path().join("f.parquet");
    ok(&[
        "-q",
        "features",
        s(&csv),
        "--id",
        "loan_id",
        "--target",
        "defaulted",
        "--age",
        "Age (years)",
        "--out",
        s(&matrix),
    ]);
    let summary = quick_train(
        &matrix,
        &dir.path().join("from-matrix"),
        &["--monotone-age"],
    );
    assert_eq!(summary["fairness"]["age_rule"]["raised"].as_u64(), Some(0));
}

#[test]
fn the_age_column_is_checked_and_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let csv = table(dir.path(), "loans.csv", 300, &ages_as_drawn);
    let model = dir.path().join("m");
    let fails = |csv: &Path, extra: &[&str]| {
        let mut args = vec![
            "train",
            "--data",
            s(csv),
            "--id",
            "loan_id",
            "--target",
            "defaulted",
            "--out",
            s(&model),
            "--no-tracking",
        ];
        args.extend_from_slice(extra);
        let o = riskscore(&args);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
        assert!(!model.exists(), "no bundle");
        text(&o.stderr)
    };
    let err = fails(&csv, &["--age", "region"]);
    assert!(
        err.contains("--age names \"region\", which is a category column"),
        "{err}"
    );
    let err = fails(&csv, &["--age", "agee"]);
    assert!(
        err.contains("\"agee\", which is not a column of the table"),
        "{err}"
    );
    let err = fails(&csv, &["--monotone-age"]);
    assert!(
        err.contains("name the table's age in years with --age"),
        "{err}"
    );
    // The hint, on the run above: a column named like an age.
    assert!(
        err.contains("if \"Age (years)\" is the applicant's age"),
        "{err}"
    );

    let negative = table(dir.path(), "days.csv", 300, &|i, y| {
        if i == 7 {
            "-20000".into()
        } else {
            y.to_string()
        }
    });
    let err = fails(&negative, &["--age", "Age (years)"]);
    assert!(
        err.contains("the age column (years) at loan_id 5007: -20000 is not an age in years"),
        "{err}"
    );

    let gaps = table(dir.path(), "gaps.csv", 300, &|i, y| {
        if i % 50 == 3 {
            String::new()
        } else {
            y.to_string()
        }
    });
    let err = fails(&gaps, &["--age", "Age (years)", "--monotone-age"]);
    assert!(
        err.contains(
            "--monotone-age on Age (years): 6 of 300 applicants have no age (the first: loan_id 5003)"
        ),
        "{err}"
    );
    // Without the constraint, missing ages are measured as they are.
    let summary = train(&gaps, &model, &["--age", "Age (years)"]);
    assert!(summary["fairness"]["age_rule"]["elderly"].as_u64() > Some(0));
}

/// The real sample's `application_train.csv` as one table: its age is `DAYS_BIRTH`, days
/// before the application.
#[test]
fn the_real_samples_application_file_as_one_table_with_its_age() {
    let Some(data) = real_sample() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let model = dir.path().join("m");
    let summary = quick_train(
        &data.join("application_train.csv"),
        &model,
        &[
            "--id",
            "SK_ID_CURR",
            "--target",
            "TARGET",
            "--protected",
            "CODE_GENDER",
            "--age",
            "DAYS_BIRTH",
            "--monotone-age",
        ],
    );
    let rule = &summary["fairness"]["age_rule"];
    assert_eq!(rule["age_column"], "DAYS_BIRTH", "{rule}");
    assert!(rule["elderly"].as_u64() > Some(100), "{rule}");
    assert_eq!(rule["raised"].as_u64(), Some(0), "{rule}");
    let pipeline: Value =
        serde_json::from_slice(&std::fs::read(model.join("pipeline.json")).expect("pipeline"))
            .expect("json");
    assert_eq!(pipeline["layout"]["age"]["unit"], "days_before_application");
    assert!((pipeline["age_cap"].as_f64().expect("cap") + 62.0 * 365.25).abs() < 1e-9);
    let bands: Vec<String> = entry(&summary["fairness"]["attributes"], "attribute", "age band")
        ["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["group"].as_str().expect("group").to_owned())
        .collect();
    assert_eq!(bands, ["under 25", "25-39", "40-61", "62 and over"]);
}

/// The scorecard challenger under `--monotone-age`: its age bins' default rates never rise with
/// age, so no applicant of 62 or more loses points for age (shipped as the model, the rule
/// holds; left alone, the same table's scorecard scores them down).
#[test]
fn the_scorecards_age_bins_keep_the_age_rule() {
    let dir = tempfile::tempdir().expect("tmp");
    let csv = table(dir.path(), "loans.csv", 1500, &ages_as_drawn);
    let card = ["--model", "scorecard", "--challenger", "scorecard"];
    let free = train(
        &csv,
        &dir.path().join("free"),
        &[&card[..], &["--age", "Age (years)"]].concat(),
    );
    let rule = &free["fairness"]["age_rule"];
    assert!(rule["raised"].as_u64() > Some(0), "{rule}");
    let capped = dir.path().join("capped");
    let summary = train(
        &csv,
        &capped,
        &[&card[..], &["--age", "Age (years)", "--monotone-age"]].concat(),
    );
    let rule = &summary["fairness"]["age_rule"];
    assert!(rule["elderly"].as_u64() > Some(200), "{rule}");
    assert_eq!(rule["raised"].as_u64(), Some(0), "{rule}");
    // The age bins that remain (if age kept any information) give older bins more points.
    let points = std::fs::read_to_string(capped.join("scorecard_points.csv")).expect("points");
    let age: Vec<f64> = points
        .lines()
        .filter(|l| l.starts_with("Age (years),\"["))
        .map(|l| {
            l.rsplit_once("\",")
                .and_then(|(_, rest)| rest.split(',').next())
                .and_then(|p| p.parse().ok())
                .expect("points")
        })
        .collect();
    assert!(age.windows(2).all(|w| w[0] <= w[1]), "{age:?}");
}
