//! Experiment tracking against a real MLflow server (`RISKSCORE_TEST_MLFLOW`, started by
//! `scripts/start-mlflow`; required when `RISKSCORE_REQUIRE_ORACLES=1`): runs, nested trials,
//! params, metric histories, artifacts and the registry read back through the REST API and the
//! Python client; the logged model loaded by `mlflow.pyfunc` and `mlflow.lightgbm`; serving a
//! registered model; an unreachable server; a server failing mid-run; the local run directory.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use riskscore_tracking::rest::{Method, Rest};
use serde_json::{json, Value};

use crate::common::{free_port, http, loans_csv, wait_ready};

fn server() -> Option<String> {
    match std::env::var("RISKSCORE_TEST_MLFLOW") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("RISKSCORE_REQUIRE_ORACLES").as_deref() != Ok("1"),
                "RISKSCORE_TEST_MLFLOW is not set but the oracles are required"
            );
            eprintln!("skipped: RISKSCORE_TEST_MLFLOW is not set");
            None
        }
    }
}

fn python() -> Option<PathBuf> {
    riskscore_testkit::oracle("RISKSCORE_PYTHON", "a python with mlflow")
}

/// A name no earlier run used.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `riskscore train` on the loans table with a small search.
fn train(dir: &Path, csv: &Path, extra: &[&str], env: &[(&str, &str)]) -> (Output, PathBuf) {
    let model = dir.join("model");
    let mut c = crate::common::train_loans(csv, &model);
    c.args(["--folds", "3", "--trials", "2", "--max-rounds", "60"])
        .args(["--bootstrap", "10", "--no-baseline"])
        .args(extra);
    if !extra.contains(&"--imbalance") {
        c.args(["--imbalance", "none"]);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    (c.output().unwrap(), model)
}

/// The run id `train` reports ("MLflow run <id> on ...").
fn run_id(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("MLflow run "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no run id in: {stderr}"))
        .to_owned()
}

/// riskscore's own probabilities for every client of the table, by `predict`.
fn predicted(dir: &Path, model: &Path, csv: &Path) -> Vec<(String, f64, f64)> {
    let out = dir.join("scores.csv");
    let o = crate::common::command()
        .args(["-q", "predict", "--model", model.to_str().unwrap()])
        .args([
            "--data",
            csv.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut r = csv::Reader::from_path(&out).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let (id, raw, p) = (col("client_id"), col("probability_raw"), col("probability"));
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                rec[id].to_owned(),
                rec[raw].parse().unwrap(),
                rec[p].parse().unwrap(),
            )
        })
        .collect()
}

/// The feature matrix of the table through the model's pipeline (what pyfunc is given).
fn features(dir: &Path, model: &Path, csv: &Path) -> PathBuf {
    let out = dir.join("features.parquet");
    let o = crate::common::command()
        .args(["-q", "features", csv.to_str().unwrap()])
        .args(["--pipeline", model.join("pipeline.json").to_str().unwrap()])
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    out
}

/// The Python client's view (scripts/mlflow_check.py).
fn python_check(uri: &str, run: &str, model_uri: &str, feats: &Path) -> Option<Value> {
    let py = python()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/mlflow_check.py");
    let o = Command::new(py)
        .arg(script)
        .args([uri, run, model_uri, feats.to_str().unwrap()])
        .env("MLFLOW_TRACKING_URI", uri)
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .output()
        .unwrap();
    assert!(o.status.success(), "mlflow_check.py: {}", text(&o.stderr));
    Some(serde_json::from_slice(&o.stdout).unwrap())
}

fn manifest(model: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(model.join("manifest.json")).unwrap()).unwrap()
}

