//! Replicas behind nginx (`scripts/replicas`): two on one SQLite file and three on the real
//! PostgreSQL, under concurrent load through nginx, one killed with SIGKILL mid-run. Every
//! answered request is in the journal, the chain verifies, and the survivors answer every
//! request after the kill (nginx retries a GET the dead replica dropped).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use riskscore_server::journal::{read_entries, Location};

use crate::common::{free_ports, http};

/// `scripts/replicas` running: the script, nginx's port, the replicas' pids, the journal.
struct Replicas {
    script: Child,
    state: std::path::PathBuf,
    port: u16,
    pids: Vec<u32>,
    journal: String,
}

impl Drop for Replicas {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.script.id().to_string())
            .status();
        let _ = self.script.wait();
        // Kept when the test failed: the replicas' logs and nginx's.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.state);
        }
    }
}

fn start(n: usize, sqlite: Option<&Path>, db: &str, model: &Path, csv: &Path) -> Replicas {
    // nginx on the first port, the replicas on the next n.
    let port = free_ports(u16::try_from(n + 1).unwrap());
    let mut c = Command::new(riskscore_testkit::script("replicas"));
    c.arg(n.to_string());
    if let Some(file) = sqlite {
        c.arg("--sqlite").arg(file);
    }
    let state = tempfile::tempdir().unwrap().keep();
    let mut script = c
        .arg("--")
        .arg("--model")
        .arg(model)
        .arg("--data")
        .arg(csv)
        .env("RISKSCORE_BIN", env!("CARGO_BIN_EXE_riskscore"))
        .env("REPLICAS_PORT", port.to_string())
        .env("REPLICAS_DIR", &state)
        .env("REPLICAS_DB", db)
        .env_remove("RISKSCORE_API_KEYS")
        .env_remove("MLFLOW_TRACKING_URI")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(script.stdout.take().unwrap()).lines();
    let (mut pids, mut journal) = (Vec::new(), String::new());
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| {
                panic!(
                    "scripts/replicas stopped before it was ready (see {})",
                    state.display()
                )
            })
            .unwrap();
        let words: Vec<&str> = line.split(' ').collect();
        match words[..] {
            ["replica", _, "pid", pid, "port", _] => pids.push(pid.parse().unwrap()),
            ["journal", loc] => journal = loc.to_owned(),
            ["ready", _] => break,
            _ => {}
        }
    }
    assert_eq!(pids.len(), n);
    Replicas {
        script,
        state,
        port,
        pids,
        journal,
    }
}

/// Loads the replicas through nginx from 4 clients, kills replica 2 with SIGKILL once 300
/// decisions are answered, goes on until 300 more are; then checks the journal.
fn load_kill_and_check(r: &Replicas) {
    type Answer = (String, u16, Instant);
    let answers = Arc::new(Mutex::new(Vec::<Answer>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let port = r.port;
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (answers, stop) = (answers.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let rid = format!("w{w}-{n}");
                    let path = format!("/v1/clients/{}/score", 1000 + (n * 7 + w) % 400);
                    let status = http(port, "GET", &path, "", &rid).map_or(0, |(s, _)| s);
                    answers.lock().unwrap().push((rid, status, Instant::now()));
                    n += 1;
                }
            })
        })
        .collect();
    let ok = |a: &[Answer]| a.iter().filter(|(_, s, _)| *s == 200).count();
    let wait_for = |n: usize| {
        let t = Instant::now();
        while ok(&answers.lock().unwrap()) < n && t.elapsed() < Duration::from_secs(120) {
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(300);
    let killed_at = Instant::now();
    let status = Command::new("kill")
        .args(["-9", &r.pids[1].to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for(600);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let answers = answers.lock().unwrap().clone();
    assert!(ok(&answers) >= 600, "only {} answers", ok(&answers));
    let late: Vec<&Answer> = answers
        .iter()
        .filter(|(_, s, t)| *s != 200 && *t > killed_at + Duration::from_secs(2))
        .collect();
    assert!(
        late.is_empty(),
        "the survivors failed after the kill: {late:?}"
    );
    let failed = answers.iter().filter(|(_, s, _)| *s != 200).count();
    eprintln!(
        "{} replicas: {} answered, {failed} failed (all within 2 s of the kill)",
        r.pids.len(),
        ok(&answers)
    );
    // Readiness through nginx reads the journal's head, whichever replica wrote it.
    let (code, text) = http(port, "GET", "/readyz", "", "ready").unwrap();
    assert_eq!(code, 200, "{text}");
    let body: serde_json::Value =
        serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert!(body["journal"]["head"].as_u64().unwrap() >= ok(&answers) as u64);
    let o = crate::common::command()
        .args(["journal", "verify", "--journal", &r.journal])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && said.contains("chain intact"),
        "{said}"
    );
    let entries = read_entries(&Location::parse(&r.journal)).unwrap();
    let journaled: std::collections::HashSet<&str> = entries
        .iter()
        .map(|e| e.decided.request_id.as_str())
        .collect();
    let lost: Vec<&str> = answers
        .iter()
        .filter(|(rid, s, _)| *s == 200 && !journaled.contains(rid.as_str()))
        .map(|(rid, _, _)| rid.as_str())
        .collect();
    assert!(lost.is_empty(), "answered but not journaled: {lost:?}");
}

/// nginx from Debian, or None (skipped) when it is missing and the oracles are not required.
fn nginx() -> Option<()> {
    let found = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .any(|p| Path::new(p).is_file());
    if !found {
        assert!(
            std::env::var("RISKSCORE_REQUIRE_ORACLES").as_deref() != Ok("1"),
            "nginx is missing but the oracles are required (scripts/setup installs nginx-light)"
        );
        eprintln!("skipped: nginx is missing");
        return None;
    }
    Some(())
}

#[test]
fn two_replicas_on_one_sqlite_file_behind_nginx_survive_a_kill() {
    if nginx().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (csv, model) = crate::serve::trained(dir.path());
    let journal = dir.path().join("journal.sqlite");
    let r = start(2, Some(&journal), "unused", &model, &csv);
    load_kill_and_check(&r);
}

#[test]
fn three_replicas_on_postgres_behind_nginx_survive_a_kill() {
    if nginx().is_none()
        || riskscore_testkit::oracle("RISKSCORE_TEST_POSTGRES", "a PostgreSQL address").is_none()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (csv, model) = crate::serve::trained(dir.path());
    let r = start(3, None, "riskscore_replicas_cli", &model, &csv);
    load_kill_and_check(&r);
}
