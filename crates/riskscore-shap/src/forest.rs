//! LightGBM's text model format, read into arrays per tree, and its decision rule.

use crate::{Error, Result};

/// One regression tree. Children are node indices when >= 0 and `!leaf` when negative, as in
/// LightGBM's own arrays; a node's children come after it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tree {
    pub split_feature: Vec<usize>,
    pub threshold: Vec<f64>,
    pub decision_type: Vec<u8>,
    pub left: Vec<i32>,
    pub right: Vec<i32>,
    pub leaf_value: Vec<f64>,
    pub leaf_count: Vec<f64>,
    pub internal_count: Vec<f64>,
}

/// LightGBM's kZeroThreshold.
pub const ZERO: f64 = 1e-35;

/// Whether value `v` goes left at a split with `decision_type` `dt` and `threshold`
/// (LightGBM's NumericalDecision: missing values as zero, zero as missing, or NaN as missing).
#[inline]
pub fn goes_left(dt: u8, threshold: f64, mut v: f64) -> bool {
    let missing = (dt >> 2) & 3;
    if v.is_nan() && missing != 2 {
        v = 0.0;
    }
    if (missing == 1 && v.abs() <= ZERO) || (missing == 2 && v.is_nan()) {
        dt & 2 != 0
    } else {
        v <= threshold
    }
}

impl Tree {
    pub fn num_leaves(&self) -> usize {
        self.leaf_value.len()
    }

    /// Whether row `x` goes left at internal node `n` (LightGBM's NumericalDecision).
    #[inline]
    pub fn goes_left(&self, n: usize, x: &[f64]) -> bool {
        goes_left(
            self.decision_type[n],
            self.threshold[n],
            x[self.split_feature[n]],
        )
    }

    /// The leaf reached by row `x`.
    pub fn leaf(&self, x: &[f64]) -> usize {
        if self.left.is_empty() {
            return 0;
        }
        let mut n = 0usize;
        loop {
            let next = if self.goes_left(n, x) {
                self.left[n]
            } else {
                self.right[n]
            };
            if next < 0 {
                return (!next) as usize;
            }
            n = next as usize;
        }
    }

    /// The mean output over the training rows (LightGBM's ExpectedValue).
    pub fn expected_value(&self) -> f64 {
        if self.num_leaves() == 1 {
            return self.leaf_value[0];
        }
        let total = self.internal_count[0];
        self.leaf_value
            .iter()
            .zip(&self.leaf_count)
            .map(|(v, c)| v * c / total)
            .sum()
    }
}

/// A binary-classification model: the sum of the trees is the log-odds of default.
#[derive(Debug, Clone, PartialEq)]
pub struct Forest {
    pub trees: Vec<Tree>,
    pub n_features: usize,
    pub feature_names: Vec<String>,
}

impl Forest {
    /// Parses LightGBM's text model (`model.txt`, `save_model`, `model_to_string`).
    pub fn parse(text: &str) -> Result<Self> {
        let mut n_features = None;
        let mut feature_names = Vec::new();
        let mut trees = Vec::new();
        let mut current: Option<(usize, Vec<(&str, &str)>)> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("Tree=") {
                if let Some((i, fields)) = current.take() {
                    trees.push(tree(i, &fields)?);
                }
                let i = rest
                    .trim()
                    .parse()
                    .map_err(|_| Error::Model(format!("bad tree header {line:?}")))?;
                current = Some((i, Vec::new()));
            } else if line.starts_with("end of trees") {
                if let Some((i, fields)) = current.take() {
                    trees.push(tree(i, &fields)?);
                }
                break;
            } else if let Some((k, v)) = line.split_once('=') {
                match &mut current {
                    Some((_, fields)) => fields.push((k, v)),
                    None => match k {
                        "max_feature_idx" => {
                            let m: usize = v
                                .trim()
                                .parse()
                                .map_err(|_| Error::Model(format!("bad max_feature_idx {v:?}")))?;
                            n_features = Some(m + 1);
                        }
                        "feature_names" => {
                            feature_names = v.split(' ').map(str::to_string).collect();
                        }
                        "num_class" if v.trim() != "1" => {
                            return Err(Error::Model(format!(
                                "{v} classes; only binary models are explained"
                            )));
                        }
                        "objective" if !v.starts_with("binary") => {
                            return Err(Error::Model(format!(
                                "objective {v:?}; only binary models are explained"
                            )));
                        }
                        _ => {}
                    },
                }
            }
        }
        if let Some((i, fields)) = current.take() {
            trees.push(tree(i, &fields)?);
        }
        let n_features = n_features.ok_or_else(|| Error::Model("no max_feature_idx".into()))?;
        for (i, t) in trees.iter().enumerate() {
            if t.split_feature.iter().any(|&f| f >= n_features) {
                return Err(Error::Tree {
                    tree: i,
                    message: "split on a feature beyond max_feature_idx".into(),
                });
            }
        }
        Ok(Forest {
            trees,
            n_features,
            feature_names,
        })
    }

    /// The raw score (log-odds) of a row.
    pub fn raw(&self, x: &[f64]) -> f64 {
        self.trees.iter().map(|t| t.leaf_value[t.leaf(x)]).sum()
    }

    /// The mean raw score over the training data (the SHAP base value).
    pub fn expected_value(&self) -> f64 {
        self.trees.iter().map(Tree::expected_value).sum()
    }

    /// The trees in one flat array, for scoring many rows at once ([`Packed::raw_rows`]).
    pub fn packed(&self) -> Packed {
        Packed::new(self)
    }
}

