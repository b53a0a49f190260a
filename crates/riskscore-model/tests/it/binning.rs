//! Issue 23, first step: the scorecard's pre-binning equals optbinning's (1.0.0, the CI oracle
//! in .venv-optbinning: `RISKSCORE_OPTBINNING_PYTHON`), split for split, on every numeric column
//! of the real sample's application table and of a synthetic one.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;
use riskscore_model::binning::{prebin_splits, Prebinning};

fn oracle() -> Option<std::path::PathBuf> {
    riskscore_testkit::oracle(
        "RISKSCORE_OPTBINNING_PYTHON",
        "a Python with optbinning (.venv-optbinning)",
    )
}

/// Compares every numeric column's pre-bin splits with optbinning's; the number of splits.
fn same_splits_as_optbinning(python: &Path, csv: &Path) -> usize {
    let script = riskscore_testkit::script("optbinning_oracle.py");
    let out = std::process::Command::new(python)
        .args([
            script.as_path(),
            csv,
            Path::new("TARGET"),
            Path::new("--exclude"),
            Path::new("SK_ID_CURR"),
        ])
        .output()
        .expect("oracle runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: BTreeMap<String, Vec<f64>> = serde_json::from_slice(&out.stdout).expect("json");
    let df = CsvReadOptions::default()
        .with_infer_schema_length(None)
        .try_into_reader_with_file_path(Some(csv.to_owned()))
        .expect("csv")
        .finish()
        .expect("read");
    let target = df
        .column("TARGET")
        .expect("target")
        .cast(&DataType::Float64)
        .expect("cast");
    let y: Vec<u8> = target
        .f64()
        .expect("f64")
        .into_no_null_iter()
        .map(|v| u8::from(v == 1.0))
        .collect();
    assert!(want.len() > 10, "{} numeric columns", want.len());
    let mut splits = 0;
    for (column, theirs) in &want {
        let values = df
            .column(column)
            .expect("column")
            .cast(&DataType::Float64)
            .expect("cast");
        let (mut x, mut t) = (Vec::new(), Vec::new());
        for (v, &outcome) in values.f64().expect("f64").iter().zip(&y) {
            if let Some(v) = v.filter(|v| !v.is_nan()) {
                x.push(v);
                t.push(outcome);
            }
        }
        let ours = prebin_splits(&x, &t, y.len(), &Prebinning::default());
        assert_eq!(
            &ours, theirs,
            "{column}: riskscore's pre-bin splits, then optbinning's"
        );
        splits += ours.len();
    }
    splits
}

#[test]
fn prebinning_equals_optbinning_on_the_real_application_table() {
    let Some(python) = oracle() else { return };
    let csv = riskscore_testkit::real_sample().join("application_train.csv");
    let splits = same_splits_as_optbinning(&python, &csv);
    assert!(splits > 300, "{splits} splits compared");
}

#[test]
fn prebinning_equals_optbinning_on_a_synthetic_application_table() {
    let Some(python) = oracle() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let config = riskscore_data::synth::SynthConfig {
        scale: 0.01,
        seed: 5,
        out: dir.path().to_owned(),
    };
    riskscore_data::synth::generate(&config, &|_, _| {}).expect("synth");
    let splits = same_splits_as_optbinning(&python, &dir.path().join("application_train.csv"));
    assert!(splits > 100, "{splits} splits compared");
}
