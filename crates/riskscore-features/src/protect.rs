//! Protected attributes (fair lending): the source columns a lender may not decide on (sex
//! under Regulation B, for instance), and every feature derived from them. A fitted pipeline
//! keeps them out of its model inputs (`features`) and computes them beside the matrix
//! (`audit`) so that fairness can be measured by group. See docs/fair-lending.md.

use polars::prelude::*;
use riskscore_data::{Kind, Table};

use crate::error::{Error, Result};
use crate::exprs::dummy_name;
use crate::pipeline::{FeaturePipeline, Layout};

/// The Home Credit layout's default protected attributes.
pub const HOME_CREDIT_PROTECTED: [&str; 1] = ["CODE_GENDER"];

/// The Home Credit application column holding age (days before the application, negative).
pub const HOME_CREDIT_AGE: &str = "DAYS_BIRTH";

/// The age from which Regulation B forbids scoring an applicant down for age; `train
/// --monotone-age` scores every applicant of that age or more as that age.
pub const ELDERLY_AGE: f64 = 62.0;

/// Days in a year, to read `DAYS_BIRTH` as an age.
pub const DAYS_PER_YEAR: f64 = 365.25;

/// Age in years from Home Credit's `DAYS_BIRTH` (days before the application, negative).
pub fn years_from_days_birth(days: f64) -> f64 {
    AgeUnit::DaysBeforeApplication.years(days)
}

/// How an age column is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgeUnit {
    /// Days before the application, negative (Home Credit's `DAYS_BIRTH`).
    DaysBeforeApplication,
    /// Years.
    Years,
}

impl AgeUnit {
    /// The unit of a single table's age column named `column`: Home Credit's name for days
    /// before the application (`DAYS_BIRTH`, as `application_train.csv` read as one table
    /// writes it), years for any other name.
    pub fn of_column(column: &str) -> Self {
        if column == HOME_CREDIT_AGE {
            AgeUnit::DaysBeforeApplication
        } else {
            AgeUnit::Years
        }
    }

    /// The age in years of a value of the column.
    pub fn years(self, v: f64) -> f64 {
        match self {
            AgeUnit::DaysBeforeApplication => -v / DAYS_PER_YEAR,
            AgeUnit::Years => v,
        }
    }

    /// The column's value for an age of `years`.
    pub fn value_at(self, years: f64) -> f64 {
        match self {
            AgeUnit::DaysBeforeApplication => -years * DAYS_PER_YEAR,
            AgeUnit::Years => years,
        }
    }

    /// `v` capped at `cap` (the value at some age): an older applicant's value becomes `cap`.
    /// Missing stays missing.
    pub fn cap(self, v: f64, cap: f64) -> f64 {
        if v.is_nan() {
            return v;
        }
        match self {
            AgeUnit::DaysBeforeApplication => v.max(cap),
            AgeUnit::Years => v.min(cap),
        }
    }

    /// LightGBM's monotone constraint on the column under which an older applicant is never
    /// riskier: +1 on days before the application (a higher value is a younger applicant), -1
    /// on years.
    pub fn older_never_riskier(self) -> i8 {
        match self {
            AgeUnit::DaysBeforeApplication => 1,
            AgeUnit::Years => -1,
        }
    }

    /// The unit in words.
    pub fn words(self) -> &'static str {
        match self {
            AgeUnit::DaysBeforeApplication => "days before the application",
            AgeUnit::Years => "years",
        }
    }

    /// Why `v` cannot be an applicant's age in this unit (an age from 0 to 150 years), if it
    /// cannot.
    pub fn implausible(self, v: f64) -> Option<String> {
        let years = self.years(v);
        (v.is_finite() && !(0.0..=150.0).contains(&years)).then(|| match self {
            AgeUnit::Years => format!(
                "{v} is not an age in years (0 to 150){}",
                if v < 0.0 {
                    "; Home Credit's days before the application are read from DAYS_BIRTH only"
                } else {
                    ""
                }
            ),
            AgeUnit::DaysBeforeApplication => format!(
                "{v} is not an age in days before the application (0 down to -54787.5, 150 years)"
            ),
        })
    }
}

