//! Exact TreeSHAP for one row in O(nodes x depth) per tree, with no tables: the idea of Linear
//! TreeSHAP (Yu et al., 2022), with the Shapley weights written as a Beta integral.
//!
//! With the notation of `shap.rs` (leaf value v, distinct path features D, d = |D|, z_j the
//! share of training rows following the path at the splits on j, o_j = 1 when the row follows
//! the path at every split on j), a leaf adds to feature i
//!
//!   v (o_i - z_i) sum_{S in D\{i}} |S|! (d-|S|-1)!/d! prod_{j in S} o_j prod_{j not in S+i} z_j
//!   = v (o_i - z_i) integral_0^1 G(t) / F_i(t) dt,
//!
//! because k!(d-k-1)!/d! = integral t^k (1-t)^(d-1-k) dt, where F_j(t) = z_j + t (o_j - z_j)
//! and G = prod_{j in D} F_j. G/F_i is a polynomial of degree d-1, so an M-point Gauss-Legendre
//! rule with 2M >= d gives the integral exactly. The rule is linear, so the sum over leaves
//! can be gathered bottom-up: a node keeps H(t_m) = sum over the leaves below of v G(t_m), at
//! M points. A feature split several times on a path has its factor updated at each split;
//! the terms (o-z)/F of successive splits telescope to the leaf's final one, so each edge adds
//! the difference of its term and the previous one. A row then costs O(M) per node.

use crate::forest::Tree;

/// Gauss-Legendre points per tree at most (paths with up to 2 x this many distinct features).
pub const MAX_POINTS: usize = 16;

type Points = [f64; MAX_POINTS];

/// A tree ready for the linear algorithm.
#[derive(Debug, Clone)]
pub(crate) struct LinearTree {
    feature: Vec<u32>,
    left: Vec<i32>,
    right: Vec<i32>,
    /// Share of the node's training rows going left and right.
    z_left: Vec<f64>,
    z_right: Vec<f64>,
    leaf_value: Vec<f64>,
    /// The quadrature rule on [0, 1]: its M points and weights.
    m: usize,
    t: Points,
    w: Points,
}

impl LinearTree {
    /// `None` when the tree does not suit the method (a child without training rows, or a
    /// path with more than 2 x `MAX_POINTS` distinct features): the tabulated method is used.
    pub(crate) fn new(tree: &Tree) -> Option<Self> {
        let n = tree.split_feature.len();
        if n == 0 {
            return None;
        }
        let mut z_left = Vec::with_capacity(n);
        let mut z_right = Vec::with_capacity(n);
        for i in 0..n {
            let parent = tree.internal_count[i];
            let zl = cover(tree, tree.left[i]) / parent;
            let zr = cover(tree, tree.right[i]) / parent;
            if !(zl > 0.0 && zr > 0.0 && zl.is_finite() && zr.is_finite()) {
                return None;
            }
            z_left.push(zl);
            z_right.push(zr);
        }
        let depth = max_distinct(tree, 0, &mut Vec::new(), 0)?;
        let m = depth.div_ceil(2).max(1);
        if m > MAX_POINTS {
            return None;
        }
        let (t, w) = gauss_legendre(m);
        Some(LinearTree {
            feature: tree.split_feature.iter().map(|&f| f as u32).collect(),
            left: tree.left.clone(),
            right: tree.right.clone(),
            z_left,
            z_right,
            leaf_value: tree.leaf_value.clone(),
            m,
            t,
            w,
        })
    }

    /// Adds the tree's SHAP values for row `x` to `out`; `state` holds (o, z) per feature, all
    /// (1, 1), and is left so.
    pub(crate) fn shap(&self, tree: &Tree, x: &[f64], state: &mut [(f64, f64)], out: &mut [f64]) {
        // Arrays of the tree's own M: the loops unroll and vectorise. A larger M is also exact
        // (the padding points have weight 0), so the last arm takes any M.
        macro_rules! dispatch {
            ($($m:literal)*) => {
                match self.m {
                    $($m => self.run::<$m>(tree, x, state, out),)*
                    _ => self.run::<MAX_POINTS>(tree, x, state, out),
                }
            };
        }
        dispatch!(1 2 3 4 5 6 7 8 9 10 11 12)
    }

    fn run<const M: usize>(
        &self,
        tree: &Tree,
        x: &[f64],
        state: &mut [(f64, f64)],
        out: &mut [f64],
    ) {
        let mut rule = Rule::<M> {
            t: [0.0; M],
            w: [0.0; M],
            inv_1mt: [0.0; M],
        };
        for k in 0..M.min(MAX_POINTS) {
            rule.t[k] = self.t[k];
            rule.w[k] = self.w[k];
            rule.inv_1mt[k] = 1.0 / (1.0 - self.t[k]);
        }
        let mut h = [0.0; M];
        self.node(&rule, tree, 0, &[1.0; M], x, state, out, &mut h);
    }