/// `calibrated`: compare with riskscore's `probability`, else with `probability_raw`.
fn assert_same_probabilities(
    ours: &[(String, f64, f64)],
    theirs: &Value,
    key: &str,
    calibrated: bool,
) {
    let theirs: Vec<f64> = theirs[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(ours.len(), theirs.len());
    for ((id, raw, p), t) in ours.iter().zip(&theirs) {
        let want = if calibrated { p } else { raw };
        assert!(
            (want - t).abs() < 1e-12,
            "client {id}: riskscore {want}, {key} {t}"
        );
    }
}

#[test]
fn train_tracks_runs_trials_metrics_artifacts_and_registers_the_model() {
    let Some(url) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    // 1,200 rows: on fewer, fold 0's boosters stop at round one (the rounds are chosen on 15 %
    // of the training folds, and this table's signal is a step one tree finds).
    let csv = loans_csv(dir.path(), 1200);
    let experiment = unique("riskscore-test");
    let name = unique("credit");
    // Undersampling with isotonic calibration: the served probability is not the booster's.
    let (o, model) = train(
        dir.path(),
        &csv,
        &[
            "--tracking-uri",
            &url,
            "--experiment",
            &experiment,
            "--imbalance",
            "undersample",
            "--calibration",
            "isotonic",
        ],
        &[],
    );
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let run = run_id(&stderr);
    let m = manifest(&model);
    let rest = Rest::new(&url).unwrap();

    // The parent run: FINISHED, its settings, final metrics and provenance tags.
    let got = rest
        .call(Method::GET, "runs/get", &json!({ "run_id": run }))
        .unwrap();
    let info = &got["run"]["info"];
    assert_eq!(info["status"], "FINISHED");
    assert_eq!(info["run_name"], "train");
    let data = &got["run"]["data"];
    let find = |kind: &str, key: &str| -> Option<Value> {
        data[kind]
            .as_array()?
            .iter()
            .find(|e| e["key"] == key)
            .map(|e| e["value"].clone())
    };
    assert_eq!(find("params", "folds"), Some(json!("3")));
    assert_eq!(find("params", "cost_fn"), Some(json!("10")));
    assert_eq!(find("params", "strategy"), Some(json!("undersample")));
    assert_eq!(find("params", "calibration"), Some(json!("isotonic")));
    let cv_auc = find("metrics", "cv_auc").unwrap().as_f64().unwrap();
    assert!((cv_auc - m["metrics"]["cv_auc"].as_f64().unwrap()).abs() < 1e-12);
    let threshold = find("metrics", "threshold").unwrap().as_f64().unwrap();
    assert!((threshold - m["threshold"].as_f64().unwrap()).abs() < 1e-12);
    // The estimate for new applicants, and whether it is honest (nested under 50,000 rows).
    assert_eq!(find("params", "estimate_method"), Some(json!("nested")));
    assert_eq!(
        find("metrics", "estimate_selection_aware").and_then(|v| v.as_f64()),
        Some(1.0)
    );
    let estimated = find("metrics", "estimate_cost_per_client")
        .unwrap()
        .as_f64()
        .unwrap();
    let bundled = m["metrics"]["estimate"]["cost_per_client"]
        .as_f64()
        .unwrap();
    assert!(
        (estimated - bundled).abs() < 1e-12,
        "{estimated} vs {bundled}"
    );
    assert_eq!(
        find("tags", "riskscore.data_hash"),
        Some(m["data_hash"].clone())
    );
    assert_eq!(
        find("tags", "riskscore.version"),
        Some(json!(env!("CARGO_PKG_VERSION")))
    );

    // Per-fold metrics as a history with one step per fold, equal to the bundle's.
    let h = rest
        .call(
            Method::GET,
            "metrics/get-history",
            &json!({ "run_id": run, "metric_key": "fold_auc" }),
        )
        .unwrap();
    let mut steps: Vec<(i64, f64)> = h["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["step"].as_i64().unwrap_or(0),
                p["value"].as_f64().unwrap(),
            )
        })
        .collect();
    steps.sort_by_key(|s| s.0);
    let folds = m["metrics"]["fold_metrics"].as_array().unwrap();
    assert_eq!(steps.len(), folds.len());
    for ((step, v), f) in steps.iter().zip(folds) {
        assert_eq!(*step, f["fold"].as_i64().unwrap());
        assert!((v - f["auc"].as_f64().unwrap()).abs() < 1e-12);
    }

    // One nested run per trial, FINISHED, with its params and learning curves by round.
    let children = rest
        .call(
            Method::POST,
            "runs/search",
            &json!({
                "experiment_ids": [info["experiment_id"]],
                "filter": format!("tags.mlflow.parentRunId = '{run}'"),
            }),
        )
        .unwrap();
    let children = children["runs"].as_array().unwrap();
    let trials = m["metrics"]["trials"].as_array().unwrap();
    assert_eq!(children.len(), trials.len());
    let mut longest = 0;
    for c in children {
        assert_eq!(c["info"]["status"], "FINISHED");
        let id = c["info"]["run_id"].as_str().unwrap();
        let curve = rest
            .call(
                Method::GET,
                "metrics/get-history",
                &json!({ "run_id": id, "metric_key": "fold_0_valid_auc" }),
            )
            .unwrap();
        let mut rounds: Vec<i64> = curve["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["step"].as_i64().unwrap_or(0))
            .collect();
        rounds.sort_unstable();
        assert!(!rounds.is_empty(), "{curve}");
        assert_eq!(rounds[0], 1);
        longest = longest.max(rounds.len());
    }
    assert!(longest >= 2, "no learning curve has two points");

    // Artifacts through the server's proxy: the model file is the bundle's, byte for byte.
    let root =
        riskscore_tracking::rest::proxied_path(info["artifact_uri"].as_str().unwrap()).unwrap();
    let lgb = rest
        .get_artifact(&format!("{root}/model/model.lgb"))
        .unwrap();
    assert_eq!(lgb, std::fs::read(model.join("model.txt")).unwrap());
    let top: Vec<String> = rest
        .list_artifacts(&root)
        .unwrap()
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    for want in ["report.html", "summary.json", "plots", "model"] {
        assert!(
            top.iter().any(|p| p.ends_with(want)),
            "{want} missing from {top:?}"
        );
    }

    // The registry: a version of the run's model and the alias on it.
    let o = crate::common::command()
        .args(["-q", "register", "--run-id", &run, "--name", &name])
        .args(["--tracking-uri", &url])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let alias = rest
        .call(
            Method::GET,
            "registered-models/alias",
            &json!({ "name": name, "alias": "champion" }),
        )
        .unwrap();
    assert_eq!(alias["model_version"]["run_id"], run.as_str());
    assert_eq!(alias["model_version"]["version"], "1");
    // A second version as the challenger, then promoted: the champion alias moves to it.
    let o = crate::common::command()
        .args(["-q", "register", "--run-id", &run, "--name", &name])
        .args(["--alias", "challenger", "--tracking-uri", &url])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let promote = |version: &str| {
        crate::common::command()
            .args(["-q", "promote", "--name", &name, "--version", version])
            .args(["--tracking-uri", &url])
            .output()
            .unwrap()
    };
    let o = promote("2");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let champion = |rest: &riskscore_tracking::rest::Rest| {
        rest.call(
            Method::GET,
            "registered-models/alias",
            &json!({ "name": name, "alias": "champion" }),
        )
        .unwrap()["model_version"]["version"]
            .clone()
    };
    assert_eq!(champion(&rest), "2");
    let o = promote("9");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("version 9"), "{}", text(&o.stderr));
    assert_eq!(champion(&rest), "2", "a failed promotion moves nothing");
    // Back to version 1 for what follows.
    assert!(promote("1").status.success());

    // Python MLflow reads the same runs and predicts what riskscore predicts.
    let ours = predicted(dir.path(), &model, &csv);
    let feats = features(dir.path(), &model, &csv);
    if let Some(py) = python_check(&url, &run, &format!("models:/{name}@champion"), &feats) {
        assert_eq!(py["status"], "FINISHED");
        assert_eq!(py["children"].as_array().unwrap().len(), trials.len());
        assert_eq!(py["fold_auc"].as_array().unwrap().len(), folds.len());
        let arts: Vec<&str> = py["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for want in [
            "model/MLmodel",
            "model/riskscore/manifest.json",
            "plots/learning_curves.svg",
        ] {
            assert!(arts.contains(&want), "{want} missing from {arts:?}");
        }
        assert!(ours.iter().any(|(_, raw, p)| (raw - p).abs() > 1e-6));
        assert_same_probabilities(&ours, &py, "pyfunc", true);
        assert_same_probabilities(&ours, &py, "lightgbm", false);
    }

    // Serving the registered model: the same probabilities over HTTP.
    let port = free_port();
    let mut child = crate::common::command()
        .args([
            "-q",
            "serve",
            "--model",
            &format!("models:/{name}@champion"),
        ])
        .args(["--data", csv.to_str().unwrap()])
        .args(["--journal", dir.path().join("j.sqlite").to_str().unwrap()])
        .env("MLFLOW_TRACKING_URI", &url)
        .env("PORT", port.to_string())
        .env_remove("RISKSCORE_API_KEYS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(port, &mut child);
    let (id, _, p) = &ours[7];
    let (status, body) = http(port, "GET", &format!("/v1/clients/{id}/score"), "", "m").unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200, "{body}");
    let json_body: Value = serde_json::from_str(&body[body.find('{').unwrap()..]).unwrap();
    let served = json_body["score"]["probability"].as_f64().unwrap();
    assert!((served - p).abs() < 1e-12, "served {served}, predicted {p}");
}

