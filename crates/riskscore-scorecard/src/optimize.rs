//! Optimal binning's optimisation, as optbinning's `OptimalBinning` does it with its default
//! constraint-programming solver: merge consecutive pre-bins so that the sum of the bins'
//! information values is largest while the bins' event rates follow a monotonic trend, the
//! trend chosen automatically from the pre-bins (optbinning's `auto_monotonic`, a small
//! decision tree over the shape of the pre-bins' event rates).
//!
//! optbinning states the problem for OR-Tools' CP-SAT with the rates and information values
//! scaled by 10⁶ and truncated to integers; the constraints only link consecutive bins, so a
//! dynamic programme over (last bin, phase) finds the same optimum exactly, over the same
//! integers, with the same pre-processing that forbids some bin ends for an ascending or
//! descending trend. Where several partitions tie on that integer objective, the one with more
//! bins is kept (CP-SAT's choice in every tie compared); their information values differ only
//! by the truncation.

use serde::{Deserialize, Serialize};

/// optbinning's scale of the model's data (`M`).
const SCALE: f64 = 1e6;

/// The shape the bins' event rates must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    Ascending,
    Descending,
    /// Non-decreasing, then non-increasing.
    Peak,
    /// Non-increasing, then non-decreasing.
    Valley,
}

/// The integer event rates `d[i][j]` and information values `v[i][j]` of the bin made of
/// pre-bins `j..=i` (optbinning's `model_data` with `scale = 10⁶`).
struct ModelData {
    d: Vec<Vec<i64>>,
    v: Vec<Vec<i64>>,
}

fn model_data(non: &[u64], ev: &[u64]) -> ModelData {
    let total_ev: u64 = ev.iter().sum();
    let total_non: u64 = non.iter().sum();
    let n = non.len();
    let (mut d, mut v) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let (mut s_ev, mut s_non) = (0u64, 0u64);
        let (mut di, mut vi) = (vec![0i64; i + 1], vec![0i64; i + 1]);
        for j in (0..=i).rev() {
            s_ev += ev[j];
            s_non += non[j];
            let rate = s_ev as f64 / (s_non + s_ev) as f64;
            di[j] = (rate * SCALE) as i64;
            let p = s_ev as f64 / total_ev as f64;
            let q = s_non as f64 / total_non as f64;
            vi[j] = (jeffrey(p, q) * SCALE) as i64;
        }
        d.push(di);
        v.push(vi);
    }
    ModelData { d, v }
}

/// One term of Jeffrey's divergence, `(p - q) ln(p / q)` (SciPy's `xlogy`: 0 when `p = q`).
pub(crate) fn jeffrey(p: f64, q: f64) -> f64 {
    let a = p - q;
    if a == 0.0 {
        0.0
    } else {
        a * (p / q).ln()
    }
}

/// The bin ends the pre-processing of an ascending (or descending) trend forbids: where a
/// pre-bin's rate is above (below) the next one's, no bin may end there, nor at later
/// pre-bins whose rate is below (above) the rate of the run from it.
fn forbidden_ends(d: &[Vec<i64>], trend: Trend) -> Vec<bool> {
    let n = d.len();
    let mut forbidden = vec![false; n];
    let against = |a: i64, b: i64| match trend {
        Trend::Ascending => a - b > 0,
        Trend::Descending => a - b < 0,
        Trend::Peak | Trend::Valley => false,
    };
    for i in 0..n.saturating_sub(1) {
        if against(d[i + 1][i], d[i + 1][i + 1]) {
            forbidden[i] = true;
            for j in 0..n - i - 1 {
                if against(d[i + 1 + j][i], d[i + 1 + j][i + 1 + j]) {
                    forbidden[i + j] = true;
                }
            }
        }
    }
    forbidden
}

/// Whether rate `b` may follow rate `a`, moving from `phase` (0: before the turn, 1: after)
/// to `next`.
fn follows(trend: Trend, a: i64, b: i64, phase: usize, next: usize) -> bool {
    let (first, second) = match trend {
        Trend::Ascending => return next == 0 && a <= b,
        Trend::Descending => return next == 0 && a >= b,
        Trend::Peak => (a <= b, a >= b),
        Trend::Valley => (a >= b, a <= b),
    };
    match (phase, next) {
        (0, 0) => first,
        (0, 1) | (1, 1) => second,
        _ => false,
    }
}

