//! Per table: size, column types, missing values, distributions, duplicates, key integrity and
//! anomalies.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::Path;

use polars::prelude::{Column, DataFrame, DataType};
use serde::Serialize;

use crate::{polars_err, Result};

/// The code for "not applicable" in Home Credit's day counts: 365243 days, about 1,000 years.
pub const DAYS_SENTINEL: f64 = 365_243.0;
/// Values beyond this many interquartile ranges outside the quartiles are outliers.
pub const OUTLIER_IQR: f64 = 3.0;
/// ... and flagged as anomalies beyond this many.
pub const FAR_IQR: f64 = 10.0;

#[derive(Debug, Clone, Serialize)]
pub struct TableProfile {
    pub name: String,
    pub file: String,
    pub rows: usize,
    pub columns: Vec<ColumnProfile>,
    /// Share of all cells that are missing.
    pub missing_cells: f64,
    /// Rows equal to an earlier row in every column (by 64-bit row hashes).
    pub duplicate_rows: usize,
    /// The primary key and how many rows repeat a key of an earlier row.
    pub key: Option<String>,
    pub duplicate_keys: Option<usize>,
    pub foreign_keys: Vec<KeyCheck>,
}

/// A foreign key's integrity: rows whose key has no row in the parent table.
#[derive(Debug, Clone, Serialize)]
pub struct KeyCheck {
    pub column: String,
    pub parent: String,
    /// None when the parent table is absent.
    pub orphans: Option<usize>,
    pub share: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnProfile {
    pub name: String,
    pub dtype: String,
    /// `numeric`, `categorical` or `other`.
    pub kind: String,
    pub missing: usize,
    pub missing_rate: f64,
    pub distinct: usize,
    pub min: Option<f64>,
    pub q1: Option<f64>,
    pub median: Option<f64>,
    pub q3: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    /// Values beyond 3 interquartile ranges outside the quartiles.
    pub outliers: usize,
    /// The most frequent values of a categorical column, with their counts.
    pub top: Vec<(String, usize)>,
    pub description: Option<String>,
}

/// Something an analyst should look at before modelling.
#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    pub table: String,
    pub column: String,
    /// `sentinel`, `placeholder category`, `numbers with commas`, `far outliers`,
    /// `duplicate rows`, `duplicate keys` or `orphan keys`.
    pub kind: String,
    pub count: usize,
    pub share: f64,
    pub note: String,
}

/// The keys of parent tables seen so far, by name.
#[derive(Debug, Default)]
pub struct ParentKeys {
    sets: HashMap<&'static str, HashSet<i64>>,
}

impl ParentKeys {
    pub fn add(&mut self, df: &DataFrame, column: &str, name: &'static str) -> Result<()> {
        let set = self.sets.entry(name).or_default();
        set.extend(ints(df, column)?.into_iter().flatten());
        Ok(())
    }
}

fn ints(df: &DataFrame, column: &str) -> Result<Vec<Option<i64>>> {
    let c = df
        .column(column)
        .map_err(polars_err(format!("column {column}")))?
        .cast(&DataType::Int64)
        .map_err(polars_err(format!("column {column} as integers")))?;
    Ok(c.i64()
        .map_err(polars_err(format!("column {column}")))?
        .iter()
        .collect())
}

