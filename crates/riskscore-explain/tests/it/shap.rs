//! TreeSHAP against a hand calculation, against the Shapley definition enumerated on small
//! random trees, and against LightGBM's own `pred_contrib` on trained models.

use riskscore_explain::{Explainer, Forest, Tree};

use crate::Lcg;

/// Tree over feature `f`: x_f <= t goes to a leaf of value `a` (count `ca`), else `b` (`cb`).
fn stump(f: usize, t: f64, a: f64, ca: f64, b: f64, cb: f64) -> Tree {
    Tree {
        split_feature: vec![f],
        threshold: vec![t],
        decision_type: vec![2 | 8], // NaN goes left
        left: vec![-1],
        right: vec![-2],
        leaf_value: vec![a, b],
        leaf_count: vec![ca, cb],
        internal_count: vec![ca + cb],
    }
}

#[test]
fn two_stumps_by_hand() {
    // Tree 1 on f0: 4 rows -> 1.0, 6 rows -> -1.0; expected value 0.4 - 0.6 = -0.2.
    // Tree 2 on f1: 5 rows -> 0.5, 5 rows -> -0.5; expected value 0.
    // Row (0.3, 0.9): tree 1 gives 1.0, so phi_0 = 1.0 - (-0.2) = 1.2; tree 2 gives -0.5, so
    // phi_1 = -0.5 - 0 = -0.5; base -0.2; total 0.5 = 1.0 - 0.5.
    let forest = Forest {
        trees: vec![
            stump(0, 0.5, 1.0, 4.0, -1.0, 6.0),
            stump(1, 0.5, 0.5, 5.0, -0.5, 5.0),
        ],
        n_features: 3,
        feature_names: vec![],
    };
    let e = Explainer::new(&forest).unwrap();
    let phi = e.explain(&[0.3, 0.9, 7.0]).unwrap();
    let expected = [1.2, -0.5, 0.0, -0.2];
    for (a, b) in phi.iter().zip(expected) {
        assert!((a - b).abs() < 1e-15, "{phi:?}");
    }
}

/// E[f(x) | x_S] along the training distribution of the tree (path-dependent).
fn conditional(t: &Tree, node: i32, x: &[f64], s: u32) -> f64 {
    if node < 0 {
        return t.leaf_value[(!node) as usize];
    }
    let n = node as usize;
    let f = t.split_feature[n];
    if s & (1 << f) != 0 {
        let next = if t.goes_left(n, x) {
            t.left[n]
        } else {
            t.right[n]
        };
        conditional(t, next, x, s)
    } else {
        let cnt = |c: i32| {
            if c < 0 {
                t.leaf_count[(!c) as usize]
            } else {
                t.internal_count[c as usize]
            }
        };
        let (l, r) = (t.left[n], t.right[n]);
        (cnt(l) * conditional(t, l, x, s) + cnt(r) * conditional(t, r, x, s)) / t.internal_count[n]
    }
}

fn brute_force(forest: &Forest, x: &[f64]) -> Vec<f64> {
    let m = forest.n_features;
    let fact = |n: usize| (1..=n).map(|v| v as f64).product::<f64>();
    let mut phi = vec![0.0; m];
    for (i, p) in phi.iter_mut().enumerate() {
        for s in 0u32..(1 << m) {
            if s & (1 << i) != 0 {
                continue;
            }
            let k = s.count_ones() as usize;
            let w = fact(k) * fact(m - k - 1) / fact(m);
            for t in &forest.trees {
                *p += w * (conditional(t, 0, x, s | (1 << i)) - conditional(t, 0, x, s));
            }
        }
    }
    phi
}

/// A random full tree of the given depth over `m` features (features repeat on paths).
fn random_tree(rng: &mut Lcg, depth: usize, m: usize) -> Tree {
    let internal = (1usize << depth) - 1;
    let mut t = Tree::default();
    for n in 0..internal {
        t.split_feature.push((rng.next() * m as f64) as usize % m);
        t.threshold.push(rng.next());
        t.decision_type.push(if rng.next() < 0.5 { 10 } else { 8 });
        let (l, r) = (2 * n + 1, 2 * n + 2);
        t.left.push(if l < internal {
            l as i32
        } else {
            !((l - internal) as i32)
        });
        t.right.push(if r < internal {
            r as i32
        } else {
            !((r - internal) as i32)
        });
    }
    let leaves = internal + 1;
    t.leaf_value = (0..leaves).map(|_| rng.next() * 2.0 - 1.0).collect();
    t.leaf_count = (0..leaves)
        .map(|_| 1.0 + (rng.next() * 50.0).floor())
        .collect();
    t.internal_count = vec![0.0; internal];
    for n in (0..internal).rev() {
        let c = |c: i32| {
            if c < 0 {
                t.leaf_count[(!c) as usize]
            } else {
                t.internal_count[c as usize]
            }
        };
        t.internal_count[n] = c(t.left[n]) + c(t.right[n]);
    }
    t
}

