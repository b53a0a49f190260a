//! The scorecard: characteristics chosen by information value and correlation, a logistic
//! regression on their weights of evidence, and points scaled so that `base_points` stands for
//! good:bad odds of `base_odds` and every `pdo` points double the odds.
//!
//! A client's score is the sum of the points of the bins they fall in, one per characteristic;
//! the probability of default follows from the score alone,
//! `p = 1 / (1 + exp((score - offset) / factor))`, so the points table (or its SQL) is the whole
//! model. The reasons of a score are the characteristics where the client lost the most points
//! against the best bin of each (the classic scorecard reasons).

use serde::{Deserialize, Serialize};

use crate::binning::{Binning, BinningError, BinningOptions};

/// One characteristic's values.
#[derive(Debug, Clone, Copy)]
pub enum Values<'a> {
    /// `NaN`: missing.
    Numeric(&'a [f64]),
    /// `None`: missing.
    Categorical(&'a [Option<&'a str>]),
}

/// A candidate characteristic: its name and values.
#[derive(Debug, Clone, Copy)]
pub struct Column<'a> {
    pub name: &'a str,
    pub values: Values<'a>,
}

/// The scorecard's settings; [`ScorecardOptions::check`] rejects a bad combination up front.
#[derive(Debug, Clone, PartialEq)]
pub struct ScorecardOptions {
    /// Points to double the good:bad odds (20).
    pub pdo: f64,
    /// The score of good:bad odds `base_odds` (600).
    pub base_points: f64,
    /// Good:bad odds at `base_points` (50).
    pub base_odds: f64,
    /// A characteristic below this information value is left out (0.02, "not predictive").
    pub min_iv: f64,
    /// A characteristic whose weights of evidence correlate beyond this with a stronger one
    /// already chosen is left out (0.7).
    pub max_correlation: f64,
    /// At most this many characteristics, the strongest first (20).
    pub max_characteristics: usize,
    pub binning: BinningOptions,
}

impl Default for ScorecardOptions {
    fn default() -> Self {
        ScorecardOptions {
            pdo: 20.0,
            base_points: 600.0,
            base_odds: 50.0,
            min_iv: 0.02,
            max_correlation: 0.7,
            max_characteristics: 20,
            binning: BinningOptions::default(),
        }
    }
}

/// The scorecard's errors: bad options and data it cannot use.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScorecardError {
    #[error("--pdo must be a positive number of points, not {0}")]
    Pdo(f64),
    #[error("--base-odds must be positive odds (good:bad), not {0}")]
    BaseOdds(f64),
    #[error("--base-points must be a finite number, not {0}")]
    BasePoints(f64),
    #[error("the maximum correlation must be within (0, 1], not {0}")]
    Correlation(f64),
    #[error("at least one characteristic is needed, not {0}")]
    MaxCharacteristics(usize),
    #[error("the outcomes must be 0 or 1; row {row} has {value}")]
    Outcome { row: usize, value: u8 },
    #[error("the outcomes need both goods and defaulters ({events} defaulters among {rows} rows)")]
    OneClass { events: usize, rows: usize },
    #[error("no characteristic has an information value of at least {min_iv} (the best: {best})")]
    NoCharacteristic { min_iv: f64, best: String },
    #[error(transparent)]
    Binning(#[from] BinningError),
}

impl ScorecardOptions {
    pub fn check(&self) -> Result<(), ScorecardError> {
        if !(self.pdo > 0.0 && self.pdo.is_finite()) {
            return Err(ScorecardError::Pdo(self.pdo));
        }
        if !(self.base_odds > 0.0 && self.base_odds.is_finite()) {
            return Err(ScorecardError::BaseOdds(self.base_odds));
        }
        if !self.base_points.is_finite() {
            return Err(ScorecardError::BasePoints(self.base_points));
        }
        if !(self.max_correlation > 0.0 && self.max_correlation <= 1.0) {
            return Err(ScorecardError::Correlation(self.max_correlation));
        }
        if self.max_characteristics == 0 {
            return Err(ScorecardError::MaxCharacteristics(0));
        }
        Ok(())
    }
}

/// Points scaling: `score = offset + factor * ln(good:bad odds)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scaling {
    pub pdo: f64,
    pub base_points: f64,
    pub base_odds: f64,
    /// `pdo / ln 2`.
    pub factor: f64,
    /// `base_points - factor * ln(base_odds)`.
    pub offset: f64,
}

