//! The labelled table against its target: class balance, each column's default rate by
//! category or bin, weight of evidence and information value, and correlation.

use std::collections::HashMap;

use polars::prelude::{Column, DataFrame, DataType};
use serde::Serialize;

use crate::profile::{is_numeric, par_map, quantile, Anomaly, DAYS_SENTINEL};
use crate::{polars_err, Error, Result};

/// Bins of a numeric column with more distinct values than this: deciles.
const MAX_VALUE_BINS: usize = 10;
/// Categories shown one by one; the others are pooled.
const MAX_CATEGORIES: usize = 15;
/// Added to every bin's counts so that a bin without defaults (or without repaid loans) has a
/// finite weight of evidence.
const SMOOTHING: f64 = 0.5;

#[derive(Debug, Clone, Serialize)]
pub struct TargetSummary {
    pub column: String,
    /// Rows with a label.
    pub rows: usize,
    pub positives: usize,
    pub negatives: usize,
    /// Share of positives (defaults).
    pub rate: f64,
    /// Rows without a label (not used in the analysis).
    pub unlabelled: usize,
}

/// A category or a range of values.
#[derive(Debug, Clone, Serialize)]
pub struct Bin {
    pub label: String,
    pub count: usize,
    pub defaults: usize,
    /// Default rate in the bin.
    pub rate: f64,
    /// ln(share of the repaid / share of the defaulted), smoothed.
    pub woe: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FeatureTarget {
    pub name: String,
    /// `numeric` or `categorical`.
    pub kind: String,
    /// Information value: sum over bins of (share repaid - share defaulted) x WoE.
    pub iv: f64,
    /// The usual reading of the IV: useless < 0.02 <= weak < 0.1 <= medium < 0.3 <= strong
    /// < 0.5 <= suspicious (too good: a leak?).
    pub strength: String,
    /// Pearson correlation with the target (numeric columns, rows with a value).
    pub correlation: Option<f64>,
    pub missing_rate: f64,
    pub bins: Vec<Bin>,
    pub description: Option<String>,
}

/// The labels: 0, 1 or missing; anything else is an error naming the row.
fn labels(df: &DataFrame, target: &str) -> Result<Vec<Option<bool>>> {
    let c = df
        .column(target)
        .map_err(|_| Error::Input(format!("no target column {target:?}")))?;
    let f = c
        .cast(&DataType::Float64)
        .map_err(|_| Error::Input(format!("target column {target:?} is not numeric (0/1)")))?;
    let f = f.f64().map_err(polars_err(format!("column {target}")))?;
    f.iter()
        .enumerate()
        .map(|(i, v)| match v {
            None => Ok(None),
            Some(0.0) => Ok(Some(false)),
            Some(1.0) => Ok(Some(true)),
            Some(x) => Err(Error::Input(format!(
                "target column {target:?}: row {} has {x}; the target must be 0 or 1",
                i + 1
            ))),
        })
        .collect()
}

/// The class balance and every column but `exclude` against the target, by IV.
pub fn analyse(
    df: &DataFrame,
    target: &str,
    exclude: &[&str],
    describe: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<(TargetSummary, Vec<FeatureTarget>)> {
    let y = labels(df, target)?;
    let positives = y.iter().filter(|v| **v == Some(true)).count();
    let negatives = y.iter().filter(|v| **v == Some(false)).count();
    let rows = positives + negatives;
    if positives == 0 || negatives == 0 {
        return Err(Error::Input(format!(
            "target column {target:?}: {positives} positive and {negatives} negative rows; \
             both classes are needed"
        )));
    }
    let summary = TargetSummary {
        column: target.into(),
        rows,
        positives,
        negatives,
        rate: positives as f64 / rows as f64,
        unlabelled: y.len() - rows,
    };
    let columns: Vec<&Column> = df
        .columns()
        .iter()
        .filter(|c| c.name().as_str() != target && !exclude.contains(&c.name().as_str()))
        .collect();
    let mut out: Vec<FeatureTarget> = par_map(&columns, |c| feature(c, &y, &summary, describe))?
        .into_iter()
        .collect::<Result<Vec<Option<FeatureTarget>>>>()?
        .into_iter()
        .flatten()
        .collect();
    out.sort_by(|a, b| b.iv.total_cmp(&a.iv).then(a.name.cmp(&b.name)));
    Ok((summary, out))
}

/// Bins with their labels, in order.
type Bins = Vec<(String, Tally)>;

/// A bin being counted.
#[derive(Debug, Default, Clone)]
struct Tally {
    count: usize,
    defaults: usize,
}

fn feature(
    c: &Column,
    y: &[Option<bool>],
    s: &TargetSummary,
    describe: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Option<FeatureTarget>> {
    let name = c.name().to_string();
    let (kind, tallies, correlation) = if is_numeric(c.dtype()) {
        let v = c
            .cast(&DataType::Float64)
            .map_err(polars_err(format!("column {name}")))?;
        let v: Vec<f64> = v
            .f64()
            .map_err(polars_err(format!("column {name}")))?
            .iter()
            .map(|x| x.filter(|x| x.is_finite()).unwrap_or(f64::NAN))
            .collect();
        let (t, corr) = numeric_bins(&v, y);
        ("numeric", t, corr)
    } else if matches!(c.dtype(), DataType::String) {
        let v = c.str().map_err(polars_err(format!("column {name}")))?;
        ("categorical", category_bins(v.iter(), y), None)
    } else {
        return Ok(None);
    };
    let labelled_missing = tallies
        .iter()
        .find(|(l, _)| l == "missing")
        .map_or(0, |(_, t)| t.count);
    let bins = woe_bins(tallies, s);
    let iv = bins
        .iter()
        .map(|b| {
            let (g, d) = shares(b, s, bins_len(&bins));
            (g - d) * b.woe
        })
        .sum::<f64>();
    Ok(Some(FeatureTarget {
        name: name.clone(),
        kind: kind.into(),
        iv,
        strength: strength(iv).into(),
        correlation,
        missing_rate: labelled_missing as f64 / s.rows as f64,
        bins,
        description: describe(&name),
    }))
}

fn bins_len(b: &[Bin]) -> f64 {
    b.len() as f64
}

/// A bin's smoothed shares of the repaid and of the defaulted.
fn shares(b: &Bin, s: &TargetSummary, n_bins: f64) -> (f64, f64) {
    let good = (b.count - b.defaults) as f64 + SMOOTHING;
    let bad = b.defaults as f64 + SMOOTHING;
    (
        good / (s.negatives as f64 + SMOOTHING * n_bins),
        bad / (s.positives as f64 + SMOOTHING * n_bins),
    )
}

fn woe_bins(tallies: Vec<(String, Tally)>, s: &TargetSummary) -> Vec<Bin> {
    let n = tallies.len() as f64;
    tallies
        .into_iter()
        .filter(|(_, t)| t.count > 0)
        .map(|(label, t)| {
            let mut b = Bin {
                label,
                count: t.count,
                defaults: t.defaults,
                rate: t.defaults as f64 / t.count as f64,
                woe: 0.0,
            };
            let (g, d) = shares(&b, s, n);
            b.woe = (g / d).ln();
            b
        })
        .collect()
}

pub fn strength(iv: f64) -> &'static str {
    match iv {
        x if x < 0.02 => "useless",
        x if x < 0.1 => "weak",
        x if x < 0.3 => "medium",
        x if x < 0.5 => "strong",
        _ => "suspicious",
    }
}

/// Bins of a numeric column (one per value up to 10 distinct values, else deciles, and one for
/// missing values) and its Pearson correlation with the target.
fn numeric_bins(v: &[f64], y: &[Option<bool>]) -> (Bins, Option<f64>) {
    let mut present: Vec<f64> = v
        .iter()
        .zip(y)
        .filter(|(x, l)| l.is_some() && !x.is_nan())
        .map(|(x, _)| *x)
        .collect();
    present.sort_unstable_by(f64::total_cmp);
    let mut distinct = present.clone();
    distinct.dedup();
    // Edges: each value, or the deciles (deduplicated); a value goes to the first bin whose
    // upper edge is at least the value.
    let (edges, labels): (Vec<f64>, Vec<String>) = if distinct.len() <= MAX_VALUE_BINS {
        distinct.iter().map(|x| (*x, fmt(*x))).unzip()
    } else {
        let mut e: Vec<f64> = (1..=10)
            .map(|k| quantile(&present, f64::from(k) / 10.0))
            .collect();
        e.dedup();
        let mut lo = present[0];
        e.iter()
            .enumerate()
            .map(|(i, hi)| {
                let label = if i == 0 {
                    format!("[{}, {}]", fmt(lo), fmt(*hi))
                } else {
                    format!("({}, {}]", fmt(lo), fmt(*hi))
                };
                lo = *hi;
                (*hi, label)
            })
            .unzip()
    };
    let mut tallies: Vec<(String, Tally)> =
        labels.into_iter().map(|l| (l, Tally::default())).collect();
    let mut missing = Tally::default();
    let (mut sx, mut sy, mut sxx, mut syy, mut sxy, mut n) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (x, l) in v.iter().zip(y) {
        let Some(l) = l else { continue };
        let t = if x.is_nan() {
            &mut missing
        } else {
            let i = edges.partition_point(|e| e < x).min(edges.len() - 1);
            let yv = f64::from(u8::from(*l));
            (sx, sy, sxx, syy, sxy, n) = (
                sx + x,
                sy + yv,
                sxx + x * x,
                syy + yv * yv,
                sxy + x * yv,
                n + 1.0,
            );
            &mut tallies[i].1
        };
        t.count += 1;
        t.defaults += usize::from(*l);
    }
    if missing.count > 0 {
        tallies.push(("missing".into(), missing));
    }
    let cov = sxy - sx * sy / n;
    let (vx, vy) = (sxx - sx * sx / n, syy - sy * sy / n);
    let corr = (n > 1.0 && vx > 0.0 && vy > 0.0).then(|| cov / (vx * vy).sqrt());
    (tallies, corr)
}

/// Bins of a categorical column: the 15 most frequent categories, the others pooled, missing.
fn category_bins<'a>(
    v: impl Iterator<Item = Option<&'a str>>,
    y: &[Option<bool>],
) -> Vec<(String, Tally)> {
    let mut by: HashMap<Option<&str>, Tally> = HashMap::new();
    for (x, l) in v.zip(y) {
        let Some(l) = l else { continue };
        let t = by.entry(x).or_default();
        t.count += 1;
        t.defaults += usize::from(*l);
    }
    let missing = by.remove(&None);
    let mut cats: Vec<(String, Tally)> = by
        .into_iter()
        .map(|(k, t)| (k.unwrap_or_default().to_owned(), t))
        .collect();
    cats.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
    if cats.len() > MAX_CATEGORIES + 1 {
        let rest = cats.split_off(MAX_CATEGORIES);
        let mut other = Tally::default();
        for (_, t) in rest {
            other.count += t.count;
            other.defaults += t.defaults;
        }
        cats.push(("(other)".into(), other));
    }
    if let Some(m) = missing {
        cats.push(("missing".into(), m));
    }
    cats
}

/// A bin edge: up to four decimals, trailing zeros dropped.
fn fmt(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// Adds to each sentinel anomaly of the labelled table the default rate with and without the
/// code.
pub fn annotate_sentinels(df: &DataFrame, target: &str, anomalies: &mut [Anomaly]) -> Result<()> {
    let y = labels(df, target)?;
    for a in anomalies.iter_mut().filter(|a| a.kind == "sentinel") {
        let Ok(c) = df.column(&a.column) else {
            continue;
        };
        let v = c
            .cast(&DataType::Float64)
            .map_err(polars_err(format!("column {}", a.column)))?;
        let v = v
            .f64()
            .map_err(polars_err(format!("column {}", a.column)))?;
        let mut with = Tally::default();
        let mut without = Tally::default();
        for (x, l) in v.iter().zip(&y) {
            let (Some(x), Some(l)) = (x, l) else { continue };
            let t = if x == DAYS_SENTINEL {
                &mut with
            } else {
                &mut without
            };
            t.count += 1;
            t.defaults += usize::from(*l);
        }
        if with.count > 0 && without.count > 0 {
            a.note += &format!(
                "; default rate {:.2} % with the code against {:.2} % without",
                100.0 * with.defaults as f64 / with.count as f64,
                100.0 * without.defaults as f64 / without.count as f64
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::Column;

    fn frame() -> DataFrame {
        DataFrame::new_infer_height(vec![
            Column::new("y".into(), [0i64, 0, 1, 1, 1, 0]),
            Column::new("grade".into(), ["a", "a", "a", "b", "b", "b"]),
            Column::new("x".into(), [1.0, 2.0, 3.0, 4.0, f64::NAN, 6.0]),
        ])
        .unwrap()
    }

    /// Three repaid and three defaulted. grade a: 2 repaid, 1 defaulted; b: 1 and 2. With 0.5
    /// added to each count and 2 bins: a's shares are 2.5/4 and 1.5/4, WoE ln(5/3) = 0.5108;
    /// b's the reverse, WoE -0.5108; IV = 2 x 0.25 x 0.5108 = 0.2554.
    #[test]
    fn woe_and_iv_by_hand() {
        let (s, f) = analyse(&frame(), "y", &[], &|_| None).unwrap();
        assert_eq!((s.rows, s.positives, s.negatives), (6, 3, 3));
        let g = f.iter().find(|f| f.name == "grade").unwrap();
        assert_eq!(g.bins.len(), 2);
        assert!((g.bins[0].woe - (5.0f64 / 3.0).ln()).abs() < 1e-12);
        assert!((g.bins[1].woe + (5.0f64 / 3.0).ln()).abs() < 1e-12);
        assert!((g.iv - 0.5 * (5.0f64 / 3.0).ln()).abs() < 1e-12, "{}", g.iv);
        assert_eq!(g.strength, "medium");
        // x: five values (each its own bin) and a missing one; r on the five rows with a value:
        // x = 1, 2, 3, 4, 6 and y = 0, 0, 1, 1, 0.
        let x = f.iter().find(|f| f.name == "x").unwrap();
        assert_eq!(x.bins.len(), 6);
        assert_eq!(x.bins[5].label, "missing");
        assert_eq!((x.bins[5].count, x.bins[5].defaults), (1, 1));
        assert!((x.missing_rate - 1.0 / 6.0).abs() < 1e-12);
        let (xs, ys) = ([1.0, 2.0, 3.0, 4.0, 6.0], [0.0, 0.0, 1.0, 1.0, 0.0]);
        let (mx, my) = (3.2, 0.4);
        let cov: f64 = xs.iter().zip(&ys).map(|(a, b)| (a - mx) * (b - my)).sum();
        let vx: f64 = xs.iter().map(|a| (a - mx) * (a - mx)).sum();
        let vy: f64 = ys.iter().map(|b| (b - my) * (b - my)).sum();
        assert!((x.correlation.unwrap() - cov / (vx * vy).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn a_target_that_is_not_0_or_1_is_named() {
        let df = DataFrame::new_infer_height(vec![
            Column::new("y".into(), [0i64, 2, 1, 1, 1, 0]),
            Column::new("x".into(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        ])
        .unwrap();
        let e = analyse(&df, "y", &[], &|_| None).unwrap_err().to_string();
        assert!(e.contains("row 2 has 2"), "{e}");
        let e = analyse(&frame(), "nope", &[], &|_| None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no target column \"nope\""), "{e}");
    }

    #[test]
    fn deciles_for_many_values() {
        let n = 1000;
        let df = DataFrame::new_infer_height(vec![
            Column::new(
                "y".into(),
                (0..n).map(|i| i64::from(i % 7 == 0)).collect::<Vec<_>>(),
            ),
            Column::new("v".into(), (0..n).map(f64::from).collect::<Vec<_>>()),
        ])
        .unwrap();
        let (_, f) = analyse(&df, "y", &[], &|_| None).unwrap();
        let counts: Vec<usize> = f[0].bins.iter().map(|b| b.count).collect();
        assert_eq!(counts, vec![100; 10]);
        assert_eq!(f[0].bins[0].label, "[0, 99.9]");
    }
}