/// `--age` given for the Home Credit tables: their age is `DAYS_BIRTH`, any other column an
/// error.
pub fn home_credit_age(column: &str) -> Result<()> {
    if column == HOME_CREDIT_AGE {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "--age {column}: the Home Credit tables' age is {HOME_CREDIT_AGE}; --age is for a \
         single table"
    )))
}

/// A single table's age column (`--age`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgeColumn {
    pub column: String,
    pub unit: AgeUnit,
}

/// How the age column is capped under `--monotone-age`: its value at 62 years, and its unit
/// (which says whether that value is a floor or a ceiling).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgeCap {
    pub unit: AgeUnit,
    pub value: f64,
}

impl AgeCap {
    /// An age column's value capped: an older applicant's becomes the value at 62 years.
    pub fn apply(self, v: f64) -> f64 {
        self.unit.cap(v, self.value)
    }
}

/// The kernel's ratios and the application columns each one is computed from.
pub const KERNEL_RATIOS: [(&str, [&str; 2]); 5] = [
    ("DAYS_EMPLOYED_PERC", ["DAYS_EMPLOYED", "DAYS_BIRTH"]),
    ("INCOME_CREDIT_PERC", ["AMT_INCOME_TOTAL", "AMT_CREDIT"]),
    ("INCOME_PER_PERSON", ["AMT_INCOME_TOTAL", "CNT_FAM_MEMBERS"]),
    ("ANNUITY_INCOME_PERC", ["AMT_ANNUITY", "AMT_INCOME_TOTAL"]),
    ("PAYMENT_RATE", ["AMT_ANNUITY", "AMT_CREDIT"]),
];

/// One kernel ratio from its source values, as the batch build computes every row: `a / b`,
/// with `DAYS_EMPLOYED`'s "not employed" code read as missing.
pub fn kernel_ratio(a_column: &str, a: f64, b: f64) -> f64 {
    let a = if a_column == "DAYS_EMPLOYED" && a == crate::home_credit::DAYS_MISSING_CODE {
        f64::NAN
    } else {
        a
    };
    a / b
}

/// How a feature is computed from an application's source columns (see
/// [`FeaturePipeline::formula`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Formula {
    /// The column itself (`DAYS_EMPLOYED`'s "not employed" code read as missing), capped at
    /// 62 years for the age column under `--monotone-age`.
    Column { column: String, cap: Option<AgeCap> },
    /// One of the kernel's ratios, `a / b`.
    Ratio { a: String, b: String },
}

impl Formula {
    /// The source columns, in the order `eval` takes their values.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            Formula::Column { column, .. } => vec![column],
            Formula::Ratio { a, b } => vec![a, b],
        }
    }

    /// The feature's value from its source columns' values (in `columns` order).
    pub fn eval(&self, values: &[f64]) -> f64 {
        let at = |i: usize| values.get(i).copied().unwrap_or(f64::NAN);
        match self {
            Formula::Column { column, cap } => {
                let v = at(0);
                if column == "DAYS_EMPLOYED" && v == crate::home_credit::DAYS_MISSING_CODE {
                    f64::NAN
                } else if let Some(cap) = cap {
                    cap.apply(v)
                } else {
                    v
                }
            }
            Formula::Ratio { a, .. } => kernel_ratio(a, at(0), at(1)),
        }
    }

    /// The value of source column number `which` at which the feature equals `target`, the
    /// other columns at `values` (the inverse in one column); None when it is not finite.
    pub fn solve(&self, which: usize, target: f64, values: &[f64]) -> Option<f64> {
        let at = |i: usize| values.get(i).copied().unwrap_or(f64::NAN);
        let v = match (self, which) {
            (Formula::Column { .. }, 0) => target,
            (Formula::Ratio { .. }, 0) => target * at(1),
            (Formula::Ratio { .. }, 1) => at(0) / target,
            _ => return None,
        };
        v.is_finite().then_some(v)
    }

    /// Whether the feature is the column itself (monotone whatever the column's range).
    pub fn is_column(&self) -> bool {
        matches!(self, Formula::Column { .. })
    }
}

