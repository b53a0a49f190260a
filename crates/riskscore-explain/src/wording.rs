//! How a feature is named to a client: a reviewed, versioned wording file (see
//! `wording/home_credit.csv`), not code. An aggregated feature is worded from its parts:
//! `INSTAL_DPD_MAX` is "maximum" + "days past due" + "on previous instalments"; a one-hot
//! feature `NAME_INCOME_TYPE_Working` is "income type is Working".

use crate::{Error, Result};

/// The wording shipped with riskscore for the Home Credit feature set.
pub const HOME_CREDIT: &str = include_str!("../wording/home_credit.csv");

/// The version of a single table's wording: its column names as written, but for the Home
/// Credit columns the shipped wording names.
pub const SINGLE_TABLE: &str = "single-table 1 (the columns as named in the training table; \
     Home Credit's as its wording names them)";

#[derive(Debug, Clone, Default)]
pub struct Wording {
    pub version: String,
    tables: Vec<(String, String)>,
    aggregates: Vec<(String, String)>,
    columns: Vec<(String, String)>,
    features: Vec<(String, String)>,
    units: Vec<(String, String)>,
}

/// How a feature's value is shown to an applicant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count of days before the application: years and months.
    Days,
    /// A ratio: a percentage.
    Ratio,
    /// A sum of money: whole units with thousands separators.
    Amount,
    /// The mean of a one-hot column over records: the share of them, a percentage.
    Share,
    /// A one-hot column of the application: yes or no.
    Flag,
    /// A plain number.
    Number,
}

impl Wording {
    pub fn parse(text: &str) -> Result<Self> {
        let mut w = Wording::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if let Some(v) = line.strip_prefix("# version:") {
                w.version = v.trim().to_string();
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() || line == "kind,key,text" {
                continue;
            }
            let mut parts = line.splitn(3, ',');
            let (Some(kind), Some(key), Some(text)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(Error::Model(format!(
                    "wording line {}: expected kind,key,text",
                    n + 1
                )));
            };
            let entry = (key.to_string(), text.trim_matches('"').to_string());
            match kind {
                "table" => w.tables.push(entry),
                "aggregate" => w.aggregates.push(entry),
                "column" => w.columns.push(entry),
                "feature" => w.features.push(entry),
                "unit" => {
                    if !["days", "ratio", "amount"].contains(&entry.1.as_str()) {
                        return Err(Error::Model(format!(
                            "wording line {}: unit {:?} is not one of days, ratio, amount",
                            n + 1,
                            entry.1
                        )));
                    }
                    w.units.push(entry);
                }
                other => {
                    return Err(Error::Model(format!(
                        "wording line {}: unknown kind {other:?}",
                        n + 1
                    )))
                }
            }
        }
        if w.version.is_empty() {
            return Err(Error::Model("wording file has no '# version:' line".into()));
        }
        Ok(w)
    }

    /// The wording shipped in the binary; an error (never empty words) if it does not parse.
    pub fn home_credit() -> Result<Self> {
        Self::parse(HOME_CREDIT)
            .map_err(|e| Error::Model(format!("the embedded Home Credit wording file: {e}")))
    }

    /// The wording of a model's features: the shipped Home Credit file for the Home Credit
    /// layout; for a single table, its columns as the lender named them, a one-hot feature
    /// `region_north` worded "region is north" and shown yes or no (not "region north: 1").
    pub fn for_pipeline(pipeline: &riskscore_features::FeaturePipeline) -> Result<Self> {
        match &pipeline.layout {
            riskscore_features::pipeline::Layout::HomeCredit { .. } => Self::home_credit(),
            riskscore_features::pipeline::Layout::Generic(spec) => Self::single_table(spec),
        }
    }

    /// A single table's wording: every column used, named as in the table, but for the columns
    /// the Home Credit wording names and shows in their units (`application_train.csv` read as
    /// one table is worded as the Home Credit layout); no table prefixes nor aggregate
    /// suffixes, which a single table does not have.
    pub fn single_table(spec: &riskscore_features::GenericSpec) -> Result<Self> {
        let mut w = Self::home_credit()?;
        w.version = SINGLE_TABLE.into();
        w.tables.clear();
        w.aggregates.clear();
        w.features.clear();
        for c in spec
            .numeric
            .iter()
            .chain(spec.categorical.iter().map(|(c, _)| c))
        {
            if !w.columns.iter().any(|(k, _)| k == c) {
                w.columns.push((c.clone(), c.clone()));
            }
        }
        Ok(w)
    }

