//! Exact path-dependent TreeSHAP with per-leaf precomputation (the idea of Fast TreeSHAP v2,
//! Yang 2021).
//!
//! For a leaf with value v whose path splits on the distinct features D (d = |D|), let z_j be
//! the share of training rows that follow the path at the splits on j (the product of
//! child/parent counts) and P the features whose every split on the path the row satisfies.
//! The leaf adds to feature i:
//!
//!   i in P:     v (1 - z_i) Z(P) B(P \ {i})
//!   i not in P: -v Z(P) B(P)
//!
//! with Z(P) the product of z_j over D \ P and B(Q) = sum_k k!(d-k-1)!/d! e_{|Q|-k}(z_Q), e the
//! elementary symmetric polynomials. B depends only on the subset, so it is tabulated once per
//! leaf for all 2^d subsets (d <= `TABLE_DEPTH`); a row then costs O(d) per leaf instead of
//! the O(d^2) of the recursive algorithm. Deeper leaves compute B from the polynomial of P,
//! removing one factor at a time by synthetic division, in O(d^2).
//!
//! `Explainer::new` uses the tables only for trees the linear method (`linear.rs`, no tables,
//! O(nodes x depth) per row) does not take; `with_table_depth` uses them everywhere.

use crate::forest::{Forest, Tree};
use crate::linear::LinearTree;
use crate::{Error, Result};

/// Rows explained together, tree by tree, in batches.
const BLOCK: usize = 128;

/// Leaves with more distinct path features than this are not tabulated (2^d entries each).
pub const TABLE_DEPTH: usize = 12;

#[derive(Debug, Clone)]
struct Leaf {
    value: f64,
    /// Distinct features of the path, and their z.
    features: Vec<usize>,
    z: Vec<f64>,
    /// (internal node, goes left on the path, slot in `features`).
    path: Vec<(u32, bool, u8)>,
    /// B for every subset mask, when d <= the table depth.
    table: Option<Vec<f64>>,
    /// k! (d-k-1)! / d! for k < d.
    weights: Vec<f64>,
}

#[derive(Debug, Clone)]
struct PreparedTree {
    tree: Tree,
    leaves: Vec<Leaf>,
    /// The same leaves in flat arrays, for trees of at most 64 internal nodes.
    flat: Option<Flat>,
    /// The tree for the linear single-row method (`linear.rs`), when it suits it.
    linear: Option<LinearTree>,
}

/// Leaves laid out contiguously; a path condition per distinct feature is a pair of node
/// bitmasks, so a row's pattern P is found with one mask test per feature.
#[derive(Debug, Clone, Default)]
struct Flat {
    /// Per leaf: first slot, number of slots (d), offset of its table (u32::MAX: none).
    leaf: Vec<(u32, u32, u32)>,
    value: Vec<f64>,
    /// Per slot (distinct path feature): feature, z, nodes on the path splitting on it, and
    /// which of those the path leaves by the left.
    feature: Vec<u32>,
    z: Vec<f64>,
    nodes: Vec<u64>,
    lefts: Vec<u64>,
    tables: Vec<f64>,
}

fn flatten(t: &Tree, leaves: &[Leaf]) -> Option<Flat> {
    if t.split_feature.len() > 64 {
        return None;
    }
    let mut f = Flat::default();
    for lf in leaves {
        let d = lf.features.len();
        let table_at = match &lf.table {
            Some(tb) if d > 0 => {
                let at = f.tables.len() as u32;
                f.tables.extend_from_slice(tb);
                at
            }
            _ => u32::MAX,
        };
        f.leaf.push((f.feature.len() as u32, d as u32, table_at));
        f.value.push(lf.value);
        for slot in 0..d {
            let (mut nodes, mut lefts) = (0u64, 0u64);
            for &(n, left, s) in &lf.path {
                if s as usize == slot {
                    nodes |= 1 << n;
                    if left {
                        lefts |= 1 << n;
                    }
                }
            }
            f.feature.push(lf.features[slot] as u32);
            f.z.push(lf.z[slot]);
            f.nodes.push(nodes);
            f.lefts.push(lefts);
        }
    }
    Some(f)
}