impl Scaling {
    fn new(o: &ScorecardOptions) -> Scaling {
        let factor = o.pdo / std::f64::consts::LN_2;
        Scaling {
            pdo: o.pdo,
            base_points: o.base_points,
            base_odds: o.base_odds,
            factor,
            offset: o.base_points - factor * o.base_odds.ln(),
        }
    }

    /// The probability of default of a score.
    pub fn probability(&self, score: f64) -> f64 {
        1.0 / (1.0 + ((score - self.offset) / self.factor).exp())
    }

    /// The cutoff score of a probability threshold: a score at or below it is refused, which
    /// is a probability at or above the threshold (the decision is taken on the score, so that
    /// the points table, or its SQL, decides exactly as riskscore does).
    pub fn cutoff(&self, threshold: f64) -> f64 {
        self.offset + self.factor * ((1.0 - threshold) / threshold).ln()
    }
}

/// A characteristic of the scorecard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Characteristic {
    /// The position of its column among the columns the scorecard was fitted on.
    pub column: usize,
    pub binning: Binning,
    /// The logistic regression's coefficient of its weight of evidence (negative: a higher
    /// WoE, a safer bin, lowers the odds of default).
    pub coefficient: f64,
    /// The points of each row of its binning table.
    pub points: Vec<f64>,
}

impl Characteristic {
    /// The most points this characteristic gives.
    pub fn max_points(&self) -> f64 {
        self.points
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

/// A characteristic left out, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    pub name: String,
    pub iv: f64,
    pub reason: String,
}

/// A fitted scorecard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    pub scaling: Scaling,
    pub intercept: f64,
    pub characteristics: Vec<Characteristic>,
    pub rejected: Vec<Rejected>,
}

/// One client's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    pub score: f64,
    pub probability: f64,
    /// Points per characteristic, in the scorecard's order.
    pub points: Vec<f64>,
    /// The table row per characteristic.
    pub rows: Vec<usize>,
}

impl Scorecard {
    /// Bins every column, chooses the characteristics and fits the regression.
    pub fn fit(
        columns: &[Column],
        y: &[u8],
        options: &ScorecardOptions,
    ) -> Result<Scorecard, ScorecardError> {
        options.check()?;
        check_outcomes(y)?;
        let binnings = bin_all(columns, y, &options.binning)?;
        // Each value's WoE, only for the characteristics that reach the correlation check.
        let woe = |i: usize| -> Vec<f64> {
            let table = &binnings[i].table;
            table_rows(&binnings[i], columns[i].values)
                .into_iter()
                .map(|r| table[r].woe)
                .collect()
        };
        let mut order: Vec<usize> = (0..columns.len()).collect();
        order.sort_by(|&a, &b| binnings[b].iv.total_cmp(&binnings[a].iv).then(a.cmp(&b)));
        let (mut chosen, mut chosen_woe, mut rejected) = (Vec::new(), Vec::new(), Vec::new());
        for &i in &order {
            let b = &binnings[i];
            let reject = |reason: String| Rejected {
                name: b.name.clone(),
                iv: b.iv,
                reason,
            };
            if b.iv < options.min_iv {
                rejected.push(reject(format!(
                    "information value below {}",
                    options.min_iv
                )));
                continue;
            }
            if chosen.len() >= options.max_characteristics {
                rejected.push(reject(format!(
                    "{} stronger characteristics already chosen",
                    options.max_characteristics
                )));
                continue;
            }
            let w = woe(i);
            let twin = chosen_woe
                .iter()
                .zip(&chosen)
                .map(|(other, &j): (&Vec<f64>, &usize)| (pearson(&w, other).abs(), j))
                .find(|(r, _)| *r > options.max_correlation);
            if let Some((r, j)) = twin {
                rejected.push(reject(format!(
                    "weight of evidence correlated {r:.2} with {}",
                    binnings[j].name
                )));
                continue;
            }
            chosen.push(i);
            chosen_woe.push(w);
        }
        if chosen.is_empty() {
            let best = order
                .first()
                .map(|&i| format!("{} {:.4}", binnings[i].name, binnings[i].iv))
                .unwrap_or_default();
            return Err(ScorecardError::NoCharacteristic {
                min_iv: options.min_iv,
                best,
            });
        }
        // A characteristic with a positive coefficient (riskier where its WoE says safer) is a
        // collinearity artefact: it is left out and the regression fitted again.
        let (intercept, coefficients) = loop {
            let (b0, beta) = logistic(&chosen_woe, y);
            match beta.iter().position(|&b| b > 0.0) {
                Some(k) if chosen.len() > 1 => {
                    let i = chosen.remove(k);
                    chosen_woe.remove(k);
                    rejected.push(Rejected {
                        name: binnings[i].name.clone(),
                        iv: binnings[i].iv,
                        reason: format!("positive coefficient {:.3} beside the others", beta[k]),
                    });
                }
                _ => break (b0, beta),
            }
        };
        let scaling = Scaling::new(options);
        let k = chosen.len() as f64;
        let mut binnings: Vec<Option<Binning>> = binnings.into_iter().map(Some).collect();
        let characteristics = chosen
            .iter()
            .zip(&coefficients)
            .filter_map(|(&i, &beta)| {
                let binning = binnings[i].take()?;
                let points = binning
                    .table
                    .iter()
                    .map(|r| scaling.offset / k - scaling.factor * (beta * r.woe + intercept / k))
                    .collect();
                Some(Characteristic {
                    column: i,
                    binning,
                    coefficient: beta,
                    points,
                })
            })
            .collect();
        Ok(Scorecard {
            scaling,
            intercept,
            characteristics,
            rejected,
        })
    }