#[test]
fn equals_the_shapley_definition_on_random_trees() {
    let mut rng = Lcg(11);
    for case in 0..20 {
        let m = 5;
        let trees = (0..3)
            .map(|i| random_tree(&mut rng, 2 + (case + i) % 4, m))
            .collect();
        let forest = Forest {
            trees,
            n_features: m,
            feature_names: vec![],
        };
        let e = Explainer::new(&forest).unwrap();
        for _ in 0..5 {
            let x: Vec<f64> = (0..m)
                .map(|_| {
                    if rng.next() < 0.2 {
                        f64::NAN
                    } else {
                        rng.next()
                    }
                })
                .collect();
            let phi = e.explain(&x).unwrap();
            let want = brute_force(&forest, &x);
            for j in 0..m {
                assert!(
                    (phi[j] - want[j]).abs() < 1e-12,
                    "case {case}, feature {j}: {} vs {}",
                    phi[j],
                    want[j]
                );
            }
            // Additivity: the values and the base sum to the raw score.
            let total: f64 = phi.iter().sum();
            assert!((total - forest.raw(&x)).abs() < 1e-12);
        }
    }
}

fn train_and_compare(num_leaves: u32, rounds: u32, k: usize, seed: u64) -> f64 {
    use lightgbm3::{Booster, Dataset};
    let n = 3000;
    let mut rng = Lcg(seed);
    let mut x = Vec::with_capacity(n * k);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f64> = (0..k)
            .map(|j| {
                if j % 4 == 3 && rng.next() < 0.3 {
                    f64::NAN
                } else {
                    rng.next() * 10.0 - 5.0
                }
            })
            .collect();
        // Every feature carries a little signal, so deep trees split on many distinct ones.
        let spread: f64 = row
            .iter()
            .enumerate()
            .map(|(j, v)| {
                if v.is_nan() {
                    0.3
                } else {
                    v * 0.1 / (1.0 + j as f64 / 4.0)
                }
            })
            .sum();
        let z = row[0] - 0.5 * row[1]
            + if row[3].is_nan() { 1.0 } else { 0.2 * row[3] }
            + row[2] * row[5] / 5.0
            + spread;
        y.push(if rng.next() < 1.0 / (1.0 + (-z).exp()) {
            1.0f32
        } else {
            0.0
        });
        x.extend(row);
    }
    let ds = Dataset::from_slice(&x, &y, k as i32, true).unwrap();
    let params = serde_json::json!({
        "objective": "binary", "num_iterations": rounds, "num_leaves": num_leaves,
        "min_data_in_leaf": 3, "max_depth": -1, "verbosity": -1, "seed": seed, "learning_rate": 0.1,
        "bagging_fraction": 0.8, "bagging_freq": 1
    });
    let booster = Booster::train(ds, &params).unwrap();
    let text = booster.save_string().unwrap();
    let booster = Booster::from_string(&text).unwrap();
    let forest = Forest::parse(&text).unwrap();
    let e = Explainer::new(&forest).unwrap();
    // The tabulated method alone (the fallback of trees the linear method does not take).
    let tab = Explainer::with_table_depth(&forest, riskscore_explain::shap::TABLE_DEPTH).unwrap();
    if num_leaves > 100 {
        assert!(
            tab.leaf_counts().1 > 0,
            "no leaf exercised the untabulated path"
        );
    }
    let tabulated = tab.explain_batch(&x[..200 * k], 2).unwrap();
    let theirs = booster
        .predict_contrib(&x[..200 * k], k as i32, true)
        .unwrap();
    let ours = e.explain_batch(&x[..200 * k], 2).unwrap();
    // One client with its trees in three parts: the same values up to rounding, and the same
    // bits whether the parts run on three threads or one.
    let one = e.explain_parallel(&x[..k], 3, 3).unwrap();
    for j in 0..=k {
        assert!((one[j] - ours[j]).abs() < 1e-12);
    }
    let serial = e.explain_parallel(&x[..k], 3, 1).unwrap();
    assert!(one
        .iter()
        .zip(&serial)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    let raw = booster.raw_scores(&x[..200 * k], k as i32, true).unwrap();
    // The packed trees score every row as the parsed forest does, to the bit.
    let mut packed = vec![0.0; n];
    forest.packed().raw_rows(&x, &mut packed);
    for r in 0..n {
        assert_eq!(
            packed[r].to_bits(),
            forest.raw(&x[r * k..(r + 1) * k]).to_bits(),
            "packed, row {r}"
        );
    }
    let mut worst = 0.0f64;
    for r in 0..200 {
        let row = &ours[r * (k + 1)..(r + 1) * (k + 1)];
        assert!(
            (row.iter().sum::<f64>() - raw[r]).abs() < 1e-9,
            "additivity, row {r}"
        );
        assert!((forest.raw(&x[r * k..(r + 1) * k]) - raw[r]).abs() < 1e-9);
        // One row alone, the batch, and the tabulated method all agree with LightGBM.
        let single = e.explain(&x[r * k..(r + 1) * k]).unwrap();
        for j in 0..=k {
            worst = worst.max((row[j] - theirs[r * (k + 1) + j]).abs());
            worst = worst.max((single[j] - theirs[r * (k + 1) + j]).abs());
            worst = worst.max((tabulated[r * (k + 1) + j] - theirs[r * (k + 1) + j]).abs());
        }
    }
    worst
}

#[test]
fn equals_lightgbm_pred_contrib() {
    // Shallow trees (every leaf tabulated) and deep ones (some leaves past TABLE_DEPTH).
    for (leaves, rounds, k) in [(15, 60, 12), (255, 20, 40)] {
        let worst = train_and_compare(leaves, rounds, k, 5);
        assert!(worst < 1e-9, "{leaves} leaves: max |diff| {worst}");
    }
}
