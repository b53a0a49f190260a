//! Fairness at the decision threshold: for each protected attribute and for age bands, how the
//! decisions (refused when the calibrated probability is at or above the threshold) fall on
//! each group, and the disparity measures of fairlearn with 95 % bootstrap intervals.
//!
//! Framing: a *refusal* is the model's positive (it predicts a default), so a group's true
//! positive rate is the share of its defaulters refused and its false positive rate the share
//! of its repaying clients refused. The disparity measures are those of fairlearn 0.15 with the
//! favourable outcome as positive (`y_true` = repaid, `y_pred` = granted): demographic parity
//! compares approval rates (its ratio is the lowest adverse impact ratio), equal opportunity
//! compares the approval rates of clients who repaid, equalized odds takes the larger of that
//! gap and the gap in approval rates of defaulters. Differences are the same in either framing.

use std::collections::BTreeMap;

use polars::prelude::DataFrame;
use riskscore_data::synth::rng::{seed_of, Rng};
use riskscore_features::{group_of, Encoding, FeaturePipeline};
use serde::{Deserialize, Serialize};

use crate::data::column_f64;
use crate::error::{Error, Result};

/// Age bands (years at the application): label, lower bound (inclusive), upper (exclusive).
pub const AGE_BANDS: [(&str, f64, f64); 4] = [
    ("under 25", 0.0, 25.0),
    ("25-39", 25.0, 40.0),
    ("40-61", 40.0, 62.0),
    ("62 and over", 62.0, f64::INFINITY),
];

pub use riskscore_features::protect::{years_from_days_birth, DAYS_PER_YEAR, ELDERLY_AGE};

/// Groups smaller than this are shown but left out of the disparity measures: with a handful
/// of applicants a group's rates are noise (Home Credit has four applicants of gender XNA).
pub const MIN_GROUP: usize = 30;

/// Bootstrap resamples of the intervals.
pub const RESAMPLES: usize = 1000;

/// An adverse impact ratio below this is flagged (the four-fifths rule).
pub const FOUR_FIFTHS: f64 = 0.8;

/// A figure and its 95 % bootstrap interval. Not a number (a rate of an empty group, a ratio
/// when no group is approved) is written as null and read back as NaN.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    #[serde(deserialize_with = "crate::profile::nullable::f64")]
    pub value: f64,
    #[serde(deserialize_with = "crate::profile::nullable::f64")]
    pub low: f64,
    #[serde(deserialize_with = "crate::profile::nullable::f64")]
    pub high: f64,
}

/// One group's decisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupFigures {
    pub group: String,
    pub count: usize,
    pub defaulters: usize,
    /// Observed default rate.
    #[serde(deserialize_with = "crate::profile::nullable::f64")]
    pub default_rate: f64,
    pub approval_rate: Interval,
    /// Share of the group's defaulters refused.
    #[serde(deserialize_with = "crate::profile::nullable::f64")]
    pub true_positive_rate: f64,
    /// Share of the group's repaying clients refused.
    #[serde(deserialize_with = "crate::profile::nullable::f64")]
    pub false_positive_rate: f64,
    /// Mean calibrated probability: the predicted default rate.
    #[serde(deserialize_with = "crate::profile::nullable::f64")]
    pub mean_probability: f64,
    /// Observed minus predicted default rate.
    #[serde(deserialize_with = "crate::profile::nullable::f64")]
    pub calibration_gap: f64,
    /// Approval rate over the most approved group's (of those in the measures); not a number
    /// when no group is approved.
    #[serde(deserialize_with = "crate::profile::nullable::f64")]
    pub adverse_impact_ratio: f64,
    /// Adverse impact ratio below 0.8.
    pub flagged: bool,
    /// Whether the group is large enough to enter the disparity measures.
    pub measured: bool,
}

impl GroupFigures {
    /// The approval rate with its interval: "69.7 % [68.8 %, 70.5 %]".
    pub fn approval_text(&self) -> String {
        let a = &self.approval_rate;
        format!("{} [{}, {}]", pct(a.value), pct(a.low), pct(a.high))
    }
}

/// A share as a percentage with one decimal ("–" when not a number).
pub fn pct(v: f64) -> String {
    if v.is_nan() {
        "–".to_owned()
    } else {
        format!("{:.1} %", 100.0 * v)
    }
}

/// The figures of one attribute (a protected attribute, or the age bands).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeFigures {
    /// The attribute: a protected column, or `age band`.
    pub attribute: String,
    /// Where the groups come from (e.g. "protected attribute", "age from DAYS_BIRTH").
    pub source: String,
    pub groups: Vec<GroupFigures>,
    /// Largest minus smallest approval rate. None with fewer than two measured groups.
    pub demographic_parity_difference: Option<Interval>,
    /// Smallest over largest approval rate (the lowest adverse impact ratio).
    pub demographic_parity_ratio: Option<Interval>,
    /// The larger of the gaps in approval rate among repaying clients and among defaulters.
    pub equalized_odds_difference: Option<Interval>,
    /// The gap in approval rate among clients who repaid.
    pub equal_opportunity_difference: Option<Interval>,
}

