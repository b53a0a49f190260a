//! The scorecard's binning against optbinning 1.0.0 (the CI oracle in .venv-optbinning:
//! `RISKSCORE_OPTBINNING_PYTHON`) on every column of the real sample's application table and of
//! a synthetic one: the pre-binning split for split, then `OptimalBinning` with its defaults
//! (numerical and categorical, a special code) bin for bin, with the same counts, WoE and IV.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;
use riskscore_scorecard::prebin::{prebin_splits, Prebinning};
use riskscore_scorecard::{Binning, BinningOptions, Bins};

fn oracle() -> Option<std::path::PathBuf> {
    riskscore_testkit::oracle(
        "RISKSCORE_OPTBINNING_PYTHON",
        "a Python with optbinning (.venv-optbinning)",
    )
}

/// Compares every numeric column's pre-bin splits with optbinning's; the number of splits.
fn same_splits_as_optbinning(python: &Path, csv: &Path) -> usize {
    let out = run_oracle(python, csv, &[]);
    let want: BTreeMap<String, Vec<f64>> = serde_json::from_slice(&out).expect("json");
    let df = crate::read_csv(csv);
    let y = outcomes(&df);
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
    let (_dir, csv) = crate::synthetic_application(5);
    let splits = same_splits_as_optbinning(&python, &csv);
    assert!(splits > 100, "{splits} splits compared");
}

/// The oracle's optimal binning of one column.
#[derive(serde::Deserialize)]
struct Theirs {
    dtype: String,
    splits: serde_json::Value,
    non_events: Vec<u64>,
    events: Vec<u64>,
    woe: Vec<f64>,
    iv: f64,
}

#[derive(serde::Deserialize)]
struct OptimalOracle {
    seconds: f64,
    columns: BTreeMap<String, Theirs>,
}

