//! Optimal binning's pre-binning, as optbinning's `OptimalBinning` does it for a numerical
//! characteristic and a binary outcome (the scorecard's first step): scikit-learn's
//! `DecisionTreeClassifier` grown best-first on the one feature (Gini, at most
//! `max_n_prebins` leaves, each holding at least `min_prebin_size` of all rows), its thresholds as
//! the splits, then the refinement that merges every bin without an event or without a
//! non-event. Reproduced step for step so that the splits are optbinning's: values compared as
//! float32 (scikit-learn's `X` dtype) with its `FEATURE_THRESHOLD`, thresholds at the float32
//! midpoints, and the frontier a max-heap ordered as libstdc++'s `push_heap`/`pop_heap` order it.

/// scikit-learn's `FEATURE_THRESHOLD`: values closer than this (in float32) are one value.
const FEATURE_THRESHOLD: f32 = 1e-7;

/// Pre-binning settings (optbinning's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prebinning {
    /// At most this many pre-bins (the tree's `max_leaf_nodes`).
    pub max_n_prebins: usize,
    /// Each pre-bin holds at least this share of all rows, missing and special included.
    pub min_prebin_size: f64,
}

impl Default for Prebinning {
    fn default() -> Self {
        Prebinning {
            max_n_prebins: 20,
            min_prebin_size: 0.05,
        }
    }
}

/// A node of the tree: rows `start..end` of the sorted values.
#[derive(Debug, Clone, Copy)]
struct Node {
    start: usize,
    end: usize,
    /// The chosen split's first row on the right, or `end` for a leaf.
    pos: usize,
    threshold: f64,
    improvement: f64,
    impurity_left: f64,
    impurity_right: f64,
    is_leaf: bool,
}

/// Gini impurity of `events` among `n` rows.
fn gini(events: f64, n: f64) -> f64 {
    let non = n - events;
    1.0 - (non * non + events * events) / (n * n)
}

/// The tree's splits over the sorted float32 values `x` with the running count of events
/// `cum` (`cum[i]`: events among rows `..i`).
struct Tree<'a> {
    x: &'a [f32],
    cum: &'a [f64],
    min_weight_leaf: f64,
    total: f64,
}

impl Tree<'_> {
    fn events(&self, start: usize, end: usize) -> f64 {
        self.cum[end] - self.cum[start]
    }

    /// The node `start..end` with its best split (scikit-learn's `BestFirstTreeBuilder.
    /// _add_split_node` and `BestSplitter.node_split`).
    fn node(&self, start: usize, end: usize, impurity: f64) -> Node {
        let n = (end - start) as f64;
        let mut node = Node {
            start,
            end,
            pos: end,
            threshold: -2.0,
            improvement: 0.0,
            impurity_left: 0.0,
            impurity_right: 0.0,
            is_leaf: true,
        };
        if end - start < 2 || n < 2.0 * self.min_weight_leaf || impurity <= f64::EPSILON {
            return node;
        }
        let x = self.x;
        if x[end - 1] <= x[start] + FEATURE_THRESHOLD {
            return node; // constant feature
        }
        let mut best = f64::NEG_INFINITY;
        let mut best_pos = end;
        let mut best_threshold = 0.0;
        let mut p = start;
        while p < end {
            while p + 1 < end && x[p + 1] <= x[p] + FEATURE_THRESHOLD {
                p += 1;
            }
            let prev = p;
            p += 1;
            if p >= end {
                break;
            }
            let (wl, wr) = ((p - start) as f64, (end - p) as f64);
            if wl < self.min_weight_leaf || wr < self.min_weight_leaf {
                continue;
            }
            let (el, er) = (self.events(start, p), self.events(p, end));
            let proxy = -wr * gini(er, wr) - wl * gini(el, wl);
            if proxy > best {
                best = proxy;
                best_pos = p;
                let mut t = f64::from(x[prev]) / 2.0 + f64::from(x[p]) / 2.0;
                if t == f64::from(x[p]) || t.is_infinite() {
                    t = f64::from(x[prev]);
                }
                best_threshold = t;
            }
        }
        if best_pos >= end {
            return node;
        }
        let (wl, wr) = ((best_pos - start) as f64, (end - best_pos) as f64);
        let il = gini(self.events(start, best_pos), wl);
        let ir = gini(self.events(best_pos, end), wr);
        let improvement = (n / self.total) * (impurity - wr / n * ir - wl / n * il);
        if improvement + f64::EPSILON < 0.0 {
            return node;
        }
        node.pos = best_pos;
        node.threshold = best_threshold;
        node.improvement = improvement;
        node.impurity_left = il;
        node.impurity_right = ir;
        node.is_leaf = false;
        node
    }
}

/// libstdc++'s `__push_heap` with `comp(a, b) = a.improvement < b.improvement`.
fn push_heap_at(heap: &mut [Node], mut hole: usize, top: usize, value: Node) {
    while hole > top {
        let parent = (hole - 1) / 2;
        if heap[parent].improvement < value.improvement {
            heap[hole] = heap[parent];
            hole = parent;
        } else {
            break;
        }
    }
    heap[hole] = value;
}

fn push_heap(heap: &mut Vec<Node>, value: Node) {
    heap.push(value);
    let last = heap.len() - 1;
    push_heap_at(heap, last, 0, value);
}