    /// Visits internal node `n` reached with G = `g`; adds H of its subtree to `h`.
    #[allow(clippy::too_many_arguments)]
    fn node<const M: usize>(
        &self,
        rule: &Rule<M>,
        tree: &Tree,
        n: usize,
        g: &[f64; M],
        x: &[f64],
        state: &mut [(f64, f64)],
        out: &mut [f64],
        h: &mut [f64; M],
    ) {
        let left = tree.goes_left(n, x);
        let f = self.feature[n] as usize;
        for (child, z_e, o_e) in [
            (self.left[n], self.z_left[n], f64::from(u8::from(left))),
            (self.right[n], self.z_right[n], f64::from(u8::from(!left))),
        ] {
            let (o0, z0) = state[f];
            let (o1, z1) = (o0 * o_e, z0 * z_e);
            // gc: G of the child; r: the child's term (o-z)/F minus the previous one.
            let (mut gc, mut r) = ([0.0; M], [0.0; M]);
            if o0 == 1.0 && z0 == 1.0 {
                // First split on f along the path (z < 1 after any split): F before is 1.
                if o_e == 1.0 {
                    for k in 0..M {
                        let f1 = z1 + rule.t[k] * (1.0 - z1);
                        gc[k] = g[k] * f1;
                        r[k] = (1.0 - z1) / f1;
                    }
                } else {
                    // F = z (1 - t), so (o - z)/F = -1/(1 - t) whatever z.
                    for k in 0..M {
                        gc[k] = g[k] * z1 * (1.0 - rule.t[k]);
                        r[k] = -rule.inv_1mt[k];
                    }
                }
            } else {
                let (d1, d0) = (o1 - z1, o0 - z0);
                for k in 0..M {
                    let f0 = z0 + rule.t[k] * d0;
                    let f1 = z1 + rule.t[k] * d1;
                    let (i0, i1) = (1.0 / f0, 1.0 / f1);
                    gc[k] = g[k] * f1 * i0;
                    r[k] = d1 * i1 - d0 * i0;
                }
            }
            let mut hc = [0.0; M];
            if child < 0 {
                let v = self.leaf_value[(!child) as usize];
                for k in 0..M {
                    hc[k] = v * gc[k];
                }
            } else {
                state[f] = (o1, z1);
                self.node(rule, tree, child as usize, &gc, x, state, out, &mut hc);
                state[f] = (o0, z0);
            }
            let mut s = 0.0;
            for k in 0..M {
                s += rule.w[k] * hc[k] * r[k];
                h[k] += hc[k];
            }
            out[f] += s;
        }
    }
}

/// A quadrature rule of M points (weights 0 past the tree's own M).
struct Rule<const M: usize> {
    t: [f64; M],
    w: [f64; M],
    inv_1mt: [f64; M],
}

fn cover(t: &Tree, child: i32) -> f64 {
    if child >= 0 {
        t.internal_count[child as usize]
    } else {
        t.leaf_count[(!child) as usize]
    }
}

/// The largest number of distinct features on a root-to-leaf path (None on a malformed tree).
fn max_distinct(tree: &Tree, node: i32, path: &mut Vec<usize>, depth: usize) -> Option<usize> {
    if node < 0 {
        return Some(path.len());
    }
    if depth > tree.split_feature.len() {
        return None;
    }
    let n = usize::try_from(node).ok()?;
    let f = *tree.split_feature.get(n)?;
    let fresh = !path.contains(&f);
    if fresh {
        path.push(f);
    }
    let l = max_distinct(tree, *tree.left.get(n)?, path, depth + 1);
    let r = max_distinct(tree, *tree.right.get(n)?, path, depth + 1);
    if fresh {
        path.pop();
    }
    Some(l?.max(r?))
}

/// The M-point Gauss-Legendre rule mapped to [0, 1] (exact for polynomials of degree < 2M):
/// roots of P_M by Newton's method from Tricomi's initial guesses.
pub(crate) fn gauss_legendre(m: usize) -> (Points, Points) {
    let (mut t, mut w) = ([0.0; MAX_POINTS], [0.0; MAX_POINTS]);
    let mf = m as f64;
    for i in 0..m {
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (mf + 0.5)).cos();
        let mut dp = 1.0;
        for _ in 0..100 {
            let (p, d) = legendre(m, x);
            dp = d;
            let dx = p / d;
            x -= dx;
            if dx.abs() < 1e-17 {
                break;
            }
        }
        let (_, d) = legendre(m, x);
        if d.is_finite() {
            dp = d;
        }
        t[i] = 0.5 * (1.0 - x);
        w[i] = 1.0 / ((1.0 - x * x) * dp * dp);
    }
    (t, w)
}

/// P_m(x) and P_m'(x) by the three-term recurrence.
fn legendre(m: usize, x: f64) -> (f64, f64) {
    let (mut p0, mut p1) = (1.0, x);
    if m == 0 {
        return (1.0, 0.0);
    }
    for k in 2..=m {
        let kf = k as f64;
        let p2 = ((2.0 * kf - 1.0) * x * p1 - (kf - 1.0) * p0) / kf;
        p0 = p1;
        p1 = p2;
    }
    let d = m as f64 * (x * p1 - p0) / (x * x - 1.0);
    (p1, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule integrates t^k on [0, 1] (= 1/(k+1)) exactly for k < 2M.
    #[test]
    fn gauss_legendre_is_exact_on_monomials() {
        for m in 1..=MAX_POINTS {
            let (t, w) = gauss_legendre(m);
            let total: f64 = w[..m].iter().sum();
            assert!((total - 1.0).abs() < 1e-14, "m {m}: weights sum {total}");
            for k in 0..2 * m {
                let q: f64 = (0..m).map(|i| w[i] * t[i].powi(k as i32)).sum();
                let exact = 1.0 / (k as f64 + 1.0);
                assert!((q - exact).abs() < 1e-14, "m {m}, k {k}: {q} vs {exact}");
            }
        }
    }
}
