//! Column lists of the seven Home Credit tables, in the order of the Kaggle files.
//! A table of definitions: `Id` keys are integers, `Num` columns are read as 64-bit floats,
//! `Cat` columns are strings (one-hot encoded by the feature pipeline).

use crate::schema::Kind::{self, Cat, Id, Num};

pub(crate) const APPLICATION_TRAIN: &[(&str, Kind)] = &[
    ("SK_ID_CURR", Id),
    ("TARGET", Num),
    ("NAME_CONTRACT_TYPE", Cat),
    ("CODE_GENDER", Cat),
    ("FLAG_OWN_CAR", Cat),
    ("FLAG_OWN_REALTY", Cat),
    ("CNT_CHILDREN", Num),
    ("AMT_INCOME_TOTAL", Num),
    ("AMT_CREDIT", Num),
    ("AMT_ANNUITY", Num),
    ("AMT_GOODS_PRICE", Num),
    ("NAME_TYPE_SUITE", Cat),
    ("NAME_INCOME_TYPE", Cat),
    ("NAME_EDUCATION_TYPE", Cat),
    ("NAME_FAMILY_STATUS", Cat),
    ("NAME_HOUSING_TYPE", Cat),
    ("REGION_POPULATION_RELATIVE", Num),
    ("DAYS_BIRTH", Num),
    ("DAYS_EMPLOYED", Num),
    ("DAYS_REGISTRATION", Num),
    ("DAYS_ID_PUBLISH", Num),
    ("OWN_CAR_AGE", Num),
    ("FLAG_MOBIL", Num),
    ("FLAG_EMP_PHONE", Num),
    ("FLAG_WORK_PHONE", Num),
    ("FLAG_CONT_MOBILE", Num),
    ("FLAG_PHONE", Num),
    ("FLAG_EMAIL", Num),
    ("OCCUPATION_TYPE", Cat),
    ("CNT_FAM_MEMBERS", Num),
    ("REGION_RATING_CLIENT", Num),
    ("REGION_RATING_CLIENT_W_CITY", Num),
    ("WEEKDAY_APPR_PROCESS_START", Cat),
    ("HOUR_APPR_PROCESS_START", Num),
    ("REG_REGION_NOT_LIVE_REGION", Num),
    ("REG_REGION_NOT_WORK_REGION", Num),
    ("LIVE_REGION_NOT_WORK_REGION", Num),
    ("REG_CITY_NOT_LIVE_CITY", Num),
    ("REG_CITY_NOT_WORK_CITY", Num),
    ("LIVE_CITY_NOT_WORK_CITY", Num),
    ("ORGANIZATION_TYPE", Cat),
    ("EXT_SOURCE_1", Num),
    ("EXT_SOURCE_2", Num),
    ("EXT_SOURCE_3", Num),
    ("APARTMENTS_AVG", Num),
    ("BASEMENTAREA_AVG", Num),
    ("YEARS_BEGINEXPLUATATION_AVG", Num),
    ("YEARS_BUILD_AVG", Num),
    ("COMMONAREA_AVG", Num),
    ("ELEVATORS_AVG", Num),
    ("ENTRANCES_AVG", Num),
    ("FLOORSMAX_AVG", Num),
    ("FLOORSMIN_AVG", Num),
    ("LANDAREA_AVG", Num),
    ("LIVINGAPARTMENTS_AVG", Num),
    ("LIVINGAREA_AVG", Num),
    ("NONLIVINGAPARTMENTS_AVG", Num),
    ("NONLIVINGAREA_AVG", Num),
    ("APARTMENTS_MODE", Num),
    ("BASEMENTAREA_MODE", Num),
    ("YEARS_BEGINEXPLUATATION_MODE", Num),
    ("YEARS_BUILD_MODE", Num),
    ("COMMONAREA_MODE", Num),
    ("ELEVATORS_MODE", Num),
    ("ENTRANCES_MODE", Num),
    ("FLOORSMAX_MODE", Num),
    ("FLOORSMIN_MODE", Num),
    ("LANDAREA_MODE", Num),
    ("LIVINGAPARTMENTS_MODE", Num),
    ("LIVINGAREA_MODE", Num),
    ("NONLIVINGAPARTMENTS_MODE", Num),
    ("NONLIVINGAREA_MODE", Num),
    ("APARTMENTS_MEDI", Num),
    ("BASEMENTAREA_MEDI", Num),
    ("YEARS_BEGINEXPLUATATION_MEDI", Num),
    ("YEARS_BUILD_MEDI", Num),
    ("COMMONAREA_MEDI", Num),
    ("ELEVATORS_MEDI", Num),
    ("ENTRANCES_MEDI", Num),
    ("FLOORSMAX_MEDI", Num),
    ("FLOORSMIN_MEDI", Num),
    ("LANDAREA_MEDI", Num),
    ("LIVINGAPARTMENTS_MEDI", Num),
    ("LIVINGAREA_MEDI", Num),
    ("NONLIVINGAPARTMENTS_MEDI", Num),
    ("NONLIVINGAREA_MEDI", Num),
    ("FONDKAPREMONT_MODE", Cat),
    ("HOUSETYPE_MODE", Cat),
    ("TOTALAREA_MODE", Num),
    ("WALLSMATERIAL_MODE", Cat),
    ("EMERGENCYSTATE_MODE", Cat),
    ("OBS_30_CNT_SOCIAL_CIRCLE", Num),
    ("DEF_30_CNT_SOCIAL_CIRCLE", Num),
    ("OBS_60_CNT_SOCIAL_CIRCLE", Num),
    ("DEF_60_CNT_SOCIAL_CIRCLE", Num),
    ("DAYS_LAST_PHONE_CHANGE", Num),
    ("FLAG_DOCUMENT_2", Num),
    ("FLAG_DOCUMENT_3", Num),
    ("FLAG_DOCUMENT_4", Num),
    ("FLAG_DOCUMENT_5", Num),
    ("FLAG_DOCUMENT_6", Num),
    ("FLAG_DOCUMENT_7", Num),
    ("FLAG_DOCUMENT_8", Num),
    ("FLAG_DOCUMENT_9", Num),
    ("FLAG_DOCUMENT_10", Num),
    ("FLAG_DOCUMENT_11", Num),
    ("FLAG_DOCUMENT_12", Num),
    ("FLAG_DOCUMENT_13", Num),
    ("FLAG_DOCUMENT_14", Num),
    ("FLAG_DOCUMENT_15", Num),
    ("FLAG_DOCUMENT_16", Num),
    ("FLAG_DOCUMENT_17", Num),
    ("FLAG_DOCUMENT_18", Num),
    ("FLAG_DOCUMENT_19", Num),
    ("FLAG_DOCUMENT_20", Num),
    ("FLAG_DOCUMENT_21", Num),
    ("AMT_REQ_CREDIT_BUREAU_HOUR", Num),
    ("AMT_REQ_CREDIT_BUREAU_DAY", Num),
    ("AMT_REQ_CREDIT_BUREAU_WEEK", Num),
    ("AMT_REQ_CREDIT_BUREAU_MON", Num),
    ("AMT_REQ_CREDIT_BUREAU_QRT", Num),
    ("AMT_REQ_CREDIT_BUREAU_YEAR", Num),
];