    /// Scores one row of numbers in the fitted columns' order (`NaN`: missing).
    pub fn score_row(&self, row: &[f64]) -> Scored {
        let rows: Vec<usize> = self
            .characteristics
            .iter()
            .map(|c| {
                c.binning
                    .row_of_number(row.get(c.column).copied().unwrap_or(f64::NAN))
            })
            .collect();
        self.scored(rows)
    }

    /// The score from each characteristic's table row.
    pub fn scored(&self, rows: Vec<usize>) -> Scored {
        let points: Vec<f64> = self
            .characteristics
            .iter()
            .zip(&rows)
            .map(|(c, &r)| c.points[r])
            .collect();
        // Summed left to right, as the exported SQL adds its terms.
        let score = points.iter().fold(0.0, |s, p| s + p);
        Scored {
            score,
            probability: self.scaling.probability(score),
            points,
            rows,
        }
    }

    /// The reasons of a score: the characteristics where it lost points against each one's
    /// best bin, the largest loss first, those that lost nothing left out.
    pub fn reasons(&self, scored: &Scored) -> Vec<(usize, f64)> {
        let mut lost: Vec<(usize, f64)> = self
            .characteristics
            .iter()
            .zip(&scored.points)
            .enumerate()
            .map(|(i, (c, &p))| (i, c.max_points() - p))
            .filter(|(_, l)| *l > 1e-9)
            .collect();
        lost.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        lost
    }

    /// The contributions to the log-odds of default: `intercept + Σ contributions` is the
    /// logit of the probability (a scorecard's exact explanation, in the units TreeSHAP uses).
    pub fn contributions(&self, scored: &Scored) -> Vec<f64> {
        self.characteristics
            .iter()
            .zip(&scored.rows)
            .map(|(c, &r)| c.coefficient * c.binning.table[r].woe)
            .collect()
    }
}

fn check_outcomes(y: &[u8]) -> Result<(), ScorecardError> {
    if let Some((row, &value)) = y.iter().enumerate().find(|(_, &v)| v > 1) {
        return Err(ScorecardError::Outcome { row, value });
    }
    let events = y.iter().filter(|&&v| v == 1).count();
    if events == 0 || events == y.len() {
        return Err(ScorecardError::OneClass {
            events,
            rows: y.len(),
        });
    }
    Ok(())
}

/// Bins every column with optbinning's `OptimalBinning` defaults, on every core.
pub fn bin_all(
    columns: &[Column],
    y: &[u8],
    options: &BinningOptions,
) -> Result<Vec<Binning>, BinningError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = columns.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = columns
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|c| match c.values {
                            Values::Numeric(x) => Binning::numeric(c.name, x, y, options),
                            Values::Categorical(x) => Binning::categorical(c.name, x, y, options),
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(columns.len());
        for h in handles {
            match h.join() {
                Ok(part) => all.extend(part?),
                Err(e) => std::panic::resume_unwind(e),
            }
        }
        Ok(all)
    })
}