fn flat_shap(pt: &PreparedTree, f: &Flat, x: &[f64], out: &mut [f64]) {
    let t = &pt.tree;
    let mut bits = 0u64;
    for n in 0..t.split_feature.len() {
        if t.goes_left(n, x) {
            bits |= 1 << n;
        }
    }
    for (l, &(start, d, table_at)) in f.leaf.iter().enumerate() {
        let (s, d) = (start as usize, d as usize);
        if d == 0 {
            continue;
        }
        let mut p = 0usize;
        let mut z_out = 1.0;
        for i in 0..d {
            if (bits ^ f.lefts[s + i]) & f.nodes[s + i] == 0 {
                p |= 1 << i;
            } else {
                z_out *= f.z[s + i];
            }
        }
        let vz = f.value[l] * z_out;
        if table_at == u32::MAX {
            untabulated(&pt.leaves[l], p, vz, out);
            continue;
        }
        let tb = &f.tables[table_at as usize..table_at as usize + (1 << d)];
        let b_p = tb[p];
        for i in 0..d {
            let feature = f.feature[s + i] as usize;
            if p & (1 << i) != 0 {
                out[feature] += vz * (1.0 - f.z[s + i]) * tb[p & !(1 << i)];
            } else {
                out[feature] -= vz * b_p;
            }
        }
    }
}

/// A model ready to explain: trees with their per-leaf tables.
#[derive(Debug, Clone)]
pub struct Explainer {
    trees: Vec<PreparedTree>,
    n_features: usize,
    base: f64,
}

impl Explainer {
    /// The linear method (`linear.rs`) for every tree that suits it; per-leaf tables for the
    /// others (a child without training rows, or paths with over 32 distinct features).
    pub fn new(forest: &Forest) -> Result<Self> {
        Self::build(forest, TABLE_DEPTH, true)
    }

    /// The tabulated method only, tabulating leaves with at most `depth` distinct path features
    /// (0: none, every leaf is then explained from its polynomial in O(d^2)). For comparisons.
    pub fn with_table_depth(forest: &Forest, depth: usize) -> Result<Self> {
        Self::build(forest, depth, false)
    }

