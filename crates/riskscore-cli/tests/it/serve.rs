//! `riskscore serve` on a real socket: a lender's single table, scores over HTTP, a graceful
//! stop on SIGTERM, and no decision lost when the process is killed with SIGKILL under load.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use riskscore_server::journal::{read_entries, Location};

use crate::common::{free_port, http, loans_csv, wait_ready};

fn riskscore() -> Command {
    crate::common::command()
}

/// A lender's table: default more likely when `ratio` is high.
pub(crate) fn trained(dir: &Path) -> (PathBuf, PathBuf) {
    let csv = loans_csv(dir, 400);
    let model = dir.join("model");
    let o = crate::common::train_loans(&csv, &model)
        .arg("-q")
        .args([
            "--folds",
            "3",
            "--trials",
            "1",
            "--max-rounds",
            "40",
            "--bootstrap",
            "10",
        ])
        .args(["--imbalance", "class_weight"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (csv, model)
}

fn start(csv: &Path, model: &Path, journal: &Path, port: u16) -> Child {
    riskscore()
        .args(["-q", "serve", "--model", model.to_str().unwrap()])
        .args(["--data", csv.to_str().unwrap()])
        .args(["--journal", journal.to_str().unwrap()])
        .env("PORT", port.to_string())
        .env_remove("RISKSCORE_API_KEYS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn serves_a_single_table_model_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, model) = trained(dir.path());
    let journal = dir.path().join("j.sqlite");
    let port = free_port();
    let mut child = start(&csv, &model, &journal, port);
    wait_ready(port, &mut child);
    let (status, text) = http(port, "GET", "/v1/clients/1010/score", "", "a-1").unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"request_id\":\"a-1\""));
    // A new applicant of the same table, scored through the same pipeline.
    let body =
        r#"{"application": {"client_id": 5000, "ratio": 9.5, "age": 30, "region": "north"}}"#;
    let (status, text) = http(port, "POST", "/v1/score", body, "a-2").unwrap();
    assert_eq!(status, 200, "{text}");
    // The columns never missing in training are required (issue 27), the id among them.
    let body = r#"{"application": {"ratio": 9.5, "region": "north"}}"#;
    let (status, text) = http(port, "POST", "/v1/score", body, "a-4").unwrap();
    assert_eq!(status, 422, "{text}");
    assert!(
        text.contains("application.client_id") && text.contains("application.age"),
        "{text}"
    );
    let (status, text) = http(
        port,
        "POST",
        "/v1/score",
        r#"{"application": {"ratio": "high"}}"#,
        "a-3",
    )
    .unwrap();
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("application.ratio"));
    // SIGTERM: the server finishes and exits 0.
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "no graceful stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    // The table's target is read for the outcomes, not an unexpected column to warn of.
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!err.contains("unexpected"), "{err}");
    let o = riskscore()
        .args(["journal", "verify", "--journal", journal.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("2 entries, chain intact"));
}

/// A port in use fails at once: `serve` before it reads the model and the data (it said
/// "serving on" and then failed, after the load) and opens no journal; `demo` before minutes of
/// work (it failed at their end), naming `--port`.
#[test]
fn a_port_in_use_fails_before_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let held = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = held.local_addr().unwrap().port();
    let journal = dir.path().join("j.sqlite");
    // A bundle that is not there: the address is tried first.
    let model = dir.path().join("model");
    std::fs::create_dir(&model).unwrap();
    let o = start(&crate::common::tiny(), &model, &journal, port)
        .wait_with_output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("listening on 127.0.0.1:{port}")) && err.contains("in use"),
        "{err}"
    );
    assert!(!err.contains("serving on"), "{err}");
    assert!(!journal.exists(), "no journal opened");
    let out = dir.path().join("demo");
    let o = riskscore()
        .args(["-q", "demo", "--out", out.to_str().unwrap()])
        .args(["--port", &port.to_string()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("port {port}: cannot listen")) && err.contains("--port"),
        "{err}"
    );
    assert!(!out.exists(), "the demo wrote nothing");
    drop(held);
}

