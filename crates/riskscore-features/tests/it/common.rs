//! Fixtures and helpers shared by the tests.

use std::path::{Path, PathBuf};

use polars::prelude::*;

/// The hand-made Home Credit folder (see fixtures/tiny/README.md). Read only.
pub fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny")
}

pub use riskscore_testkit::real_sample;

/// A writable copy of the tiny fixture.
pub fn tiny_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(tiny()).expect("fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
    }
    dir
}

/// Edits one file of a fixture copy with a text replacement that must apply.
pub fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
}

/// The value of `column` on the row of applicant `id` (None when missing).
pub fn value(df: &DataFrame, id: i64, column: &str) -> Option<f64> {
    let ids = df.column("SK_ID_CURR").expect("id column");
    let row = (0..df.height())
        .find(|&i| ids.get(i).ok().and_then(|v| v.extract::<i64>()) == Some(id))
        .unwrap_or_else(|| panic!("no applicant {id}"));
    let col = df
        .column(column)
        .unwrap_or_else(|_| panic!("no column {column}"));
    col.get(row).expect("row").extract::<f64>()
}

/// The Python interpreter with pandas (RISKSCORE_PYTHON), if configured (the kit's rule: a
/// missing one fails under RISKSCORE_REQUIRE_ORACLES=1).
pub fn python() -> Option<PathBuf> {
    riskscore_testkit::oracle("RISKSCORE_PYTHON", "a python with pandas and pyarrow")
}

pub use riskscore_testkit::{repo_root, run_python};