/// Each value's table row.
fn table_rows(b: &Binning, values: Values) -> Vec<usize> {
    match values {
        Values::Numeric(x) => x.iter().map(|&v| b.row_of_number(v)).collect(),
        Values::Categorical(x) => x.iter().map(|&v| b.row_of_category(v)).collect(),
    }
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa == 0.0 || sbb == 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// Maximum-likelihood logistic regression of `y` on the columns `x` with an intercept, by
/// Newton's method (iteratively reweighted least squares); a tiny ridge keeps the Hessian
/// invertible when two columns coincide.
pub fn logistic(x: &[Vec<f64>], y: &[u8]) -> (f64, Vec<f64>) {
    let k = x.len() + 1;
    let n = y.len();
    let mut beta = vec![0.0; k];
    let mean = y.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    beta[0] = (mean / (1.0 - mean)).ln();
    let value = |r: usize, j: usize| if j == 0 { 1.0 } else { x[j - 1][r] };
    for _ in 0..50 {
        let mut grad = vec![0.0; k];
        let mut hess = vec![0.0; k * k];
        for (r, &outcome) in y.iter().enumerate() {
            let eta: f64 = (0..k).map(|j| beta[j] * value(r, j)).sum();
            let p = 1.0 / (1.0 + (-eta).exp());
            let w = p * (1.0 - p);
            let e = f64::from(outcome) - p;
            for a in 0..k {
                let va = value(r, a);
                grad[a] += e * va;
                for b in 0..=a {
                    hess[a * k + b] += w * va * value(r, b);
                }
            }
        }
        for a in 0..k {
            hess[a * k + a] += 1e-9 * n as f64;
            for b in 0..a {
                hess[b * k + a] = hess[a * k + b];
            }
        }
        let step = solve(hess, grad, k);
        let mut largest: f64 = 0.0;
        for (b, d) in beta.iter_mut().zip(&step) {
            *b += d;
            largest = largest.max(d.abs());
        }
        if largest < 1e-10 {
            break;
        }
    }
    (beta[0], beta[1..].to_vec())
}

/// Solves the symmetric positive-definite system `a x = b` (Cholesky).
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, k: usize) -> Vec<f64> {
    for j in 0..k {
        let mut d = a[j * k + j];
        for m in 0..j {
            d -= a[j * k + m] * a[j * k + m];
        }
        let d = d.max(1e-300).sqrt();
        a[j * k + j] = d;
        for i in j + 1..k {
            let mut s = a[i * k + j];
            for m in 0..j {
                s -= a[i * k + m] * a[j * k + m];
            }
            a[i * k + j] = s / d;
        }
    }
    for i in 0..k {
        for m in 0..i {
            b[i] -= a[i * k + m] * b[m];
        }
        b[i] /= a[i * k + i];
    }
    for i in (0..k).rev() {
        for m in i + 1..k {
            b[i] -= a[m * k + i] * b[m];
        }
        b[i] /= a[i * k + i];
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_follow_pdo_and_base_odds() {
        // factor = 20 / ln 2 = 28.8539; offset = 600 - 28.8539 * ln 50 = 487.1229.
        let s = Scaling::new(&ScorecardOptions::default());
        assert!((s.factor - 28.853_900_8).abs() < 1e-6);
        assert!((s.offset - 487.122_876_3).abs() < 1e-6);
        // 600 points: good:bad 50:1, p = 1/51; 620 points: 100:1.
        assert!((s.probability(600.0) - 1.0 / 51.0).abs() < 1e-12);
        assert!((s.probability(620.0) - 1.0 / 101.0).abs() < 1e-12);
        // The cutoff of p = 1/51 is 600 points.
        assert!((s.cutoff(1.0 / 51.0) - 600.0).abs() < 1e-9);
    }

    #[test]
    fn logistic_recovers_known_coefficients() {
        // Four groups with known log-odds -2 + 1.5 x: counts chosen to match exactly.
        // x = 0: p = 0.1192 (ln(0.1353)); use large counts with proportional outcomes.
        let mut x = Vec::new();
        let mut y = Vec::new();
        for (xv, events, total) in [(0.0, 1192, 10000), (1.0, 3775, 10000), (2.0, 7311, 10000)] {
            for i in 0..total {
                x.push(xv);
                y.push(u8::from(i < events));
            }
        }
        let (b0, beta) = logistic(&[x], &y);
        assert!((b0 + 2.0).abs() < 0.01, "{b0}");
        assert!((beta[0] - 1.5).abs() < 0.01, "{beta:?}");
    }

    #[test]
    fn bad_options_are_refused() {
        let o = ScorecardOptions {
            pdo: 0.0,
            ..Default::default()
        };
        assert_eq!(
            o.check().unwrap_err().to_string(),
            "--pdo must be a positive number of points, not 0"
        );
    }
}
