//! The logistic-regression baseline of the training report: standardised features, missing
//! values at the mean, L2 penalty, fitted by Nesterov-accelerated gradient descent. It is a
//! yardstick, so it is fitted on at most `MAX_ROWS` rows of each training fold.

use crate::calibration::sigmoid;
use crate::folds::shuffle;

pub const MAX_ROWS: usize = 50_000;
const ITERATIONS: usize = 150;
const L2: f64 = 1e-3;

#[derive(Debug, Clone)]
pub struct Logistic {
    mean: Vec<f64>,
    scale: Vec<f64>,
    w: Vec<f64>,
    b: f64,
}

impl Logistic {
    /// The rows of `rows` a fit on them uses, in the order it uses them: all of them, or
    /// `MAX_ROWS` of them drawn with `seed`. A fit on these rows alone, in this order, is the
    /// fit on all of `rows` (no copy of the rows it leaves out).
    pub fn sample(rows: &[usize], seed: u64) -> Vec<usize> {
        if rows.len() <= MAX_ROWS {
            return rows.to_vec();
        }
        let mut at: Vec<usize> = (0..rows.len()).collect();
        shuffle(&mut at, seed);
        at.truncate(MAX_ROWS);
        at.into_iter().map(|a| rows[a]).collect()
    }

    /// The fit on row-major `x` (`k` features) and labels `y`: on [`Logistic::sample`] of its rows.
    pub fn fit(x: &[f64], y: &[u8], k: usize, seed: u64) -> Self {
        let all: Vec<usize> = (0..y.len()).collect();
        Logistic::fit_rows(
            |i| &x[i * k..(i + 1) * k],
            y,
            &Logistic::sample(&all, seed),
            k,
        )
    }

    /// The fit on `rows`, in their order: row `i`'s `k` features are `row(i)`, its label `y[i]`
    /// (all of `rows` are used: see [`Logistic::sample`]).
    pub fn fit_rows<'a>(
        row: impl Fn(usize) -> &'a [f64],
        y: &[u8],
        rows: &[usize],
        k: usize,
    ) -> Self {
        let (mean, scale) = standardise_rows(rows.iter().map(|&i| row(i)), k, 1e-24);
        let n = rows.len();
        let mut z = vec![0.0; n * k];
        for (r, &i) in rows.iter().enumerate() {
            for (j, &v) in row(i).iter().enumerate().take(k) {
                z[r * k + j] = if v.is_finite() {
                    (v - mean[j]) * scale[j]
                } else {
                    0.0
                };
            }
        }
        let t: Vec<f64> = rows.iter().map(|&i| f64::from(y[i])).collect();
        let (mut w, mut b) = (vec![0.0; k], 0.0);
        let (mut vw, mut vb) = (vec![0.0; k], 0.0);
        let step = 0.5;
        for it in 0..ITERATIONS {
            let mom = it as f64 / (it as f64 + 3.0);
            let look: Vec<f64> = w.iter().zip(&vw).map(|(a, v)| a + mom * v).collect();
            let lb = b + mom * vb;
            let (mut gw, mut gb) = (vec![0.0; k], 0.0);
            for r in 0..n {
                let zr = &z[r * k..(r + 1) * k];
                let s: f64 = zr.iter().zip(&look).map(|(a, c)| a * c).sum::<f64>() + lb;
                let e = sigmoid(s) - t[r];
                gb += e;
                for (g, a) in gw.iter_mut().zip(zr) {
                    *g += e * a;
                }
            }
            for j in 0..k {
                let g = gw[j] / n as f64 + L2 * look[j];
                vw[j] = mom * vw[j] - step * g;
                w[j] += vw[j];
            }
            vb = mom * vb - step * gb / n as f64;
            b += vb;
        }
        Logistic { mean, scale, w, b }
    }

    pub fn predict(&self, x: &[f64]) -> Vec<f64> {
        x.chunks(self.w.len())
            .map(|row| self.predict_row(row))
            .collect()
    }

    /// The probability of one row.
    pub fn predict_row(&self, row: &[f64]) -> f64 {
        let mut s = self.b;
        for (j, &v) in row.iter().enumerate() {
            if v.is_finite() {
                s += (v - self.mean[j]) * self.scale[j] * self.w[j];
            }
        }
        sigmoid(s)
    }
}

/// Per-feature mean and 1/std over `rows` of row-major `x`, ignoring missing values; a feature
/// whose variance is not above `min_var` (or that has no value, or whose sums overflow) gets
/// scale 0.
pub(crate) fn standardise(
    x: &[f64],
    k: usize,
    rows: &[usize],
    min_var: f64,
) -> (Vec<f64>, Vec<f64>) {
    standardise_rows(rows.iter().map(|&i| &x[i * k..(i + 1) * k]), k, min_var)
}