/// Regulation B's age rule (12 CFR 1002.6(b)(2)): an applicant aged 62 or more may not be
/// scored down for age. Counted on the model's own exact SHAP values (TreeSHAP, as LightGBM's
/// `pred_contrib`) of the age features: an age contribution above zero raises the probability of default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgeRule {
    /// The age column and the model inputs computed from it.
    pub age_column: String,
    pub age_features: Vec<String>,
    /// Applicants aged 62 or more among the rows.
    pub elderly: usize,
    /// Of them, those whose age contribution raises their probability of default.
    pub raised: usize,
    /// Whether the model was trained with `--monotone-age`.
    pub monotone: bool,
}

impl AgeRule {
    /// Whether no applicant aged 62 or more is scored down for age.
    pub fn holds(&self) -> bool {
        self.raised == 0
    }

    pub fn sentence(&self) -> String {
        if self.age_features.is_empty() {
            return format!(
                "Age ({}) is not a model input: no applicant is scored on age.",
                self.age_column
            );
        }
        let how = if self.monotone {
            "trained with --monotone-age (older never riskier; ages of 62 and over scored as 62)"
        } else {
            "trained without --monotone-age"
        };
        if self.holds() {
            format!(
                "The age rule holds: none of the {} applicants aged 62 or more has an age contribution \
                 ({}) that raises their probability of default. Model {how}.",
                self.elderly,
                self.age_features.join(", ")
            )
        } else {
            format!(
                "The age rule does NOT hold: {} of the {} applicants aged 62 or more have an age \
                 contribution ({}) that raises their probability of default. Model {how}; train \
                 with --monotone-age, or protect {} (--protected), to comply.",
                self.raised,
                self.elderly,
                self.age_features.join(", "),
                self.age_column
            )
        }
    }
}

/// Counts the rows `x` (row-major over `features`) aged 62 or more whose age contribution
/// raises their probability, `years` being each row's age ([`ages`]).
pub fn age_rule(
    booster: &lightgbm3::Booster,
    x: &[f64],
    features: &[String],
    years: &[f64],
    age_column: &str,
    age_features: &[String],
    monotone: bool,
) -> Result<AgeRule> {
    let k = features.len();
    let idx: Vec<usize> = age_features
        .iter()
        .filter_map(|a| features.iter().position(|f| f == a))
        .collect();
    let elderly: Vec<usize> = (0..years.len())
        .filter(|&r| years[r] >= ELDERLY_AGE)
        .collect();
    let mut raised = 0;
    if !idx.is_empty() && !elderly.is_empty() {
        if let Some(shap) = age_explainer(booster, &idx)? {
            let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
            crate::data::in_chunks(x, k, &elderly, crate::data::CHUNK_ROWS, |chunk, rows| {
                let c = shap
                    .explain_batch(rows, threads)
                    .map_err(|e| Error::Internal(format!("the age rule's SHAP values: {e}")))?;
                raised += (0..chunk.len())
                    .filter(|&i| idx.iter().map(|&j| c[i * (k + 1) + j]).sum::<f64>() > 0.0)
                    .count();
                Ok(())
            })?;
        }
    }
    Ok(AgeRule {
        age_column: age_column.to_owned(),
        age_features: idx.iter().map(|&j| features[j].clone()).collect(),
        elderly: elderly.len(),
        raised,
        monotone,
    })
}

/// The exact TreeSHAP of `booster`'s trees that split on one of `features` (column indices),
/// `None` when no tree does. A tree adds to the SHAP values of the features it splits on only,
/// so these trees give `features` the whole model's values for the share of the work they are
/// (the other features' values and the base value are not the model's). Computed by
/// `riskscore-shap` (the explanations' TreeSHAP, equal to LightGBM's `pred_contrib` to 1e-9 and
/// several times faster: the age rule at scale 1.0 went from 30 s to a few).
fn age_explainer(
    booster: &lightgbm3::Booster,
    features: &[usize],
) -> Result<Option<riskscore_shap::Explainer>> {
    let text = booster
        .save_string()
        .map_err(Error::lightgbm("writing the model text"))?;
    let mut forest = riskscore_shap::Forest::parse(&text)
        .map_err(|e| Error::Internal(format!("reading the model's trees: {e}")))?;
    forest
        .trees
        .retain(|t| t.split_feature.iter().any(|j| features.contains(j)));
    if forest.trees.is_empty() {
        return Ok(None);
    }
    riskscore_shap::Explainer::new(&forest)
        .map(Some)
        .map_err(|e| Error::Internal(format!("the age rule's SHAP tables: {e}")))
}

/// The fairness figures of a set of decisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fairness {
    /// What was measured (e.g. "out-of-fold predictions of the 19,559 training applicants").
    pub data: String,
    pub rows: usize,
    pub threshold: f64,
    pub resamples: usize,
    pub min_group: usize,
    pub attributes: Vec<AttributeFigures>,
    /// The age rule, when the layout knows age.
    pub age_rule: Option<AgeRule>,
}

