//! `riskscore document`: the documentation pack of a model trained with tracking on the real
//! MLflow server, with a drift result. Every figure of the HTML document (its `<data>`
//! elements) equals the value at its JSON pointer in the file it names (the bundle's
//! manifest.json and fairness.json, the drift result, the MLflow run as the server returns it);
//! `model_card.json` is valid against model-card-toolkit's JSON schema (v0.0.2, with
//! `jsonschema`) and its figures are the manifest's; the document renders offline in Chromium
//! (no request leaves the file) and passes axe.

use std::path::Path;
use std::process::Command;

use riskscore_tracking::rest::{Method, Rest};
use serde_json::{json, Value};

use crate::common::loans_csv;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The document's figures: (value, file, pointer) of each `<data>` element.
pub(crate) fn figures(html: &str) -> Vec<(String, String, String)> {
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let attr = |tag: &str, name: &str| -> String {
        let key = format!("{name}=\"");
        let start = tag.find(&key).map(|i| i + key.len()).unwrap();
        let end = start + tag[start..].find('"').unwrap();
        unescape(&tag[start..end])
    };
    html.split("<data ")
        .skip(1)
        .map(|rest| {
            let tag = &rest[..rest.find('>').unwrap()];
            (
                attr(tag, "value"),
                attr(tag, "data-file"),
                attr(tag, "data-pointer"),
            )
        })
        .collect()
}

/// A figure as written equals the source's value: the same number (bit for bit), text or
/// truth value.
pub(crate) fn same(written: &str, source: &Value) -> bool {
    match source {
        Value::Number(n) => written.parse::<f64>().ok() == n.as_f64(),
        Value::String(s) => written == s,
        Value::Bool(b) => written == b.to_string(),
        _ => false,
    }
}

