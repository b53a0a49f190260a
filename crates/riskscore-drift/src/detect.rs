//! Per-column drift with Evidently's default test choice, PSI, and the data set's verdict.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::stats;

/// Evidently's column types (text columns are not tested).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Numerical,
    Categorical,
}

/// A column's values: numbers (NaN for missing) or category labels (None for missing).
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    Numeric(Vec<f64>),
    Category(Vec<Option<String>>),
}

/// Reference rows above which the large-sample distances replace the tests.
pub const SMALL_SAMPLE: usize = 1000;
/// Evidently's share of drifted columns at which the data set drifts.
pub const DRIFT_SHARE: f64 = 0.5;

/// One column's drift.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnDrift {
    pub column: String,
    pub kind: Kind,
    /// Evidently's name of the test ("K-S p_value", "Wasserstein distance (normed)", ...), or
    /// "not tested".
    pub test: String,
    /// The p-value or the distance.
    pub score: Option<f64>,
    pub threshold: f64,
    pub drifted: bool,
    /// Population stability index over the same buckets (Evidently's PSI).
    pub psi: Option<f64>,
    /// "stable" (< 0.1), "moderate" (0.1 to 0.25) or "significant" (>= 0.25).
    pub psi_band: Option<String>,
    /// Values present (not missing, finite) in each set.
    pub reference_values: usize,
    pub current_values: usize,
    /// Bucket labels with the reference's and the current set's share of each, for charts.
    pub buckets: Vec<(String, f64, f64)>,
    /// Why a column was not tested.
    pub note: Option<String>,
}

/// The data set's drift: every column and the verdict.
#[derive(Debug, Clone, Serialize)]
pub struct DataDrift {
    pub reference_rows: usize,
    pub current_rows: usize,
    pub columns: Vec<ColumnDrift>,
    pub tested: usize,
    pub drifted: usize,
    pub share: f64,
    pub drift_share: f64,
    pub dataset_drift: bool,
}

/// The verdict over columns: drifted when at least [`DRIFT_SHARE`] of the tested ones drift.
pub fn dataset_drift(
    columns: Vec<ColumnDrift>,
    reference_rows: usize,
    current_rows: usize,
) -> DataDrift {
    let tested = columns.iter().filter(|c| c.score.is_some()).count();
    let drifted = columns.iter().filter(|c| c.drifted).count();
    let share = if tested == 0 {
        0.0
    } else {
        drifted as f64 / tested as f64
    };
    DataDrift {
        reference_rows,
        current_rows,
        columns,
        tested,
        drifted,
        share,
        drift_share: DRIFT_SHARE,
        dataset_drift: tested > 0 && share >= DRIFT_SHARE,
    }
}

/// A number as a category label.
pub(crate) fn label(v: f64) -> String {
    // -0.0 and 0.0 are one value, as in pandas.
    if v == 0.0 {
        "0".into()
    } else {
        v.to_string()
    }
}

enum Clean {
    Num(Vec<f64>),
    Cat(Vec<String>),
}

impl Clean {
    fn len(&self) -> usize {
        match self {
            Clean::Num(v) => v.len(),
            Clean::Cat(v) => v.len(),
        }
    }

    /// Each distinct value's label (numbers by their shortest exact text) and count.
    fn value_counts(&self) -> BTreeMap<String, f64> {
        let mut m: BTreeMap<String, f64> = BTreeMap::new();
        match self {
            // Sorted: one label per run of equal values.
            Clean::Num(v) => {
                let mut i = 0;
                while i < v.len() {
                    let mut j = i + 1;
                    while j < v.len() && v[j] == v[i] {
                        j += 1;
                    }
                    *m.entry(label(v[i])).or_default() += (j - i) as f64;
                    i = j;
                }
            }
            Clean::Cat(v) => {
                for k in v {
                    *m.entry(k.clone()).or_default() += 1.0;
                }
            }
        }
        m
    }
}

/// Distinct values of two sorted samples together, counted up to `cap`.
fn distinct_sorted(a: &[f64], b: &[f64], cap: usize) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    let mut last: Option<f64> = None;
    while (i < a.len() || j < b.len()) && n <= cap {
        let v = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) if x <= y => {
                i += 1;
                x
            }
            (_, Some(&y)) => {
                j += 1;
                y
            }
            (Some(&x), None) => {
                i += 1;
                x
            }
            (None, None) => break,
        };
        if last != Some(v) {
            n += 1;
            last = Some(v);
        }
    }
    n
}