/// libstdc++'s `pop_heap` then `pop_back`.
fn pop_heap(heap: &mut Vec<Node>) -> Option<Node> {
    let len = heap.len();
    if len > 1 {
        let value = heap[len - 1];
        heap[len - 1] = heap[0];
        // __adjust_heap(first, 0, len - 1, value)
        let n = len - 1;
        let mut hole = 0;
        let mut second = 0;
        while second < n.saturating_sub(1) / 2 {
            second = 2 * (second + 1);
            if heap[second].improvement < heap[second - 1].improvement {
                second -= 1;
            }
            heap[hole] = heap[second];
            hole = second;
        }
        if n.is_multiple_of(2) && n >= 2 && second == (n - 2) / 2 {
            second = 2 * (second + 1);
            heap[hole] = heap[second - 1];
            hole = second - 1;
        }
        push_heap_at(heap, hole, 0, value);
    }
    heap.pop()
}

/// The pre-bin splits of the clean values `x` (no missing, no special value) with outcomes `y`
/// (1: event), `n_total` being the number of rows with missing and special ones: the tree's
/// sorted distinct thresholds, then refined (see [`refine`]).
pub fn prebin_splits(x: &[f64], y: &[u8], n_total: usize, settings: &Prebinning) -> Vec<f64> {
    let mut rows: Vec<(f32, u8)> = x.iter().zip(y).map(|(&v, &t)| (v as f32, t)).collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let values: Vec<f32> = rows.iter().map(|r| r.0).collect();
    let mut cum = Vec::with_capacity(rows.len() + 1);
    cum.push(0.0);
    for r in &rows {
        let last = cum[cum.len() - 1];
        cum.push(last + f64::from(r.1));
    }
    let total = rows.len() as f64;
    if rows.is_empty() {
        return Vec::new();
    }
    let least = (settings.min_prebin_size * n_total as f64).ceil();
    let fraction = (least / total).min(0.5);
    let tree = Tree {
        x: &values,
        cum: &cum,
        min_weight_leaf: fraction * total,
        total,
    };
    let mut splits_left = settings.max_n_prebins.saturating_sub(1);
    let mut thresholds = Vec::new();
    let mut frontier = Vec::new();
    let root_impurity = gini(cum[rows.len()], total);
    push_heap(&mut frontier, tree.node(0, rows.len(), root_impurity));
    while let Some(node) = pop_heap(&mut frontier) {
        if node.is_leaf || splits_left == 0 {
            continue;
        }
        splits_left -= 1;
        thresholds.push(node.threshold);
        push_heap(
            &mut frontier,
            tree.node(node.start, node.pos, node.impurity_left),
        );
        push_heap(
            &mut frontier,
            tree.node(node.pos, node.end, node.impurity_right),
        );
    }
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    thresholds.retain(|&t| t != -2.0); // scikit-learn's TREE_UNDEFINED
    refine(x, y, thresholds)
}

/// Non-events and events per bin of `splits` (bin `i` is `[s(i-1), s(i))`, NumPy's
/// `digitize(right=False)`).
pub fn bin_counts(x: &[f64], y: &[u8], splits: &[f64]) -> (Vec<u64>, Vec<u64>) {
    let mut non = vec![0u64; splits.len() + 1];
    let mut ev = vec![0u64; splits.len() + 1];
    for (&v, &t) in x.iter().zip(y) {
        let bin = splits.partition_point(|&s| s <= v);
        if t == 1 {
            ev[bin] += 1;
        } else {
            non[bin] += 1;
        }
    }
    (non, ev)
}

/// optbinning's refinement: while a bin has no event or no non-event, the split closing it on
/// the right goes (the last split when either of the last two bins is pure), all at once.
pub fn refine(x: &[f64], y: &[u8], mut splits: Vec<f64>) -> Vec<f64> {
    while !splits.is_empty() {
        let (non, ev) = bin_counts(x, y, &splits);
        let pure: Vec<bool> = non
            .iter()
            .zip(&ev)
            .map(|(&n, &e)| n == 0 || e == 0)
            .collect();
        let k = pure.len();
        let mut remove: Vec<bool> = pure[..k - 2].to_vec();
        remove.push(pure[k - 2] || pure[k - 1]);
        if !remove.iter().any(|&r| r) {
            break;
        }
        splits = splits
            .iter()
            .zip(&remove)
            .filter(|(_, &r)| !r)
            .map(|(&s, _)| s)
            .collect();
    }
    splits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pure_bin_is_merged_with_its_right_neighbour() {
        // Bins [..1), [1, 2), [2, ..): the middle one has no event.
        let x = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5];
        let y = [0, 1, 0, 0, 1, 0];
        assert_eq!(refine(&x, &y, vec![1.0, 2.0]), vec![1.0]);
        // Either of the last two bins pure removes the last split.
        let y = [0, 1, 0, 1, 0, 0];
        assert_eq!(refine(&x, &y, vec![1.0, 2.0]), vec![1.0]);
    }

    #[test]
    fn heap_pops_in_improvement_order() {
        let mut heap = Vec::new();
        for (i, imp) in [0.3, 0.1, 0.5, 0.2, 0.4].into_iter().enumerate() {
            push_heap(
                &mut heap,
                Node {
                    start: i,
                    end: i + 1,
                    pos: 0,
                    threshold: 0.0,
                    improvement: imp,
                    impurity_left: 0.0,
                    impurity_right: 0.0,
                    is_leaf: false,
                },
            );
        }
        let order: Vec<f64> = std::iter::from_fn(|| pop_heap(&mut heap))
            .map(|n| n.improvement)
            .collect();
        assert_eq!(order, vec![0.5, 0.4, 0.3, 0.2, 0.1]);
    }
}