#[test]
fn no_answered_decision_is_lost_on_kill_9_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, model) = trained(dir.path());
    let journal = dir.path().join("j.sqlite");
    let port = free_port();
    let mut child = start(&csv, &model, &journal, port);
    wait_ready(port, &mut child);
    let answered = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (answered, stop) = (answered.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let rid = format!("w{w}-{n}");
                    let path = format!("/v1/clients/{}/score", 1000 + (n * 7 + w) % 400);
                    if let Some((200, _)) = http(port, "GET", &path, "", &rid) {
                        answered.lock().unwrap().push(rid);
                    }
                    n += 1;
                }
            })
        })
        .collect();
    // Load until a few hundred decisions were answered, then SIGKILL mid-flight.
    let t = Instant::now();
    while answered.lock().unwrap().len() < 300 && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(answered.len() >= 300, "only {} answers", answered.len());
    let o = riskscore()
        .args(["journal", "verify", "--journal", journal.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let entries = read_entries(&Location::Sqlite(journal)).unwrap();
    let journaled: std::collections::HashSet<&str> = entries
        .iter()
        .map(|e| e.decided.request_id.as_str())
        .collect();
    let lost: Vec<&String> = answered
        .iter()
        .filter(|r| !journaled.contains(r.as_str()))
        .collect();
    assert!(lost.is_empty(), "answered but not journaled: {lost:?}");
}

fn body_json(text: &str) -> serde_json::Value {
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn column<'a>(drift: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    drift["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == name)
        .unwrap_or_else(|| panic!("no {name} in {drift}"))
}

/// The journal's scores over a time window as the current data: `GET /v1/drift` and
/// `riskscore drift --journal` find the shift of the applications scored after a moment, and
/// none in the ones scored before (the training clients themselves).
#[test]
fn drift_of_the_journal_over_a_window_on_the_server_and_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, model) = trained(dir.path());
    let journal = dir.path().join("j.sqlite");
    let port = free_port();
    let mut child = start(&csv, &model, &journal, port);
    wait_ready(port, &mut child);
    let get = |path: &str| http(port, "GET", path, "", "d").unwrap();
    // Before: every client of the training data, once.
    for i in 0..400 {
        let (status, text) = get(&format!("/v1/clients/{}/score", 1000 + i));
        assert_eq!(status, 200, "{text}");
    }
    std::thread::sleep(Duration::from_millis(20));
    let moment = riskscore_server::journal::now_rfc3339();
    std::thread::sleep(Duration::from_millis(20));
    // After: only clients with a high ratio (the model's strongest input), ten of them twice,
    // one new application, and an explanation (not a score: not counted).
    let high: Vec<usize> = (0..400).filter(|i| (i * 37) % 100 >= 70).collect();
    for i in high.iter().chain(&high[..10]) {
        assert_eq!(get(&format!("/v1/clients/{}/score", 1000 + i)).0, 200);
    }
    let app = r#"{"application": {"client_id": 5001, "ratio": 9.5, "age": 30, "region": "north"}}"#;
    assert_eq!(http(port, "POST", "/v1/score", app, "n").unwrap().0, 200);
    assert_eq!(get("/v1/clients/1010/explanation").0, 200);

    let (status, text) = get(&format!("/v1/drift?since={moment}"));
    assert_eq!(status, 200, "{text}");
    let after = body_json(&text);
    let w = &after["window"];
    assert_eq!(w["read"], high.len() + 10 + 1);
    assert_eq!(w["used"], high.len() + 1);
    assert_eq!(w["repeated"], 10);
    assert_eq!(w["other_models"], 0);
    let d = &after["drift"];
    assert_eq!(d["reference_rows"], 400);
    assert_eq!(d["current_rows"], high.len() + 1);
    assert_eq!(
        column(d, "ratio")["drifted"],
        true,
        "{}",
        column(d, "ratio")
    );
    assert_eq!(column(d, "predicted_probability")["drifted"], true);

    let (status, text) = get(&format!("/v1/drift?until={moment}"));
    assert_eq!(status, 200, "{text}");
    let before = body_json(&text);
    assert_eq!(before["window"]["used"], 400);
    // The same rows as the training sample: nothing moved.
    assert_eq!(column(&before["drift"], "ratio")["score"], 1.0);
    assert_eq!(column(&before["drift"], "ratio")["drifted"], false);
    // Without a window: the most recent scores, each application once (the high-ratio
    // clients' rows repeat their earlier ones).
    let all = body_json(&get("/v1/drift").1);
    assert_eq!(all["window"]["used"], 401);

    // The CLI reads the same window and finds the same numbers.
    let out = dir.path().join("journal-drift.json");
    let o = riskscore()
        .args(["-q", "drift", "--reference", model.to_str().unwrap()])
        .args(["--journal", journal.to_str().unwrap(), "--since", &moment])
        .args(["--json", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cli: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(cli["current_rows"], d["current_rows"]);
    assert_eq!(
        cli["columns"].as_array().unwrap().len(),
        d["columns"].as_array().unwrap().len()
    );
    for c in cli["columns"].as_array().unwrap() {
        let s = column(d, c["column"].as_str().unwrap());
        assert_eq!(
            (&c["test"], &c["score"], &c["drifted"]),
            (&s["test"], &s["score"], &s["drifted"])
        );
    }
    assert!(String::from_utf8_lossy(&o.stderr).contains("applications of model"));

    // The HTML report, and the errors.
    let (status, text) = get(&format!("/v1/drift?since={moment}&format=html"));
    assert_eq!(status, 200);
    assert!(text.contains("text/html") && text.contains("predicted_probability"));
    let (status, text) = get("/v1/drift?since=yesterday");
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("\"field\":\"since\""), "{text}");
    let (status, text) = get("/v1/drift?since=2099-01-01");
    assert_eq!(status, 409, "{text}");
    assert!(text.contains("no scored applications"), "{text}");
    assert_eq!(get("/v1/drift?last=0").0, 422);
    let o = riskscore()
        .args(["-q", "drift", "--reference", csv.to_str().unwrap()])
        .args(["--journal", journal.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("give the model's bundle"));

    child.kill().unwrap();
    let _ = child.wait();
    let o = riskscore()
        .args(["journal", "verify", "--journal", journal.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

/// `riskscore demo` end to end on a tiny synthetic data set: the three reports are written and
/// the server it starts answers a score request.
#[test]
fn the_demo_writes_its_reports_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let port = free_port();
    let mut child = riskscore()
        .args(["-q", "demo", "--scale", "0.004", "--trials", "1"])
        .args(["--out", out.to_str().unwrap(), "--port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while http(port, "GET", "/readyz", "", "ready").map(|r| r.0) != Some(200) {
        if let Some(status) = child.try_wait().unwrap() {
            let o = child.wait_with_output().unwrap();
            panic!(
                "the demo exited ({status}): {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        if t.elapsed() > Duration::from_secs(600) {
            child.kill().unwrap();
            let o = child.wait_with_output().unwrap();
            panic!(
                "the demo was not ready after 600 s; what it printed: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, text) = http(port, "GET", "/v1/clients/100001/score", "", "demo").unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"probability\""), "{text}");
    let (status, text) = http(port, "GET", "/", "", "dashboard").unwrap();
    assert_eq!(status, 200);
    assert!(text.contains("Client decision"), "{text}");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for step in [
        "exploratory report",
        "training",
        "drift of the new applicants",
        "dashboard:",
    ] {
        assert!(stdout.contains(step), "no {step} in {stdout}");
    }
    for (file, heading) in [
        ("eda.html", "Information value ranking"),
        ("model/report.html", "<svg"),
        ("drift.html", "Data drift"),
    ] {
        let page = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(page.contains(heading), "{file}");
    }
}

/// Issue 25: schemathesis (RISKSCORE_SCHEMATHESIS, its `schemathesis` command; required when
/// RISKSCORE_REQUIRE_ORACLES=1) runs every check and every phase, the stateful one included,
/// against a Home Credit model served with API keys, for RISKSCORE_FUZZ_SECONDS (120 by
/// default): no failure, and the server's own metrics count no 5xx. The one rule JSON Schema
/// cannot state (distinct history keys within an application) is kept by
/// `scripts/schemathesis_hooks.py`.
#[test]
fn schemathesis_finds_no_failure_and_no_server_error() {
    let Some(st) = riskscore_testkit::oracle("RISKSCORE_SCHEMATHESIS", "schemathesis") else {
        return;
    };
    let seconds = std::env::var("RISKSCORE_FUZZ_SECONDS").unwrap_or_else(|_| "120".into());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = riskscore()
        .args([
            "-q",
            "demo",
            "--scale",
            "0.004",
            "--trials",
            "1",
            "--no-serve",
        ])
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let port = free_port();
    let mut child = riskscore()
        .args([
            "-q",
            "serve",
            "--model",
            out.join("model").to_str().unwrap(),
        ])
        .args(["--data", out.join("data").to_str().unwrap()])
        .args(["--journal", dir.path().join("j.sqlite").to_str().unwrap()])
        .env("PORT", port.to_string())
        .env("RISKSCORE_API_KEYS", "fuzz-key")
        // A debug build scores a request with hundreds of history rows, or tests the drift of
        // thousands of journaled rows, in more than the default 10 s.
        .args(["--timeout", "120"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(port, &mut child);
    let logs = crate::common::drain_stderr(&mut child);
    let hooks = riskscore_testkit::repo_root().join("scripts");
    let run = Command::new(&st)
        .args(["run", &format!("http://127.0.0.1:{port}/openapi.json")])
        .args([
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
        ])
        .args(["--header", "X-API-Key: fuzz-key", "--max-time", &seconds])
        .args(["--seed", "25", "--no-color", "--request-timeout", "120"])
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("PYTHONPATH", hooks)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&run.stdout);
    let (_, metrics) = http(port, "GET", "/metrics", "", "m").unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    let logs = logs.join().unwrap_or_default();
    let tail = logs.char_indices().rev().nth(4000).map_or(0, |(i, _)| i);
    assert!(
        run.status.success(),
        "schemathesis failed:\n{report}{}\nthe server's log ends:\n{}",
        String::from_utf8_lossy(&run.stderr),
        &logs[tail..]
    );
    let count = |line: &str| -> u64 {
        line.rsplit(' ')
            .next()
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    let requests: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("riskscore_requests_total{"))
        .collect();
    let total: u64 = requests.iter().map(|l| count(l)).sum();
    let server_errors: Vec<&&str> = requests
        .iter()
        .filter(|l| l.contains("status=\"5"))
        .collect();
    assert!(total > 500, "the fuzzer sent {total} requests:\n{report}");
    assert!(server_errors.is_empty(), "5xx answers: {server_errors:?}");
    eprintln!(
        "schemathesis: {total} requests, no failure, no 5xx\n{}",
        report
            .lines()
            .skip_while(|l| !l.contains("SUMMARY"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
