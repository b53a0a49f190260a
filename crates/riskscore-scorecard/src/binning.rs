//! One characteristic's optimal binning (optbinning's `OptimalBinning` with its defaults):
//! pre-binning, the optimisation under the automatic trend, special values and missing values
//! in bins of their own, and the binning table with each bin's weight of evidence and
//! information value.

use serde::{Deserialize, Serialize};

use crate::optimize::{auto_trend, jeffrey, optimal_ends, Trend};
use crate::prebin::{bin_counts, prebin_splits, Prebinning};

/// How a characteristic's values are cut into bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Bins {
    /// Bin `i` holds `[splits[i-1], splits[i])` (NumPy's `digitize`, `right=False`).
    Numeric {
        splits: Vec<f64>,
        /// Values binned on their own (e.g. a sentinel such as 365243 days).
        special: Vec<f64>,
    },
    /// Bin `i` holds the categories of `groups[i]`, ordered by event rate.
    Categorical { groups: Vec<Vec<String>> },
}

/// One row of the binning table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinRow {
    /// `[a, b)`, the categories, `Special` or `Missing`.
    pub label: String,
    pub non_events: u64,
    pub events: u64,
    /// Events among the bin's rows; 0 for an empty bin.
    pub event_rate: f64,
    /// `ln((non_events / all non-events) / (events / all events))`: positive is safer than
    /// average. 0 where the bin lacks events or non-events (optbinning's convention).
    pub woe: f64,
    /// The bin's share of the information value.
    pub iv: f64,
}

/// A fitted binning: the bins, then the table's rows in the bins' order followed by the special
/// and missing rows (optbinning's binning table without its totals row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binning {
    pub name: String,
    pub bins: Bins,
    /// The trend the optimisation followed; `None` when there was nothing to merge.
    pub trend: Option<Trend>,
    pub table: Vec<BinRow>,
    /// The characteristic's information value, special and missing rows included.
    pub iv: f64,
}

/// Options for [`Binning`] (optbinning's defaults).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BinningOptions {
    pub prebinning: Prebinning,
    /// Numeric values binned apart from the others.
    pub special: Vec<f64>,
    /// Numeric characteristics whose bins' event rates must follow a trend, by name, instead
    /// of the automatic one (optbinning's `monotonic_trend`): the applicant's age under `train
    /// --monotone-age`, so that an older applicant's bin is never riskier.
    pub trends: Vec<(String, Trend)>,
}

/// Input errors of the binning.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BinningError {
    #[error("{name}: {values} values but {outcomes} outcomes")]
    Length {
        name: String,
        values: usize,
        outcomes: usize,
    },
    #[error("{name}: no row to bin")]
    Empty { name: String },
}

/// The index of the table row a value falls in.
pub type RowIndex = usize;