impl Fairness {
    /// The report section: per attribute, approval rates by group (chart with its text
    /// alternative), the group table and the disparity measures with their intervals.
    pub fn html(&self) -> String {
        use riskscore_report::{chart::BarChart, esc, num, table};
        use std::fmt::Write;
        if self.attributes.is_empty() && self.age_rule.is_none() {
            return "<p>Nothing to measure: no protected attribute was named (--protected) and \
the data's layout has no known age column.</p>"
                .into();
        }
        let mut s = format!(
            "<p>Decisions at the threshold {} (refused at or above) on the {}. A refusal is the \
model's positive: a group's true positive rate is the share of its defaulters refused, its false \
positive rate the share of its good clients refused. Intervals: 95 %, {} bootstrap resamples. \
Groups under {} applicants are shown but left out of the disparity measures. An adverse impact \
ratio (approval rate over the most approved group's) under 0.8 is flagged.</p>",
            num(self.threshold, 4),
            esc(&self.data),
            self.resamples,
            self.min_group
        );
        if let Some(rule) = &self.age_rule {
            let _ = write!(
                s,
                "<p class=\"{}\"><b>Age rule (Regulation B).</b> {}</p>",
                if rule.holds() { "note" } else { "warn" },
                esc(&rule.sentence())
            );
        }
        for a in &self.attributes {
            let _ = write!(
                s,
                "<h3>{} <small>({})</small></h3>",
                esc(&a.attribute),
                esc(&a.source)
            );
            let bars: Vec<(String, f64)> = a
                .groups
                .iter()
                .map(|g| (g.group.clone(), g.approval_rate.value))
                .collect();
            let description = a
                .groups
                .iter()
                .map(|g| {
                    format!(
                        "{}: {} approved of {}",
                        g.group,
                        pct(g.approval_rate.value),
                        g.count
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            s.push_str(
                &BarChart {
                    title: format!("Approval rate by {}", a.attribute),
                    value_label: "approval rate".into(),
                    bars,
                    description: format!("Approval rate by {}. {description}.", a.attribute),
                }
                .svg(),
            );
            let rows: Vec<Vec<String>> = a
                .groups
                .iter()
                .map(|g| {
                    vec![
                        g.group.clone(),
                        g.count.to_string(),
                        pct(g.default_rate),
                        g.approval_text(),
                        pct(g.true_positive_rate),
                        pct(g.false_positive_rate),
                        pct(g.mean_probability),
                        format!("{:+.1} pt", 100.0 * g.calibration_gap),
                        if g.measured {
                            format!(
                                "{}{}",
                                num(g.adverse_impact_ratio, 3),
                                if g.flagged { " (under 0.8)" } else { "" }
                            )
                        } else {
                            "too few to measure".into()
                        },
                    ]
                })
                .collect();
            s.push_str(&table(
                &[
                    "group",
                    "applicants",
                    "default rate",
                    "approval rate [95 %]",
                    "defaulters refused (TPR)",
                    "good clients refused (FPR)",
                    "predicted default rate",
                    "observed − predicted",
                    "adverse impact ratio",
                ],
                &rows,
                &[],
            ));
            let measure = |name: &str, v: &Option<Interval>, meaning: &str| {
                vec![
                    name.to_owned(),
                    v.map_or("– (fewer than two groups to compare)".into(), |v| {
                        format!(
                            "{} [{}, {}]",
                            num(v.value, 4),
                            num(v.low, 4),
                            num(v.high, 4)
                        )
                    }),
                    meaning.to_owned(),
                ]
            };
            s.push_str(&table(
                &["measure", "value [95 %]", "meaning"],
                &[
                    measure(
                        "demographic parity difference",
                        &a.demographic_parity_difference,
                        "largest minus smallest approval rate (0: equal)",
                    ),
                    measure(
                        "demographic parity ratio",
                        &a.demographic_parity_ratio,
                        "smallest over largest approval rate: the lowest adverse impact ratio (1: equal)",
                    ),
                    measure(
                        "equalized odds difference",
                        &a.equalized_odds_difference,
                        "larger gap in approval rate among good clients or among defaulters (0: equal)",
                    ),
                    measure(
                        "equal opportunity difference",
                        &a.equal_opportunity_difference,
                        "gap in approval rate among clients who repaid (0: equal)",
                    ),
                ],
                &[],
            ));
        }
        s
    }
}

/// The rows' groups for one attribute (None: missing).
#[derive(Debug, Clone)]
pub struct Grouping {
    pub attribute: String,
    pub source: String,
    pub groups: Vec<Option<String>>,
    /// The groups' order when it is not alphabetical (age bands by age).
    pub order: Vec<String>,
}

/// The age band of an age in years (None when missing).
pub fn age_band(years: f64) -> Option<&'static str> {
    AGE_BANDS
        .iter()
        .find(|(_, lo, hi)| years >= *lo && years < *hi)
        .map(|(label, _, _)| *label)
}

/// The rows a fairness measure was taken on: labelled applicants, their calibrated
/// probabilities and their groups.
#[derive(Debug, Clone)]
pub struct Measured {
    pub ids: Vec<i64>,
    pub y: Vec<u8>,
    pub p: Vec<f64>,
    pub groupings: Vec<Grouping>,
}

impl Measured {
    /// As CSV: id, defaulted, probability, then one column per grouping (empty: missing).
    pub fn csv(&self, id: &str) -> String {
        use std::fmt::Write;
        let quote = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_owned()
            }
        };
        let mut s = format!("{},defaulted,probability", quote(id));
        for g in &self.groupings {
            let _ = write!(s, ",{}", quote(&g.attribute));
        }
        s.push('\n');
        for i in 0..self.ids.len() {
            let _ = write!(s, "{},{},{}", self.ids[i], self.y[i], self.p[i]);
            for g in &self.groupings {
                let _ = write!(s, ",{}", quote(g.groups[i].as_deref().unwrap_or("")));
            }
            s.push('\n');
        }
        s
    }
}