/// The optimal merge of the pre-bins with `non` non-events and `ev` events under `trend`:
/// `true` where a bin ends (the last pre-bin always does), as optbinning's `solution`.
// Indices as in optbinning's formulation (`x[i][j]`: pre-bin j in the bin ending at i).
#[allow(clippy::needless_range_loop)]
pub fn optimal_ends(non: &[u64], ev: &[u64], trend: Trend) -> Vec<bool> {
    let n = non.len();
    if n <= 1 {
        return vec![true; n];
    }
    let data = model_data(non, ev);
    let forbidden = forbidden_ends(&data.d, trend);
    let phases = match trend {
        Trend::Ascending | Trend::Descending => 1,
        Trend::Peak | Trend::Valley => 2,
    };
    // best[i][j][phase]: the largest sum over pre-bins ..=i whose last bin is j..=i, and its
    // number of bins. Among equal sums the one with more bins wins: where the integer
    // objective ties, CP-SAT has returned the finer partition in every case we compared.
    let mut best = vec![vec![[None::<(i64, u32)>; 2]; n]; n];
    let mut from = vec![vec![[None::<(usize, usize)>; 2]; n]; n];
    for i in 0..n {
        if forbidden[i] && i + 1 < n {
            continue;
        }
        for j in 0..=i {
            let value = data.v[i][j];
            if j == 0 {
                best[i][0][0] = Some((value, 1));
                continue;
            }
            let b = data.d[i][j];
            for next in 0..phases {
                let mut chosen: Option<((i64, u32), usize, usize)> = None;
                for k in 0..j {
                    for phase in 0..phases {
                        let Some(sum) = best[j - 1][k][phase] else {
                            continue;
                        };
                        if !follows(trend, data.d[j - 1][k], b, phase, next) {
                            continue;
                        }
                        if chosen.is_none_or(|(s, _, _)| sum > s) {
                            chosen = Some((sum, k, phase));
                        }
                    }
                }
                if let Some(((sum, bins), k, phase)) = chosen {
                    best[i][j][next] = Some((sum + value, bins + 1));
                    from[i][j][next] = Some((k, phase));
                }
            }
        }
    }
    let mut last: Option<((i64, u32), usize, usize)> = None;
    for j in 0..n {
        for phase in 0..phases {
            if let Some(sum) = best[n - 1][j][phase] {
                if last.is_none_or(|(s, _, _)| sum > s) {
                    last = Some((sum, j, phase));
                }
            }
        }
    }
    let mut ends = vec![false; n];
    ends[n - 1] = true;
    let mut state = last.map(|(_, j, phase)| (n - 1, j, phase));
    while let Some((i, j, phase)) = state {
        if j == 0 {
            break;
        }
        ends[j - 1] = true;
        state = from[i][j][phase].map(|(k, p)| (j - 1, k, p));
    }
    ends
}

/// The trend optbinning's `auto_monotonic` chooses for pre-bins with `non` non-events and
/// `ev` events: its decision tree over the slope of a least-squares line through the event
/// rates, the shares of records left and right of the lowest and highest rate, and the areas
/// of the extreme points' triangles and of the rates' convex hull.
pub fn auto_trend(non: &[u64], ev: &[u64]) -> Trend {
    let n = non.len();
    let records: Vec<f64> = non.iter().zip(ev).map(|(&a, &b)| (a + b) as f64).collect();
    let rate: Vec<f64> = ev
        .iter()
        .zip(&records)
        .map(|(&e, &r)| e as f64 / r)
        .collect();
    let total: f64 = records.iter().sum();
    let pos_min = first_extreme(&rate, |a, b| a < b);
    let pos_max = first_extreme(&rate, |a, b| a > b);
    let share = |range: std::ops::Range<usize>| records[range].iter().sum::<f64>() / total;
    let min_left = share(0..pos_min);
    let min_right = share((pos_min + 1).min(n)..n);
    let max_left = share(0..pos_max);
    let max_right = share((pos_max + 1).min(n)..n);
    let (lo, hi) = (rate[pos_min], rate[pos_max]);
    let rectangle = (hi - lo) * n as f64;
    let area = if n > 2 {
        let triangle = |a: (f64, f64), b: (f64, f64), c: (f64, f64)| {
            0.5 * (a.0 * (b.1 - c.1) - b.0 * (a.1 - c.1) + c.0 * (a.1 - b.1)).abs()
        };
        let first = (0.0, rate[0]);
        let min = (pos_min as f64, lo);
        let max = (pos_max as f64, hi);
        let last = (n as f64, rate[n - 1]);
        (triangle(first, min, max) + triangle(min, max, last)) / rectangle
    } else {
        0.0
    };
    let hull = if n > 2 {
        let points: Vec<(f64, f64)> = rate
            .iter()
            .enumerate()
            .map(|(i, &r)| (i as f64, r))
            .collect();
        let a = hull_area(&points);
        // Qhull refuses a flat set of points; optbinning then takes 0.
        if a > 0.0 {
            a / rectangle
        } else {
            0.0
        }
    } else {
        0.0
    };
    let ascending = slope(&rate) > 0.0;
    decide(
        ascending, min_left, min_right, max_left, max_right, area, hull,
    )
}

/// NumPy's `argmin`/`argmax`: the first position of the extreme.
fn first_extreme(x: &[f64], better: impl Fn(f64, f64) -> bool) -> usize {
    let mut at = 0;
    for (i, &v) in x.iter().enumerate() {
        if better(v, x[at]) {
            at = i;
        }
    }
    at
}