#[test]
fn an_unreachable_server_fails_before_training_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let csv = loans_csv(dir.path(), 200);
    // A port nothing listens on.
    let port = free_port();
    let uri = format!("http://127.0.0.1:{port}");
    let (o, model) = train(
        dir.path(),
        &csv,
        &["--tracking-uri", &uri],
        &[("RISKSCORE_TRACKING_RETRIES", "2")],
    );
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&uri), "{stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");
    // One retry was made, then nothing was trained.
    assert!(stderr.contains("retrying"), "{stderr}");
    assert!(!model.exists());
}

/// A faulty network in front of the real server: forwards the first `pass` requests, then
/// answers 503 to everything; records the Authorization headers it saw.
struct Faulty {
    port: u16,
    seen: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
    auth: Arc<Mutex<Vec<String>>>,
}

fn faulty_proxy(upstream: &str, pass: usize) -> Faulty {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let up = upstream.trim_start_matches("http://").to_owned();
    let seen = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let auth = Arc::new(Mutex::new(Vec::new()));
    let (s2, r2, a2) = (seen.clone(), refused.clone(), auth.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let (s3, r3, a3, up) = (s2.clone(), r2.clone(), a2.clone(), up.clone());
            std::thread::spawn(move || loop {
                // One request: headers, then Content-Length bytes of body.
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut head = Vec::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if lower.starts_with("authorization:") {
                        a3.lock().unwrap().push(line.trim().to_owned());
                    }
                    if lower.starts_with("connection:") {
                        continue;
                    }
                    if line == "\r\n" {
                        head.extend_from_slice(b"Connection: close\r\n\r\n");
                        break;
                    }
                    head.extend_from_slice(line.as_bytes());
                }
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let n = s3.fetch_add(1, Ordering::SeqCst);
                if n >= pass {
                    r3.fetch_add(1, Ordering::SeqCst);
                    let _ = conn.write_all(
                        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
                    );
                    continue;
                }
                let mut u = TcpStream::connect(&up).unwrap();
                u.write_all(&head).unwrap();
                u.write_all(&body).unwrap();
                let mut resp = Vec::new();
                let _ = u.read_to_end(&mut resp);
                let _ = conn.write_all(&resp);
                // The upstream closed: so does this connection.
                return;
            });
        }
    });
    Faulty {
        port,
        seen,
        refused,
        auth,
    }
}