impl Binning {
    /// Bins a numeric characteristic (`NaN`: missing) against outcomes `y` (1: event).
    pub fn numeric(
        name: &str,
        x: &[f64],
        y: &[u8],
        options: &BinningOptions,
    ) -> Result<Binning, BinningError> {
        check(name, x.len(), y.len())?;
        let is_special = |v: f64| options.special.contains(&v);
        let (mut cx, mut cy) = (Vec::with_capacity(x.len()), Vec::with_capacity(x.len()));
        let (mut special, mut missing) = ([0u64; 2], [0u64; 2]);
        for (&v, &t) in x.iter().zip(y) {
            let t = usize::from(t == 1);
            if v.is_nan() {
                missing[t] += 1;
            } else if is_special(v) {
                special[t] += 1;
            } else {
                cx.push(v);
                cy.push(t as u8);
            }
        }
        let forced = options
            .trends
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| *t);
        let (splits, trend) = optimal_splits(&cx, &cy, x.len(), options, forced);
        let (non, ev) = bin_counts(&cx, &cy, &splits);
        let mut labels = interval_labels(&splits);
        labels.push("Special".into());
        labels.push("Missing".into());
        let counts = with_apart(non, ev, special, missing);
        Ok(Binning {
            name: name.to_owned(),
            bins: Bins::Numeric {
                splits,
                special: options.special.clone(),
            },
            trend,
            iv: 0.0,
            table: Vec::new(),
        }
        .with_table(labels, counts))
    }

    /// Bins a categorical characteristic (`None`: missing): the categories ordered by event
    /// rate, pre-binned on their ranks and merged under an ascending trend.
    pub fn categorical(
        name: &str,
        x: &[Option<&str>],
        y: &[u8],
        options: &BinningOptions,
    ) -> Result<Binning, BinningError> {
        check(name, x.len(), y.len())?;
        let mut counts: std::collections::BTreeMap<&str, [u64; 2]> = Default::default();
        let mut missing = [0u64; 2];
        for (v, &t) in x.iter().zip(y) {
            let t = usize::from(t == 1);
            match v {
                Some(c) => counts.entry(c).or_default()[t] += 1,
                None => missing[t] += 1,
            }
        }
        // pandas' groupby sorts the categories; sort_values then orders them by event rate.
        let mut categories: Vec<(&str, f64)> = counts
            .iter()
            .map(|(&c, n)| (c, n[1] as f64 / (n[0] + n[1]) as f64))
            .collect();
        categories.sort_by(|a, b| a.1.total_cmp(&b.1));
        let rank: std::collections::HashMap<&str, f64> = categories
            .iter()
            .enumerate()
            .map(|(i, (c, _))| (*c, i as f64))
            .collect();
        let (mut cx, mut cy) = (Vec::new(), Vec::new());
        for (v, &t) in x.iter().zip(y) {
            if let Some(c) = v {
                cx.push(rank[c]);
                cy.push(u8::from(t == 1));
            }
        }
        let (splits, trend) = optimal_splits(&cx, &cy, x.len(), options, Some(Trend::Ascending));
        let mut groups = vec![Vec::new(); splits.len() + 1];
        for (i, (c, _)) in categories.iter().enumerate() {
            groups[splits.partition_point(|&s| s <= i as f64)].push((*c).to_owned());
        }
        let (non, ev) = bin_counts(&cx, &cy, &splits);
        let mut labels: Vec<String> = groups.iter().map(|g| g.join(" | ")).collect();
        labels.push("Special".into());
        labels.push("Missing".into());
        let counts = with_apart(non, ev, [0, 0], missing);
        Ok(Binning {
            name: name.to_owned(),
            bins: Bins::Categorical { groups },
            trend,
            iv: 0.0,
            table: Vec::new(),
        }
        .with_table(labels, counts))
    }

    /// The table's WoE and IV columns from the counts (optbinning's `BinningTable.build`).
    fn with_table(mut self, labels: Vec<String>, counts: Vec<[u64; 2]>) -> Binning {
        let total_non: u64 = counts.iter().map(|c| c[0]).sum();
        let total_ev: u64 = counts.iter().map(|c| c[1]).sum();
        let constant = (total_ev as f64 / total_non as f64).ln();
        self.table = labels
            .into_iter()
            .zip(counts)
            .map(|(label, [non, ev])| {
                let rate = if non + ev > 0 {
                    ev as f64 / (non + ev) as f64
                } else {
                    0.0
                };
                let (woe, iv) = if non > 0 && ev > 0 {
                    let p_ev = ev as f64 / total_ev as f64;
                    let p_non = non as f64 / total_non as f64;
                    ((1.0 / rate - 1.0).ln() + constant, jeffrey(p_ev, p_non))
                } else {
                    (0.0, 0.0)
                };
                BinRow {
                    label,
                    non_events: non,
                    events: ev,
                    event_rate: rate,
                    woe,
                    iv,
                }
            })
            .collect();
        self.iv = self.table.iter().map(|r| r.iv).sum();
        self
    }

    /// The table row of a numeric value (`NaN`: missing).
    pub fn row_of_number(&self, v: f64) -> RowIndex {
        let n = self.table.len();
        match &self.bins {
            _ if v.is_nan() => n - 1,
            Bins::Numeric { splits, special } => {
                if special.contains(&v) {
                    n - 2
                } else {
                    splits.partition_point(|&s| s <= v)
                }
            }
            // A number given to a categorical binning: its text as the category.
            Bins::Categorical { .. } => self.row_of_category(Some(&v.to_string())),
        }
    }

    /// The table row of a category (`None`: missing). An unseen category falls in the special
    /// row, which holds no training row: its weight of evidence is 0.
    pub fn row_of_category(&self, c: Option<&str>) -> RowIndex {
        let n = self.table.len();
        match (&self.bins, c) {
            (_, None) => n - 1,
            (Bins::Categorical { groups }, Some(c)) => groups
                .iter()
                .position(|g| g.iter().any(|k| k == c))
                .unwrap_or(n - 2),
            (Bins::Numeric { .. }, Some(c)) => match c.trim().parse::<f64>() {
                Ok(v) => self.row_of_number(v),
                Err(_) => n - 1,
            },
        }
    }

    /// The number of bins before the special and missing rows.
    pub fn n_bins(&self) -> usize {
        self.table.len() - 2
    }
}