    fn build(forest: &Forest, depth: usize, linear: bool) -> Result<Self> {
        let depth = depth.min(20);
        let trees = forest
            .trees
            .iter()
            .enumerate()
            .map(|(i, t)| {
                prepare(t, depth, linear).map_err(|message| Error::Tree { tree: i, message })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Explainer {
            trees,
            n_features: forest.n_features,
            base: forest.expected_value(),
        })
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// (leaves, leaves explained in O(d^2): neither linear nor tabulated).
    pub fn leaf_counts(&self) -> (usize, usize) {
        let all = self.trees.iter().map(|t| t.leaves.len()).sum();
        let deep = self
            .trees
            .iter()
            .filter(|t| t.linear.is_none())
            .flat_map(|t| &t.leaves)
            .filter(|l| l.table.is_none())
            .count();
        (all, deep)
    }

    /// The base value: the mean log-odds over the training rows.
    pub fn base_value(&self) -> f64 {
        self.base
    }

    /// SHAP values of one row into `out` (n_features + 1 values, the base value last, as
    /// LightGBM's `pred_contrib`). Their sum is the row's log-odds.
    pub fn explain_into(&self, x: &[f64], out: &mut [f64]) -> Result<()> {
        if x.len() != self.n_features {
            return Err(Error::Width {
                got: x.len(),
                expected: self.n_features,
            });
        }
        if out.len() != self.n_features + 1 {
            return Err(Error::Width {
                got: out.len(),
                expected: self.n_features + 1,
            });
        }
        out.iter_mut().for_each(|v| *v = 0.0);
        self.one_row(&self.trees, x, out);
        out[self.n_features] = self.base;
        Ok(())
    }

    /// One row through `trees`: the linear method where a tree suits it (no tables to read,
    /// the faster for a single row), the tabulated one elsewhere.
    fn one_row(&self, trees: &[PreparedTree], x: &[f64], out: &mut [f64]) {
        let mut left = Vec::new();
        let mut state = vec![(1.0, 1.0); self.n_features];
        for t in trees {
            match &t.linear {
                Some(lin) => lin.shap(&t.tree, x, &mut state, out),
                None => tree_shap(t, x, out, &mut left),
            }
        }
    }

    pub fn explain(&self, x: &[f64]) -> Result<Vec<f64>> {
        let mut out = vec![0.0; self.n_features + 1];
        self.explain_into(x, &mut out)?;
        Ok(out)
    }

    /// One row's SHAP values with its trees split in `parts` consecutive parts, each summed
    /// on its own, then the parts added in order: the result depends on `parts` only, not on
    /// `threads`, the threads the parts are computed on (all of them on one thread when
    /// `threads` is 1, one thread each otherwise: lower latency for a single client). Equal to
    /// `explain` up to rounding; bit for bit when `parts` is 1.
    pub fn explain_parallel(&self, x: &[f64], parts: usize, threads: usize) -> Result<Vec<f64>> {
        let parts = parts.clamp(1, self.trees.len().max(1));
        if parts == 1 {
            return self.explain(x);
        }
        if x.len() != self.n_features {
            return Err(Error::Width {
                got: x.len(),
                expected: self.n_features,
            });
        }
        let per = self.trees.len().div_ceil(parts);
        let part = |chunk: &[PreparedTree]| {
            let mut out = vec![0.0; self.n_features + 1];
            self.one_row(chunk, x, &mut out);
            out
        };
        let parts: Vec<Vec<f64>> = if threads <= 1 {
            self.trees.chunks(per).map(part).collect()
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = self
                    .trees
                    .chunks(per)
                    .map(|chunk| s.spawn(move || part(chunk)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join())
                    .collect::<std::result::Result<_, _>>()
            })
            .map_err(|_| Error::Model("a SHAP worker failed".into()))?
        };
        let mut out = vec![0.0; self.n_features + 1];
        for part in &parts {
            for (o, v) in out.iter_mut().zip(part) {
                *o += v;
            }
        }
        out[self.n_features] = self.base;
        Ok(out)
    }

    /// Rows in blocks, tree by tree: a tree's tables stay in cache while a block of rows uses
    /// them (row by row, every row would walk all the tables of the model).
    fn explain_block(&self, x: &[f64], out: &mut [f64]) {
        let k = self.n_features;
        let mut left = Vec::new();
        let mut state = vec![(1.0, 1.0); k];
        for (xb, ob) in x.chunks(BLOCK * k).zip(out.chunks_mut(BLOCK * (k + 1))) {
            ob.iter_mut().for_each(|v| *v = 0.0);
            for t in &self.trees {
                for (row, o) in xb.chunks(k).zip(ob.chunks_mut(k + 1)) {
                    match &t.linear {
                        Some(lin) => lin.shap(&t.tree, row, &mut state, o),
                        None => tree_shap(t, row, o, &mut left),
                    }
                }
            }
            for o in ob.chunks_mut(k + 1) {
                o[k] = self.base;
            }
        }
    }

    /// SHAP values of row-major rows, on `threads` threads; (n_features + 1) per row.
    pub fn explain_batch(&self, x: &[f64], threads: usize) -> Result<Vec<f64>> {
        let k = self.n_features;
        if k == 0 || !x.len().is_multiple_of(k) {
            return Err(Error::Width {
                got: x.len(),
                expected: k,
            });
        }
        let rows = x.len() / k;
        let mut out = vec![0.0; rows * (k + 1)];
        let threads = threads.clamp(1, rows.max(1));
        let per = rows.div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = x
                .chunks(per * k)
                .zip(out.chunks_mut(per * (k + 1)))
                .map(|(xc, oc)| {
                    s.spawn(move || -> Result<()> {
                        self.explain_block(xc, oc);
                        Ok(())
                    })
                })
                .collect();
            for h in handles {
                h.join()
                    .map_err(|_| Error::Model("a SHAP worker failed".into()))??;
            }
            Ok::<(), Error>(())
        })?;
        Ok(out)
    }
}

fn cover(t: &Tree, child: i32) -> f64 {
    if child >= 0 {
        t.internal_count[child as usize]
    } else {
        t.leaf_count[(!child) as usize]
    }
}