fn clean(d: &ColumnData) -> Clean {
    match d {
        ColumnData::Numeric(v) => {
            let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
            v.sort_by(f64::total_cmp);
            Clean::Num(v)
        }
        ColumnData::Category(v) => Clean::Cat(v.iter().flatten().cloned().collect()),
    }
}

/// Each label's count in the reference and in the current set.
type Table = BTreeMap<String, (f64, f64)>;

/// Counts of each label in both sets, over the union of their labels.
fn counts(r: &Clean, c: &Clean) -> Table {
    let mut m = Table::new();
    for (k, n) in r.value_counts() {
        m.entry(k).or_default().0 += n;
    }
    for (k, n) in c.value_counts() {
        m.entry(k).or_default().1 += n;
    }
    m
}

/// Evidently's `get_binned_data` without zero filling: Sturges bins over both sets for
/// numerical columns with more than 20 distinct reference values, else one bucket per value.
/// `table` gives the per-value counts of both sets (computed once, when needed).
fn binned<'a>(
    kind: Kind,
    r: &Clean,
    c: &Clean,
    table: &dyn Fn() -> &'a Table,
) -> Vec<(String, f64, f64)> {
    if let (Kind::Numerical, Clean::Num(rv), Clean::Num(cv)) = (kind, r, c) {
        let distinct = rv.windows(2).filter(|w| w[0] != w[1]).count() + 1;
        if distinct > 20 {
            let min = rv[0].min(cv[0]);
            let max = rv[rv.len() - 1].max(cv[cv.len() - 1]);
            let edges = stats::sturges_edges(min, max, rv.len() + cv.len());
            let hr = stats::histogram(rv, &edges);
            let hc = stats::histogram(cv, &edges);
            return (0..hr.len())
                .map(|i| {
                    (
                        format!("{:.4}..{:.4}", edges[i], edges[i + 1]),
                        hr[i] / rv.len() as f64,
                        hc[i] / cv.len() as f64,
                    )
                })
                .collect();
        }
    }
    let (nr, nc) = (r.len() as f64, c.len() as f64);
    table()
        .iter()
        .map(|(k, (a, b))| (k.clone(), a / nr, b / nc))
        .collect()
}