/// As [`standardise`], over rows given one by one (each `k` features).
fn standardise_rows<'a>(
    rows: impl Iterator<Item = &'a [f64]>,
    k: usize,
    min_var: f64,
) -> (Vec<f64>, Vec<f64>) {
    let (mut sum, mut sq, mut cnt) = (vec![0.0; k], vec![0.0; k], vec![0.0; k]);
    for row in rows {
        for (j, &v) in row.iter().enumerate().take(k) {
            if v.is_finite() {
                sum[j] += v;
                sq[j] += v * v;
                cnt[j] += 1.0;
            }
        }
    }
    let mut mean = vec![0.0; k];
    let mut scale = vec![0.0; k];
    for j in 0..k {
        if cnt[j] > 0.0 {
            let m = sum[j] / cnt[j];
            let var = (sq[j] / cnt[j] - m * m).max(0.0);
            // Values so large that their sum or their squares overflow (1e308): the feature is
            // left out (mean 0, scale 0), where its standardised values would all be NaN.
            if m.is_finite() && var.is_finite() {
                mean[j] = m;
                scale[j] = if var > min_var { 1.0 / var.sqrt() } else { 0.0 };
            }
        }
    }
    (mean, scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::roc_auc;

    #[test]
    fn learns_a_linear_signal() {
        // One informative feature, one noise feature, one always missing.
        let n = 400;
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let s = (i as f64 / n as f64) * 4.0 - 2.0;
            x.extend_from_slice(&[s, ((i * 7919) % 13) as f64, f64::NAN]);
            y.push(u8::from((i * 31) % 100 < (50.0 + 20.0 * s) as usize));
        }
        let m = Logistic::fit(&x, &y, 3, 1);
        let p = m.predict(&x);
        assert!(roc_auc(&p, &y) > 0.7);
        assert!(p.iter().all(|v| v.is_finite()));
    }

    /// A feature of huge values (1e308, whose sum overflows) is left out: the others still
    /// learn and every probability is a number (they were all NaN, and `train` hung on them).
    #[test]
    fn a_feature_of_huge_values_is_left_out() {
        let n = 400;
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..n {
            let s = (i as f64 / n as f64) * 4.0 - 2.0;
            let huge = if i % 3 == 0 { 1e308 } else { s };
            x.extend_from_slice(&[s, huge, f64::INFINITY]);
            y.push(u8::from((i * 31) % 100 < (50.0 + 20.0 * s) as usize));
        }
        let m = Logistic::fit(&x, &y, 3, 1);
        assert_eq!((m.mean[1], m.scale[1]), (0.0, 0.0));
        let p = m.predict(&x);
        assert!(p.iter().all(|v| v.is_finite()));
        assert!(roc_auc(&p, &y) > 0.7);
    }

    #[test]
    fn a_fit_on_its_sample_alone_is_the_fit_on_every_row() {
        // More rows than a fit uses, every other one of them kept: the fit on the rows
        // `sample` names, taken in its order, is the fit on all the kept rows, bit for bit.
        let n = 2 * MAX_ROWS + 300;
        let (mut x, mut y) = (Vec::with_capacity(2 * n), Vec::with_capacity(n));
        for i in 0..n {
            let s = ((i * 7919) % 1000) as f64 / 250.0 - 2.0;
            let v = if i % 17 == 0 {
                f64::NAN
            } else {
                ((i * 31) % 7) as f64
            };
            x.extend_from_slice(&[s, v]);
            y.push(u8::from((i * 131) % 100 < (50.0 + 20.0 * s) as usize));
        }
        let kept: Vec<usize> = (0..n).step_by(2).collect();
        let take = |rows: &[usize]| -> (Vec<f64>, Vec<u8>) {
            let x = rows
                .iter()
                .flat_map(|&i| [x[2 * i], x[2 * i + 1]])
                .collect();
            (x, rows.iter().map(|&i| y[i]).collect())
        };
        let (ax, ay) = take(&kept);
        let sample = Logistic::sample(&kept, 9);
        assert_eq!(sample.len(), MAX_ROWS);
        assert!(sample.iter().all(|i| i % 2 == 0));
        let (sx, sy) = take(&sample);
        let all = Logistic::fit(&ax, &ay, 2, 9);
        let alone = Logistic::fit_rows(|i| &x[2 * i..2 * i + 2], &y, &sample, 2);
        let bits = |m: &Logistic| -> Vec<u64> {
            m.w.iter()
                .chain(&m.mean)
                .chain(&m.scale)
                .chain([&m.b])
                .map(|v| v.to_bits())
                .collect()
        };
        assert_eq!(bits(&all), bits(&alone));
        assert_eq!(bits(&all), bits(&Logistic::fit(&sx, &sy, 2, 9)));
        // Another seed draws other rows.
        assert_ne!(Logistic::sample(&kept, 10), sample);
        for r in 0..50 {
            let row = &x[2 * r..2 * r + 2];
            assert_eq!(
                all.predict_row(row).to_bits(),
                all.predict(row)[0].to_bits()
            );
        }
    }
}
