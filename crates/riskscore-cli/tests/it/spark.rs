//! Issue 24: `features --engine spark` on a real Spark (a local Spark Connect server,
//! scripts/start-spark; `RISKSCORE_TEST_SPARK`) gives the local engine's features: same
//! columns and types, same rows in the same order, values equal to 1e-9 relative, the same
//! fitted pipeline; train and predict read its output unchanged; its errors are clear.

use std::path::{Path, PathBuf};
use std::process::Output;

use polars::prelude::*;

use crate::common::{command, tiny, tiny_copy};

/// The Spark Connect server, or None (skipped) unless the oracles are required.
fn spark() -> Option<String> {
    riskscore_testkit::oracle(
        "RISKSCORE_TEST_SPARK",
        "a Spark Connect address (scripts/start-spark)",
    )
    .map(|p| p.to_string_lossy().into_owned())
}

fn riskscore(args: &[&str]) -> Output {
    command().args(args).output().expect("riskscore runs")
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

/// Builds the features of `data` on both engines (with `pipeline` applied when given) and
/// asserts they are equal; returns the Spark output (a folder of part files).
fn both_engines(remote: &str, data: &Path, dir: &Path, pipeline: Option<&Path>) -> PathBuf {
    let local = dir.join("local.parquet");
    let spark = dir.join("spark.parquet");
    let mut common: Vec<&str> = vec!["-q", "features", s(data)];
    if let Some(p) = pipeline {
        common.extend(["--pipeline", s(p)]);
    }
    let mut args = common.clone();
    args.extend(["--out", s(&local)]);
    ok(&riskscore(&args));
    let mut args = common;
    args.extend([
        "--out",
        s(&spark),
        "--engine",
        "spark",
        "--spark-remote",
        remote,
    ]);
    let said = ok(&riskscore(&args));
    assert!(said.contains("rows x"), "{said}");
    assert!(spark.is_dir(), "Spark writes a folder of part files");
    let ours = riskscore_model::input::read_parquet(&local).expect("local features");
    let theirs = riskscore_model::input::read_parquet(&spark).expect("Spark features");
    assert_same_features(&ours, &theirs);
    if pipeline.is_none() {
        let read = |p: &Path| -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(p).expect("pipeline")).expect("json")
        };
        assert_eq!(
            read(&dir.join("local.pipeline.json")),
            read(&dir.join("spark.pipeline.json")),
            "the fitted pipelines differ"
        );
    }
    spark
}

/// Same names, types, row count and values (missing where missing, infinite where infinite,
/// others within 1e-9 relative); prints the largest relative difference.
fn assert_same_features(ours: &DataFrame, theirs: &DataFrame) {
    let names = |df: &DataFrame| -> Vec<String> {
        df.get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect()
    };
    assert_eq!(names(ours), names(theirs), "column names or order differ");
    assert_eq!(ours.height(), theirs.height(), "row counts differ");
    let mut worst = (0.0f64, String::new());
    for (a, b) in ours.columns().iter().zip(theirs.columns()) {
        assert_eq!(a.dtype(), b.dtype(), "type of {}", a.name());
        let (x, y) = (
            a.cast(&DataType::Float64).expect("cast"),
            b.cast(&DataType::Float64).expect("cast"),
        );
        let (x, y) = (x.f64().expect("f64"), y.f64().expect("f64"));
        for (row, (p, q)) in x.iter().zip(y.iter()).enumerate() {
            let (p, q) = (p.filter(|v| !v.is_nan()), q.filter(|v| !v.is_nan()));
            match (p, q) {
                (None, None) => {}
                (Some(p), Some(q)) if p == q => {}
                (Some(p), Some(q)) => {
                    let rel = (p - q).abs() / p.abs().max(q.abs());
                    assert!(
                        rel <= 1e-9,
                        "{} row {row}: local {p:e}, Spark {q:e} (relative {rel:.2e})",
                        a.name()
                    );
                    if rel > worst.0 {
                        worst = (rel, a.name().to_string());
                    }
                }
                _ => panic!(
                    "{} row {row}: missing on one engine only (local {p:?}, Spark {q:?})",
                    a.name()
                ),
            }
        }
    }
    eprintln!(
        "{} rows x {} columns equal; largest relative difference {:.2e} ({})",
        ours.height(),
        ours.width(),
        worst.0,
        worst.1
    );
}

