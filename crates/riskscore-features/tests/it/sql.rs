//! The SQL engine's query (`home_credit::sql`, run on Spark by `features --engine spark`) is
//! generated from the local engine's description: it must give the local engine's columns, in
//! its order, for every vocabulary. (Its values are compared on a real Spark by the CLI's
//! `spark` tests.)

use riskscore_data::Folder;
use riskscore_features::home_credit::sql;
use riskscore_features::{FeaturePipeline, Layout};

use crate::common::{real_sample, tiny};

#[test]
fn the_sql_query_gives_the_local_engines_columns_in_order() {
    for data in [tiny(), real_sample()] {
        let folder = Folder::new(&data).expect("folder");
        let (pipeline, df, _) = FeaturePipeline::fit_home_credit(&folder).expect("features");
        let Layout::HomeCredit { vocabularies } = &pipeline.layout else {
            panic!("a Home Credit pipeline")
        };
        let query = sql::feature_query(vocabularies).expect("query");
        let local: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(query.columns, local, "{}", data.display());
        // Applying the pipeline selects its columns, in its order.
        let text = query
            .selecting(&pipeline.column_names())
            .expect("the pipeline's columns");
        assert!(text.contains("ORDER BY"));
    }
}

#[test]
fn a_pipeline_column_the_query_lacks_is_named() {
    let folder = Folder::new(tiny()).expect("folder");
    let (pipeline, _, _) = FeaturePipeline::fit_home_credit(&folder).expect("features");
    let Layout::HomeCredit { vocabularies } = &pipeline.layout else {
        panic!("a Home Credit pipeline")
    };
    let query = sql::feature_query(vocabularies).expect("query");
    let err = query
        .selecting(&["SK_ID_CURR".into(), "NOT_A_FEATURE".into()])
        .expect_err("unknown column");
    assert!(err.to_string().contains("\"NOT_A_FEATURE\""), "{err}");
}

#[test]
fn a_table_missing_a_column_of_the_layout_is_named() {
    let present = vec!["SK_ID_CURR".to_owned(), "SK_ID_BUREAU".to_owned()];
    let err = sql::typed_table(
        riskscore_data::Table::Bureau,
        "raw_bureau",
        &present,
        "s3a://lake/bureau.csv",
    )
    .expect_err("columns missing");
    let text = err.to_string();
    assert!(
        text.starts_with("s3a://lake/bureau.csv: missing column(s) CREDIT_ACTIVE"),
        "{text}"
    );
}

#[test]
fn derived_values_read_columns_of_their_table() {
    use riskscore_data::Table;
    use riskscore_features::home_credit::value_of;
    for (table, name) in [
        (Table::PreviousApplication, "APP_CREDIT_PERC"),
        (Table::InstallmentsPayments, "DPD"),
        (Table::InstallmentsPayments, "DBD"),
        (Table::InstallmentsPayments, "PAYMENT_PERC"),
        (Table::InstallmentsPayments, "PAYMENT_DIFF"),
    ] {
        let value = value_of(table, name);
        for input in value.inputs().into_iter().flatten() {
            assert!(
                table.columns().iter().any(|(c, _)| *c == input),
                "{name} reads {input}, not a column of {table}"
            );
        }
        assert_ne!(value, riskscore_features::home_credit::Value::Column(name));
    }
    // Kernel semantics: x if x > 0 else 0, a missing difference included.
    let dpd = value_of(Table::InstallmentsPayments, "DPD");
    assert_eq!(dpd.eval(10.0, 4.0), 6.0);
    assert_eq!(dpd.eval(4.0, 10.0), 0.0);
    assert_eq!(dpd.eval(f64::NAN, 10.0), 0.0);
    let ratio = value_of(Table::PreviousApplication, "APP_CREDIT_PERC");
    assert_eq!(ratio.eval(1.0, 0.0), f64::INFINITY);
    assert!(ratio.eval(0.0, 0.0).is_nan());
}