/// One node of [`Packed`]: an internal node's split, or a leaf, which leads to itself.
#[derive(Debug, Clone, Copy)]
struct Node {
    /// The threshold of a split, the value of a leaf.
    value: f64,
    /// The value compared with the threshold in place of a missing one: 0 when missing values
    /// count as zero, -inf to send them left, NaN to send them right.
    sub: f64,
    feature: u32,
    /// The child taken when the row goes right (index 0) and left (index 1), indices into the
    /// whole array.
    child: [u32; 2],
    /// Whether the zero band (|v| <= 1e-35) counts as missing (LightGBM's missing type Zero).
    band: bool,
}

/// One node of [`Packed`] for rows of `f32`, 24 bytes against 32: the threshold rounded down to
/// the largest `f32` at or below it, which sends every `f32` value the way the threshold does
/// (for an `f32` value `v`, `v <= t` exactly when `v <= down(t)`), the zero band's bound the
/// same way. A leaf's value is in [`Packed::leaves`].
#[derive(Debug, Clone, Copy)]
struct Narrow {
    threshold: f32,
    /// As [`Node::sub`] (0, -inf or NaN, each an `f32`).
    sub: f32,
    /// The zero band's bound rounded down where the band counts as missing, else -inf (no
    /// magnitude is at or below it).
    band: f32,
    feature: u32,
    child: [u32; 2],
}

/// The largest `f32` at or below `t` (NaN for NaN).
fn down(t: f64) -> f32 {
    let f = t as f32;
    if f64::from(f) > t {
        f.next_down()
    } else {
        f
    }
}

impl Narrow {
    fn of(node: &Node) -> Narrow {
        Narrow {
            threshold: down(node.value),
            sub: node.sub as f32,
            band: if node.band {
                down(ZERO)
            } else {
                f32::NEG_INFINITY
            },
            feature: node.feature,
            child: node.child,
        }
    }
}

/// The values [`Packed::raw_rows`] walks: doubles, or floats on the narrow nodes.
pub trait Lane: Copy + Into<f64> {
    #[doc(hidden)]
    fn walk(packed: &Packed, x: [&[Self]; LANES]) -> [f64; LANES];
}

impl Lane for f64 {
    #[inline]
    fn walk(packed: &Packed, x: [&[f64]; LANES]) -> [f64; LANES] {
        packed.walk_nodes(&packed.nodes, |i| packed.nodes[i].value, x)
    }
}

impl Lane for f32 {
    #[inline]
    fn walk(packed: &Packed, x: [&[f32]; LANES]) -> [f64; LANES] {
        packed.walk_nodes(&packed.narrow, |i| packed.leaves[i], x)
    }
}