#[test]
fn spark_features_equal_the_local_engines_on_the_real_sample_and_train_reads_them() {
    let Some(remote) = spark() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let out = both_engines(&remote, &riskscore_testkit::real_sample(), dir.path(), None);
    // train and predict read Spark's folder as they read the local engine's file.
    let model = dir.path().join("model");
    ok(&riskscore(&[
        "-q",
        "train",
        "--data",
        s(&out),
        "--out",
        s(&model),
        "--folds",
        "3",
        "--trials",
        "0",
        "--bootstrap",
        "10",
        "--no-baseline",
        "--no-tracking",
        "--imbalance",
        "class_weight",
    ]));
    let scores = dir.path().join("scores.csv");
    ok(&riskscore(&[
        "-q",
        "predict",
        "--model",
        s(&model),
        "--data",
        s(&out),
        "--out",
        s(&scores),
    ]));
    let written = std::fs::read_to_string(&scores).expect("scores");
    assert_eq!(
        written.lines().count(),
        26_666 + 1,
        "one score per applicant"
    );
}

#[test]
fn spark_features_equal_the_local_engines_on_synthetic_data() {
    let Some(remote) = spark() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let config = riskscore_data::synth::SynthConfig {
        scale: 0.02,
        seed: 42,
        out: data.clone(),
    };
    riskscore_data::synth::generate(&config, &|_, _| {}).expect("synth");
    both_engines(&remote, &data, dir.path(), None);
}

/// A pipeline fitted on the real sample, applied by both engines to other tables (the tiny
/// fixture: categories the pipeline lacks, tables without some values).
#[test]
fn spark_applies_a_fitted_pipeline_as_the_local_engine() {
    let Some(remote) = spark() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let fitted = dir.path().join("fitted.parquet");
    ok(&riskscore(&[
        "-q",
        "features",
        s(&riskscore_testkit::real_sample()),
        "--out",
        s(&fitted),
    ]));
    let tiny = tiny();
    let applied = dir.path().join("applied");
    std::fs::create_dir(&applied).expect("dir");
    both_engines(
        &remote,
        &tiny,
        &applied,
        Some(&dir.path().join("fitted.pipeline.json")),
    );
}

#[test]
fn spark_errors_name_the_server_the_table_and_the_column() {
    let Some(remote) = spark() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("f.parquet");
    let tiny = tiny();
    let fails = |args: &[&str]| -> String {
        let o = riskscore(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        err
    };
    let on = |data: &Path, remote: &str| {
        fails(&[
            "features",
            s(data),
            "--out",
            s(&out),
            "--engine",
            "spark",
            "--spark-remote",
            remote,
        ])
    };
    // No server there.
    let err = on(&tiny, "sc://127.0.0.1:1");
    assert!(
        err.contains("cannot reach the Spark Connect server at sc://127.0.0.1:1"),
        "{err}"
    );
    // No application table.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("dir");
    let err = on(&empty, &remote);
    assert!(err.contains("no application_train table in"), "{err}");
    // A column of the layout missing from a history table.
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).expect("dir");
    tiny_copy(&broken);
    let bureau = broken.join("bureau.csv");
    let text = std::fs::read_to_string(&bureau).expect("bureau");
    let at = text
        .lines()
        .next()
        .and_then(|h| h.split(',').position(|c| c == "AMT_CREDIT_SUM_DEBT"))
        .expect("column");
    let cut: Vec<String> = text
        .lines()
        .map(|l| {
            let mut fields: Vec<&str> = l.split(',').collect();
            fields.remove(at);
            fields.join(",")
        })
        .collect();
    std::fs::write(&bureau, cut.join("\n") + "\n").expect("write");
    let err = on(&broken, &remote);
    assert!(
        err.contains("missing column(s) AMT_CREDIT_SUM_DEBT") && err.contains("bureau"),
        "{err}"
    );
    assert!(!out.exists(), "nothing written on an error");
}