#[test]
fn a_server_failing_mid_run_keeps_everything_in_the_local_run_directory() {
    let Some(url) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let csv = loans_csv(dir.path(), 600);
    // Experiment lookup, parent run, its params: then the server "goes down".
    let proxy = faulty_proxy(&url, 4);
    let uri = format!("http://127.0.0.1:{}", proxy.port);
    let local = dir.path().join("local-runs");
    let token = "tok-7f3a9c-secret";
    let (o, model) = train(
        dir.path(),
        &csv,
        &[
            "-v",
            "--tracking-uri",
            &uri,
            "--local-runs",
            local.to_str().unwrap(),
        ],
        &[
            ("RISKSCORE_TRACKING_RETRIES", "3"),
            ("MLFLOW_TRACKING_TOKEN", token),
        ],
    );
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    // The command fails, says why and where everything went; the bundle is complete.
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("503"), "{stderr}");
    assert!(
        stderr.contains(&local.canonicalize().unwrap().display().to_string()),
        "{stderr}"
    );
    assert!(model.join("manifest.json").exists());
    let ours = predicted(dir.path(), &model, &csv);
    // Transient errors were retried: the first failing call was tried 3 times.
    assert!(proxy.refused.load(Ordering::SeqCst) >= 3);
    assert!(proxy.seen.load(Ordering::SeqCst) > 4);
    // The token went to the server on every call, and never to the logs.
    let auth = proxy.auth.lock().unwrap().clone();
    assert!(!auth.is_empty() && auth.iter().all(|a| a.ends_with(&format!("Bearer {token}"))));
    assert!(!stderr.contains(token) && !stdout.contains(token));

    // Python MLflow reads the local runs: the parent FINISHED with its trials and model.
    let run = run_id(&stderr);
    let feats = features(dir.path(), &model, &csv);
    let file_uri = format!("file://{}", local.canonicalize().unwrap().display());
    if let Some(py) = python_check(&file_uri, &run, &format!("runs:/{run}/model"), &feats) {
        assert_eq!(py["status"], "FINISHED");
        let trials = manifest(&model)["metrics"]["trials"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(py["children"].as_array().unwrap().len(), trials);
        assert_eq!(py["params"]["folds"], "3");
        assert_same_probabilities(&ours, &py, "pyfunc", true);
    }
}

