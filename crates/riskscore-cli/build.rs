//! Records the git commit riskscore is built from (RISKSCORE_GIT_COMMIT), when there is one;
//! experiment tracking tags every run with it.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn main() {
    let commit = std::env::var("RISKSCORE_GIT_COMMIT")
        .ok()
        .or_else(|| git(&["rev-parse", "HEAD"]))
        .unwrap_or_default();
    println!("cargo:rustc-env=RISKSCORE_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-env-changed=RISKSCORE_GIT_COMMIT");
    println!("cargo:rerun-if-changed=build.rs");
    // Rebuilt when HEAD moves (the files exist only in a git checkout).
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let dir = std::path::PathBuf::from(dir);
        for f in ["HEAD"] {
            if dir.join(f).exists() {
                println!("cargo:rerun-if-changed={}", dir.join(f).display());
            }
        }
        if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
            let r = dir.join(head);
            if r.exists() {
                println!("cargo:rerun-if-changed={}", r.display());
            }
        }
    }
}
