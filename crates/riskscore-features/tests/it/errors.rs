//! Bad input gets an error naming the file, line and column, never a panic.

use std::path::Path;

use polars::prelude::DataType;
use riskscore_data::Folder;
use riskscore_features::FeaturePipeline;

use crate::common::{edit, tiny_copy};

/// The error message of building features on a folder, with the folder shown as [DIR].
fn error_of(dir: &Path) -> String {
    let result = Folder::new(dir).map(|f| FeaturePipeline::fit_home_credit(&f));
    let message = match result {
        Err(e) => e.to_string(),
        Ok(Err(e)) => e.to_string(),
        Ok(Ok(_)) => panic!("bad input was accepted"),
    };
    message.replace(&dir.display().to_string(), "[DIR]")
}

#[test]
fn missing_column_is_named() {
    let dir = tiny_copy();
    edit(dir.path(), "bureau.csv", "CREDIT_DAY_OVERDUE,", "");
    insta::assert_snapshot!(error_of(dir.path()), @"[DIR]/bureau.csv: missing column(s) CREDIT_DAY_OVERDUE; expected the bureau columns");
}

#[test]
fn unparsable_number_names_line_and_column() {
    let dir = tiny_copy();
    edit(dir.path(), "bureau.csv", ",-300,", ",-3OO,");
    insta::assert_snapshot!(error_of(dir.path()), @r#"[DIR]/bureau.csv:3: column "DAYS_CREDIT": cannot parse "-3OO" as a number"#);
}

/// CRLF line ends (as Windows tools write) name the same line as LF ones (the `csv` crate's
/// own count was one short there).
#[test]
fn unparsable_number_in_a_crlf_file_names_its_line() {
    let dir = tiny_copy();
    let path = dir.path().join("bureau.csv");
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, text.replace('\n', "\r\n")).expect("write");
    edit(dir.path(), "bureau.csv", ",-300,", ",-3OO,");
    insta::assert_snapshot!(error_of(dir.path()), @r#"[DIR]/bureau.csv:3: column "DAYS_CREDIT": cannot parse "-3OO" as a number"#);
}

#[test]
fn ragged_line_is_reported() {
    let dir = tiny_copy();
    edit(
        dir.path(),
        "bureau_balance.csv",
        "5000001,-1,0",
        "5000001,-1,0,7",
    );
    insta::assert_snapshot!(error_of(dir.path()), @"[DIR]/bureau_balance.csv:3: found 4 fields, the header has 3");
}

#[test]
fn invalid_utf8_is_reported_with_its_place() {
    let dir = tiny_copy();
    let path = dir.path().join("bureau.csv");
    let mut bytes = std::fs::read(&path).expect("read");
    let at = bytes
        .windows(8)
        .position(|w| w == b"Car loan")
        .expect("Car loan in fixture");
    bytes[at + 1] = 0xE1; // a lone Latin-1 byte: not UTF-8
    std::fs::write(&path, bytes).expect("write");
    insta::assert_snapshot!(error_of(dir.path()), @r#"[DIR]/bureau.csv:4: column "CREDIT_TYPE": cannot parse "C�r loan" as UTF-8 text"#);
}

#[test]
fn duplicate_primary_key_is_refused() {
    let dir = tiny_copy();
    edit(
        dir.path(),
        "application_train.csv",
        "\n100002,",
        "\n100001,",
    );
    insta::assert_snapshot!(error_of(dir.path()), @"application_train: 1 duplicate value(s) of the key SK_ID_CURR, first 100001");
}

#[test]
fn missing_application_table() {
    let dir = tiny_copy();
    std::fs::remove_file(dir.path().join("application_train.csv")).expect("rm");
    // New applicants alone are a folder to score, not to fit on.
    insta::assert_snapshot!(error_of(dir.path()), @"fitting the features needs the application_train table (the applicants with their TARGET); a folder of application_test alone is scored with a fitted pipeline (riskscore predict, serve, features --pipeline)");
    std::fs::remove_file(dir.path().join("application_test.csv")).expect("rm");
    insta::assert_snapshot!(error_of(dir.path()), @"no application table in [DIR] (looked for application_train and application_test, .csv or .parquet)");
}

/// A fitted pipeline makes the features of a folder of new applicants alone (no
/// application_train) as it makes them beside the training applicants.
#[test]
fn new_applicants_alone_get_the_features_they_get_beside_the_training_ones() {
    let dir = tiny_copy();
    let whole = Folder::new(dir.path()).expect("folder");
    let (pipeline, all, _) = FeaturePipeline::fit_home_credit(&whole).expect("fit");
    std::fs::remove_file(dir.path().join("application_train.csv")).expect("rm");
    let new = pipeline
        .transform_home_credit(&Folder::new(dir.path()).expect("folder"))
        .expect("transform");
    assert!(new.height() > 0 && new.height() < all.height());
    let ids = |df: &polars::prelude::DataFrame| -> Vec<i64> {
        let c = df
            .column("SK_ID_CURR")
            .expect("id")
            .cast(&DataType::Int64)
            .expect("i64");
        c.i64().expect("i64").into_no_null_iter().collect()
    };
    let (all_ids, new_ids) = (ids(&all), ids(&new));
    let wanted: std::collections::HashSet<i64> = new_ids.iter().copied().collect();
    let rows: Vec<usize> = (0..all_ids.len())
        .filter(|&r| wanted.contains(&all_ids[r]))
        .collect();
    let same_ids: Vec<i64> = rows.iter().map(|&r| all_ids[r]).collect();
    assert_eq!(same_ids, new_ids, "the applicants in the same order");
    let values = |df: &polars::prelude::DataFrame, name: &str| -> Vec<f64> {
        let c = df
            .column(name)
            .expect("col")
            .cast(&DataType::Float64)
            .expect("f64");
        c.f64()
            .expect("f64")
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect()
    };
    for name in &pipeline.features {
        let (a, b) = (values(&all, name), values(&new, name));
        for (&r, &y) in rows.iter().zip(&b) {
            let x = a[r];
            assert!(
                x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                "{name}: {x} != {y}"
            );
        }
    }
}

#[test]
fn empty_file() {
    let dir = tiny_copy();
    std::fs::write(dir.path().join("previous_application.csv"), "").expect("write");
    insta::assert_snapshot!(error_of(dir.path()), @"[DIR]/previous_application.csv: the file is empty (no header line)");
}

#[test]
fn optional_tables_may_be_absent() {
    let dir = tiny_copy();
    for t in [
        "bureau_balance.csv",
        "credit_card_balance.csv",
        "application_test.csv",
    ] {
        std::fs::remove_file(dir.path().join(t)).expect("rm");
    }
    let folder = Folder::new(dir.path()).expect("folder");
    let (pipeline, df, _) = FeaturePipeline::fit_home_credit(&folder).expect("features");
    assert_eq!(df.height(), 3); // the training rows, 100003 (XNA gender) included
                                // Aggregates of absent tables exist (all missing); with no category seen, they have no
                                // one-hot columns, as pandas would make none.
    assert!(pipeline.features.contains(&"CC_COUNT".to_string()));
    assert!(pipeline
        .features
        .contains(&"BURO_MONTHS_BALANCE_SIZE_SUM".to_string()));
    let status: Vec<_> = pipeline
        .features
        .iter()
        .filter(|f| f.starts_with("BURO_STATUS_"))
        .collect();
    assert!(status.is_empty(), "{status:?}");
    assert!(!pipeline
        .features
        .iter()
        .any(|f| f.starts_with("CC_NAME_CONTRACT_STATUS")));
}

#[test]
fn column_dictionary_in_windows_1252() {
    let path = crate::common::real_sample().join("HomeCredit_columns_description.csv");
    let rows = riskscore_data::dictionary::read_dictionary(&path).expect("dictionary");
    assert_eq!(rows.len(), 219);
    let target = rows.iter().find(|r| r.column == "TARGET").expect("TARGET");
    assert!(target.description.starts_with("Target variable"));
    // The file is not UTF-8: at least one description has a Windows-1252 character decoded.
    assert!(rows.iter().any(|r| !r.description.is_ascii()));
}

/// Writes every table of the tiny fixture as Parquet (typed as the CSV reader types it).
fn tiny_as_parquet() -> tempfile::TempDir {
    use riskscore_data::{Table, TableSource};
    let csv = Folder::new(crate::common::tiny()).expect("fixture");
    let dir = tempfile::tempdir().expect("tmp");
    for table in Table::ALL {
        let mut df = csv.load(table).expect("load").expect("present");
        let path = dir.path().join(format!("{}.parquet", table.stem()));
        riskscore_features::write_parquet(&mut df, &path).expect("write");
    }
    dir
}

#[test]
fn parquet_input_gives_the_csv_features() {
    let dir = tiny_as_parquet();
    let from_parquet = FeaturePipeline::fit_home_credit(&Folder::new(dir.path()).expect("folder"))
        .expect("parquet features")
        .1;
    let from_csv =
        FeaturePipeline::fit_home_credit(&Folder::new(crate::common::tiny()).expect("csv"))
            .expect("csv features")
            .1;
    assert!(from_parquet.equals_missing(&from_csv));
}

#[test]
fn parquet_column_of_the_wrong_type_is_named() {
    use polars::prelude::*;
    let dir = tiny_as_parquet();
    let path = dir.path().join("bureau.parquet");
    let mut df = ParquetReader::new(std::fs::File::open(&path).expect("open"))
        .finish()
        .expect("read");
    let text = df
        .column("DAYS_CREDIT")
        .expect("col")
        .cast(&DataType::String)
        .expect("cast");
    df.with_column(text).expect("replace");
    riskscore_features::write_parquet(&mut df, &path).expect("write");
    insta::assert_snapshot!(error_of(dir.path()), @r#"[DIR]/bureau.parquet: column "DAYS_CREDIT" has type str, expected f64"#);
}