#[test]
fn without_a_server_the_runs_go_to_the_local_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let csv = loans_csv(dir.path(), 400);
    let local = dir.path().join("runs");
    let (o, model) = train(
        dir.path(),
        &csv,
        &["--local-runs", local.to_str().unwrap()],
        &[],
    );
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("local run directory"), "{stderr}");
    let run = run_id(&stderr);
    // MLflow's file layout: experiment meta, the run's meta, params, metrics, artifacts.
    let exp = std::fs::read_dir(&local)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join(&run).is_dir())
        .unwrap();
    let r = exp.join(&run);
    assert!(std::fs::read_to_string(r.join("meta.yaml"))
        .unwrap()
        .contains("status: 3"));
    assert_eq!(
        std::fs::read_to_string(r.join("params/folds")).unwrap(),
        "3"
    );
    assert!(r.join("artifacts/model/MLmodel").exists());
    assert_eq!(
        std::fs::read(r.join("artifacts/model/model.lgb")).unwrap(),
        std::fs::read(model.join("model.txt")).unwrap()
    );
    let ours = predicted(dir.path(), &model, &csv);
    let feats = features(dir.path(), &model, &csv);
    let uri = format!("file://{}", local.canonicalize().unwrap().display());
    if let Some(py) = python_check(&uri, &run, &format!("runs:/{run}/model"), &feats) {
        assert_eq!(py["status"], "FINISHED");
        assert_same_probabilities(&ours, &py, "lightgbm", false);
    }
}

#[test]
fn an_interrupted_training_ends_its_runs_failed() {
    let dir = tempfile::tempdir().unwrap();
    let csv = loans_csv(dir.path(), 600);
    let local = dir.path().join("runs");
    let mut child = crate::common::train_loans(&csv, &dir.path().join("model"))
        .args(["--folds", "3", "--trials", "500", "--imbalance", "none"])
        .args(["--local-runs", local.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first finished trial run, then interrupt.
    let started = std::time::Instant::now();
    let runs = || -> Vec<PathBuf> {
        std::fs::read_dir(&local)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name() != "0")
            .flat_map(|e| std::fs::read_dir(e.path()).into_iter().flatten().flatten())
            .map(|e| e.path())
            .filter(|p| p.join("meta.yaml").exists() && p.join("params").exists())
            .collect()
    };
    while runs().len() < 2 {
        assert!(
            started.elapsed().as_secs() < 120,
            "no trial run within 120 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("FAILED"), "{err}");
    // No run is left RUNNING (status 1): the parent ended FAILED, the finished trials FINISHED.
    let metas: Vec<String> = runs()
        .iter()
        .map(|r| std::fs::read_to_string(r.join("meta.yaml")).unwrap())
        .collect();
    assert!(metas.len() >= 2);
    assert!(
        metas.iter().all(|m| !m.contains("status: 1\n")),
        "{metas:?}"
    );
    assert!(metas
        .iter()
        .any(|m| m.contains("run_name: \"train\"") && m.contains("status: 4\n")));
}

#[test]
fn a_training_error_ends_the_run_failed_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let csv = loans_csv(dir.path(), 200);
    let local = dir.path().join("runs");
    // The target column is missing: training fails after the run started.
    let o = crate::common::command()
        .args(["train", "--data", csv.to_str().unwrap()])
        .args(["--id", "client_id", "--target", "no_such_column"])
        .args(["--out", dir.path().join("model").to_str().unwrap()])
        .args(["--local-runs", local.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no_such_column"), "{stderr}");
    let exp = std::fs::read_dir(&local)
        .unwrap()
        .flatten()
        .find(|e| e.file_name() != "0")
        .unwrap()
        .path();
    let run = std::fs::read_dir(&exp)
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .unwrap()
        .path();
    let meta = std::fs::read_to_string(run.join("meta.yaml")).unwrap();
    assert!(meta.contains("status: 4\n"), "{meta}");
    let why = std::fs::read_to_string(run.join("tags/riskscore.error")).unwrap();
    assert!(why.contains("no_such_column"), "{why}");
}

#[test]
fn serving_a_registered_model_needs_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let csv = loans_csv(dir.path(), 50);
    let o = crate::common::command()
        .args(["serve", "--model", "models:/credit@champion"])
        .args(["--data", csv.to_str().unwrap()])
        .args(["--journal", dir.path().join("j.sqlite").to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("MLFLOW_TRACKING_URI"), "{stderr}");
    let o = crate::common::command()
        .args(["register", "--run-id", "abc", "--name", "credit"])
        .args(["--tracking-uri", "databricks://profile"])
        .output()
        .unwrap();
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("databricks://profile"), "{stderr}");
}
