//! Probability calibration fitted on out-of-fold predictions: Platt scaling (a logistic
//! regression on the log-odds) or isotonic regression (scikit-learn's: pool-adjacent-violators,
//! linear between the distinct predictions' fitted values); and NannyML's check of whether
//! probabilities need an isotonic recalibration before its performance estimation.

use serde::{Deserialize, Serialize};

use crate::metrics::brier;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Calibration {
    None,
    /// p' = sigmoid(a * logit(p) + b).
    Platt {
        a: f64,
        b: f64,
    },
    /// Piecewise-linear through (x, y), constant outside.
    Isotonic {
        x: Vec<f64>,
        y: Vec<f64>,
    },
}

impl Calibration {
    pub fn name(&self) -> &'static str {
        match self {
            Calibration::None => "none",
            Calibration::Platt { .. } => "platt",
            Calibration::Isotonic { .. } => "isotonic",
        }
    }

    pub fn apply(&self, p: f64) -> f64 {
        match self {
            Calibration::None => p,
            Calibration::Platt { a, b } => sigmoid(a * logit(p) + b),
            Calibration::Isotonic { x, y } => interpolate(x, y, p),
        }
    }

    pub fn apply_all(&self, p: &[f64]) -> Vec<f64> {
        p.iter().map(|&q| self.apply(q)).collect()
    }
}

pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

pub fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).ln()
}

/// Platt scaling by Newton's method on the log-loss (two parameters, a few iterations).
pub fn fit_platt(p: &[f64], y: &[u8]) -> Calibration {
    let z: Vec<f64> = p.iter().map(|&q| logit(q)).collect();
    let (mut a, mut b) = (1.0, 0.0);
    for _ in 0..50 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
        for (&zi, &yi) in z.iter().zip(y) {
            let q = sigmoid(a * zi + b);
            let r = q - f64::from(yi);
            let w = q * (1.0 - q);
            ga += r * zi;
            gb += r;
            haa += w * zi * zi;
            hab += w * zi;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-300 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if da.abs() + db.abs() < 1e-10 {
            break;
        }
    }
    Calibration::Platt { a, b }
}

/// Isotonic regression of y on p (non-decreasing), as scikit-learn's `IsotonicRegression`
/// fits it: the outcomes of equal p averaged, pool-adjacent-violators on those means weighted
/// by their counts, every distinct p kept as a knot with its fitted value (interior knots whose
/// value equals both neighbours' dropped, which changes no prediction), linear between knots
/// and constant outside (`out_of_bounds="clip"`).
pub fn fit_isotonic(p: &[f64], y: &[u8]) -> Calibration {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    // Distinct p with their outcomes' sum and count.
    let mut xs: Vec<f64> = Vec::new();
    let mut sums: Vec<(f64, f64)> = Vec::new();
    for &i in &idx {
        let t = f64::from(y[i]);
        match (xs.last(), sums.last_mut()) {
            (Some(&x), Some(last)) if x == p[i] => {
                last.0 += t;
                last.1 += 1.0;
            }
            _ => {
                xs.push(p[i]);
                sums.push((t, 1.0));
            }
        }
    }
    // Pool adjacent violators over the distinct values: blocks of (weighted sum, weight, knots).
    let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(xs.len());
    for &(sum, w) in &sums {
        blocks.push((sum, w, 1));
        while blocks.len() > 1 {
            let n = blocks.len();
            let (prev, cur) = (blocks[n - 2], blocks[n - 1]);
            if prev.0 / prev.1 < cur.0 / cur.1 {
                break;
            }
            blocks[n - 2] = (prev.0 + cur.0, prev.1 + cur.1, prev.2 + cur.2);
            blocks.pop();
        }
    }
    let fitted: Vec<f64> = blocks
        .iter()
        .flat_map(|b| std::iter::repeat_n(b.0 / b.1, b.2))
        .collect();
    let n = xs.len();
    let keep =
        |k: usize| k == 0 || k + 1 == n || fitted[k] != fitted[k - 1] || fitted[k] != fitted[k + 1];
    let x = (0..n).filter(|&k| keep(k)).map(|k| xs[k]).collect();
    let y = (0..n).filter(|&k| keep(k)).map(|k| fitted[k]).collect();
    Calibration::Isotonic { x, y }
}