    /// The words for a feature. The mean of a one-hot column over records is a share:
    /// `PREV_NAME_CONTRACT_STATUS_Refused_MEAN` is "share of previous applications where status
    /// of the previous application is Refused".
    pub fn describe(&self, feature: &str) -> String {
        if let Some((_, t)) = self.features.iter().find(|(k, _)| k == feature) {
            return t.clone();
        }
        if self.unit(feature) == Unit::Share {
            let (_, column) = self.parts(feature);
            let records = longest(&self.tables, |k| feature.starts_with(k))
                .map(|(_, t)| t.split_once(' ').map_or(t.as_str(), |(_, rest)| rest))
                .unwrap_or("records");
            return format!("share of {records} where {}", self.column(column));
        }
        let mut rest = feature;
        let table = longest(&self.tables, |k| rest.starts_with(k));
        if let Some((k, _)) = table {
            rest = &rest[k.len()..];
        }
        let mut aggs = Vec::new();
        // Nested aggregates (BURO_MONTHS_BALANCE_SIZE_MEAN): peel suffixes from the end.
        while let Some((k, t)) = longest(&self.aggregates, |k| {
            rest.ends_with(k) && rest.len() > k.len()
        }) {
            aggs.push(t.as_str());
            rest = &rest[..rest.len() - k.len()];
        }
        let column = self.column(rest);
        let mut words = String::new();
        for a in &aggs {
            words.push_str(a);
            words.push(' ');
        }
        words.push_str(&column);
        if let Some((_, t)) = table {
            words.push(' ');
            words.push_str(t);
        }
        words
    }

    /// A feature split into its table prefix, its aggregates (outermost first) and its column.
    fn parts<'f>(&self, feature: &'f str) -> (Vec<&str>, &'f str) {
        let mut rest = feature;
        if let Some((k, _)) = longest(&self.tables, |k| rest.starts_with(k)) {
            rest = &rest[k.len()..];
        }
        let mut aggs = Vec::new();
        while let Some((k, _)) = longest(&self.aggregates, |k| {
            rest.ends_with(k) && rest.len() > k.len()
        }) {
            aggs.push(k.as_str());
            rest = &rest[..rest.len() - k.len()];
        }
        (aggs, rest)
    }

    /// Whether `column` is a one-hot column (`COLUMN_value`) of a column the file knows.
    fn one_hot(&self, column: &str) -> bool {
        !self.columns.iter().any(|(k, _)| k == column)
            && longest(&self.columns, |k| {
                column.len() > k.len() + 1
                    && column.starts_with(k)
                    && column.as_bytes()[k.len()] == b'_'
            })
            .is_some()
    }

    /// How a feature's value is shown to an applicant (the `unit` lines of the file, applied
    /// to the feature's column; a variance, a count or a sum of days is a plain number).
    pub fn unit(&self, feature: &str) -> Unit {
        let whole = self.features.iter().any(|(k, _)| k == feature);
        let (aggs, column) = if whole {
            (Vec::new(), feature)
        } else {
            self.parts(feature)
        };
        if self.one_hot(column) {
            return match aggs.as_slice() {
                [] => Unit::Flag,
                ["_MEAN"] => Unit::Share,
                _ => Unit::Number,
            };
        }
        let found = self
            .units
            .iter()
            .find(|(k, _)| k == column)
            .or_else(|| {
                longest(&self.units, |k| {
                    (k.starts_with('_') && column.ends_with(k))
                        || (k.ends_with('_') && column.starts_with(k))
                })
            })
            .map(|(_, u)| u.as_str());
        let plain = aggs.iter().all(|a| ["_MIN", "_MAX", "_MEAN"].contains(a));
        match found {
            Some("days") if plain => Unit::Days,
            Some("ratio") if plain => Unit::Ratio,
            Some("amount") if plain || aggs == ["_SUM"] => Unit::Amount,
            _ => Unit::Number,
        }
    }

    /// A feature's value as an applicant reads it: days in years and months, ratios and shares
    /// as percentages, amounts with thousands separators, one-hot columns as yes or no.
    pub fn show(&self, feature: &str, value: Option<f64>) -> String {
        let Some(v) = value else {
            return "not known".into();
        };
        match self.unit(feature) {
            Unit::Days => duration(v.abs()),
            Unit::Ratio => format!("{:.1} %", 100.0 * v),
            Unit::Share => format!("{:.0} %", 100.0 * v),
            Unit::Amount => thousands(v),
            Unit::Flag => if v == 1.0 { "yes" } else { "no" }.into(),
            Unit::Number => number(v),
        }
    }

    fn column(&self, name: &str) -> String {
        if let Some((_, t)) = self.columns.iter().find(|(k, _)| k == name) {
            return t.clone();
        }
        // One-hot: the longest known column followed by _value.
        if let Some((k, t)) = longest(&self.columns, |k| {
            name.len() > k.len() + 1 && name.starts_with(k) && name.as_bytes()[k.len()] == b'_'
        }) {
            return format!("{t} is {}", &name[k.len() + 1..]);
        }
        name.to_lowercase().replace('_', " ")
    }
}