/// How a protected attribute's group is read back from the feature matrix.
#[derive(Debug, Clone, PartialEq)]
pub enum Encoding {
    /// A numeric column, itself a feature.
    Numeric,
    /// One integer column holding the index of the value in a vocabulary (-1 if missing).
    Code(Vec<String>),
    /// One 0/1 column per value (`COLUMN_value`), all zero if missing or unseen.
    OneHot(Vec<String>),
}

/// Where a feature comes from in the Home Credit layout: application columns, or nothing
/// when it is aggregated from the history tables.
fn home_credit_sources(feature: &str) -> Vec<String> {
    if crate::home_credit::from_history(feature) {
        return Vec::new();
    }
    if let Some((_, sources)) = KERNEL_RATIOS.iter().find(|(n, _)| *n == feature) {
        return sources.iter().map(|s| (*s).to_owned()).collect();
    }
    let columns = Table::ApplicationTrain.columns();
    if columns.iter().any(|(n, _)| *n == feature) {
        return vec![feature.to_owned()];
    }
    // A one-hot column COLUMN_value: the longest categorical column name it starts with.
    columns
        .iter()
        .filter(|(n, k)| *k == Kind::Cat && feature.starts_with(&format!("{n}_")))
        .max_by_key(|(n, _)| n.len())
        .map(|(n, _)| vec![(*n).to_owned()])
        .unwrap_or_default()
}

impl FeaturePipeline {
    /// The source columns a protected attribute may name: the application table's columns
    /// (Home Credit) or the table's columns (one table), id and target excepted.
    pub fn source_columns(&self) -> Vec<String> {
        match &self.layout {
            Layout::HomeCredit { .. } => Table::ApplicationTrain
                .columns()
                .iter()
                .map(|(n, _)| (*n).to_owned())
                .filter(|n| *n != self.id && *n != self.target)
                .collect(),
            Layout::Generic(spec) => spec
                .numeric
                .iter()
                .cloned()
                .chain(spec.categorical.iter().map(|(n, _)| n.clone()))
                .chain(spec.ignored.iter().map(|(n, _)| n.clone()))
                .collect(),
        }
    }

    /// The layout's default protected attributes (`CODE_GENDER` for Home Credit, none for
    /// one table).
    pub fn default_protected(&self) -> Vec<String> {
        match &self.layout {
            Layout::HomeCredit { .. } => {
                HOME_CREDIT_PROTECTED.iter().map(|s| (*s).into()).collect()
            }
            Layout::Generic(_) => Vec::new(),
        }
    }

    /// The source columns a feature is computed from.
    pub fn sources_of(&self, feature: &str) -> Vec<String> {
        match &self.layout {
            Layout::HomeCredit { .. } => home_credit_sources(feature),
            Layout::Generic(spec) => {
                if spec.numeric.iter().any(|n| n == feature) {
                    return vec![feature.to_owned()];
                }
                spec.categorical
                    .iter()
                    .find(|(c, values)| values.iter().any(|v| dummy_name(c, v) == feature))
                    .map(|(c, _)| vec![c.clone()])
                    .unwrap_or_default()
            }
        }
    }

    /// Every computed feature (model inputs and audit columns), in matrix order.
    pub fn all_features(&self) -> Vec<String> {
        self.features.iter().chain(&self.audit).cloned().collect()
    }

