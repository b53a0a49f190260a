//! The packed forest scores rows `LANES` at a time: every row's raw score equals
//! `Forest::raw`'s in every bit, on random trees of every missing-value rule and on rows that
//! hit the rules' edges (NaN, zero, the zero band, a value equal to a threshold), as doubles and
//! as floats.

use riskscore_explain::{Forest, Tree};

use crate::Lcg;

/// A random tree grown leaf-wise (unbalanced, as LightGBM grows them) with `leaves` leaves over
/// `m` features; every decision type: missing none, zero or NaN, default left or right.
fn random_tree(rng: &mut Lcg, leaves: usize, m: usize, thresholds: &[f64]) -> Tree {
    let mut t = Tree::default();
    // Start with one leaf; split a random leaf until there are `leaves`.
    let mut leaf_of: Vec<(usize, bool)> = Vec::new(); // leaf -> (parent, is left)
    let mut n_leaves = 1;
    for n in 0..leaves - 1 {
        t.split_feature.push(rng.below(m));
        t.threshold.push(thresholds[rng.below(thresholds.len())]);
        let missing = rng.below(3) as u8;
        let default_left = rng.below(2) as u8;
        t.decision_type.push((missing << 2) | (default_left << 1));
        if n == 0 {
            t.left.push(!0);
            t.right.push(!1);
            leaf_of = vec![(0, true), (0, false)];
            n_leaves = 2;
            continue;
        }
        // Node n replaces a random leaf; that leaf becomes n's left, a new leaf its right.
        let l = rng.below(n_leaves);
        let (parent, is_left) = leaf_of[l];
        if is_left {
            t.left[parent] = n as i32;
        } else {
            t.right[parent] = n as i32;
        }
        t.left.push(!(l as i32));
        t.right.push(!(n_leaves as i32));
        leaf_of[l] = (n, true);
        leaf_of.push((n, false));
        n_leaves += 1;
    }
    t.leaf_value = (0..leaves).map(|_| rng.next() * 2.0 - 1.0).collect();
    t.leaf_count = vec![1.0; leaves];
    t.internal_count = vec![leaves as f64; leaves - 1];
    t
}

/// `trees` random trees over `m` features, tree `i` with `leaves(i)` leaves.
fn random_forest(
    rng: &mut Lcg,
    trees: usize,
    leaves: impl Fn(usize) -> usize,
    m: usize,
    thresholds: &[f64],
) -> Forest {
    Forest {
        trees: (0..trees)
            .map(|i| random_tree(rng, leaves(i), m, thresholds))
            .collect(),
        n_features: m,
        feature_names: vec![],
    }
}

#[test]
fn equals_the_forest_bit_for_bit() {
    let mut rng = Lcg(3);
    let thresholds = [-1.5, -1e-35, 0.0, 1e-35, 0.25, 0.5, 1.0, 3.0];
    let values = [
        f64::NAN,
        0.0,
        -0.0,
        1e-36,
        -1e-36,
        1e-35,
        -1e-35,
        0.25,
        0.5,
        1.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    for case in 0..30 {
        let m = 1 + case % 9;
        let forest = random_forest(
            &mut rng,
            1 + case % 7,
            |i| 1 + (case * 7 + i) % 40,
            m,
            &thresholds,
        );
        let packed = forest.packed();
        for n in [0, 1, 7, 8, 9, 17, 64] {
            let x: Vec<f64> = (0..n * m)
                .map(|_| {
                    if rng.next() < 0.6 {
                        values[rng.below(values.len())]
                    } else {
                        rng.next() * 6.0 - 3.0
                    }
                })
                .collect();
            let mut raw = vec![f64::NAN; n];
            packed.raw_rows(&x, &mut raw);
            for r in 0..n {
                let want = forest.raw(&x[r * m..(r + 1) * m]);
                assert_eq!(
                    raw[r].to_bits(),
                    want.to_bits(),
                    "case {case}, {n} rows, row {r}: {} against {want}",
                    raw[r]
                );
            }
        }
    }
}

#[test]
fn a_single_leaf_tree_adds_its_value() {
    let forest = Forest {
        trees: vec![Tree {
            leaf_value: vec![0.75],
            ..Tree::default()
        }],
        n_features: 2,
        feature_names: vec![],
    };
    let mut raw = [0.0; 3];
    forest
        .packed()
        .raw_rows(&[1.0, 2.0, f64::NAN, 0.0, 5.0, 6.0], &mut raw);
    assert_eq!(raw, [0.75; 3]);
}

/// Rows of `f32` walk nodes whose thresholds are rounded down to `f32`: every decision and every
/// sum equal `Forest::raw` on the same rows as doubles, with thresholds between two floats, at a
/// float, beyond the floats' range, and values at the neighbours of each.
#[test]
fn floats_take_the_decisions_of_their_doubles() {
    let mut rng = Lcg(11);
    let tenth = f64::from(0.1f32);
    let thresholds = [
        0.1,
        tenth,
        f64::from(0.1f32.next_up()),
        (tenth + f64::from(0.1f32.next_down())) / 2.0,
        -0.1,
        -1e-35,
        0.0,
        1e-35,
        1e300,
        -1e300,
        f64::from(f32::MAX),
        f64::INFINITY,
        3.0,
    ];
    let values = [
        f32::NAN,
        0.0,
        -0.0,
        1e-36,
        -1e-36,
        1e-35,
        -1e-35,
        1e-35f32.next_up(),
        0.1,
        0.1f32.next_up(),
        0.1f32.next_down(),
        -0.1,
        (-0.1f32).next_up(),
        f32::MAX,
        -f32::MAX,
        f32::INFINITY,
        f32::NEG_INFINITY,
        3.0,
    ];
    for case in 0..40 {
        let m = 1 + case % 5;
        let forest = random_forest(
            &mut rng,
            1 + case % 6,
            |i| 2 + (case * 5 + i) % 30,
            m,
            &thresholds,
        );
        let packed = forest.packed();
        for n in [1, 8, 13, 40] {
            let x: Vec<f32> = (0..n * m)
                .map(|_| values[rng.below(values.len())])
                .collect();
            let mut raw = vec![f64::NAN; n];
            packed.raw_rows(&x, &mut raw);
            for r in 0..n {
                let row: Vec<f64> = x[r * m..(r + 1) * m]
                    .iter()
                    .map(|v| f64::from(*v))
                    .collect();
                let want = forest.raw(&row);
                assert_eq!(
                    raw[r].to_bits(),
                    want.to_bits(),
                    "case {case}, {n} rows, row {r} {row:?}: {} against {want}",
                    raw[r]
                );
            }
        }
    }
}
