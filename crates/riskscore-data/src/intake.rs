//! What a lender's intake checks on a new Home Credit application before any decision: the
//! fields every application row carries, and the domain of each numeric field.
//!
//! Required fields are those present in every row of the real `application_train` and
//! `application_test` files that describe the applicant and the loan asked for; the documents'
//! flags, the building averages and the external scores are optional. `CODE_GENDER` is carried by
//! every row but is not required: sex is a prohibited basis for credit decisions (ECOA /
//! Regulation B), so an application without it is not refused at intake.
//!
//! The domain rules follow the column dictionary: amounts are positive (and below 10^12, no
//! currency's loan is larger); `DAYS_*` count days before the application, so they are at most
//! zero, except `DAYS_EMPLOYED`'s documented code 365243 ("not employed"); the applicant is
//! 18 to 100 years old; counts are not negative; flags are 0 or 1; normalised scores lie in
//! [0, 1]; the application's hour lies in 0..=23.

use crate::schema::DAYS_MISSING_CODE;

/// Fields a posted application must carry (Home Credit layout).
pub const REQUIRED: &[&str] = &[
    "SK_ID_CURR",
    "NAME_CONTRACT_TYPE",
    "FLAG_OWN_CAR",
    "FLAG_OWN_REALTY",
    "CNT_CHILDREN",
    "AMT_INCOME_TOTAL",
    "AMT_CREDIT",
    "NAME_INCOME_TYPE",
    "NAME_EDUCATION_TYPE",
    "NAME_FAMILY_STATUS",
    "NAME_HOUSING_TYPE",
    "REGION_POPULATION_RELATIVE",
    "DAYS_BIRTH",
    "DAYS_EMPLOYED",
    "DAYS_REGISTRATION",
    "DAYS_ID_PUBLISH",
    "REGION_RATING_CLIENT",
    "REGION_RATING_CLIENT_W_CITY",
    "ORGANIZATION_TYPE",
];

/// Days in a year, for ages given in days.
const YEAR: f64 = 365.25;

/// One field's domain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// A money amount: > 0 and <= 10^12.
    Amount,
    /// Days before the application: <= 0.
    DaysBefore,
    /// Days before the application, or the 365243 code.
    DaysOrCode,
    /// The applicant's age in days before the application: 18 to 100 years.
    Age,
    /// The applicant's age in years (a single table's `--age`): 18 to 100.
    AgeYears,
    /// A count: >= 0.
    Count,
    /// A flag: 0 or 1.
    Flag,
    /// A normalised score or share: 0 to 1.
    Unit,
    /// An hour of the day: 0 to 23.
    Hour,
}

/// A rule's domain: an interval of finite values, or a list of them, and possibly one code
/// allowed besides. The intake checks it and the API's JSON Schema states it (one source).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Domain {
    /// The least value, and whether it is itself excluded.
    pub min: Option<(f64, bool)>,
    pub max: Option<f64>,
    /// The only values allowed, when the domain is a list.
    pub only: Option<&'static [f64]>,
    /// A code allowed outside the interval.
    pub code: Option<f64>,
}

impl Domain {
    const ANY: Domain = Domain {
        min: None,
        max: None,
        only: None,
        code: None,
    };

    /// Whether `v` lies in the domain (never when it is not finite).
    pub fn holds(&self, v: f64) -> bool {
        if !v.is_finite() {
            return false;
        }
        if self.code == Some(v) {
            return true;
        }
        if let Some(only) = self.only {
            return only.contains(&v);
        }
        let above = match self.min {
            None => true,
            Some((m, true)) => v > m,
            Some((m, false)) => v >= m,
        };
        above && self.max.is_none_or(|m| v <= m)
    }
}

impl Rule {
    /// The values the rule admits.
    pub fn domain(self) -> Domain {
        let any = Domain::ANY;
        match self {
            Rule::Amount => Domain {
                min: Some((0.0, true)),
                max: Some(1e12),
                ..any
            },
            Rule::DaysBefore => Domain {
                max: Some(0.0),
                ..any
            },
            Rule::DaysOrCode => Domain {
                max: Some(0.0),
                code: Some(DAYS_MISSING_CODE),
                ..any
            },
            Rule::Age => Domain {
                min: Some((-100.0 * YEAR, false)),
                max: Some(-18.0 * YEAR),
                ..any
            },
            Rule::AgeYears => Domain {
                min: Some((18.0, false)),
                max: Some(100.0),
                ..any
            },
            Rule::Count => Domain {
                min: Some((0.0, false)),
                ..any
            },
            Rule::Flag => Domain {
                only: Some(&[0.0, 1.0]),
                ..any
            },
            Rule::Unit => Domain {
                min: Some((0.0, false)),
                max: Some(1.0),
                ..any
            },
            Rule::Hour => Domain {
                min: Some((0.0, false)),
                max: Some(23.0),
                ..any
            },
        }
    }

