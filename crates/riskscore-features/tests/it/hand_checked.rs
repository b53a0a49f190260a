//! Feature values on the tiny fixture, each worked out by hand in the comment beside it.

use riskscore_data::Folder;
use riskscore_features::FeaturePipeline;

use crate::common::{tiny, value};

fn features() -> polars::prelude::DataFrame {
    let folder = Folder::new(tiny()).expect("fixture folder");
    FeaturePipeline::fit_home_credit(&folder)
        .expect("features")
        .1
}

fn close(got: Option<f64>, want: f64) -> bool {
    got.is_some_and(|g| g == want || (g - want).abs() <= 1e-12 * want.abs().max(1.0))
}

macro_rules! check {
    ($df:expr, $id:expr, $( $col:literal => $want:expr ),+ $(,)?) => {
        $( {
            let got = value(&$df, $id, $col);
            let want: Option<f64> = $want;
            match want {
                Some(w) => assert!(close(got, w), "{} of {}: got {:?}, want {}", $col, $id, got, w),
                None => assert!(got.is_none(), "{} of {}: got {:?}, want missing", $col, $id, got),
            }
        } )+
    };
}

#[test]
fn rows_are_train_then_test_xna_included() {
    let df = features();
    let ids: Vec<i64> = df
        .column("SK_ID_CURR")
        .and_then(|c| c.i64().cloned())
        .expect("ids")
        .into_no_null_iter()
        .collect();
    // 100003 has CODE_GENDER = XNA: the kernel drops it, riskscore keeps every applicant.
    assert_eq!(ids, [100001, 100002, 100003, 100004]);
    check!(df, 100003, "CODE_GENDER" => Some(2.0)); // sorted {F, M, XNA}: XNA = 2
}

/// CODE_GENDER is protected by default: computed (kept beside the matrix) but not a model
/// input. Protecting age takes its ratio too; protecting a category takes its one-hot columns.
#[test]
fn protected_attributes_leave_the_model_inputs() {
    let folder = Folder::new(tiny()).expect("fixture folder");
    let (mut p, df, _) = FeaturePipeline::fit_home_credit(&folder).expect("features");
    assert_eq!(p.protected, ["CODE_GENDER"]);
    assert_eq!(p.audit, ["CODE_GENDER"]);
    assert!(!p.features.iter().any(|f| f == "CODE_GENDER"));
    assert!(df.column("CODE_GENDER").is_ok());
    let before = p.all_features();
    p.protect(&["DAYS_BIRTH".into(), "NAME_CONTRACT_TYPE".into()])
        .expect("protect");
    assert_eq!(
        p.audit,
        [
            "DAYS_BIRTH",
            "NAME_CONTRACT_TYPE_Cash loans",
            "NAME_CONTRACT_TYPE_Revolving loans",
            "DAYS_EMPLOYED_PERC"
        ]
    );
    assert!(p.features.iter().any(|f| f == "CODE_GENDER"));
    assert!(p.features.iter().any(|f| f == "DAYS_EMPLOYED"));
    assert_eq!(p.features.len() + p.audit.len(), before.len());
    assert_eq!(p.age_features(), ["DAYS_BIRTH", "DAYS_EMPLOYED_PERC"]);
    p.protect(&[]).expect("none");
    assert!(p.audit.is_empty() && p.features.len() == before.len());
    let err = p.protect(&["CODE_GENDR".into()]).unwrap_err().to_string();
    assert!(
        err.contains("CODE_GENDR") && err.contains("not an application column"),
        "{err}"
    );
    // Bureau columns are not application columns.
    assert!(p.protect(&["CREDIT_ACTIVE".into()]).is_err());
}

#[test]
fn application_ratios_and_codes() {
    let df = features();
    check!(df, 100001,
        "INCOME_CREDIT_PERC" => Some(0.25),      // 100000 / 400000
        "ANNUITY_INCOME_PERC" => Some(0.2),      // 20000 / 100000
        "PAYMENT_RATE" => Some(0.05),            // 20000 / 400000
        "DAYS_EMPLOYED_PERC" => Some(0.2),       // -2000 / -10000
        "INCOME_PER_PERSON" => Some(50000.0),    // 100000 / 2 members
        "CODE_GENDER" => Some(0.0),              // sorted {F, M}: F = 0
        "NAME_CONTRACT_TYPE_Cash loans" => Some(1.0),
        "NAME_CONTRACT_TYPE_Revolving loans" => Some(0.0),
        "TARGET" => Some(1.0),
    );
    check!(df, 100002,
        "DAYS_EMPLOYED" => None,                 // 365243 means "not employed"
        "DAYS_EMPLOYED_PERC" => None,
        "INCOME_CREDIT_PERC" => Some(f64::INFINITY), // 90000 / 0, as pandas divides
        "CODE_GENDER" => Some(1.0),              // M
        "FLAG_OWN_CAR" => Some(1.0),             // sorted {N, Y}: Y = 1
        "WALLSMATERIAL_MODE_Stone, brick" => Some(1.0), // quoted category with a comma
        "BURO_DAYS_CREDIT_MEAN" => None,         // no history at all
        "POS_COUNT" => None,
    );
    // NAME_TYPE_SUITE is empty in every row: pandas reads it as numbers, so it stays a
    // column (all missing) instead of one-hot columns.
    check!(df, 100001, "NAME_TYPE_SUITE" => None);
    check!(df, 100004, "TARGET" => None, "NAME_CONTRACT_TYPE_Revolving loans" => Some(1.0));
}