/// Fairness of a bundle's decisions on a feature frame built with its pipeline (any labelled
/// data): the decisions of the labelled rows by group, and the age rule on every row scored.
/// Returns the rows measured too.
pub fn of_frame(
    bundle: &crate::ModelBundle,
    frame: &DataFrame,
    data: &str,
) -> Result<(Fairness, Measured)> {
    let pipeline = &bundle.pipeline;
    let names = bundle.manifest.feature_names();
    let (ids, x) = crate::data::matrix(frame, &pipeline.id, &names)?;
    let raw = crate::lgbm::predict(&bundle.booster, &x, names.len())?;
    let target = column_f64(frame, &pipeline.target)?;
    let labelled: Vec<usize> = (0..frame.height())
        .filter(|&i| !target[i].is_nan())
        .collect();
    if labelled.is_empty() {
        return Err(crate::Error::Data(format!(
            "{data}: no row has a value in the target column {:?}; fairness at the threshold \
             compares decisions with outcomes",
            pipeline.target
        )));
    }
    let measured = Measured {
        ids: labelled.iter().map(|&i| ids[i]).collect(),
        y: labelled
            .iter()
            .map(|&i| u8::from(target[i] == 1.0))
            .collect(),
        p: labelled
            .iter()
            .map(|&i| bundle.manifest.calibration.apply(raw[i]))
            .collect(),
        groupings: groupings(frame, pipeline, true)?,
    };
    let mut fair = measure(
        &format!("{} labelled applicants of {data}", labelled.len()),
        &measured.y,
        &measured.p,
        bundle.manifest.threshold,
        &measured.groupings,
        RESAMPLES,
        0,
    );
    if let (Some(age), Some(years)) = (pipeline.age_column(), ages(frame, pipeline, false)?) {
        fair.age_rule = Some(age_rule(
            &bundle.booster,
            &x,
            &names,
            &years,
            age,
            &pipeline.age_features(),
            bundle.manifest.monotone_age,
        )?);
    }
    Ok((fair, measured))
}

/// The applicants' ages in years (from the age column in its unit) on the frame's rows,
/// labelled ones only when `labelled`; None when the layout knows no age or the frame lacks
/// it.
pub fn ages(
    frame: &DataFrame,
    pipeline: &FeaturePipeline,
    labelled: bool,
) -> Result<Option<Vec<f64>>> {
    let Some(age) = pipeline.age_column() else {
        return Ok(None);
    };
    if frame.column(age).is_err() {
        return Ok(None);
    }
    let values = column_f64(frame, age)?;
    let rows = measured_rows(frame, pipeline, labelled)?;
    Ok(Some(
        rows.iter()
            .map(|&r| pipeline.age_years(values[r]))
            .collect(),
    ))
}

/// The frame's rows measured: those with a target when `labelled` (as
/// [`crate::TrainingData::from_frame`] keeps them), else all.
fn measured_rows(
    frame: &DataFrame,
    pipeline: &FeaturePipeline,
    labelled: bool,
) -> Result<Vec<usize>> {
    if !labelled {
        return Ok((0..frame.height()).collect());
    }
    let t = column_f64(frame, &pipeline.target)?;
    Ok((0..frame.height()).filter(|&i| !t[i].is_nan()).collect())
}

/// A numeric protected attribute grouped by its quartiles on the rows measured ("Q1: up to
/// 1200", "Q2: 1200 to 2500", ...; missing values in a group of their own). One group per
/// distinct value would give as many groups as applicants.
fn quartiles(attribute: &str, values: &[f64]) -> Grouping {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = [0.25, 0.5, 0.75]
        .iter()
        .filter_map(|q| {
            let at = (q * sorted.len().saturating_sub(1) as f64).round() as usize;
            sorted.get(at).copied()
        })
        .collect();
    edges.dedup();
    let label = |k: usize| {
        let show = riskscore_report::chart::fmt_tick;
        match (k, edges.len()) {
            (_, 0) => "all".to_owned(),
            (0, _) => format!("Q1: up to {}", show(edges[0])),
            (k, n) if k == n => format!("Q{}: over {}", k + 1, show(edges[n - 1])),
            (k, _) => format!("Q{}: {} to {}", k + 1, show(edges[k - 1]), show(edges[k])),
        }
    };
    Grouping {
        attribute: attribute.to_owned(),
        source: "protected attribute, by quartile".into(),
        groups: values
            .iter()
            .map(|&v| (!v.is_nan()).then(|| label(edges.iter().filter(|&&e| v > e).count())))
            .collect(),
        order: (0..=edges.len()).map(label).collect(),
    }
}