pub(crate) fn json_file(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_figure_of_the_pack_is_read_from_its_source() {
    let Some(url) = std::env::var("RISKSCORE_TEST_MLFLOW")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(
            std::env::var("RISKSCORE_REQUIRE_ORACLES").as_deref() != Ok("1"),
            "RISKSCORE_TEST_MLFLOW is not set but the oracles are required"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let csv = loans_csv(dir.path(), 1200);
    let model = dir.path().join("model");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let o = crate::common::train_loans(&csv, &model)
        .args([
            "--folds",
            "3",
            "--trials",
            "2",
            "--max-rounds",
            "60",
            "--bootstrap",
            "10",
        ])
        .args(["--protected", "region", "--imbalance", "class_weight"])
        .args([
            "--tracking-uri",
            &url,
            "--experiment",
            &format!("document-{nanos}"),
        ])
        .output()
        .unwrap();
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let run = stderr
        .lines()
        .find_map(|l| l.strip_prefix("MLflow run "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no run id in: {stderr}"))
        .to_owned();
    let drift = dir.path().join("drift.json");
    let o = crate::common::command()
        .args(["-q", "drift", "--reference", model.to_str().unwrap()])
        .args([
            "--current",
            csv.to_str().unwrap(),
            "--json",
            drift.to_str().unwrap(),
        ])
        .args(["--exclude", "client_id,defaulted"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let pack = dir.path().join("pack");
    let o = crate::common::command()
        .args([
            "document",
            "--model",
            model.to_str().unwrap(),
            "--run",
            &run,
        ])
        .args([
            "--drift",
            drift.to_str().unwrap(),
            "--owner",
            "Credit risk team",
        ])
        .args([
            "--contact",
            "risk@example.com",
            "--out",
            pack.to_str().unwrap(),
        ])
        .env("MLFLOW_TRACKING_URI", &url)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let html = std::fs::read_to_string(pack.join("model-documentation.html")).unwrap();

    // Every figure against its source.
    let mlflow_run = Rest::new(&url)
        .unwrap()
        .call(Method::GET, "runs/get", &json!({ "run_id": run }))
        .unwrap()["run"]
        .clone();
    let sources = [
        ("manifest.json", json_file(&model.join("manifest.json"))),
        ("fairness.json", json_file(&model.join("fairness.json"))),
        ("drift", json_file(&drift)),
        ("mlflow-run", mlflow_run),
    ];
    let found = figures(&html);
    for (value, file, pointer) in &found {
        let source = &sources
            .iter()
            .find(|s| s.0 == file)
            .unwrap_or_else(|| panic!("{file}"))
            .1;
        let v = source
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{file}{pointer}: no such value"));
        assert!(
            same(value, v),
            "{file}{pointer}: the pack says {value}, the source {v}"
        );
    }
    let has = |file: &str, pointer: &str| {
        assert!(
            found.iter().any(|f| f.1 == file && f.2 == pointer),
            "{file}{pointer} is not in the pack"
        );
    };
    for p in [
        "/metrics/cv_auc",
        "/metrics/cv_auc_std",
        "/threshold",
        "/metrics/cost_per_client",
        "/metrics/uncertainty/threshold/low",
        "/metrics/estimate/auc",
        "/metrics/estimate/auc_prediction/high",
        "/metrics/calibration_check/brier_after",
        "/metrics/n_rows",
        "/data_hash",
        "/cost/fn_cost",
        "/metrics/trials/1/cv_auc",
        "/metrics/fold_metrics/2/auc",
        "/features/0/gain",
    ] {
        has("manifest.json", p);
    }
    has(
        "fairness.json",
        "/attributes/0/groups/0/approval_rate/value",
    );
    has("drift", "/share");
    has("mlflow-run", "/info/run_id");
    assert!(found.len() >= 150, "{} figures", found.len());
    for section in [
        "Purpose and intended use",
        "Target definition",
        "Data and lineage",
        "Features",
        "Method and alternatives tried",
        "Performance",
        "Calibration",
        "Threshold economics",
        "Stability",
        "Fairness",
        "Explanations and reason codes",
        "Limitations",
        "Monitoring plan and triggers",
        "Change log and approvals",
    ] {
        assert!(html.contains(&format!(". {section}</h2>")), "{section}");
    }
    // Self-contained: no script, stylesheet link or remote address to load.
    assert!(!html.contains("<script") && !html.contains("<link"));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    assert!(html.contains("Credit risk team (risk@example.com)"));

    // The model card: valid against the published schema, its figures the manifest's.
    let card = json_file(&pack.join("model_card.json"));
    let manifest = &sources[0].1;
    let metrics = card["quantitative_analysis"]["performance_metrics"]
        .as_array()
        .unwrap();
    let metric = |kind: &str| -> &Value {
        metrics
            .iter()
            .find(|m| m["type"].as_str().unwrap().starts_with(kind))
            .unwrap_or_else(|| panic!("{kind}"))
    };
    assert!(same(
        metric("ROC AUC, cross-validated")["value"]
            .as_str()
            .unwrap(),
        &manifest["metrics"]["cv_auc"]
    ));
    let t = metric("decision threshold");
    assert!(same(t["value"].as_str().unwrap(), &manifest["threshold"]));
    assert!(same(
        t["confidence_interval"]["lower_bound"].as_str().unwrap(),
        &manifest["metrics"]["uncertainty"]["threshold"]["low"]
    ));
    assert_eq!(
        card["model_parameters"]["data"][0]["sensitive"]["sensitive_data"],
        json!(["region"])
    );
    if let Some(python) = riskscore_testkit::oracle(
        "RISKSCORE_PYTHON",
        "a python with model-card-toolkit and jsonschema",
    ) {
        let check = "import glob, json, sys, jsonschema\n\
            path = glob.glob(sys.prefix + '/lib/python*/site-packages/model_card_toolkit/schema/v0.0.2/model_card.schema.json')\n\
            assert path, 'model-card-toolkit is not installed (scripts/setup)'\n\
            schema = json.load(open(path[0]))\n\
            card = json.load(open(sys.argv[1]))\n\
            jsonschema.validate(card, schema, format_checker=jsonschema.FormatChecker())\n\
            bad = dict(card, extra=1)\n\
            try:\n    jsonschema.validate(bad, schema)\n    sys.exit('an unknown key passed')\n\
            except jsonschema.ValidationError:\n    pass\n\
            print('valid', len(card['quantitative_analysis']['performance_metrics']))\n";
        let o = Command::new(python)
            .args(["-c", check])
            .arg(pack.join("model_card.json"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
        assert!(text(&o.stdout).starts_with("valid "), "{}", text(&o.stdout));
    }
    offline(&pack.join("model-documentation.html"));
}

/// The document opened from disk in Chromium with every request outside the file refused:
/// none is attempted, the 14 sections render, axe finds no serious violation.
fn offline(doc: &Path) {
    if let Some(out) = crate::common::e2e("offline.mjs", &[doc.to_str().unwrap()], "") {
        assert!(
            out.contains("no request left the file") && out.contains("14 sections"),
            "{out}"
        );
    }
}

#[test]
fn document_errors_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let o = crate::common::command()
            .arg("document")
            .args(args)
            .env_remove("MLFLOW_TRACKING_URI")
            .output()
            .unwrap();
        (o.status.code(), text(&o.stderr))
    };
    let (code, err) = run(&["--model", dir.path().join("nope").to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--model"), "{err}");
    let (code, err) = run(&["--model", dir.path().to_str().unwrap()]);
    assert_ne!(code, Some(0), "{err}");
    assert!(
        err.contains("manifest.json") || err.contains("bundle"),
        "{err}"
    );
    let model = riskscore_testkit::home_credit().model.clone();
    let m = model.to_str().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "not json").unwrap();
    let (code, err) = run(&["--model", m, "--drift", bad.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--drift") && err.contains("not JSON"), "{err}");
    // JSON of another kind (here a monitoring result's fields given as the drift).
    std::fs::write(&bad, r#"{"decisions": 3, "labelled": 0, "estimated": []}"#).unwrap();
    let (code, err) = run(&["--model", m, "--drift", bad.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(
            "not the result it takes (no reference_rows, current_rows, tested, drifted, columns)"
        ) && err.contains("riskscore drift --json FILE"),
        "{err}"
    );
    let taken = dir.path().join("taken");
    let (code, err) = run(&[
        "--model",
        m,
        "--monitor",
        bad.to_str().unwrap(),
        "--out",
        taken.to_str().unwrap(),
    ]);
    assert_eq!(
        code,
        Some(0),
        "a monitoring result's fields are taken: {err}"
    );
    let (code, err) = run(&[
        "--model",
        m,
        "--monitor",
        dir.path().join("no.json").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--monitor"), "{err}");
    let (code, err) = run(&["--model", m, "--run", "abc"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("MLFLOW_TRACKING_URI"), "{err}");
    // The kit's Home Credit model: a pack without the optional results.
    let out = dir.path().join("pack");
    let (code, err) = run(&["--model", m, "--out", out.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    let html = std::fs::read_to_string(out.join("model-documentation.html")).unwrap();
    assert!(html.contains("Home Credit") && html.contains("No drift result was given"));
}