/// A number of days as years and months ("37 years and 2 months", "5 months", "12 days").
fn duration(days: f64) -> String {
    if !days.is_finite() {
        return number(days);
    }
    use riskscore_model::fairness::DAYS_PER_YEAR;
    let years = (days / DAYS_PER_YEAR).floor();
    let months = ((days - years * DAYS_PER_YEAR) / (DAYS_PER_YEAR / 12.0)).floor();
    let plural = |n: f64, one: &str| {
        if n == 1.0 {
            format!("1 {one}")
        } else {
            format!("{n:.0} {one}s")
        }
    };
    match (years > 0.0, months > 0.0) {
        (true, true) => format!("{} and {}", plural(years, "year"), plural(months, "month")),
        (true, false) => plural(years, "year"),
        (false, true) => plural(months, "month"),
        (false, false) => plural(days.round(), "day"),
    }
}

/// A sum of money: rounded to whole units, thousands separated by commas.
fn thousands(v: f64) -> String {
    if !v.is_finite() || v.abs() >= 1e15 {
        return number(v);
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 && digits != "0" {
        out.insert(0, '-');
    }
    out
}

/// A plain number: whole when it is, else three decimals.
pub fn number(v: f64) -> String {
    if (v.fract() == 0.0 && v.abs() < 1e15) || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

fn longest(
    entries: &[(String, String)],
    matches: impl Fn(&str) -> bool,
) -> Option<&(String, String)> {
    entries
        .iter()
        .filter(|(k, _)| matches(k))
        .max_by_key(|(k, _)| k.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_features_are_worded_from_their_parts() {
        let w = Wording::home_credit().unwrap();
        assert_eq!(w.version, "2");
        assert_eq!(
            w.describe("INSTAL_DPD_MAX"),
            "maximum days past due on previous instalments"
        );
        assert_eq!(w.describe("EXT_SOURCE_2"), "external credit score 2");
        assert_eq!(
            w.describe("NAME_INCOME_TYPE_Working"),
            "income type is Working"
        );
        assert_eq!(
            w.describe("BURO_CREDIT_ACTIVE_Active_MEAN"),
            "share of credit bureau records where credit status is Active"
        );
        assert_eq!(
            w.describe("ACTIVE_AMT_CREDIT_SUM_DEBT_SUM"),
            "total current debt in active credit bureau loans"
        );
        assert_eq!(
            w.describe("POS_COUNT"),
            "number of previous point-of-sale and cash loan records"
        );
        // Not in the file: the name, readable.
        assert_eq!(w.describe("SOME_NEW_FLAG"), "some new flag");
    }

    /// Values as an applicant reads them: no day counts, ratios as percentages.
    #[test]
    fn values_are_shown_in_the_applicants_units() {
        let w = Wording::home_credit().unwrap();
        assert_eq!(w.describe("DAYS_BIRTH"), "age");
        assert_eq!(w.show("DAYS_BIRTH", Some(-13572.0)), "37 years and 1 month");
        assert_eq!(w.show("DAYS_EMPLOYED", Some(-400.0)), "1 year and 1 month");
        assert_eq!(w.show("DAYS_EMPLOYED", Some(-61.0)), "2 months");
        assert_eq!(w.show("DAYS_LAST_PHONE_CHANGE", Some(-3.0)), "3 days");
        assert_eq!(w.show("BURO_DAYS_CREDIT_MEAN", Some(-730.5)), "2 years");
        assert_eq!(w.unit("BURO_DAYS_CREDIT_VAR"), Unit::Number);
        assert_eq!(w.show("PAYMENT_RATE", Some(0.05)), "5.0 %");
        assert_eq!(w.show("DAYS_EMPLOYED_PERC", Some(0.2)), "20.0 %");
        assert_eq!(w.show("INSTAL_PAYMENT_PERC_MEAN", Some(0.875)), "87.5 %");
        assert_eq!(w.show("AMT_INCOME_TOTAL", Some(1234567.4)), "1,234,567");
        assert_eq!(
            w.show("ACTIVE_AMT_CREDIT_SUM_DEBT_SUM", Some(-950.0)),
            "-950"
        );
        assert_eq!(w.show("NAME_INCOME_TYPE_Working", Some(1.0)), "yes");
        assert_eq!(
            w.show("PREV_NAME_CONTRACT_STATUS_Refused_MEAN", Some(0.4)),
            "40 %"
        );
        assert_eq!(
            w.describe("PREV_NAME_CONTRACT_STATUS_Refused_MEAN"),
            "share of previous applications where status of the previous application is Refused"
        );
        assert_eq!(w.show("EXT_SOURCE_2", Some(0.2345)), "0.234");
        assert_eq!(w.show("CNT_CHILDREN", Some(2.0)), "2");
        assert_eq!(w.show("AMT_CREDIT", None), "not known");
    }

    /// A single table's columns as the lender named them: a one-hot feature is the column
    /// "is" the value, shown yes or no; Home Credit's table prefixes and aggregate suffixes do
    /// not apply (a column `balance_MEAN` is that column, not an average).
    #[test]
    fn a_single_tables_columns_are_worded_as_named() {
        let spec = riskscore_features::GenericSpec {
            id: "Loan ID".into(),
            target: "Défaut".into(),
            integer_id: true,
            numeric: vec!["Monthly income (€)".into(), "balance_MEAN".into()],
            categorical: vec![
                (
                    "Région".into(),
                    vec!["Bretagne".into(), "Nord, Pas-de-Calais".into()],
                ),
                ("has_car".into(), vec!["no".into(), "yes".into()]),
            ],
            ignored: Vec::new(),
            required: Vec::new(),
            age: None,
        };
        let w = Wording::single_table(&spec).unwrap();
        assert_eq!(w.version, SINGLE_TABLE);
        assert_eq!(w.describe("Monthly income (€)"), "Monthly income (€)");
        assert_eq!(w.show("Monthly income (€)", Some(2469.72)), "2470");
        assert_eq!(w.describe("balance_MEAN"), "balance_MEAN");
        assert_eq!(
            w.describe("Région_Nord, Pas-de-Calais"),
            "Région is Nord, Pas-de-Calais"
        );
        assert_eq!(w.unit("Région_Bretagne"), Unit::Flag);
        assert_eq!(w.show("Région_Bretagne", Some(1.0)), "yes");
        assert_eq!(w.show("has_car_yes", Some(0.0)), "no");
        assert_eq!(w.describe("has_car_yes"), "has_car is yes");
        // Home Credit's columns in a single table (application_train.csv read as one) keep the
        // shipped wording's words and units.
        let mut hc = spec.clone();
        hc.numeric = vec!["EXT_SOURCE_3".into(), "DAYS_BIRTH".into()];
        hc.categorical = vec![("NAME_INCOME_TYPE".into(), vec!["Working".into()])];
        let w = Wording::single_table(&hc).unwrap();
        assert_eq!(w.describe("EXT_SOURCE_3"), "external credit score 3");
        assert_eq!(w.show("DAYS_BIRTH", Some(-13572.0)), "37 years and 1 month");
        assert_eq!(
            w.describe("NAME_INCOME_TYPE_Working"),
            "income type is Working"
        );
    }

    #[test]
    fn a_wording_file_needs_a_version() {
        assert!(Wording::parse("kind,key,text\ncolumn,A,a\n").is_err());
        assert!(Wording::parse("# version: 2\ncolour,A,a\n").is_err());
        assert!(Wording::parse("# version: 2\nunit,A,weeks\n").is_err());
    }
}