/// The groupings of a feature frame's rows (those with a target when `labelled`, as
/// [`crate::TrainingData::from_frame`] keeps them): each protected attribute of the pipeline
/// the frame carries, then the age bands when the layout knows age.
pub fn groupings(
    frame: &DataFrame,
    pipeline: &FeaturePipeline,
    labelled: bool,
) -> Result<Vec<Grouping>> {
    let rows = measured_rows(frame, pipeline, labelled)?;
    let mut out = Vec::new();
    for attribute in &pipeline.protected {
        let Some(encoding) = pipeline.encoding(attribute) else {
            tracing::warn!(%attribute, "the matrix does not carry this protected attribute");
            continue;
        };
        if encoding == Encoding::Numeric {
            if pipeline.age_column() != Some(attribute.as_str()) {
                let values = column_f64(frame, attribute)?;
                let values: Vec<f64> = rows.iter().map(|&r| values[r]).collect();
                out.push(quartiles(attribute, &values));
            }
            // Age is measured by the age bands below.
            continue;
        }
        let names: Vec<String> = match &encoding {
            Encoding::OneHot(values) => values
                .iter()
                .map(|v| riskscore_features::exprs::dummy_name(attribute, v))
                .collect(),
            _ => vec![attribute.clone()],
        };
        let mut columns = std::collections::HashMap::new();
        for n in &names {
            columns.insert(n.clone(), column_f64(frame, n)?);
        }
        let groups = rows
            .iter()
            .map(|&r| {
                group_of(&encoding, attribute, &|n| {
                    columns.get(n).map_or(f64::NAN, |c| c[r])
                })
            })
            .collect();
        out.push(Grouping {
            attribute: attribute.clone(),
            source: "protected attribute".into(),
            groups,
            order: Vec::new(),
        });
    }
    if let Some(age) = pipeline.age_column() {
        if frame.column(age).is_ok() {
            let values = column_f64(frame, age)?;
            out.push(Grouping {
                attribute: "age band".into(),
                source: format!("age in years from {age}"),
                groups: rows
                    .iter()
                    .map(|&r| age_band(pipeline.age_years(values[r])).map(str::to_owned))
                    .collect(),
                order: AGE_BANDS.iter().map(|(b, _, _)| (*b).to_owned()).collect(),
            });
        }
    }
    Ok(out)
}

/// Counts of one group under one (re)sample.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Counts {
    n: f64,
    refused: f64,
    defaulters: f64,
    refused_defaulters: f64,
}

impl Counts {
    /// The cell of a row of group `g`: four per group, [`Counts::of_cells`]'s order.
    fn cell(g: usize, defaulted: bool, refused: bool) -> u32 {
        (4 * g + 2 * usize::from(defaulted) + usize::from(refused)) as u32
    }

    /// A group's counts from its four cells' (good granted, good refused, defaulter granted,
    /// defaulter refused).
    fn of_cells(c: &[u64]) -> Counts {
        let [gg, gr, dg, dr] = [c[0], c[1], c[2], c[3]].map(|v| v as f64);
        Counts {
            n: gg + gr + dg + dr,
            refused: gr + dr,
            defaulters: dg + dr,
            refused_defaulters: dr,
        }
    }

    fn approval(&self) -> f64 {
        1.0 - self.refused / self.n
    }
    fn tpr(&self) -> f64 {
        self.refused_defaulters / self.defaulters
    }
    fn fpr(&self) -> f64 {
        (self.refused - self.refused_defaulters) / (self.n - self.defaulters)
    }
}

/// Largest minus smallest of the finite values (NaN when none), as fairlearn's
/// `MetricFrame.difference()` (pandas skips missing values).
fn range(values: impl Iterator<Item = f64>) -> f64 {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| !v.is_nan()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        f64::NAN
    } else {
        hi - lo
    }
}

/// The four disparity measures over the measured groups' counts.
fn measures(counts: &[Counts]) -> [f64; 4] {
    let approval = || counts.iter().map(Counts::approval);
    let (lo, hi) = approval().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), a| {
        (lo.min(a), hi.max(a))
    });
    let fpr = range(counts.iter().map(Counts::fpr));
    let tpr = range(counts.iter().map(Counts::tpr));
    [hi - lo, lo / hi, fpr.max(tpr), fpr]
}

/// Measures fairness of the decisions `p >= threshold` on labels `y` for each grouping.
pub fn measure(
    data: &str,
    y: &[u8],
    p: &[f64],
    threshold: f64,
    groupings: &[Grouping],
    resamples: usize,
    seed: u64,
) -> Fairness {
    let attributes = groupings
        .iter()
        .enumerate()
        .map(|(a, g)| attribute(y, p, threshold, g, resamples, seed_of(&[seed, a as u64])))
        .collect();
    Fairness {
        data: data.to_owned(),
        rows: y.len(),
        threshold,
        resamples,
        min_group: MIN_GROUP,
        attributes,
        age_rule: None,
    }
}