    /// Sets the protected attributes: they and every feature derived from them leave the
    /// model inputs for the audit columns. An unknown name is an error naming it.
    pub fn protect(&mut self, attributes: &[String]) -> Result<()> {
        let sources = self.source_columns();
        for a in attributes {
            if !sources.contains(a) {
                let layout = match self.layout {
                    Layout::HomeCredit { .. } => "an application column of the Home Credit tables",
                    Layout::Generic(_) => "a column of the table (id and target excepted)",
                };
                return Err(Error::Column {
                    column: a.clone(),
                    message: format!(
                        "--protected names {a:?}, which is not {layout}; columns: {}",
                        shorten(&sources)
                    ),
                });
            }
        }
        let all = self.all_features();
        let (audit, features): (Vec<String>, Vec<String>) = all
            .into_iter()
            .partition(|f| self.sources_of(f).iter().any(|s| attributes.contains(s)));
        let mut protected: Vec<String> = Vec::new();
        for a in attributes {
            if !protected.contains(a) {
                protected.push(a.clone());
            }
        }
        self.protected = protected;
        self.features = features;
        self.audit = audit;
        Ok(())
    }

    /// Whether a feature is derived from a protected attribute.
    pub fn is_protected_feature(&self, feature: &str) -> bool {
        self.sources_of(feature)
            .iter()
            .any(|s| self.protected.contains(s))
    }

    /// How attribute `column`'s group is read from the matrix, or None when the matrix does
    /// not carry it (a column left out of the table's features).
    pub fn encoding(&self, column: &str) -> Option<Encoding> {
        let all = self.all_features();
        match &self.layout {
            Layout::HomeCredit { vocabularies } => {
                let values = vocabularies.0.get(&format!("application.{column}"));
                match values {
                    Some(v) if all.iter().any(|f| f == column) => Some(Encoding::Code(v.clone())),
                    Some(v) => Some(Encoding::OneHot(v.clone())),
                    None => all.iter().any(|f| f == column).then_some(Encoding::Numeric),
                }
            }
            Layout::Generic(spec) => {
                if spec.numeric.iter().any(|n| n == column) {
                    return Some(Encoding::Numeric);
                }
                spec.categorical
                    .iter()
                    .find(|(c, _)| c == column)
                    .map(|(_, v)| Encoding::OneHot(v.clone()))
            }
        }
    }

    /// The source column holding the applicant's age: Home Credit's `DAYS_BIRTH`, a single
    /// table's `--age` column (None for a table without one).
    pub fn age_column(&self) -> Option<&str> {
        match &self.layout {
            Layout::HomeCredit { .. } => Some(HOME_CREDIT_AGE),
            Layout::Generic(spec) => spec.age.as_ref().map(|a| a.column.as_str()),
        }
    }

    /// The age column's unit (days before the application for Home Credit's `DAYS_BIRTH`).
    pub fn age_unit(&self) -> Option<AgeUnit> {
        match &self.layout {
            Layout::HomeCredit { .. } => Some(AgeUnit::DaysBeforeApplication),
            Layout::Generic(spec) => spec.age.as_ref().map(|a| a.unit),
        }
    }

    /// The applicant's age in years from a value of the age column (NaN without one).
    pub fn age_years(&self, v: f64) -> f64 {
        self.age_unit().map_or(f64::NAN, |u| u.years(v))
    }

    /// `--age`: names a single table's numeric column as the applicant's age (unit:
    /// [`AgeUnit::of_column`]), for the fairness measures by age band, Regulation B's age rule
    /// and `--monotone-age`. An error on a Home Credit pipeline (its age is `DAYS_BIRTH`) or a
    /// column that is not one of the table's numeric columns.
    pub fn set_age(&mut self, column: &str) -> Result<()> {
        let Layout::Generic(spec) = &mut self.layout else {
            return home_credit_age(column);
        };
        if !spec.numeric.iter().any(|n| n == column) {
            let why = if spec.categorical.iter().any(|(c, _)| c == column) {
                "is a category column, not a number".to_owned()
            } else if let Some((_, reason)) = spec.ignored.iter().find(|(c, _)| c == column) {
                format!("was left out of the features ({reason})")
            } else if column == spec.id || column == spec.target {
                "is the id or the target".to_owned()
            } else {
                format!(
                    "is not a column of the table; its numbers: {}",
                    shorten(&spec.numeric)
                )
            };
            return Err(Error::Column {
                column: column.to_owned(),
                message: format!("--age names {column:?}, which {why}"),
            });
        }
        spec.age = Some(AgeColumn {
            column: column.to_owned(),
            unit: AgeUnit::of_column(column),
        });
        Ok(())
    }

