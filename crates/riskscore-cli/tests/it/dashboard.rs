//! The dashboard end to end in Debian's Chromium: `e2e/dashboard.mjs` (playwright-core and
//! axe-core from npm, installed by `scripts/setup` into `e2e/node_modules`) against a served
//! model. Required when `RISKSCORE_REQUIRE_ORACLES=1`, else skipped when Node.js, the npm
//! packages or Chromium are missing. Screenshots go to `e2e/artifacts/`.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{free_port, loans_csv, wait_ready};

#[test]
fn the_dashboard_in_a_real_browser() {
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e");
    let chromium =
        std::env::var("RISKSCORE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let ready = node_ok
        && e2e.join("node_modules/playwright-core").is_dir()
        && e2e.join("node_modules/axe-core").is_dir()
        && Path::new(&chromium).is_file();
    if !ready {
        assert!(
            std::env::var("RISKSCORE_REQUIRE_ORACLES").as_deref() != Ok("1"),
            "Node.js, e2e/node_modules or {chromium} is missing but the oracles are required \
             (scripts/setup installs them)"
        );
        eprintln!("skipped: Node.js, e2e/node_modules or Chromium is missing");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let csv = loans_csv(dir.path(), 400);
    let model = dir.path().join("model");
    crate::common::train_loans_quickly(&csv, &model, "class_weight");
    let port = free_port();
    let mut server = crate::common::command()
        .args(["-q", "serve", "--model", model.to_str().unwrap()])
        .args(["--data", csv.to_str().unwrap()])
        .args(["--journal", dir.path().join("j.sqlite").to_str().unwrap()])
        .env("PORT", port.to_string())
        .env_remove("RISKSCORE_API_KEYS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(port, &mut server);
    let o = Command::new("node")
        .arg(e2e.join("dashboard.mjs"))
        .args([&format!("http://127.0.0.1:{port}"), "1010", "5"])
        .env("RISKSCORE_CHROMIUM", &chromium)
        .env("RISKSCORE_E2E_ARTIFACTS", e2e.join("artifacts"))
        .output()
        .unwrap();
    server.kill().unwrap();
    let _ = server.wait();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for check in [
        "= the API's",
        "axe on the client view",
        "searched with the keyboard only",
        "a what-if moves the probability",
        "the scatter plot highlights the client",
        "axe on the model view",
        "the model view states the honest estimate",
        "decisions monitored",
    ] {
        assert!(out.contains(check), "{out}");
    }
    assert!(e2e.join("artifacts/client.png").is_file());

    // The review page: keys set, every refusal queued, one reviewer.
    let port = free_port();
    let mut server = crate::common::command()
        .args(["-q", "serve", "--model", model.to_str().unwrap()])
        .args(["--data", csv.to_str().unwrap(), "--review-refusals"])
        .args([
            "--journal",
            dir.path().join("reviews.sqlite").to_str().unwrap(),
        ])
        .env("PORT", port.to_string())
        .env("RISKSCORE_API_KEYS", "service-e2e")
        .env("RISKSCORE_REVIEWERS", "carol=carol-key")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(port, &mut server);
    let ids: Vec<String> = (1000..1040).map(|i| i.to_string()).collect();
    let o = Command::new("node")
        .arg(e2e.join("review.mjs"))
        .args([
            &format!("http://127.0.0.1:{port}"),
            "service-e2e",
            "carol-key",
            "carol",
        ])
        .arg(ids.join(","))
        .env("RISKSCORE_CHROMIUM", &chromium)
        .env("RISKSCORE_E2E_ARTIFACTS", e2e.join("artifacts"))
        .output()
        .unwrap();
    server.kill().unwrap();
    let _ = server.wait();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for check in [
        "the queue lists the",
        "axe on the review queue",
        "an override without a reason is refused",
        "the journal holds carol's decision",
        "axe on the review page after a decision",
        "the model view shows the reviewer's override rate",
    ] {
        assert!(out.contains(check), "{out}");
    }
    let verdict = crate::common::command()
        .args(["journal", "verify", "--journal"])
        .arg(dir.path().join("reviews.sqlite"))
        .output()
        .unwrap();
    assert!(
        verdict.status.success(),
        "{}",
        String::from_utf8_lossy(&verdict.stderr)
    );
}