fn attribute(
    y: &[u8],
    p: &[f64],
    threshold: f64,
    grouping: &Grouping,
    resamples: usize,
    seed: u64,
) -> AttributeFigures {
    // Groups in the grouping's order, else sorted (as fairlearn does); missing last.
    let key = |g: &Option<String>| {
        let at = g
            .as_ref()
            .and_then(|g| grouping.order.iter().position(|o| o == g))
            .unwrap_or(usize::MAX);
        (
            g.is_none(),
            at,
            g.clone().unwrap_or_else(|| "missing".into()),
        )
    };
    let rank: BTreeMap<(bool, usize, String), usize> = grouping
        .groups
        .iter()
        .map(key)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .enumerate()
        .map(|(r, k)| (k, r))
        .collect();
    let row_group: Vec<usize> = grouping.groups.iter().map(|g| rank[&key(g)]).collect();
    let names: Vec<String> = rank.keys().map(|(_, _, name)| name.clone()).collect();
    let k = names.len();
    let refused: Vec<bool> = p.iter().map(|&q| q >= threshold).collect();

    // Each row's cell (group, defaulted, refused): all the counts of the sample, or of a
    // resample of it, depend on.
    let cells: Vec<u32> = (0..y.len())
        .map(|i| Counts::cell(row_group[i], y[i] == 1, refused[i]))
        .collect();
    let mut in_cells = vec![0u64; 4 * k];
    for &c in &cells {
        in_cells[c as usize] += 1;
    }
    let full: Vec<Counts> = in_cells.chunks_exact(4).map(Counts::of_cells).collect();
    let measured: Vec<bool> = full.iter().map(|c| c.n >= MIN_GROUP as f64).collect();
    let pick = |c: &[Counts]| -> Vec<Counts> {
        c.iter()
            .zip(&measured)
            .filter(|(_, m)| **m)
            .map(|(c, _)| *c)
            .collect()
    };
    let enough = measured.iter().filter(|m| **m).count() >= 2;

    // Bootstrap: rows drawn with replacement, counted by cell; each resample's group rates and
    // measures.
    let mut drawn = vec![0u64; 4 * k];
    let mut rng = Rng::new(seed);
    let mut approvals: Vec<Vec<f64>> = vec![Vec::with_capacity(resamples); k];
    let mut samples: [Vec<f64>; 4] = Default::default();
    for _ in 0..resamples {
        if y.is_empty() {
            break;
        }
        crate::cost::resample_cells(&mut rng, &cells, &mut drawn);
        let c: Vec<Counts> = drawn.chunks_exact(4).map(Counts::of_cells).collect();
        for (g, counts) in c.iter().enumerate() {
            if counts.n > 0.0 {
                approvals[g].push(counts.approval());
            }
        }
        if enough {
            let m = measures(
                &pick(&c)
                    .into_iter()
                    .filter(|c| c.n > 0.0)
                    .collect::<Vec<_>>(),
            );
            for (s, v) in samples.iter_mut().zip(m) {
                if v.is_finite() {
                    s.push(v);
                }
            }
        }
    }

    let point = if enough {
        Some(measures(&pick(&full)))
    } else {
        None
    };
    let best = full
        .iter()
        .zip(&measured)
        .filter(|(_, m)| **m)
        .map(|(c, _)| c.approval())
        .fold(f64::NEG_INFINITY, f64::max);
    let mut sum_p = vec![0.0; k];
    for i in 0..y.len() {
        sum_p[row_group[i]] += p[i];
    }
    let groups = names
        .into_iter()
        .enumerate()
        .map(|(g, name)| {
            let c = full[g];
            let air = c.approval() / best;
            let mean_probability = sum_p[g] / c.n;
            GroupFigures {
                group: name,
                count: c.n as usize,
                defaulters: c.defaulters as usize,
                default_rate: c.defaulters / c.n,
                approval_rate: interval(c.approval(), &mut approvals[g]),
                true_positive_rate: c.tpr(),
                false_positive_rate: c.fpr(),
                mean_probability,
                calibration_gap: c.defaulters / c.n - mean_probability,
                adverse_impact_ratio: air,
                flagged: measured[g] && air < FOUR_FIFTHS,
                measured: measured[g],
            }
        })
        .collect();
    let [dpd, dpr, eod, eop] = samples;
    let with = |i: usize, mut s: Vec<f64>| point.map(|m| interval(m[i], &mut s));
    AttributeFigures {
        attribute: grouping.attribute.clone(),
        source: grouping.source.clone(),
        groups,
        demographic_parity_difference: with(0, dpd),
        demographic_parity_ratio: with(1, dpr),
        equalized_odds_difference: with(2, eod),
        equal_opportunity_difference: with(3, eop),
    }
}