#[test]
fn bureau_and_balance_aggregates() {
    let df = features();
    check!(df, 100001,
        "BURO_DAYS_CREDIT_MIN" => Some(-300.0),
        "BURO_DAYS_CREDIT_MAX" => Some(-100.0),
        "BURO_DAYS_CREDIT_MEAN" => Some(-200.0),
        "BURO_DAYS_CREDIT_VAR" => Some(20000.0),          // (100² + 100²) / (2 - 1)
        "BURO_AMT_CREDIT_SUM_DEBT_SUM" => Some(600.0),
        "BURO_CREDIT_ACTIVE_Active_MEAN" => Some(0.5),
        "BURO_CREDIT_ACTIVE_nan_MEAN" => Some(0.0),
        "BURO_MONTHS_BALANCE_SIZE_MEAN" => Some(3.0),     // loan 2 has no balance: skipped
        "BURO_MONTHS_BALANCE_SIZE_SUM" => Some(3.0),
        "BURO_STATUS_0_MEAN_MEAN" => Some(2.0 / 3.0),     // statuses 0, 0, 1
        "BURO_STATUS_1_MEAN_MEAN" => Some(1.0 / 3.0),
        "BURO_STATUS_C_MEAN_MEAN" => Some(0.0),
        "ACTIVE_DAYS_CREDIT_MEAN" => Some(-100.0),
        "CLOSED_DAYS_CREDIT_MEAN" => Some(-300.0),
        "CLOSED_MONTHS_BALANCE_SIZE_SUM" => Some(0.0),    // pandas: a sum of nothing is 0
        "CLOSED_DAYS_CREDIT_VAR" => None,                 // one row: no sample variance
    );
    check!(df, 100004,
        "BURO_CREDIT_TYPE_Car loan_MEAN" => Some(1.0),
        "ACTIVE_DAYS_CREDIT_MEAN" => None,                // no active loan at all
        "BURO_STATUS_C_MEAN_MEAN" => Some(1.0),
    );
}

#[test]
fn previous_applications() {
    let df = features();
    check!(df, 100001,
        "PREV_APP_CREDIT_PERC_MIN" => Some(0.5),          // 100 / 200
        "PREV_APP_CREDIT_PERC_MAX" => Some(1.0),          // 300 / 300
        "PREV_APP_CREDIT_PERC_MEAN" => Some(0.75),
        "PREV_APP_CREDIT_PERC_VAR" => Some(0.125),        // (0.25² + 0.25²) / 1
        "APPROVED_APP_CREDIT_PERC_MEAN" => Some(0.5),
        "REFUSED_DAYS_DECISION_MIN" => Some(-100.0),
        "PREV_NAME_CONTRACT_STATUS_Refused_MEAN" => Some(0.5),
        "PREV_CODE_REJECT_REASON_HC_MEAN" => Some(0.5),
        "PREV_CNT_PAYMENT_SUM" => Some(12.0),             // the missing one is skipped
        "PREV_CNT_PAYMENT_MEAN" => Some(12.0),
    );
}

#[test]
fn pos_installments_and_cards() {
    let df = features();
    check!(df, 100001,
        "POS_MONTHS_BALANCE_MAX" => Some(-1.0),
        "POS_MONTHS_BALANCE_MEAN" => Some(-2.0),
        "POS_MONTHS_BALANCE_SIZE" => Some(3.0),
        "POS_SK_DPD_MAX" => Some(6.0),
        "POS_SK_DPD_MEAN" => Some(2.0),
        "POS_NAME_CONTRACT_STATUS_Active_MEAN" => Some(2.0 / 3.0),
        "POS_COUNT" => Some(3.0),
        // Instalments: due -30 paid -25 (5 days late), due -60 paid -70 (10 days early),
        // due -90 never paid (no date: DPD = DBD = 0, payment ratios missing).
        "INSTAL_DPD_MAX" => Some(5.0),
        "INSTAL_DPD_MEAN" => Some(5.0 / 3.0),
        "INSTAL_DBD_SUM" => Some(10.0),
        "INSTAL_PAYMENT_PERC_MEAN" => Some(0.75),         // 500/1000 and 1000/1000
        "INSTAL_PAYMENT_PERC_VAR" => Some(0.125),
        "INSTAL_PAYMENT_DIFF_MEAN" => Some(250.0),
        "INSTAL_PAYMENT_DIFF_VAR" => Some(125000.0),
        "INSTAL_NUM_INSTALMENT_VERSION_NUNIQUE" => Some(2.0),
        "INSTAL_AMT_PAYMENT_MIN" => Some(500.0),
        "INSTAL_AMT_PAYMENT_SUM" => Some(1500.0),
        "INSTAL_DAYS_ENTRY_PAYMENT_SUM" => Some(-95.0),
        "INSTAL_COUNT" => Some(3.0),
        "CC_COUNT" => None,
    );
    check!(df, 100004,
        "CC_AMT_BALANCE_MEAN" => Some(1000.0),
        "CC_AMT_BALANCE_VAR" => Some(500000.0),           // (500² + 500²) / 1
        "CC_NAME_CONTRACT_STATUS_Completed_SUM" => Some(1.0),
        "CC_NAME_CONTRACT_STATUS_nan_MAX" => Some(0.0),
        "CC_COUNT" => Some(2.0),
    );
}

#[test]
fn orphan_keys_are_reported() {
    let folder = Folder::new(tiny()).expect("fixture folder");
    let (_, _, report) = FeaturePipeline::fit_home_credit(&folder).expect("features");
    // Both card rows point at SK_ID_PREV 1000003, which has no previous application. The
    // bureau loan of 100003 (CODE_GENDER = XNA) has its application.
    assert_eq!(
        report.orphans,
        [(
            "credit_card_balance".to_string(),
            "SK_ID_PREV".to_string(),
            2
        )]
    );
}
