//! The scorecard's integration tests: the binning against optbinning, the SQL export in SQLite
//! and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod binning;
mod sql;

/// A synthetic Home Credit folder (scale 0.01, `seed`) and its application table.
fn synthetic_application(seed: u64) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tmp");
    let config = riskscore_data::synth::SynthConfig {
        scale: 0.01,
        seed,
        out: dir.path().to_owned(),
    };
    riskscore_data::synth::generate(&config, &|_, _| {}).expect("synth");
    let csv = dir.path().join("application_train.csv");
    (dir, csv)
}

/// A CSV read with every row used to infer the types.
fn read_csv(csv: &std::path::Path) -> polars::prelude::DataFrame {
    use polars::prelude::*;
    CsvReadOptions::default()
        .with_infer_schema_length(None)
        .try_into_reader_with_file_path(Some(csv.to_owned()))
        .expect("csv")
        .finish()
        .expect("read")
}
