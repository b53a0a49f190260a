//! Parity with the pandas peer (../shared/bench/fe_pandas.py): same names, order and values.

use std::path::Path;

use riskscore_data::Folder;
use riskscore_features::{write_parquet, FeaturePipeline};

use crate::common::{python, real_sample, repo_root, run_python, tiny};

fn check_parity(data: &Path) {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let ours = dir.path().join("ours.parquet");
    let peer = dir.path().join("peer.parquet");
    let folder = Folder::new(data).expect("folder");
    let (_, mut df, _) = FeaturePipeline::fit_home_credit(&folder).expect("features");
    write_parquet(&mut df, &ours).expect("write");
    let fe = repo_root().join("../shared/bench/fe_pandas.py");
    run_python(&python, &[&fe, data, &peer]);
    let compare = repo_root().join("scripts/compare_features.py");
    let out = run_python(
        &python,
        &[&compare, &ours, &peer, Path::new("--data"), data],
    );
    assert!(out.contains("0 problem(s)"), "{out}");
}

#[test]
fn parity_with_pandas_on_the_real_sample() {
    check_parity(&real_sample());
}

#[test]
fn parity_with_pandas_on_the_tiny_fixture() {
    check_parity(&tiny());
}

#[test]
fn parity_with_pandas_on_synthetic_data() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = riskscore_data::synth::SynthConfig {
        scale: 0.002,
        seed: 7,
        out: dir.path().to_owned(),
    };
    riskscore_data::synth::generate(&config, &|_, _| {}).expect("synth");
    check_parity(dir.path());
}

/// The synthetic generator puts part of the risk in the history tables only: a model that
/// reads every table must beat one that reads the application alone (Python LightGBM, 3-fold
/// cross-validation, scripts/check_synth_signal.py).
#[test]
fn synthetic_history_tables_carry_signal() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let config = riskscore_data::synth::SynthConfig {
        scale: 0.03,
        seed: 11,
        out: data.clone(),
    };
    riskscore_data::synth::generate(&config, &|_, _| {}).expect("synth");
    let features = dir.path().join("f.parquet");
    let (_, mut df, _) =
        FeaturePipeline::fit_home_credit(&Folder::new(&data).expect("folder")).expect("features");
    write_parquet(&mut df, &features).expect("write");
    let script = repo_root().join("scripts/check_synth_signal.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .arg(&features)
        .args(["--folds", "3", "--rounds", "120", "--min-gain", "0.02"])
        .output()
        .expect("python runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("all tables"), "{text}");
}

/// The matrix streamed to Parquet (each column encoded as soon as it is final) is the matrix
/// built in memory, for fitting and for applying a fitted pipeline.
#[test]
fn streamed_parquet_equals_the_matrix_in_memory() {
    use polars::prelude::*;
    let folder = Folder::new(real_sample()).expect("folder");
    let (fitted, whole, _) = FeaturePipeline::fit_home_credit(&folder).expect("features");
    let dir = tempfile::tempdir().expect("tmp");
    let read = |path: &std::path::Path| {
        ParquetReader::new(std::fs::File::open(path).expect("open"))
            .finish()
            .expect("read")
    };
    let path = dir.path().join("fit.parquet");
    let (streamed, rows, _) =
        FeaturePipeline::fit_home_credit_to_parquet(&folder, &path).expect("write");
    assert_eq!(streamed, fitted);
    assert_eq!(rows, 26_666);
    let back = read(&path);
    assert_eq!(back.height(), 26_666);
    assert!(back.equals_missing(&whole));

    let path = dir.path().join("transform.parquet");
    let rows = fitted
        .transform_home_credit_to_parquet(&folder, &path)
        .expect("write");
    assert_eq!(rows, 26_666);
    // A fitted pipeline's output puts the protected columns after the model inputs.
    let back = read(&path);
    let names = back.get_column_names_owned();
    assert_eq!(names.last().map(|n| n.as_str()), Some("CODE_GENDER"));
    assert!(back.equals_missing(&whole.select(names).expect("same columns")));
}

/// The same tables as Parquet files give the same matrix as the CSV files (the CSV reader is
/// the streaming one, Parquet files are loaded whole).
#[test]
fn parquet_tables_give_the_csv_features() {
    use polars::prelude::*;
    use riskscore_data::TableSource;
    let csv = Folder::new(real_sample()).expect("folder");
    let (_, from_csv, _) = FeaturePipeline::fit_home_credit(&csv).expect("features");
    let dir = tempfile::tempdir().expect("tmp");
    for table in riskscore_data::Table::ALL {
        let Some(mut df) = csv.load(table).expect("load") else {
            continue;
        };
        let file = std::fs::File::create(dir.path().join(format!("{}.parquet", table.stem())))
            .expect("create");
        ParquetWriter::new(file).finish(&mut df).expect("write");
    }
    let parquet = Folder::new(dir.path()).expect("folder");
    let (_, from_parquet, _) = FeaturePipeline::fit_home_credit(&parquet).expect("features");
    assert!(from_parquet.equals_missing(&from_csv));
}