fn check(name: &str, values: usize, outcomes: usize) -> Result<(), BinningError> {
    if values != outcomes {
        return Err(BinningError::Length {
            name: name.to_owned(),
            values,
            outcomes,
        });
    }
    if values == 0 {
        return Err(BinningError::Empty {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// The optimal splits of the clean values `x` (of `n_total` rows with missing and special ones)
/// and the trend they follow (`forced`, or chosen automatically): pre-binning, then the
/// optimisation, which is not run with at most one pre-bin.
fn optimal_splits(
    x: &[f64],
    y: &[u8],
    n_total: usize,
    options: &BinningOptions,
    forced: Option<Trend>,
) -> (Vec<f64>, Option<Trend>) {
    let pre = prebin_splits(x, y, n_total, &options.prebinning);
    let (non, ev) = bin_counts(x, y, &pre);
    if pre.is_empty() || non.len() <= 1 {
        return (pre, None);
    }
    let trend = forced.unwrap_or_else(|| auto_trend(&non, &ev));
    let ends = optimal_ends(&non, &ev, trend);
    let splits = pre
        .iter()
        .zip(&ends)
        .filter(|(_, &end)| end)
        .map(|(&s, _)| s)
        .collect();
    (splits, Some(trend))
}

fn with_apart(non: Vec<u64>, ev: Vec<u64>, special: [u64; 2], missing: [u64; 2]) -> Vec<[u64; 2]> {
    let mut counts: Vec<[u64; 2]> = non.into_iter().zip(ev).map(|(a, b)| [a, b]).collect();
    counts.push(special);
    counts.push(missing);
    counts
}

fn interval_labels(splits: &[f64]) -> Vec<String> {
    let mut edges = vec![f64::NEG_INFINITY];
    edges.extend_from_slice(splits);
    edges.push(f64::INFINITY);
    edges
        .windows(2)
        .map(|w| format!("[{}, {})", w[0], w[1]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn woe_and_iv_by_hand() {
        // Two bins fixed by hand: [..5) with 8 goods and 2 bads, [5..) with 2 goods and 8
        // bads, and one missing good. Totals: 11 goods (non-events), 10 bads (events).
        // Bin 1: woe = ln((8/11) / (2/10)) = ln(3.6364) = 1.29098;
        //        iv  = (2/10 - 8/11) * ln((2/10) / (8/11)) = 0.52727 * 1.29098 = 0.68070.
        // Bin 2: woe = ln((2/11) / (8/10)) = -1.48160; iv = (0.8 - 0.18182) * 1.48160 = 0.91590.
        // Missing: no bad, so woe 0 and iv 0 (optbinning's convention).
        let b = Binning {
            name: "x".into(),
            bins: Bins::Numeric {
                splits: vec![5.0],
                special: vec![],
            },
            trend: None,
            table: vec![],
            iv: 0.0,
        }
        .with_table(
            vec!["a".into(), "b".into(), "Special".into(), "Missing".into()],
            vec![[8, 2], [2, 8], [0, 0], [1, 0]],
        );
        let woe: Vec<f64> = b.table.iter().map(|r| r.woe).collect();
        let iv: Vec<f64> = b.table.iter().map(|r| r.iv).collect();
        for (got, want) in woe.iter().zip([1.29098, -1.48160, 0.0, 0.0]) {
            assert!((got - want).abs() < 1e-5, "{woe:?}");
        }
        for (got, want) in iv.iter().zip([0.68070, 0.91590, 0.0, 0.0]) {
            assert!((got - want).abs() < 1e-5, "{iv:?}");
        }
        assert!((b.iv - 1.59660).abs() < 1e-5);
        assert_eq!(b.row_of_number(4.9), 0);
        assert_eq!(b.row_of_number(5.0), 1);
        assert_eq!(b.row_of_number(f64::NAN), 3);
    }

    /// A trend asked for by name replaces the automatic one: on event rates that rise with
    /// the value, a descending trend leaves no bin riskier than a lower one.
    #[test]
    fn a_trend_asked_for_is_followed() {
        let x: Vec<f64> = (0..2000).map(|i| f64::from(i % 80)).collect();
        let y: Vec<u8> = (0..2000)
            .map(|i| u8::from((i * 7919) % 100 < 5 + (i % 80)))
            .collect();
        let auto = Binning::numeric("AGE", &x, &y, &BinningOptions::default()).unwrap();
        assert_eq!(auto.trend, Some(Trend::Ascending));
        assert!(auto.table.len() > 4, "{:?}", auto.table.len());
        let options = BinningOptions {
            trends: vec![("AGE".into(), Trend::Descending)],
            ..Default::default()
        };
        let forced = Binning::numeric("AGE", &x, &y, &options).unwrap();
        assert_eq!(forced.trend, Some(Trend::Descending));
        let rates: Vec<f64> = forced.table[..forced.table.len() - 2]
            .iter()
            .map(|r| r.event_rate)
            .collect();
        assert!(rates.windows(2).all(|w| w[0] >= w[1]), "{rates:?}");
        let other = Binning::numeric("INCOME", &x, &y, &options).unwrap();
        assert_eq!(other.trend, Some(Trend::Ascending));
    }

    #[test]
    fn errors_name_the_characteristic() {
        let e = Binning::numeric("AGE", &[1.0], &[], &BinningOptions::default());
        assert_eq!(e.unwrap_err().to_string(), "AGE: 1 values but 0 outcomes");
    }
}
