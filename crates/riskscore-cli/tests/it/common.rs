//! Fixtures shared by the CLI tests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The binary, with its tracking kept out of the source tree: no MLflow server from the
/// environment, local runs under the temp dir.
pub fn command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_riskscore"));
    c.env_remove("MLFLOW_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .env(
            "RISKSCORE_LOCAL_RUNS",
            std::env::temp_dir().join("riskscore-test-mlruns"),
        );
    c
}

/// The tiny Home Credit fixture of the features crate.
pub fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../riskscore-features/tests/fixtures/tiny")
}

/// A copy of the tiny fixture's files in `dir` (to break one of them).
pub fn tiny_copy(dir: &Path) {
    for entry in std::fs::read_dir(tiny()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
}

/// `riskscore train` on a table of [`loans_csv`] (its id and target), writing `model`; the
/// caller adds the settings.
pub fn train_loans(csv: &Path, model: &Path) -> Command {
    let mut c = command();
    c.args(["train", "--data", csv.to_str().unwrap()])
        .args(["--id", "client_id", "--target", "defaulted"])
        .args(["--out", model.to_str().unwrap()]);
    c
}

/// [`train_loans`] with the shortest settings (3 folds, no search, 10 bootstrap resamples, no
/// baseline, no tracking) and `imbalance`; panics with the command's stderr on failure.
pub fn train_loans_quickly(csv: &Path, model: &Path, imbalance: &str) {
    let o = train_loans(csv, model)
        .args(["-q", "--folds", "3", "--trials", "0", "--bootstrap", "10"])
        .args(["--no-baseline", "--no-tracking", "--imbalance", imbalance])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A single table with a signal: default more likely when `ratio` is high.
pub fn loans_csv(dir: &Path, rows: usize) -> PathBuf {
    let mut s = String::from("client_id,defaulted,ratio,age,region\n");
    for i in 0..rows {
        let ratio = ((i * 37) % 100) as f64 / 10.0;
        let age = 20 + (i * 13) % 45;
        let region = ["north", "south"][i % 2];
        let y = u8::from((i * 7919) % 100 < (ratio * 3.0) as usize);
        s.push_str(&format!("{},{y},{ratio},{age},{region}\n", 1000 + i));
    }
    let path = dir.join("loans.csv");
    std::fs::write(&path, s).unwrap();
    path
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The first of `n` consecutive ports free now, below the kernel's ephemeral range: ports
/// there are never handed out by `bind(0)` ([`free_port`]) or taken by outgoing connections,
/// which other tests running at the same time use. A run of ports in the ephemeral range could
/// be taken between this choice and its use (a replica of `scripts/replicas` then failed with
/// "Address already in use").
pub fn free_ports(n: u16) -> u16 {
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (10_000u16, ephemeral.saturating_sub(n).max(10_001));
    // A different start in every process and call: tests choosing at once rarely meet.
    let mut x = u64::from(std::process::id())
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos().into());
    for _ in 0..1000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let base = low + ((x >> 33) % u64::from(high - low)) as u16;
        let all_free = (base..base + n).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no {n} consecutive free ports between {low} and {high}");
}

/// One HTTP/1.1 request on a new connection: (status, headers and body as text).
pub fn http(port: u16, method: &str, path: &str, body: &str, rid: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-Id: {rid}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split(' ').nth(1)?.parse().ok()?;
    Some((status, out))
}

/// Reads a ready server's standard error to its end in a thread, so that a server writing more
/// than a pipe holds (64 KB) never blocks on its logs mid-request; the text when it exits.
pub fn drain_stderr(child: &mut Child) -> std::thread::JoinHandle<String> {
    let mut pipe = child.stderr.take();
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(p) = pipe.as_mut() {
            let mut bytes = Vec::new();
            let _ = p.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

pub fn wait_ready(port: u16, child: &mut Child) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        if let Some((200, _)) = http(port, "GET", "/readyz", "", "ready") {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("the server exited ({status}): {err}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server was not ready within 60 s");
}

/// Runs `e2e/SCRIPT` with Node.js (playwright-core and axe-core from `e2e/node_modules`,
/// Debian's Chromium), screenshots under `e2e/artifacts/ARTIFACTS`: its standard output, or
/// panics with its output when it fails. None (the check skipped) when Node.js, the packages
/// or Chromium are missing and the oracles are not required.
pub fn e2e(script: &str, args: &[&str], artifacts: &str) -> Option<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e");
    let chromium =
        std::env::var("RISKSCORE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let ready = node_ok
        && dir.join("node_modules/playwright-core").is_dir()
        && dir.join("node_modules/axe-core").is_dir()
        && Path::new(&chromium).is_file();
    if !ready {
        assert!(
            std::env::var("RISKSCORE_REQUIRE_ORACLES").as_deref() != Ok("1"),
            "Node.js, e2e/node_modules or {chromium} is missing but the oracles are required \
             (scripts/setup installs them)"
        );
        eprintln!("skipped: Node.js, e2e/node_modules or Chromium is missing");
        return None;
    }
    let o = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .env("RISKSCORE_CHROMIUM", &chromium)
        .env(
            "RISKSCORE_E2E_ARTIFACTS",
            dir.join("artifacts").join(artifacts),
        )
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{script}: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(out)
}