/// Bins every column of `csv` as optbinning's `OptimalBinning` does and compares: the same
/// splits (then the same counts and WoE), or, where the solvers chose different optima among
/// ties, an information value within 1 %. Returns (columns, equal splits, seconds of
/// optbinning, seconds of riskscore).
fn same_binning_as_optbinning(
    python: &Path,
    csv: &Path,
    special: &[(&str, f64)],
) -> (usize, usize, f64, f64) {
    let special_arg: Vec<String> = special.iter().map(|(c, v)| format!("{c}={v}")).collect();
    let special_arg = special_arg.join(",");
    let out = run_oracle(python, csv, &["--optimal", "--special", &special_arg]);
    let oracle: OptimalOracle = serde_json::from_slice(&out).expect("json");
    let df = crate::read_csv(csv);
    let y = outcomes(&df);
    let start = std::time::Instant::now();
    let mut ours = BTreeMap::new();
    for column in oracle.columns.keys() {
        let s = df
            .column(column)
            .expect("column")
            .as_materialized_series()
            .clone();
        let b = if s.dtype().is_primitive_numeric() {
            let options = BinningOptions {
                special: special
                    .iter()
                    .filter(|(c, _)| c == column)
                    .map(|(_, v)| *v)
                    .collect(),
                ..Default::default()
            };
            let x: Vec<f64> = s
                .cast(&DataType::Float64)
                .expect("cast")
                .f64()
                .expect("f64")
                .iter()
                .map(|v| v.unwrap_or(f64::NAN))
                .collect();
            Binning::numeric(column, &x, &y, &options)
        } else {
            let text = s.str().expect("text");
            let x: Vec<Option<&str>> = text.iter().collect();
            Binning::categorical(column, &x, &y, &BinningOptions::default())
        };
        ours.insert(column.clone(), b.expect("binning"));
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut equal = 0;
    for (column, theirs) in &oracle.columns {
        let b = &ours[column];
        let same = match &b.bins {
            Bins::Numeric { splits, .. } => {
                assert_eq!(theirs.dtype, "numerical", "{column}");
                serde_json::to_value(splits).expect("json") == theirs.splits
            }
            Bins::Categorical { groups } => {
                // Within a bin, categories of equal event rate may come in either order
                // (NumPy's quicksort is not stable): compare each bin as a set.
                assert_eq!(theirs.dtype, "categorical", "{column}");
                let theirs: Vec<Vec<String>> =
                    serde_json::from_value(theirs.splits.clone()).expect("groups");
                let sorted = |g: &[Vec<String>]| -> Vec<Vec<String>> {
                    g.iter()
                        .map(|b| {
                            let mut b = b.clone();
                            b.sort();
                            b
                        })
                        .collect()
                };
                sorted(groups) == sorted(&theirs)
            }
        };
        if same {
            equal += 1;
            let non: Vec<u64> = b.table.iter().map(|r| r.non_events).collect();
            let ev: Vec<u64> = b.table.iter().map(|r| r.events).collect();
            assert_eq!(non, theirs.non_events, "{column}: non-events per row");
            assert_eq!(ev, theirs.events, "{column}: events per row");
            for (row, (a, w)) in b.table.iter().zip(&theirs.woe).enumerate() {
                assert!(
                    (a.woe - w).abs() <= 1e-12 * w.abs().max(1.0),
                    "{column} row {row}: WoE {} vs {w}",
                    a.woe
                );
            }
            assert!(
                (b.iv - theirs.iv).abs() <= 1e-12 * theirs.iv.max(1.0),
                "{column}: IV {} vs {}",
                b.iv,
                theirs.iv
            );
        } else {
            let gap = (b.iv - theirs.iv).abs() / theirs.iv.max(1e-12);
            eprintln!(
                "{column}: other splits than optbinning's, IV {} vs {} ({:.4} %)",
                b.iv,
                theirs.iv,
                100.0 * gap
            );
            assert!(
                gap <= 0.01,
                "{column}: riskscore's IV {} is not within 1 % of optbinning's {}: {:?} vs {}",
                b.iv,
                theirs.iv,
                b.bins,
                theirs.splits
            );
        }
    }
    (oracle.columns.len(), equal, oracle.seconds, seconds)
}

/// The oracle's JSON on `csv` (target `TARGET`, the id excluded) with `extra` arguments.
fn run_oracle(python: &Path, csv: &Path, extra: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(python)
        .arg(riskscore_testkit::script("optbinning_oracle.py"))
        .arg(csv)
        .args(["TARGET", "--exclude", "SK_ID_CURR"])
        .args(extra)
        .output()
        .expect("oracle runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    out.stdout
}

fn outcomes(df: &DataFrame) -> Vec<u8> {
    let target = df
        .column("TARGET")
        .expect("target")
        .cast(&DataType::Float64)
        .expect("cast");
    target
        .f64()
        .expect("f64")
        .into_no_null_iter()
        .map(|v| u8::from(v == 1.0))
        .collect()
}

#[test]
fn optimal_binning_equals_optbinning_on_the_real_application_table() {
    let Some(python) = oracle() else { return };
    let csv = riskscore_testkit::real_sample().join("application_train.csv");
    let (columns, equal, theirs, ours) =
        same_binning_as_optbinning(&python, &csv, &[("DAYS_EMPLOYED", 365243.0)]);
    eprintln!("{columns} columns, {equal} with optbinning's splits; optbinning {theirs:.2} s, riskscore {ours:.2} s");
    assert!(columns > 110, "{columns} columns");
    assert!(
        equal * 100 >= columns * 95,
        "{equal} of {columns} columns with optbinning's splits"
    );
}

#[test]
fn optimal_binning_equals_optbinning_on_a_synthetic_application_table() {
    let Some(python) = oracle() else { return };
    let (_dir, csv) = crate::synthetic_application(7);
    let (columns, equal, _, _) = same_binning_as_optbinning(&python, &csv, &[]);
    assert!(
        equal * 100 >= columns * 95,
        "{equal} of {columns} columns with optbinning's splits"
    );
}
