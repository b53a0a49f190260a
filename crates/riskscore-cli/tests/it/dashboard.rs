//! The dashboard end to end in Debian's Chromium: `e2e/dashboard.mjs` and `e2e/review.mjs`
//! (playwright-core and axe-core from npm, installed by `scripts/setup` into
//! `e2e/node_modules`) against a served model. Required when `RISKSCORE_REQUIRE_ORACLES=1`,
//! else skipped when Node.js, the npm packages or Chromium are missing. Screenshots go to
//! `e2e/artifacts/`.

use std::path::Path;
use std::process::{Child, Stdio};

use crate::common::{e2e, free_port, loans_csv, wait_ready};

/// A served model, stopped when dropped (a failed check included).
struct Served {
    child: Child,
    port: u16,
}

impl Served {
    fn start(
        model: &Path,
        csv: &Path,
        journal: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Served {
        let port = free_port();
        let mut c = crate::common::command();
        c.args(["-q", "serve", "--model", model.to_str().unwrap()])
            .args(["--data", csv.to_str().unwrap()])
            .args(["--journal", journal.to_str().unwrap()])
            .args(extra)
            .env("PORT", port.to_string())
            .env_remove("RISKSCORE_API_KEYS")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().unwrap();
        wait_ready(port, &mut child);
        // Read, so that a chatty server never blocks on a full pipe while the browser waits.
        drop(crate::common::drain_stderr(&mut child));
        Served { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_dashboard_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let csv = loans_csv(dir.path(), 400);
    let model = dir.path().join("model");
    crate::common::train_loans_quickly(&csv, &model, "class_weight");
    let served = Served::start(&model, &csv, &dir.path().join("j.sqlite"), &[], &[]);
    let Some(out) = e2e("dashboard.mjs", &[&served.url(), "1010", "5"], "") else {
        return;
    };
    for check in [
        "= the API's",
        "axe on the client view",
        "searched with the keyboard only",
        "a what-if moves the probability",
        "the scatter plot highlights the client",
        "axe on the model view",
        "the model view states the estimate for new applicants: AUC on new applicants (nested, honest)",
        "decisions monitored",
    ] {
        assert!(out.contains(check), "{out}");
    }
    drop(served);

    // The review page: keys set, every refusal queued, one reviewer.
    let journal = dir.path().join("reviews.sqlite");
    let served = Served::start(
        &model,
        &csv,
        &journal,
        &["--review-refusals"],
        &[
            ("RISKSCORE_API_KEYS", "service-e2e"),
            ("RISKSCORE_REVIEWERS", "carol=carol-key"),
        ],
    );
    let ids: Vec<String> = (1000..1040).map(|i| i.to_string()).collect();
    let out = e2e(
        "review.mjs",
        &[
            &served.url(),
            "service-e2e",
            "carol-key",
            "carol",
            &ids.join(","),
        ],
        "",
    )
    .unwrap();
    for check in [
        "the queue lists the",
        "axe on the review queue",
        "axe on the opened review",
        "an override without a reason is refused",
        "the journal holds carol's decision",
        "axe on the review page after a decision",
        "the model view shows the reviewer's override rate",
    ] {
        assert!(out.contains(check), "{out}");
    }
    drop(served);
    let verdict = crate::common::command()
        .args(["journal", "verify", "--journal"])
        .arg(&journal)
        .output()
        .unwrap();
    assert!(
        verdict.status.success(),
        "{}",
        String::from_utf8_lossy(&verdict.stderr)
    );
}