    /// The rule a value breaks, in words, or None when it holds.
    pub fn broken_by(self, v: f64) -> Option<&'static str> {
        (!self.domain().holds(v)).then_some(self.words())
    }

    fn words(self) -> &'static str {
        match self {
            Rule::Amount => "an amount must be greater than 0 and at most 1e12",
            Rule::DaysBefore => "days before the application must be 0 or negative",
            Rule::DaysOrCode => {
                "days before the application must be 0 or negative (or 365243: not employed)"
            }
            Rule::Age => {
                "the applicant must be 18 to 100 years old (DAYS_BIRTH from -36525 to -6574.5)"
            }
            Rule::AgeYears => "the applicant must be 18 to 100 years old",
            Rule::Count => "a count must be 0 or more",
            Rule::Flag => "a flag must be 0 or 1",
            Rule::Unit => "must lie between 0 and 1",
            Rule::Hour => "an hour must lie between 0 and 23",
        }
    }
}

/// The domain rule of an application column, if it has one.
pub fn rule_of(column: &str) -> Option<Rule> {
    let rule = match column {
        "DAYS_BIRTH" => Rule::Age,
        "DAYS_EMPLOYED" => Rule::DaysOrCode,
        "HOUR_APPR_PROCESS_START" => Rule::Hour,
        "REGION_POPULATION_RELATIVE" => Rule::Unit,
        c if c.starts_with("AMT_REQ_CREDIT_BUREAU") => Rule::Count,
        c if c.starts_with("AMT_") => Rule::Amount,
        c if c.starts_with("DAYS_") => Rule::DaysBefore,
        c if c.starts_with("EXT_SOURCE_") => Rule::Unit,
        c if c.starts_with("FLAG_") => Rule::Flag,
        c if c.starts_with("REG_") || c.starts_with("LIVE_") => Rule::Flag,
        c if c.starts_with("CNT_") || c.starts_with("OBS_") || c.starts_with("DEF_") => Rule::Count,
        "OWN_CAR_AGE" => Rule::Count,
        _ => return None,
    };
    Some(rule)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Table;

    #[test]
    fn every_required_field_is_an_application_column() {
        for f in REQUIRED {
            assert!(Table::ApplicationTest.kind_of(f).is_some(), "{f}");
        }
    }

    #[test]
    fn rules_hold_on_typical_values_and_break_on_the_issue_cases() {
        // An income of -5, an income of 1e308, born 5000 days in the future.
        assert!(rule_of("AMT_INCOME_TOTAL")
            .unwrap()
            .broken_by(-5.0)
            .is_some());
        assert!(rule_of("AMT_INCOME_TOTAL")
            .unwrap()
            .broken_by(1e308)
            .is_some());
        assert!(rule_of("DAYS_BIRTH").unwrap().broken_by(5000.0).is_some());
        assert!(rule_of("AMT_INCOME_TOTAL")
            .unwrap()
            .broken_by(202_500.0)
            .is_none());
        assert!(rule_of("DAYS_BIRTH").unwrap().broken_by(-9461.0).is_none());
        // 17 and 101 years old are refused, 18 and 100 accepted.
        let age = rule_of("DAYS_BIRTH").unwrap();
        assert!(age.broken_by(-17.0 * 365.25).is_some());
        assert!(age.broken_by(-101.0 * 365.25).is_some());
        assert!(age.broken_by(-18.0 * 365.25).is_none());
        assert!(age.broken_by(-100.0 * 365.25).is_none());
        let employed = rule_of("DAYS_EMPLOYED").unwrap();
        assert!(employed.broken_by(365_243.0).is_none());
        assert!(employed.broken_by(10.0).is_some());
        assert_eq!(rule_of("AMT_REQ_CREDIT_BUREAU_YEAR"), Some(Rule::Count));
        assert_eq!(rule_of("FLAG_DOCUMENT_3"), Some(Rule::Flag));
        assert_eq!(rule_of("NAME_CONTRACT_TYPE"), None);
        assert!(Rule::Count.broken_by(f64::NAN).is_some());
    }
}