/// The slope of the least-squares line through `(i, y_i)`.
fn slope(y: &[f64]) -> f64 {
    let n = y.len() as f64;
    let mx = (n - 1.0) / 2.0;
    let my = y.iter().sum::<f64>() / n;
    y.iter()
        .enumerate()
        .map(|(i, &v)| (i as f64 - mx) * (v - my))
        .sum()
}

/// The area of the convex hull of `points` (Andrew's monotone chain).
fn hull_area(points: &[(f64, f64)]) -> f64 {
    let mut points = points.to_vec();
    points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let cross = |o: (f64, f64), a: (f64, f64), b: (f64, f64)| {
        (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
    };
    let chain = |iter: &mut dyn Iterator<Item = (f64, f64)>| {
        let mut h: Vec<(f64, f64)> = Vec::new();
        for p in iter {
            while h.len() >= 2 && cross(h[h.len() - 2], h[h.len() - 1], p) <= 0.0 {
                h.pop();
            }
            h.push(p);
        }
        h.pop();
        h
    };
    let mut hull = chain(&mut points.iter().copied());
    hull.extend(chain(&mut points.iter().rev().copied()));
    let m = hull.len();
    (0..m)
        .map(|i| {
            let (a, b) = (hull[i], hull[(i + 1) % m]);
            a.0 * b.1 - b.0 * a.1
        })
        .sum::<f64>()
        .abs()
        / 2.0
}

/// optbinning's `auto_monotonic_decision`, its thresholds as fitted there.
#[allow(clippy::too_many_arguments)]
fn decide(
    ascending: bool,
    min_left: f64,
    min_right: f64,
    max_left: f64,
    max_right: f64,
    area: f64,
    hull: f64,
) -> Trend {
    use Trend::{Ascending, Descending, Peak, Valley};
    if area <= 0.22145836800336838 {
        if ascending {
            Ascending
        } else if hull <= 0.48331470787525177 {
            if min_right <= 0.010740397498011589 || min_right > 0.022145185619592667 {
                Descending
            } else {
                Valley
            }
        } else if max_right <= 0.6426683664321899 {
            Valley
        } else {
            Descending
        }
    } else if min_right <= 0.06137961149215698 {
        if hull <= 0.23837491869926453 {
            Descending
        } else if max_left <= 0.10170064494013786 {
            if max_left <= 0.01817034650593996 {
                Valley
            } else {
                Descending
            }
        } else {
            Peak
        }
    } else if min_left <= 0.05336669087409973 {
        if max_right <= 0.0695494469255209 || max_left <= 0.14705360680818558 {
            Ascending
        } else {
            Peak
        }
    } else if min_left <= 0.8308950066566467 || max_right <= 0.1587613895535469 {
        Valley
    } else {
        Peak
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascending_merges_a_dip_into_its_neighbour() {
        // Rates 10 %, 30 %, 20 %, 40 %: the dip at the third pre-bin must join the second
        // (rates 10 %, 25 %, 40 %) or the fourth; joining the second keeps more IV here.
        let non = [90, 70, 80, 60];
        let ev = [10, 30, 20, 40];
        let ends = optimal_ends(&non, &ev, Trend::Ascending);
        assert_eq!(ends, vec![true, false, true, true]);
        let rates = merged_rates(&non, &ev, &ends);
        assert!(rates.windows(2).all(|w| w[0] <= w[1]), "{rates:?}");
    }

    #[test]
    fn peak_keeps_a_single_turn() {
        let non = [90, 70, 60, 80, 95];
        let ev = [10, 30, 40, 20, 5];
        let ends = optimal_ends(&non, &ev, Trend::Peak);
        assert_eq!(ends, vec![true; 5], "already unimodal: nothing to merge");
        let ends = optimal_ends(&non, &ev, Trend::Ascending);
        let rates = merged_rates(&non, &ev, &ends);
        assert!(rates.windows(2).all(|w| w[0] <= w[1]), "{rates:?}");
    }

    #[test]
    fn clear_shapes_get_their_trend() {
        let up = ([95, 90, 80, 70, 60], [5, 10, 20, 30, 40]);
        assert_eq!(auto_trend(&up.0, &up.1), Trend::Ascending);
        let down = ([60, 70, 80, 90, 95], [40, 30, 20, 10, 5]);
        assert_eq!(auto_trend(&down.0, &down.1), Trend::Descending);
    }

    #[test]
    fn hull_of_a_square() {
        let square = [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0), (0.5, 0.5)];
        assert!((hull_area(&square) - 1.0).abs() < 1e-12);
    }

    fn merged_rates(non: &[u64], ev: &[u64], ends: &[bool]) -> Vec<f64> {
        let (mut rates, mut a, mut b) = (Vec::new(), 0, 0);
        for i in 0..ends.len() {
            a += non[i];
            b += ev[i];
            if ends[i] {
                rates.push(b as f64 / (a + b) as f64);
                (a, b) = (0, 0);
            }
        }
        rates
    }
}