/// Every tree of a forest in one array of nodes, for scoring many rows at once: the same
/// decision rule and the same sum as [`Forest::raw`], bit for bit, about twice as fast.
///
/// `LANES` rows walk each tree together, as many steps as the tree is deep, each step without a
/// branch: a leaf leads to itself, and a missing value is replaced by one that goes where
/// LightGBM sends it. So the processor works on several rows while one waits for memory, and no
/// step depends on a guessed branch.
#[derive(Debug, Clone)]
pub struct Packed {
    nodes: Vec<Node>,
    /// The same nodes for rows of `f32` ([`Narrow`]), and the leaves' values by node index.
    narrow: Vec<Narrow>,
    leaves: Vec<f64>,
    /// Per tree: its root's index and its depth (the steps from the root to its deepest leaf).
    trees: Vec<(u32, u32)>,
    n_features: usize,
}

/// Rows walked through a tree together by [`Packed::raw_rows`].
pub const LANES: usize = 8;

impl Packed {
    fn new(forest: &Forest) -> Packed {
        let mut nodes = Vec::new();
        let mut trees = Vec::with_capacity(forest.trees.len());
        for t in &forest.trees {
            let root = nodes.len() as u32;
            let leaf_start = root + t.left.len() as u32;
            let index = |c: i32| {
                if c >= 0 {
                    root + c as u32
                } else {
                    leaf_start + (!c) as u32
                }
            };
            for n in 0..t.left.len() {
                let dt = t.decision_type[n];
                let missing = (dt >> 2) & 3;
                let default = if dt & 2 != 0 {
                    f64::NEG_INFINITY
                } else {
                    f64::NAN
                };
                nodes.push(Node {
                    value: t.threshold[n],
                    sub: if missing == 0 { 0.0 } else { default },
                    feature: t.split_feature[n] as u32,
                    child: [index(t.right[n]), index(t.left[n])],
                    band: missing == 1,
                });
            }
            for (l, &v) in t.leaf_value.iter().enumerate() {
                let me = leaf_start + l as u32;
                nodes.push(Node {
                    value: v,
                    sub: 0.0,
                    feature: 0,
                    child: [me, me],
                    band: false,
                });
            }
            trees.push((root, depth(t)));
        }
        let narrow = nodes.iter().map(Narrow::of).collect();
        let leaves = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                if n.child == [i as u32; 2] {
                    n.value
                } else {
                    0.0
                }
            })
            .collect();
        Packed {
            nodes,
            narrow,
            leaves,
            trees,
            n_features: forest.n_features,
        }
    }

    /// The raw score (log-odds) of each row of `x` (row-major, `n_features` per row; doubles, or
    /// floats, taken as the doubles they convert to) into `out`, equal in every bit to
    /// [`Forest::raw`] of the row.
    pub fn raw_rows<T: Lane>(&self, x: &[T], out: &mut [f64]) {
        let k = self.n_features.max(1);
        assert_eq!(x.len(), out.len() * self.n_features, "rows of x and out");
        let mut rows = x.chunks_exact(k * LANES);
        let mut outs = out.chunks_exact_mut(LANES);
        for (x, out) in (&mut rows).zip(&mut outs) {
            let lanes: [&[T]; LANES] = std::array::from_fn(|g| &x[g * k..(g + 1) * k]);
            out.copy_from_slice(&T::walk(self, lanes));
        }
        for (x, o) in rows.remainder().chunks(k).zip(outs.into_remainder()) {
            *o = T::walk(self, [x; LANES])[0];
        }
    }

    /// The raw scores of `LANES` rows walked together through `nodes` (the wide or the narrow
    /// ones; `leaf` gives a leaf's value by its index).
    #[inline]
    fn walk_nodes<T: Copy, N: Step<T>>(
        &self,
        nodes: &[N],
        leaf: impl Fn(usize) -> f64,
        x: [&[T]; LANES],
    ) -> [f64; LANES] {
        // -0.0, the neutral element `Iterator::sum` starts from, so that the sums agree in
        // every bit with Forest::raw.
        let mut acc = [-0.0f64; LANES];
        for &(root, depth) in &self.trees {
            let mut at = [root; LANES];
            for _ in 0..depth {
                for g in 0..LANES {
                    let node = &nodes[at[g] as usize];
                    at[g] = node.step(x[g][node.feature()]);
                }
            }
            for g in 0..LANES {
                acc[g] += leaf(at[g] as usize);
            }
        }
        acc
    }
}

/// One step of a row through a node, without a branch: the child its value goes to (a
/// missing value replaced by one that goes where LightGBM sends it).
trait Step<T> {
    fn feature(&self) -> usize;
    fn step(&self, v: T) -> u32;
}