fn interpolate(x: &[f64], y: &[f64], v: f64) -> f64 {
    if x.is_empty() {
        return v;
    }
    if v <= x[0] {
        return y[0];
    }
    let n = x.len();
    if v >= x[n - 1] {
        return y[n - 1];
    }
    let i = x.partition_point(|&e| e <= v);
    let (x0, x1, y0, y1) = (x[i - 1], x[i], y[i - 1], y[i]);
    y0 + (y1 - y0) * (v - x0) / (x1 - x0)
}

/// Brier score before and after, the after one cross-fitted (fitted on half the rows and
/// measured on the other half, both ways) so isotonic's flexibility is not rewarded in-sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationCheck {
    pub brier_before: f64,
    pub brier_after: f64,
}

pub fn cross_fitted_brier(p: &[f64], y: &[u8], fit: fn(&[f64], &[u8]) -> Calibration) -> f64 {
    let halves: [Vec<usize>; 2] = [
        (0..p.len()).filter(|i| i % 2 == 0).collect(),
        (0..p.len()).filter(|i| i % 2 == 1).collect(),
    ];
    let mut out = vec![0.0; p.len()];
    for h in 0..2 {
        let (fit_on, score) = (&halves[h], &halves[1 - h]);
        let fp: Vec<f64> = fit_on.iter().map(|&i| p[i]).collect();
        let fy: Vec<u8> = fit_on.iter().map(|&i| y[i]).collect();
        let cal = fit(&fp, &fy);
        for &i in score {
            out[i] = cal.apply(p[i]);
        }
    }
    brier(&out, y)
}

/// Picks the calibration with the lowest cross-fitted Brier score, or none when neither helps.
pub fn choose(p: &[f64], y: &[u8]) -> (Calibration, CalibrationCheck) {
    let before = brier(p, y);
    let platt = cross_fitted_brier(p, y, fit_platt);
    let iso = cross_fitted_brier(p, y, fit_isotonic);
    let (cal, after) = if platt <= iso && platt < before {
        (fit_platt(p, y), platt)
    } else if iso < before {
        (fit_isotonic(p, y), iso)
    } else {
        (Calibration::None, before)
    };
    (
        cal,
        CalibrationCheck {
            brier_before: before,
            brier_after: after,
        },
    )
}

/// NannyML's calibration check (`nannyml.calibration.needs_calibration`, run by CBPE on its
/// reference): ten stratified shuffle splits holding out 10 % (scikit-learn's
/// `StratifiedShuffleSplit`, `random_state=42`, reproduced draw for draw), an isotonic fit on
/// each training part, and the expected calibration error of the held-out parts pooled
/// (ten bins of equal count) before and after. Recalibration is needed when it lowers the
/// error. One class only, an AUC above 0.999, or too few rows of a class to split say no.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NeedsCalibration {
    pub needed: bool,
    /// The pooled held-out parts' expected calibration error, before and after; `null` when
    /// the check did not run.
    #[schema(value_type = Option<f64>)]
    pub ece_before: f64,
    #[schema(value_type = Option<f64>)]
    pub ece_after: f64,
}

pub fn needs_calibration(p: &[f64], y: &[u8]) -> NeedsCalibration {
    let no = NeedsCalibration {
        needed: false,
        ece_before: f64::NAN,
        ece_after: f64::NAN,
    };
    let positives = y.iter().filter(|&&t| t == 1).count();
    if positives == 0 || positives == y.len() || crate::metrics::roc_auc(p, y) > 0.999 {
        return no;
    }
    let Some(splits) = stratified_shuffle_split(y, 10, 0.1, 42) else {
        return no;
    };
    let (mut truth, mut before, mut after) = (Vec::new(), Vec::new(), Vec::new());
    for (train, test) in splits {
        let tp: Vec<f64> = train.iter().map(|&i| p[i]).collect();
        let ty: Vec<u8> = train.iter().map(|&i| y[i]).collect();
        let cal = fit_isotonic(&tp, &ty);
        for &i in &test {
            truth.push(y[i]);
            before.push(p[i]);
            after.push(cal.apply(p[i]));
        }
    }
    match (ece(&truth, &before), ece(&truth, &after)) {
        (Some(b), Some(a)) => NeedsCalibration {
            needed: b > a,
            ece_before: b,
            ece_after: a,
        },
        _ => no,
    }
}