/// The value with the 2.5 and 97.5 percentiles of its resamples.
fn interval(value: f64, samples: &mut [f64]) -> Interval {
    let crate::cost::Interval { low, high } = crate::cost::percentile_interval(samples);
    Interval { value, low, high }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The age rule counts the elderly rows whose age features' SHAP values add up above
    /// zero, as LightGBM's own `pred_contrib` of the whole model has them, row for row.
    #[test]
    fn the_age_rule_counts_as_lightgbm_pred_contrib() {
        use crate::lgbm::{contrib, fit, reload, LgbmParams, Rows};
        // 4 features; "a" (0) and "c" (2) are the age features. Trees of 3 leaves on half of
        // the features each: some trees split on neither.
        let n = 400;
        let mut x = Vec::with_capacity(4 * n);
        let mut y = Vec::with_capacity(n);
        let mut years = Vec::with_capacity(n);
        for i in 0..n {
            let a = ((i * 7919) % 1000) as f64 / 250.0 - 2.0;
            let b = ((i * 13) % 17) as f64;
            let c = if i % 9 == 0 {
                f64::NAN
            } else {
                ((i * 31) % 7) as f64
            };
            x.extend_from_slice(&[a, b, c, ((i * 3) % 5) as f64]);
            y.push(u8::from(
                (i * 37) % 100 < (50.0 + 15.0 * a + 2.0 * (b - 8.0) - c) as usize,
            ));
            // Every third applicant aged 70, the others 40.
            years.push(if i % 3 == 0 { 70.0 } else { 40.0 });
        }
        let params = LgbmParams {
            num_leaves: 3,
            min_child_samples: 5,
            feature_fraction: 0.5,
            ..LgbmParams::default()
        }
        .to_lightgbm(7, None, 60);
        let names: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let rows = Rows {
            x: &x,
            y: &y,
            n_features: 4,
        };
        let booster = reload(&fit(rows, None, &names, &params).unwrap()).unwrap();
        let whole = contrib(&booster, &x, 4).unwrap();
        for age in [vec!["a"], vec!["a", "c"], vec!["d"]] {
            let age: Vec<String> = age.iter().map(|s| s.to_string()).collect();
            let idx: Vec<usize> = age
                .iter()
                .map(|a| names.iter().position(|n| n == a).unwrap())
                .collect();
            let rule = age_rule(&booster, &x, &names, &years, "DAYS_BIRTH", &age, false).unwrap();
            let elderly: Vec<usize> = (0..n).filter(|i| i % 3 == 0).collect();
            let want = elderly
                .iter()
                .filter(|&&r| idx.iter().map(|&j| whole[r * 5 + j]).sum::<f64>() > 0.0)
                .count();
            assert_eq!(rule.elderly, elderly.len());
            assert_eq!(rule.raised, want, "{age:?}");
            assert_eq!(rule.age_features, age);
            if age[0] == "a" {
                // Age matters both ways: some elderly rows raised, some lowered.
                assert!(
                    0 < want && want < elderly.len(),
                    "{want} of {}",
                    elderly.len()
                );
            }
        }
    }

    fn grouping(groups: &[&str]) -> Grouping {
        Grouping {
            attribute: "g".into(),
            source: "test".into(),
            groups: groups.iter().map(|g| Some((*g).to_owned())).collect(),
            order: Vec::new(),
        }
    }

    /// Rows counted through their cells give each group's counts, as counted row by row here
    /// (every combination of defaulted and refused, in both groups, a different number each).
    #[test]
    fn a_groups_cells_give_its_counts() {
        let rows = [
            (0, false, false),
            (0, true, true),
            (1, true, false),
            (1, false, true),
            (1, true, true),
            (0, false, true),
            (1, false, false),
            (0, true, false),
        ];
        let mut by_row = vec![Counts::default(); 2];
        let mut cells = [0u64; 8];
        for (i, &(g, defaulted, refused)) in rows.iter().enumerate() {
            for _ in 0..=i {
                let c = &mut by_row[g];
                c.n += 1.0;
                c.refused += f64::from(u8::from(refused));
                c.defaulters += f64::from(u8::from(defaulted));
                c.refused_defaulters += f64::from(u8::from(defaulted && refused));
                cells[Counts::cell(g, defaulted, refused) as usize] += 1;
            }
        }
        let counted: Vec<Counts> = cells.chunks_exact(4).map(Counts::of_cells).collect();
        assert_eq!(counted, by_row);
    }

    /// Two groups of 40 worked by hand: A refuses 10 (8 of its 10 defaulters, 2 of its 30
    /// good clients), B refuses 20 (5 of its 5 defaulters, 15 of its 35 good clients).
    #[test]
    fn two_groups_by_hand() {
        let mut y = Vec::new();
        let mut p = Vec::new();
        let mut g = Vec::new();
        let mut push = |group: &'static str, defaulted: u8, refused: bool, n: usize| {
            for _ in 0..n {
                y.push(defaulted);
                p.push(if refused { 0.7 } else { 0.1 });
                g.push(group);
            }
        };
        push("A", 1, true, 8);
        push("A", 1, false, 2);
        push("A", 0, true, 2);
        push("A", 0, false, 28);
        push("B", 1, true, 5);
        push("B", 0, true, 15);
        push("B", 0, false, 20);
        let f = measure("t", &y, &p, 0.5, &[grouping(&g)], 200, 1);
        let a = &f.attributes[0];
        let (ga, gb) = (&a.groups[0], &a.groups[1]);
        assert_eq!((ga.group.as_str(), ga.count, ga.defaulters), ("A", 40, 10));
        assert_eq!(ga.approval_rate.value, 30.0 / 40.0);
        assert_eq!(gb.approval_rate.value, 20.0 / 40.0);
        assert_eq!(ga.true_positive_rate, 0.8);
        assert_eq!(gb.true_positive_rate, 1.0);
        assert_eq!(ga.false_positive_rate, 2.0 / 30.0);
        assert_eq!(gb.false_positive_rate, 15.0 / 35.0);
        assert_eq!(gb.adverse_impact_ratio, (20.0 / 40.0) / (30.0 / 40.0));
        assert!(gb.flagged && !ga.flagged);
        assert!((ga.mean_probability - 0.25).abs() < 1e-15);
        assert!(ga.calibration_gap.abs() < 1e-15); // observed 10/40, predicted 0.25
        let dpd = a.demographic_parity_difference.unwrap();
        assert!((dpd.value - 0.25).abs() < 1e-15);
        assert!(dpd.low <= dpd.value && dpd.value <= dpd.high && dpd.low < dpd.high);
        assert!((a.demographic_parity_ratio.unwrap().value - 2.0 / 3.0).abs() < 1e-15);
        let fpr_gap = 15.0 / 35.0 - 2.0 / 30.0;
        assert!((a.equal_opportunity_difference.unwrap().value - fpr_gap).abs() < 1e-15);
        // max(TPR gap 0.2, FPR gap 0.362)
        assert!((a.equalized_odds_difference.unwrap().value - fpr_gap).abs() < 1e-15);
    }

    /// Every applicant refused (a threshold under every probability): the ratios are not
    /// numbers, written as null, and the figures read back (`serve` refused to start on such a
    /// bundle: "invalid type: null, expected f64").
    #[test]
    fn figures_that_are_not_numbers_read_back() {
        let g: Vec<&str> = (0..80).map(|i| ["A", "B"][i % 2]).collect();
        let y: Vec<u8> = (0..80).map(|i| u8::from(i % 5 == 0)).collect();
        let p = vec![0.9; 80];
        let f = measure("t", &y, &p, 0.5, &[grouping(&g)], 50, 1);
        let a = &f.attributes[0];
        assert!(a.groups.iter().all(|g| g.adverse_impact_ratio.is_nan()));
        let json = serde_json::to_string(&f).expect("json");
        assert!(json.contains("\"adverse_impact_ratio\":null"), "{json}");
        let back: Fairness = serde_json::from_str(&json).expect("read back");
        assert_eq!(back.attributes[0].groups.len(), 2);
        assert!(back.attributes[0].groups[0].adverse_impact_ratio.is_nan());
        assert_eq!(back.attributes[0].groups[0].approval_rate.value, 0.0);
        assert_eq!(back.attributes[0].groups[1].true_positive_rate, 1.0);
    }

    #[test]
    fn small_groups_are_shown_but_not_measured() {
        let mut g = vec!["A"; 50];
        g.extend(vec!["B"; 50]);
        g.extend(vec!["XNA"; 3]);
        let y: Vec<u8> = (0..g.len()).map(|i| u8::from(i % 5 == 0)).collect();
        let p: Vec<f64> = (0..g.len()).map(|i| (i % 7) as f64 / 7.0).collect();
        let f = measure("t", &y, &p, 0.5, &[grouping(&g)], 50, 2);
        let a = &f.attributes[0];
        assert_eq!(a.groups.len(), 3);
        assert!(!a.groups[2].measured && !a.groups[2].flagged);
        let measured: Vec<f64> = a.groups[..2]
            .iter()
            .map(|g| g.approval_rate.value)
            .collect();
        let dpd = a.demographic_parity_difference.unwrap().value;
        assert!((dpd - (measured[0] - measured[1]).abs()).abs() < 1e-15);
        // One measured group: no disparity to measure.
        let f = measure("t", &y[..53], &p[..53], 0.5, &[grouping(&g[..53])], 10, 2);
        assert!(f.attributes[0].demographic_parity_difference.is_none());
    }

    /// A numeric protected attribute is grouped by quartiles, not by value.
    #[test]
    fn numeric_attributes_are_grouped_by_quartile() {
        let mut values: Vec<f64> = (1..=100).map(f64::from).collect();
        values.push(f64::NAN);
        let g = quartiles("income", &values);
        assert_eq!(
            g.order,
            [
                "Q1: up to 26.00",
                "Q2: 26.00 to 51.00",
                "Q3: 51.00 to 75.00",
                "Q4: over 75.00"
            ]
        );
        let count = |label: &str| {
            g.groups
                .iter()
                .filter(|x| x.as_deref() == Some(label))
                .count()
        };
        assert_eq!(
            g.order.iter().map(|l| count(l)).collect::<Vec<_>>(),
            [26, 25, 24, 25]
        );
        assert_eq!(g.groups[100], None);
        // A constant attribute is one group.
        let g = quartiles("x", &[3.0; 10]);
        assert_eq!(g.order, ["Q1: up to 3.00", "Q2: over 3.00"]);
        assert!(g
            .groups
            .iter()
            .all(|x| x.as_deref() == Some("Q1: up to 3.00")));
    }

    #[test]
    fn age_bands_have_their_bounds() {
        assert_eq!(age_band(24.99), Some("under 25"));
        assert_eq!(age_band(25.0), Some("25-39"));
        assert_eq!(age_band(61.9), Some("40-61"));
        assert_eq!(age_band(62.0), Some("62 and over"));
        assert_eq!(age_band(f64::NAN), None);
        assert!((years_from_days_birth(-22_645.5) - 62.0).abs() < 1e-9);
    }
}
