//! Fixtures shared by the CLI test binaries.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

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