/// NannyML's expected calibration error: rows sorted by probability (a stable sort; NumPy's
/// is not, which can move rows of equal probability across a bin edge), ten bins of equal
/// count (the last takes the rest; fewer bins under 20 rows), the bins' |mean p - mean y|
/// weighted by size. `None` under 4 rows.
fn ece(y: &[u8], p: &[f64]) -> Option<f64> {
    let n = p.len();
    let mut bins = 10;
    if n <= 2 * bins {
        bins = n / 2;
        if bins < 2 {
            return None;
        }
    }
    let width = n / bins;
    let mut edges: Vec<usize> = (0..=n).step_by(width).collect();
    *edges.last_mut()? = n;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut total = 0.0;
    for w in edges.windows(2) {
        let rows = &order[w[0]..w[1]];
        let k = rows.len() as f64;
        let mp = rows.iter().map(|&i| p[i]).sum::<f64>() / k;
        let my = rows.iter().map(|&i| f64::from(y[i])).sum::<f64>() / k;
        total += k / n as f64 * (mp - my).abs();
    }
    Some(total)
}

/// scikit-learn's `StratifiedShuffleSplit(n_splits, test_size, random_state=seed)` on binary
/// outcomes: the same (train, test) index sets in the same order, from NumPy's legacy
/// `RandomState` (MT19937) draws. `None` where scikit-learn raises (a class under 2 rows, or
/// a part smaller than the number of classes).
pub fn stratified_shuffle_split(
    y: &[u8],
    splits: usize,
    test_size: f64,
    seed: u32,
) -> Option<Vec<(Vec<usize>, Vec<usize>)>> {
    let n = y.len();
    let n_test = (test_size * n as f64).ceil() as usize;
    let n_train = n.checked_sub(n_test)?;
    let class_indices: [Vec<usize>; 2] = [
        (0..n).filter(|&i| y[i] != 1).collect(),
        (0..n).filter(|&i| y[i] == 1).collect(),
    ];
    let counts = [class_indices[0].len(), class_indices[1].len()];
    if counts.iter().any(|&c| c < 2) || n_train < 2 || n_test < 2 {
        return None;
    }
    let mut rng = Mt19937::new(seed);
    let mut out = Vec::with_capacity(splits);
    for _ in 0..splits {
        let n_i = approximate_mode(counts, n_train, &mut rng);
        let rest = [counts[0] - n_i[0], counts[1] - n_i[1]];
        let t_i = approximate_mode(rest, n_test, &mut rng);
        let (mut train, mut test) = (Vec::with_capacity(n_train), Vec::with_capacity(n_test));
        for (c, indices) in class_indices.iter().enumerate() {
            let perm = rng.permutation(counts[c]);
            let taken: Vec<usize> = perm.iter().map(|&k| indices[k]).collect();
            train.extend_from_slice(&taken[..n_i[c]]);
            test.extend_from_slice(&taken[n_i[c]..n_i[c] + t_i[c]]);
        }
        rng.shuffle(&mut train);
        rng.shuffle(&mut test);
        out.push((train, test));
    }
    Some(out)
}

/// scikit-learn's `_approximate_mode`: `draws` spread over the classes in proportion to their
/// counts, the rounding remainder going to the largest remainders, ties broken at random.
fn approximate_mode(counts: [usize; 2], draws: usize, rng: &mut Mt19937) -> [usize; 2] {
    let total = (counts[0] + counts[1]) as f64;
    let continuous = counts.map(|c| c as f64 / total * draws as f64);
    let mut floored = continuous.map(f64::floor);
    let mut need = (draws as f64 - (floored[0] + floored[1])) as i64;
    if need > 0 {
        let remainder = [continuous[0] - floored[0], continuous[1] - floored[1]];
        let mut values = remainder.to_vec();
        values.sort_by(|a, b| b.total_cmp(a));
        values.dedup();
        for value in values {
            let inds: Vec<usize> = (0..2).filter(|&k| remainder[k] == value).collect();
            let add = inds.len().min(need as usize);
            // NumPy's legacy choice without replacement: a permutation's first `add`.
            for &k in rng.permutation(inds.len()).iter().take(add) {
                floored[inds[k]] += 1.0;
            }
            need -= add as i64;
            if need == 0 {
                break;
            }
        }
    }
    floored.map(|f| f as usize)
}