/// `application_test` is `application_train` without its target (second column).
pub(crate) const APPLICATION_TEST: &[(&str, Kind)] = &without_target();

const TEST_WIDTH: usize = APPLICATION_TRAIN.len() - 1;

const fn without_target() -> [(&'static str, Kind); TEST_WIDTH] {
    let mut out = [("", Id); TEST_WIDTH];
    let (mut i, mut j) = (0, 0);
    while i < APPLICATION_TRAIN.len() {
        if i != TARGET_AT {
            out[j] = APPLICATION_TRAIN[i];
            j += 1;
        }
        i += 1;
    }
    out
}

/// Where `TARGET` stands in `application_train` (checked by a test).
const TARGET_AT: usize = 1;

pub(crate) const BUREAU: &[(&str, Kind)] = &[
    ("SK_ID_CURR", Id),
    ("SK_ID_BUREAU", Id),
    ("CREDIT_ACTIVE", Cat),
    ("CREDIT_CURRENCY", Cat),
    ("DAYS_CREDIT", Num),
    ("CREDIT_DAY_OVERDUE", Num),
    ("DAYS_CREDIT_ENDDATE", Num),
    ("DAYS_ENDDATE_FACT", Num),
    ("AMT_CREDIT_MAX_OVERDUE", Num),
    ("CNT_CREDIT_PROLONG", Num),
    ("AMT_CREDIT_SUM", Num),
    ("AMT_CREDIT_SUM_DEBT", Num),
    ("AMT_CREDIT_SUM_LIMIT", Num),
    ("AMT_CREDIT_SUM_OVERDUE", Num),
    ("CREDIT_TYPE", Cat),
    ("DAYS_CREDIT_UPDATE", Num),
    ("AMT_ANNUITY", Num),
];

pub(crate) const BUREAU_BALANCE: &[(&str, Kind)] = &[
    ("SK_ID_BUREAU", Id),
    ("MONTHS_BALANCE", Num),
    ("STATUS", Cat),
];

pub(crate) const PREVIOUS_APPLICATION: &[(&str, Kind)] = &[
    ("SK_ID_PREV", Id),
    ("SK_ID_CURR", Id),
    ("NAME_CONTRACT_TYPE", Cat),
    ("AMT_ANNUITY", Num),
    ("AMT_APPLICATION", Num),
    ("AMT_CREDIT", Num),
    ("AMT_DOWN_PAYMENT", Num),
    ("AMT_GOODS_PRICE", Num),
    ("WEEKDAY_APPR_PROCESS_START", Cat),
    ("HOUR_APPR_PROCESS_START", Num),
    ("FLAG_LAST_APPL_PER_CONTRACT", Cat),
    ("NFLAG_LAST_APPL_IN_DAY", Num),
    ("RATE_DOWN_PAYMENT", Num),
    ("RATE_INTEREST_PRIMARY", Num),
    ("RATE_INTEREST_PRIVILEGED", Num),
    ("NAME_CASH_LOAN_PURPOSE", Cat),
    ("NAME_CONTRACT_STATUS", Cat),
    ("DAYS_DECISION", Num),
    ("NAME_PAYMENT_TYPE", Cat),
    ("CODE_REJECT_REASON", Cat),
    ("NAME_TYPE_SUITE", Cat),
    ("NAME_CLIENT_TYPE", Cat),
    ("NAME_GOODS_CATEGORY", Cat),
    ("NAME_PORTFOLIO", Cat),
    ("NAME_PRODUCT_TYPE", Cat),
    ("CHANNEL_TYPE", Cat),
    ("SELLERPLACE_AREA", Num),
    ("NAME_SELLER_INDUSTRY", Cat),
    ("CNT_PAYMENT", Num),
    ("NAME_YIELD_GROUP", Cat),
    ("PRODUCT_COMBINATION", Cat),
    ("DAYS_FIRST_DRAWING", Num),
    ("DAYS_FIRST_DUE", Num),
    ("DAYS_LAST_DUE_1ST_VERSION", Num),
    ("DAYS_LAST_DUE", Num),
    ("DAYS_TERMINATION", Num),
    ("NFLAG_INSURED_ON_APPROVAL", Num),
];

pub(crate) const POS_CASH_BALANCE: &[(&str, Kind)] = &[
    ("SK_ID_PREV", Id),
    ("SK_ID_CURR", Id),
    ("MONTHS_BALANCE", Num),
    ("CNT_INSTALMENT", Num),
    ("CNT_INSTALMENT_FUTURE", Num),
    ("NAME_CONTRACT_STATUS", Cat),
    ("SK_DPD", Num),
    ("SK_DPD_DEF", Num),
];

pub(crate) const INSTALLMENTS_PAYMENTS: &[(&str, Kind)] = &[
    ("SK_ID_PREV", Id),
    ("SK_ID_CURR", Id),
    ("NUM_INSTALMENT_VERSION", Num),
    ("NUM_INSTALMENT_NUMBER", Num),
    ("DAYS_INSTALMENT", Num),
    ("DAYS_ENTRY_PAYMENT", Num),
    ("AMT_INSTALMENT", Num),
    ("AMT_PAYMENT", Num),
];

pub(crate) const CREDIT_CARD_BALANCE: &[(&str, Kind)] = &[
    ("SK_ID_PREV", Id),
    ("SK_ID_CURR", Id),
    ("MONTHS_BALANCE", Num),
    ("AMT_BALANCE", Num),
    ("AMT_CREDIT_LIMIT_ACTUAL", Num),
    ("AMT_DRAWINGS_ATM_CURRENT", Num),
    ("AMT_DRAWINGS_CURRENT", Num),
    ("AMT_DRAWINGS_OTHER_CURRENT", Num),
    ("AMT_DRAWINGS_POS_CURRENT", Num),
    ("AMT_INST_MIN_REGULARITY", Num),
    ("AMT_PAYMENT_CURRENT", Num),
    ("AMT_PAYMENT_TOTAL_CURRENT", Num),
    ("AMT_RECEIVABLE_PRINCIPAL", Num),
    ("AMT_RECIVABLE", Num),
    ("AMT_TOTAL_RECEIVABLE", Num),
    ("CNT_DRAWINGS_ATM_CURRENT", Num),
    ("CNT_DRAWINGS_CURRENT", Num),
    ("CNT_DRAWINGS_OTHER_CURRENT", Num),
    ("CNT_DRAWINGS_POS_CURRENT", Num),
    ("CNT_INSTALMENT_MATURE_CUM", Num),
    ("NAME_CONTRACT_STATUS", Cat),
    ("SK_DPD", Num),
    ("SK_DPD_DEF", Num),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_table_is_the_train_table_without_its_target() {
        assert_eq!(APPLICATION_TRAIN[TARGET_AT].0, "TARGET");
        assert_eq!(APPLICATION_TEST.len(), 121);
        assert!(APPLICATION_TEST.iter().all(|(n, _)| *n != "TARGET"));
        assert_eq!(APPLICATION_TEST[0], ("SK_ID_CURR", Id));
        assert_eq!(APPLICATION_TEST[1], ("NAME_CONTRACT_TYPE", Cat));
    }
}