impl Step<f64> for Node {
    #[inline]
    fn feature(&self) -> usize {
        self.feature as usize
    }

    #[inline]
    fn step(&self, v: f64) -> u32 {
        let swap = v.is_nan() | (self.band & (v.abs() <= ZERO));
        let v = if swap { self.sub } else { v };
        self.child[usize::from(v <= self.value)]
    }
}

impl Step<f32> for Narrow {
    #[inline]
    fn feature(&self) -> usize {
        self.feature as usize
    }

    #[inline]
    fn step(&self, v: f32) -> u32 {
        let swap = v.is_nan() | (v.abs() <= self.band);
        let v = if swap { self.sub } else { v };
        self.child[usize::from(v <= self.threshold)]
    }
}

/// The number of splits on the tree's longest path (children come after their parent, as
/// LightGBM numbers them and [`Forest::parse`] checks).
fn depth(t: &Tree) -> u32 {
    let mut depth = vec![0u32; t.left.len()];
    for n in (0..t.left.len()).rev() {
        let below = |c: i32| usize::try_from(c).map_or(0, |c| depth.get(c).copied().unwrap_or(0));
        depth[n] = 1 + below(t.left[n]).max(below(t.right[n]));
    }
    depth.first().copied().unwrap_or(0)
}

fn tree(index: usize, fields: &[(&str, &str)]) -> Result<Tree> {
    let err = |message: String| Error::Tree {
        tree: index,
        message,
    };
    let get = |name: &str| fields.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let nums = |name: &str| -> Result<Vec<f64>> {
        match get(name) {
            None => Ok(Vec::new()),
            Some("") => Ok(Vec::new()),
            Some(v) => v
                .split(' ')
                .map(|s| {
                    s.parse::<f64>()
                        .map_err(|_| err(format!("{name}: cannot read {s:?}")))
                })
                .collect(),
        }
    };
    if get("num_cat").is_some_and(|v| v.trim() != "0") {
        return Err(err("categorical splits are not supported".into()));
    }
    if get("is_linear").is_some_and(|v| v.trim() != "0") {
        return Err(err("linear trees are not supported".into()));
    }
    let leaf_value = nums("leaf_value")?;
    let num_leaves: usize = get("num_leaves")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| err("no num_leaves".into()))?;
    if leaf_value.len() != num_leaves {
        return Err(err(format!(
            "{} leaf values for {num_leaves} leaves",
            leaf_value.len()
        )));
    }
    let ints = |name: &str| -> Result<Vec<i32>> {
        Ok(nums(name)?.into_iter().map(|v| v as i32).collect())
    };
    let t = Tree {
        split_feature: nums("split_feature")?
            .into_iter()
            .map(|v| v as usize)
            .collect(),
        threshold: nums("threshold")?,
        decision_type: nums("decision_type")?
            .into_iter()
            .map(|v| v as u8)
            .collect(),
        left: ints("left_child")?,
        right: ints("right_child")?,
        leaf_count: nums("leaf_count")?,
        internal_count: nums("internal_count")?,
        leaf_value,
    };
    let internal = num_leaves - 1;
    for (name, len) in [
        ("split_feature", t.split_feature.len()),
        ("threshold", t.threshold.len()),
        ("decision_type", t.decision_type.len()),
        ("left_child", t.left.len()),
        ("right_child", t.right.len()),
        ("internal_count", t.internal_count.len()),
    ] {
        if len != internal {
            return Err(err(format!("{name} has {len} values for {internal} nodes")));
        }
    }
    if num_leaves > 1 && t.leaf_count.len() != num_leaves {
        return Err(err("leaf_count does not match num_leaves".into()));
    }
    for (n, (&l, &r)) in t.left.iter().zip(&t.right).enumerate() {
        for c in [l, r] {
            let ok = if c >= 0 {
                (c as usize) < internal
            } else {
                ((!c) as usize) < num_leaves
            };
            if !ok {
                return Err(err(format!("child {c} out of range")));
            }
            if c >= 0 && c as usize <= n {
                return Err(err(format!("node {n} has child {c}, not after it")));
            }
        }
    }
    if t.threshold.iter().any(|v| v.is_nan()) {
        return Err(err("a threshold is NaN".into()));
    }
    if t.decision_type.iter().any(|d| d & 1 != 0) {
        return Err(err("categorical splits are not supported".into()));
    }
    Ok(t)
}