/// Profiles a table: its columns on all cores, duplicates, its primary key and its foreign keys
/// (`(column, parent keys' name)`) against the parents seen so far. Returns the anomalies too.
pub fn profile_table(
    name: &str,
    file: &Path,
    df: &DataFrame,
    key: Option<&str>,
    foreign: &[(&str, &str)],
    parents: &ParentKeys,
    describe: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<(TableProfile, Vec<Anomaly>)> {
    let rows = df.height();
    let mut columns = Vec::with_capacity(df.width());
    let mut anomalies = Vec::new();
    for r in par_map(df.columns(), |c| profile_column(name, c, describe))? {
        let (profile, found) = r?;
        columns.push(profile);
        anomalies.extend(found);
    }
    let cells = (rows * columns.len()).max(1);
    let missing: usize = columns.iter().map(|c| c.missing).sum();
    let duplicate_rows = duplicate_rows(df)?;
    if duplicate_rows > 0 {
        anomalies.push(Anomaly {
            table: name.into(),
            column: String::new(),
            kind: "duplicate rows".into(),
            count: duplicate_rows,
            share: duplicate_rows as f64 / rows.max(1) as f64,
            note: "rows identical to an earlier row in every column".into(),
        });
    }
    let duplicate_keys = match key {
        Some(k) => {
            let mut v: Vec<i64> = ints(df, k)?.into_iter().flatten().collect();
            v.sort_unstable();
            let d = v.windows(2).filter(|w| w[0] == w[1]).count();
            if d > 0 {
                anomalies.push(Anomaly {
                    table: name.into(),
                    column: k.into(),
                    kind: "duplicate keys".into(),
                    count: d,
                    share: d as f64 / rows.max(1) as f64,
                    note: format!("{k} should identify a row"),
                });
            }
            Some(d)
        }
        None => None,
    };
    let mut foreign_keys = Vec::new();
    for (column, parent) in foreign {
        let check = match parents.sets.get(parent) {
            Some(set) => {
                let orphans = ints(df, column)?
                    .into_iter()
                    .flatten()
                    .filter(|k| !set.contains(k))
                    .count();
                if orphans > 0 {
                    anomalies.push(Anomaly {
                        table: name.into(),
                        column: (*column).into(),
                        kind: "orphan keys".into(),
                        count: orphans,
                        share: orphans as f64 / rows.max(1) as f64,
                        note: format!("no row in {parent} with this {column}"),
                    });
                }
                KeyCheck {
                    column: (*column).into(),
                    parent: (*parent).into(),
                    orphans: Some(orphans),
                    share: Some(orphans as f64 / rows.max(1) as f64),
                }
            }
            None => KeyCheck {
                column: (*column).into(),
                parent: (*parent).into(),
                orphans: None,
                share: None,
            },
        };
        foreign_keys.push(check);
    }
    Ok((
        TableProfile {
            name: name.into(),
            file: file.display().to_string(),
            rows,
            missing_cells: missing as f64 / cells as f64,
            columns,
            duplicate_rows,
            key: key.map(str::to_owned),
            duplicate_keys,
            foreign_keys,
        },
        anomalies,
    ))
}

/// `f` over the items on all cores, results in order; a worker's panic is an error, never a
/// shorter result.
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Result<Vec<R>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                let f = &f;
                s.spawn(move || part.iter().map(f).collect::<Vec<R>>())
            })
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for h in handles {
            out.extend(
                h.join()
                    .map_err(|panic| crate::Error::Internal(panic_text(&*panic)))?,
            );
        }
        Ok(out)
    })
}

/// What a worker thread's panic said.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    let said = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    format!("a worker thread failed: {said}")
}

/// A numeric column's finite values (missing and infinite left out).
pub(crate) fn finite_values(c: &Column) -> Result<Vec<f64>> {
    let f = c
        .cast(&DataType::Float64)
        .map_err(polars_err(format!("column {} as numbers", c.name())))?;
    Ok(f.f64()
        .map_err(polars_err(format!("column {}", c.name())))?
        .iter()
        .flatten()
        .filter(|v| v.is_finite())
        .collect())
}

/// NumPy's default (linear) quantile of sorted values.
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = (sorted.len() - 1) as f64 * q;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

pub(crate) fn is_numeric(dt: &DataType) -> bool {
    dt.is_primitive_numeric() || matches!(dt, DataType::Boolean)
}

