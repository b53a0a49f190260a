#!/usr/bin/env python3
"""Does the synthetic data carry signal in the history tables?

  check_synth_signal.py FEATURES.parquet [--min-gain 0.01] [--folds 5] [--rounds 300]

Trains Python LightGBM with k-fold (default 5) stratified cross-validation twice on the training rows of a
feature matrix (riskscore features or the pandas peer's): once on the application columns only,
once on all columns. Prints both out-of-fold ROC AUCs and exits 1 unless all tables beat the
application alone by at least --min-gain.
"""
import argparse
import sys

import lightgbm as lgb
import numpy as np
import pandas as pd

HISTORY = ("BURO_", "ACTIVE_", "CLOSED_", "PREV_", "APPROVED_", "REFUSED_", "POS_", "INSTAL_", "CC_")


def auc(y, p):
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    # average ranks of ties
    _, inv, counts = np.unique(p, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    ranks = (sums / counts)[inv]
    pos = y == 1
    n1, n0 = pos.sum(), (~pos).sum()
    return (ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)


def cv_auc(x, y, folds, rounds, seed=7):
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=int)
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % folds
    oof = np.zeros(len(y))
    params = dict(objective="binary", learning_rate=0.05, num_leaves=31, min_child_samples=50,
                  feature_fraction=0.5, verbose=-1, seed=seed, num_threads=2)
    for k in range(folds):
        tr, va = fold != k, fold == k
        model = lgb.train(params, lgb.Dataset(x[tr], y[tr]), num_boost_round=rounds)
        oof[va] = model.predict(x[va])
    return auc(y, oof)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("features")
    ap.add_argument("--min-gain", type=float, default=0.01)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=300)
    a = ap.parse_args()
    df = pd.read_parquet(a.features)
    df = df[df["TARGET"].notna()]
    y = df["TARGET"].to_numpy().astype(int)
    cols = [c for c in df.columns if c not in ("SK_ID_CURR", "TARGET")]
    app = [c for c in cols if not c.startswith(HISTORY)]
    x_all = df[cols].astype("float64").to_numpy()
    x_app = df[app].astype("float64").to_numpy()
    auc_app = cv_auc(x_app, y, a.folds, a.rounds)
    auc_all = cv_auc(x_all, y, a.folds, a.rounds)
    print("rows %d, defaults %.2f %%; CV AUC application only %.4f (%d columns), all tables %.4f "
          "(%d columns), gain %+.4f" % (len(y), 100 * y.mean(), auc_app, len(app), auc_all, len(cols),
                                       auc_all - auc_app))
    sys.exit(0 if auc_all >= auc_app + a.min_gain else 1)


if __name__ == "__main__":
    main()