fn prepare(
    t: &Tree,
    table_depth: usize,
    linear: bool,
) -> std::result::Result<PreparedTree, String> {
    let linear = if linear { LinearTree::new(t) } else { None };
    // A tree explained by the linear method needs no tables.
    let table_depth = if linear.is_some() { 0 } else { table_depth };
    let mut leaves: Vec<Option<Leaf>> = vec![None; t.num_leaves()];
    if t.num_leaves() > 1 {
        let mut stack: Vec<(i32, Vec<(u32, bool)>)> = vec![(0, Vec::new())];
        while let Some((node, path)) = stack.pop() {
            if node < 0 {
                let l = (!node) as usize;
                leaves[l] = Some(leaf(t, l, &path, table_depth)?);
                continue;
            }
            let n = node as usize;
            for (child, left) in [(t.left[n], true), (t.right[n], false)] {
                let mut p = path.clone();
                p.push((n as u32, left));
                if p.len() > t.num_leaves() {
                    return Err("the tree has a cycle".into());
                }
                stack.push((child, p));
            }
        }
    }
    let leaves = leaves
        .into_iter()
        .enumerate()
        .map(|(l, v)| {
            v.ok_or_else(|| format!("leaf {l} is not reachable"))
                .or_else(|e| {
                    if t.num_leaves() == 1 {
                        Ok(single(t))
                    } else {
                        Err(e)
                    }
                })
        })
        .collect::<std::result::Result<Vec<_>, String>>()?;
    Ok(PreparedTree {
        linear,
        tree: t.clone(),
        flat: flatten(t, &leaves),
        leaves,
    })
}

fn single(t: &Tree) -> Leaf {
    Leaf {
        value: t.leaf_value[0],
        features: Vec::new(),
        z: Vec::new(),
        path: Vec::new(),
        table: Some(vec![0.0]),
        weights: Vec::new(),
    }
}

fn leaf(
    t: &Tree,
    l: usize,
    path: &[(u32, bool)],
    table_depth: usize,
) -> std::result::Result<Leaf, String> {
    let mut features: Vec<usize> = Vec::new();
    let mut z: Vec<f64> = Vec::new();
    let mut steps = Vec::with_capacity(path.len());
    for &(n, left) in path {
        let n_us = n as usize;
        let f = t.split_feature[n_us];
        let child = if left { t.left[n_us] } else { t.right[n_us] };
        let parent = t.internal_count[n_us];
        if parent <= 0.0 {
            return Err(format!("node {n} has no training rows"));
        }
        let share = cover(t, child) / parent;
        let slot = match features.iter().position(|&g| g == f) {
            Some(s) => {
                z[s] *= share;
                s
            }
            None => {
                features.push(f);
                z.push(share);
                features.len() - 1
            }
        };
        if slot > u8::MAX as usize {
            return Err("a path splits on more than 255 features".into());
        }
        steps.push((n, left, slot as u8));
    }
    if features.len() > 63 {
        return Err(format!(
            "leaf {l}: {} distinct features on one path (at most 63 are supported)",
            features.len()
        ));
    }
    let table = (features.len() <= table_depth).then(|| tabulate(&z));
    Ok(Leaf {
        value: t.leaf_value[l],
        weights: weights(features.len()),
        features,
        z,
        path: steps,
        table,
    })
}

/// w(k, d) = k! (d-k-1)! / d!
fn weights(d: usize) -> Vec<f64> {
    let mut w = vec![0.0; d];
    // w(0, d) = 1/d; w(k+1) = w(k) * (k+1) / (d-k-1).
    if d > 0 {
        w[0] = 1.0 / d as f64;
        for k in 0..d - 1 {
            w[k + 1] = w[k] * (k + 1) as f64 / (d - k - 1) as f64;
        }
    }
    w
}