/// A column's summary and its anomalies (sentinel day counts, placeholder categories, far
/// outliers), both from one pass over its values.
fn profile_column(
    table: &str,
    c: &Column,
    describe: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<(ColumnProfile, Vec<Anomaly>)> {
    let rows = c.len();
    let missing = c.null_count();
    let dt = c.dtype().clone();
    let mut p = ColumnProfile {
        name: c.name().to_string(),
        dtype: dt.to_string(),
        kind: "other".into(),
        missing,
        missing_rate: missing as f64 / rows.max(1) as f64,
        distinct: 0,
        min: None,
        q1: None,
        median: None,
        q3: None,
        max: None,
        mean: None,
        std: None,
        outliers: 0,
        top: Vec::new(),
        description: describe(c.name()),
    };
    let mut anomalies = Vec::new();
    let anomaly = |kind: &str, count: usize, note: String| Anomaly {
        table: table.into(),
        column: c.name().to_string(),
        kind: kind.into(),
        count,
        share: count as f64 / rows.max(1) as f64,
        note,
    };
    if is_numeric(&dt) {
        p.kind = "numeric".into();
        let mut v = finite_values(c)?;
        // Missing also counts NaN and infinite values.
        p.missing = rows - v.len();
        p.missing_rate = p.missing as f64 / rows.max(1) as f64;
        if v.is_empty() {
            return Ok((p, anomalies));
        }
        v.sort_unstable_by(f64::total_cmp);
        p.distinct = 1 + v.windows(2).filter(|w| w[0] != w[1]).count();
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0).max(1.0);
        let (q1, q3) = (quantile(&v, 0.25), quantile(&v, 0.75));
        let iqr = q3 - q1;
        // Values outside [lo, hi], counted on the sorted values.
        let outside = |lo: f64, hi: f64| {
            v.partition_point(|x| *x < lo) + (v.len() - v.partition_point(|x| *x <= hi))
        };
        if iqr > 0.0 {
            p.outliers = outside(q1 - OUTLIER_IQR * iqr, q3 + OUTLIER_IQR * iqr);
        }
        (p.min, p.q1, p.median, p.q3, p.max) = (
            Some(v[0]),
            Some(q1),
            Some(quantile(&v, 0.5)),
            Some(q3),
            v.last().copied(),
        );
        (p.mean, p.std) = (Some(mean), Some(var.sqrt()));
        let days = p.name.starts_with("DAYS_");
        let coded =
            v.partition_point(|x| *x <= DAYS_SENTINEL) - v.partition_point(|x| *x < DAYS_SENTINEL);
        if days && p.max == Some(DAYS_SENTINEL) {
            anomalies.push(anomaly(
                "sentinel",
                coded,
                "365243 days (1,000 years) codes \"not applicable\"; treat it as missing".into(),
            ));
        }
        let (lo, hi) = (q1 - FAR_IQR * iqr, q3 + FAR_IQR * iqr);
        // The sentinel code of a day count is not an outlier.
        let far = outside(lo, hi) - if days && DAYS_SENTINEL > hi { coded } else { 0 };
        if iqr > 0.0 && far > 0 {
            anomalies.push(anomaly(
                "far outliers",
                far,
                format!(
                    "beyond {FAR_IQR} interquartile ranges of the quartiles [{}, {}]; range [{}, {}]",
                    riskscore_report::num(q1, 4),
                    riskscore_report::num(q3, 4),
                    riskscore_report::num(v[0], 4),
                    riskscore_report::num(v[v.len() - 1], 4)
                ),
            ));
        }
    } else if matches!(dt, DataType::String) {
        p.kind = "categorical".into();
        let s = c
            .str()
            .map_err(polars_err(format!("column {}", c.name())))?;
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for v in s.iter().flatten() {
            *counts.entry(v).or_default() += 1;
        }
        if let Some(first) = riskscore_data::read::written_with_commas(c) {
            anomalies.push(anomaly(
                "numbers with commas",
                rows - missing,
                format!(
                    "every value is a number written with commas (`{first}`): {}; `train` \
                     refuses the column",
                    riskscore_data::read::COMMA_NUMBERS
                ),
            ));
        }
        if let Some(&n) = counts.get("XNA") {
            anomalies.push(anomaly(
                "placeholder category",
                n,
                "\"XNA\" means not available: a missing value spelled as a category".into(),
            ));
        }
        p.distinct = counts.len();
        let mut top: Vec<(String, usize)> =
            counts.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(5);
        p.top = top;
    }
    Ok((p, anomalies))
}

/// Rows equal in every column to an earlier row, by 64-bit hashes of the rows.
fn duplicate_rows(df: &DataFrame) -> Result<usize> {
    let mut h = vec![0xcbf2_9ce4_8422_2325u64; df.height()];
    for c in df.columns() {
        let mix = |acc: &mut u64, v: u64| {
            *acc = (acc.rotate_left(5) ^ v).wrapping_mul(0x0100_0000_01b3);
        };
        if is_numeric(c.dtype()) {
            let f = c
                .cast(&DataType::Float64)
                .map_err(polars_err(format!("column {}", c.name())))?;
            let f = f
                .f64()
                .map_err(polars_err(format!("column {}", c.name())))?;
            for (acc, v) in h.iter_mut().zip(f.iter()) {
                mix(acc, v.map_or(0x9e37_79b9_7f4a_7c15, f64::to_bits));
            }
        } else {
            let s = c
                .cast(&DataType::String)
                .map_err(polars_err(format!("column {}", c.name())))?;
            let s = s
                .str()
                .map_err(polars_err(format!("column {}", c.name())))?;
            for (acc, v) in h.iter_mut().zip(s.iter()) {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                v.hash(&mut hasher);
                mix(acc, hasher.finish());
            }
        }
    }
    h.sort_unstable();
    Ok(h.windows(2).filter(|w| w[0] == w[1]).count())
}