/// One column's drift with Evidently's default test for its type and size.
pub fn column_drift(
    name: &str,
    kind: Kind,
    reference: &ColumnData,
    current: &ColumnData,
) -> ColumnDrift {
    let (r, c) = (clean(reference), clean(current));
    let mut out = ColumnDrift {
        column: name.to_owned(),
        kind,
        test: "not tested".into(),
        score: None,
        threshold: 0.0,
        drifted: false,
        psi: None,
        psi_band: None,
        reference_values: r.len(),
        current_values: c.len(),
        buckets: Vec::new(),
        note: None,
    };
    if r.len() == 0 || c.len() == 0 {
        out.note = Some(format!(
            "no values in the {} data",
            if r.len() == 0 { "reference" } else { "current" }
        ));
        return out;
    }
    let cell = std::cell::OnceCell::new();
    let table = || cell.get_or_init(|| counts(&r, &c));
    let buckets = binned(kind, &r, &c, &table);
    let n_values = match (&r, &c) {
        (Clean::Num(a), Clean::Num(b)) => distinct_sorted(a, b, 6),
        _ => table().len(),
    };
    let small = r.len() <= SMALL_SAMPLE;
    let numeric = kind == Kind::Numerical;
    let (test, threshold, score, drifted): (&str, f64, f64, bool) = if small {
        if numeric && n_values > 5 {
            let (Clean::Num(rv), Clean::Num(cv)) = (&r, &c) else {
                unreachable_kind(&mut out);
                return out;
            };
            let (_, p) = stats::ks_2samp(rv, cv);
            ("K-S p_value", 0.05, p, p <= 0.05)
        } else if n_values > 2 {
            let table = table();
            let k_norm = c.len() as f64 / r.len() as f64;
            let exp: Vec<f64> = table.values().map(|(a, _)| a * k_norm).collect();
            let obs: Vec<f64> = table.values().map(|(_, b)| *b).collect();
            let p = stats::chisquare_p(&obs, &exp);
            ("chi-square p_value", 0.05, p, p < 0.05)
        } else {
            let table = table();
            let in_r = table.values().filter(|v| v.0 > 0.0).count();
            let in_c = table.values().filter(|v| v.1 > 0.0).count();
            let p = if table.len() == 1 && in_r == 1 && in_c == 1 {
                1.0
            } else {
                // The first key in sorted order is 0, the other 1 (only the sign of z depends
                // on which).
                let (n_r, n_c) = (r.len() as f64, c.len() as f64);
                let (first_r, first_c) = table.values().next().copied().unwrap_or_default();
                stats::z_test_p(n_r - first_r, n_r, n_c - first_c, n_c)
            };
            ("Z-test p_value", 0.05, p, p < 0.05)
        }
    } else if numeric && n_values > 5 {
        let (Clean::Num(rv), Clean::Num(cv)) = (&r, &c) else {
            unreachable_kind(&mut out);
            return out;
        };
        let norm = stats::std_pop(rv).max(0.001);
        let d = stats::wasserstein(rv, cv) / norm;
        ("Wasserstein distance (normed)", 0.1, d, d >= 0.1)
    } else {
        let p: Vec<f64> = buckets.iter().map(|x| x.1).collect();
        let q: Vec<f64> = buckets.iter().map(|x| x.2).collect();
        let d = stats::jensenshannon(&p, &q);
        ("Jensen-Shannon distance", 0.1, d, d >= 0.1)
    };
    out.test = test.into();
    out.threshold = threshold;
    out.score = Some(score);
    out.drifted = drifted;
    let rp: Vec<f64> = buckets.iter().map(|x| x.1).collect();
    let cp: Vec<f64> = buckets.iter().map(|x| x.2).collect();
    let psi = stats::psi(&rp, &cp);
    out.psi = Some(psi);
    out.psi_band = Some(
        if psi < 0.1 {
            "stable"
        } else if psi < 0.25 {
            "moderate"
        } else {
            "significant"
        }
        .into(),
    );
    out.buckets = buckets;
    out
}

/// A numerical column always carries numbers; a categorical one declared numerical cannot
/// reach the numeric tests.
fn unreachable_kind(out: &mut ColumnDrift) {
    out.note = Some("a categorical column cannot be tested as numerical".into());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: impl IntoIterator<Item = f64>) -> ColumnData {
        ColumnData::Numeric(v.into_iter().collect())
    }

    #[test]
    fn identical_data_does_not_drift() {
        for n in [300usize, 3000] {
            let v = num((0..n).map(|i| ((i * 37) % 101) as f64));
            let d = column_drift("x", Kind::Numerical, &v, &v);
            assert!(!d.drifted, "{d:?}");
            assert_eq!(d.psi, Some(0.0));
        }
    }

    #[test]
    fn a_planted_shift_is_found_by_the_test_of_each_size() {
        for (n, test) in [
            (500usize, "K-S p_value"),
            (5000, "Wasserstein distance (normed)"),
        ] {
            let r = num((0..n).map(|i| ((i * 37) % 101) as f64));
            let c = num((0..n).map(|i| ((i * 37) % 101) as f64 + 30.0));
            let d = column_drift("x", Kind::Numerical, &r, &c);
            assert_eq!(d.test, test);
            assert!(d.drifted, "{d:?}");
            assert_eq!(d.psi_band.as_deref(), Some("significant"));
        }
    }

    #[test]
    fn empty_and_constant_columns_are_handled() {
        let empty = num([f64::NAN, f64::INFINITY]);
        let some = num([1.0, 2.0]);
        let d = column_drift("e", Kind::Numerical, &empty, &some);
        assert!(d.score.is_none() && !d.drifted);
        assert!(d.note.as_deref().unwrap_or("").contains("reference"));
        let k = num([3.0; 50]);
        let d = column_drift("k", Kind::Numerical, &k, &k);
        assert_eq!(d.test, "Z-test p_value");
        assert_eq!(d.score, Some(1.0));
        let cat =
            |v: &[&str]| ColumnData::Category(v.iter().map(|s| Some(s.to_string())).collect());
        let d = column_drift(
            "c",
            Kind::Categorical,
            &cat(&["a", "b", "c"]),
            &cat(&["a", "a", "d"]),
        );
        assert_eq!(d.test, "chi-square p_value");
    }
}