/// The Mersenne Twister as NumPy's legacy `RandomState(seed)` runs it (`init_genrand`), with
/// its bounded draws and Fisher-Yates shuffle.
struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    fn new(seed: u32) -> Self {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624 }
    }

    fn next_u32(&mut self) -> u32 {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        if self.index >= 624 {
            for i in 0..624 {
                let y = (self.state[i] & UPPER) | (self.state[(i + 1) % 624] & LOWER);
                let mut v = self.state[(i + 397) % 624] ^ (y >> 1);
                if y & 1 == 1 {
                    v ^= 0x9908_b0df;
                }
                self.state[i] = v;
            }
            self.index = 0;
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// A uniform integer in `0..=max` by masked rejection (NumPy's `random_interval`).
    fn interval(&mut self, max: usize) -> usize {
        if max == 0 {
            return 0;
        }
        let max = max as u32;
        let mut mask = max;
        for s in [1, 2, 4, 8, 16] {
            mask |= mask >> s;
        }
        loop {
            let v = self.next_u32() & mask;
            if v <= max {
                return v as usize;
            }
        }
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.interval(i);
            v.swap(i, j);
        }
    }

    fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        self.shuffle(&mut v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_pools_violators() {
        // Sorted by p, outcomes 0,1,0,1: the middle pair (1,0) violates and pools to 0.5,
        // constant over its two knots as scikit-learn keeps them.
        let cal = fit_isotonic(&[0.1, 0.2, 0.3, 0.4], &[0, 1, 0, 1]);
        let Calibration::Isotonic { x, y } = &cal else {
            unreachable!()
        };
        assert_eq!(y, &vec![0.0, 0.5, 0.5, 1.0]);
        assert_eq!(x, &vec![0.1, 0.2, 0.3, 0.4]);
        assert!((cal.apply(0.15) - 0.25).abs() < 1e-12);
        assert_eq!(cal.apply(0.25), 0.5);
        assert_eq!(cal.apply(0.05), 0.0);
        // Equal p pooled first; a flat run keeps only its ends.
        let cal = fit_isotonic(&[0.1, 0.1, 0.2, 0.3, 0.4, 0.5], &[0, 1, 1, 0, 1, 1]);
        let Calibration::Isotonic { x, y } = &cal else {
            unreachable!()
        };
        assert_eq!(x, &vec![0.1, 0.3, 0.4, 0.5]);
        assert_eq!(y, &vec![0.5, 0.5, 1.0, 1.0]);
    }

    #[test]
    fn mersenne_twister_draws_as_numpy() {
        // The first outputs of the reference implementation's default seed (5489).
        let mut mt = Mt19937::new(5489);
        let first: Vec<u32> = (0..3).map(|_| mt.next_u32()).collect();
        assert_eq!(first, vec![3_499_211_612, 581_869_302, 3_890_346_734]);
    }

    #[test]
    fn splits_are_scikit_learns() {
        // Known answers from NumPy 2.4 / scikit-learn 1.9 (the CI oracle also compares a
        // large split): RandomState(42).permutation(10), then permutation(7).
        let mut mt = Mt19937::new(42);
        assert_eq!(mt.permutation(10), vec![8, 1, 5, 0, 7, 2, 9, 4, 3, 6]);
        assert_eq!(mt.permutation(7), vec![4, 1, 0, 3, 5, 6, 2]);
        // StratifiedShuffleSplit(3, test_size=0.1, random_state=42) on 17 zeros, 6 ones,
        // 9 zeros: tied remainders broken by the same draws.
        let y: Vec<u8> = [vec![0; 17], vec![1; 6], vec![0; 9]].concat();
        let s = stratified_shuffle_split(&y, 3, 0.1, 42).unwrap();
        let tests: Vec<&Vec<usize>> = s.iter().map(|(_, t)| t).collect();
        assert_eq!(
            tests,
            [
                &vec![20, 25, 14, 6],
                &vec![2, 13, 14, 21],
                &vec![18, 1, 11, 7]
            ]
        );
        assert_eq!(
            s[0].0[..8],
            [8, 9, 7, 3, 26, 1, 18, 17],
            "the training part in scikit-learn's order"
        );
    }

    #[test]
    fn platt_undoes_a_shift_of_the_log_odds() {
        // True probability q, model says sigmoid(logit(q) + 2): Platt must learn b ~ -2.
        let mut p = Vec::new();
        let mut y = Vec::new();
        for i in 0..2000 {
            let q = 0.02 + 0.3 * (i % 100) as f64 / 100.0;
            p.push(sigmoid(logit(q) + 2.0));
            // Deterministic outcomes with frequency q in each group of 100.
            y.push(u8::from(((i / 100) as f64) < q * 20.0));
        }
        let Calibration::Platt { a, b } = fit_platt(&p, &y) else {
            unreachable!()
        };
        assert!(a.is_finite() && b < -1.0, "a {a}, b {b}");
        let (cal, check) = choose(&p, &y);
        assert_ne!(cal, Calibration::None);
        assert!(check.brier_after < check.brier_before);
    }
}