    /// Fails on the first value of the age column (in `df`, a frame of this pipeline) that is
    /// not an applicant's age in its unit, naming the row's id and the value.
    pub fn check_ages(&self, df: &DataFrame) -> Result<()> {
        let (Some(age), Some(unit)) = (self.age_column(), self.age_unit()) else {
            return Ok(());
        };
        let Ok(column) = df.column(age) else {
            return Ok(());
        };
        let values = column
            .cast(&DataType::Float64)
            .map_err(Error::polars(age))?;
        let values = values.f64().map_err(Error::polars(age))?;
        let Some((row, why)) = values
            .iter()
            .enumerate()
            .find_map(|(i, v)| v.and_then(|v| unit.implausible(v)).map(|w| (i, w)))
        else {
            return Ok(());
        };
        Err(Error::Column {
            column: age.to_owned(),
            message: format!(
                "the age column ({}) at {}: {why}",
                unit.words(),
                self.row_label(df, row)
            ),
        })
    }

    /// Row `row` of `df` (a frame of this pipeline) named by its id (`loan_id 5007`), or by
    /// its number when the frame has no id column.
    pub fn row_label(&self, df: &DataFrame, row: usize) -> String {
        df.column(&self.id)
            .ok()
            .and_then(|c| c.get(row).ok())
            .map_or_else(
                || format!("row {}", row + 1),
                |v| format!("{} {v}", self.id),
            )
    }

    /// How a feature is computed from one application's source columns, when it is a numeric
    /// source column itself or one of the kernel's ratios; None for the other features
    /// (categories, history aggregates). Recourse recomputes with it the features an
    /// applicant's changes feed.
    pub fn formula(&self, feature: &str) -> Option<Formula> {
        match &self.layout {
            Layout::HomeCredit { .. } => {
                if let Some((_, [a, b])) = KERNEL_RATIOS.iter().find(|(n, _)| *n == feature) {
                    return Some(Formula::Ratio {
                        a: (*a).to_owned(),
                        b: (*b).to_owned(),
                    });
                }
                let numeric = Table::ApplicationTrain
                    .columns()
                    .iter()
                    .any(|(n, k)| *n == feature && *k == Kind::Num);
                if !numeric || crate::home_credit::from_history(feature) {
                    return None;
                }
                Some(Formula::Column {
                    column: feature.to_owned(),
                    cap: self.age_cap_of(feature),
                })
            }
            Layout::Generic(spec) => {
                spec.numeric
                    .iter()
                    .any(|n| n == feature)
                    .then(|| Formula::Column {
                        column: feature.to_owned(),
                        cap: self.age_cap_of(feature),
                    })
            }
        }
    }

    /// A feature's value from one application's source columns (`value(column)`), as the
    /// pipeline computes it (see [`Self::formula`]).
    pub fn derive(&self, feature: &str, value: &dyn Fn(&str) -> f64) -> Option<f64> {
        let f = self.formula(feature)?;
        let values: Vec<f64> = f.columns().iter().map(|c| value(c)).collect();
        Some(f.eval(&values))
    }

    /// The features computed from the age column (age itself included).
    pub fn age_features(&self) -> Vec<String> {
        let Some(age) = self.age_column() else {
            return Vec::new();
        };
        self.all_features()
            .into_iter()
            .filter(|f| self.sources_of(f).iter().any(|s| s == age))
            .collect()
    }
}