/// B(Q) for every subset mask Q of the leaf's features.
fn tabulate(z: &[f64]) -> Vec<f64> {
    let d = z.len();
    let w = weights(d);
    let size = 1usize << d;
    // poly[mask] = coefficients of prod_{j in mask} (t + z_j), lowest degree first.
    let mut poly = vec![0.0; size * (d + 1)];
    poly[0] = 1.0;
    let mut table = vec![0.0; size];
    for mask in 1..size {
        let h = usize::BITS as usize - 1 - mask.leading_zeros() as usize;
        let prev = mask & !(1 << h);
        let (done, rest) = poly.split_at_mut(mask * (d + 1));
        let src = &done[prev * (d + 1)..(prev + 1) * (d + 1)];
        let dst = &mut rest[..d + 1];
        for k in 0..=d {
            let shifted = if k > 0 { src[k - 1] } else { 0.0 };
            dst[k] = shifted + z[h] * src[k];
        }
    }
    for (mask, b) in table.iter_mut().enumerate() {
        let q = mask.count_ones() as usize;
        let c = &poly[mask * (d + 1)..(mask + 1) * (d + 1)];
        *b = (0..=q.min(d.saturating_sub(1))).map(|k| w[k] * c[k]).sum();
    }
    table
}

fn tree_shap(pt: &PreparedTree, x: &[f64], out: &mut [f64], left: &mut Vec<bool>) {
    if let Some(f) = &pt.flat {
        return flat_shap(pt, f, x, out);
    }
    let t = &pt.tree;
    left.clear();
    left.extend((0..t.split_feature.len()).map(|n| t.goes_left(n, x)));
    for lf in &pt.leaves {
        let d = lf.features.len();
        if d == 0 {
            continue;
        }
        let mut p: usize = (1usize << d) - 1;
        for &(n, l, slot) in &lf.path {
            if left[n as usize] != l {
                p &= !(1usize << slot);
            }
        }
        let mut z_out = 1.0;
        for i in 0..d {
            if p & (1 << i) == 0 {
                z_out *= lf.z[i];
            }
        }
        let vz = lf.value * z_out;
        match &lf.table {
            Some(table) => {
                let b_p = table[p];
                for i in 0..d {
                    let f = lf.features[i];
                    if p & (1 << i) != 0 {
                        out[f] += vz * (1.0 - lf.z[i]) * table[p & !(1 << i)];
                    } else {
                        out[f] -= vz * b_p;
                    }
                }
            }
            None => untabulated(lf, p, vz, out),
        }
    }
}

/// B from the polynomial of P, for leaves too deep to tabulate.
fn untabulated(lf: &Leaf, p: usize, vz: f64, out: &mut [f64]) {
    let d = lf.features.len();
    if d > MAX_STACK {
        let (mut c, mut q) = (vec![0.0; d + 1], vec![0.0; d + 1]);
        return untabulated_with(lf, p, vz, out, &mut c, &mut q);
    }
    let (mut c, mut q) = ([0.0; MAX_STACK + 1], [0.0; MAX_STACK + 1]);
    untabulated_with(lf, p, vz, out, &mut c[..=d], &mut q[..=d]);
}

const MAX_STACK: usize = 48;

fn untabulated_with(lf: &Leaf, p: usize, vz: f64, out: &mut [f64], c: &mut [f64], q: &mut [f64]) {
    let d = lf.features.len();
    let w = &lf.weights;
    c.iter_mut().for_each(|v| *v = 0.0);
    c[0] = 1.0;
    let mut deg = 0;
    for i in 0..d {
        if p & (1 << i) != 0 {
            for k in (0..=deg).rev() {
                c[k + 1] += c[k];
                c[k] *= lf.z[i];
            }
            deg += 1;
        }
    }
    let b =
        |coef: &[f64], top: usize| -> f64 { (0..=top.min(d - 1)).map(|k| w[k] * coef[k]).sum() };
    let b_p = b(c, deg);
    for i in 0..d {
        let f = lf.features[i];
        if p & (1 << i) == 0 {
            out[f] -= vz * b_p;
            continue;
        }
        // Divide prod (t + z_j) by (t + z_i), from the end where the division is stable.
        let zi = lf.z[i];
        if zi > 0.5 {
            // Bottom-up: c_0 = z q_0, c_k = q_{k-1} + z q_k.
            q[0] = c[0] / zi;
            for k in 1..deg {
                q[k] = (c[k] - q[k - 1]) / zi;
            }
        } else {
            q[deg - 1] = c[deg];
            for k in (1..deg).rev() {
                q[k - 1] = c[k] - zi * q[k];
            }
        }
        out[f] += vz * (1.0 - zi) * b(q, deg - 1);
    }
}