impl FeaturePipeline {
    /// `train --monotone-age`: the age column is capped at 62 years (every older applicant has
    /// the value of 62, the oldest the model sees) and the other features computed from age are
    /// dropped (a ratio such as `DAYS_EMPLOYED_PERC` mixes age with employment: no constraint on
    /// it keeps its age part from scoring older applicants down). An error when the layout has
    /// no age column or age is protected (not an input).
    pub fn cap_age(&mut self) -> Result<()> {
        let (Some(age), Some(unit)) = (self.age_column(), self.age_unit()) else {
            return Err(Error::Invalid(
                "--monotone-age needs an age column: name the table's age in years with --age"
                    .into(),
            ));
        };
        let age = age.to_owned();
        if self.protected.contains(&age) {
            return Err(Error::Invalid(format!(
                "--monotone-age constrains age, but {age} is protected (not a model input)"
            )));
        }
        let dropped: Vec<String> = self
            .age_features()
            .into_iter()
            .filter(|f| *f != age)
            .collect();
        self.features.retain(|f| !dropped.contains(f));
        self.audit.retain(|f| !dropped.contains(f));
        self.age_cap = Some(unit.value_at(ELDERLY_AGE));
        Ok(())
    }

    /// The age column and how it is capped (`--monotone-age`), if it is.
    pub fn age_cap(&self) -> Option<(&str, AgeCap)> {
        Some((
            self.age_column()?,
            AgeCap {
                unit: self.age_unit()?,
                value: self.age_cap?,
            },
        ))
    }

    /// How column `name` is capped: only the age column, under `--monotone-age`.
    fn age_cap_of(&self, name: &str) -> Option<AgeCap> {
        self.age_cap()
            .filter(|(age, _)| *age == name)
            .map(|(_, cap)| cap)
    }

    /// Column `name`'s values (NaN where missing) capped as [`Self::apply_age_cap`] caps a
    /// frame's: unchanged unless `name` is the capped age column.
    pub fn apply_age_cap_to(&self, name: &str, values: &mut [f64]) {
        if let Some(cap) = self.age_cap_of(name) {
            for v in values.iter_mut() {
                *v = cap.apply(*v);
            }
        }
    }

    /// The frame with the age column capped as the pipeline says (unchanged without a cap).
    pub fn apply_age_cap(&self, mut df: DataFrame) -> Result<DataFrame> {
        let Some((age, cap)) = self.age_cap() else {
            return Ok(df);
        };
        let Ok(column) = df.column(age) else {
            return Ok(df);
        };
        let capped: Float64Chunked = column
            .cast(&DataType::Float64)
            .map_err(Error::polars(age))?
            .f64()
            .map_err(Error::polars(age))?
            .apply_values(|v| cap.apply(v));
        df.with_column(capped.with_name(age.into()).into_column())
            .map_err(Error::polars(age))?;
        Ok(df)
    }
}

/// A row's group for an attribute, read through `get` (a feature's value in that row).
pub fn group_of(encoding: &Encoding, column: &str, get: &dyn Fn(&str) -> f64) -> Option<String> {
    match encoding {
        Encoding::Numeric => {
            let v = get(column);
            (!v.is_nan()).then(|| v.to_string())
        }
        Encoding::Code(values) => {
            let c = get(column);
            if c.is_nan() || c < 0.0 {
                return None;
            }
            values.get(c as usize).cloned()
        }
        Encoding::OneHot(values) => values
            .iter()
            .find(|v| get(&dummy_name(column, v)) == 1.0)
            .cloned(),
    }
}

fn shorten(names: &[String]) -> String {
    if names.len() <= 12 {
        return names.join(", ");
    }
    format!("{}, ... ({} in all)", names[..12].join(", "), names.len())
}
