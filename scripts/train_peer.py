#!/usr/bin/env python3
"""Python LightGBM peer of `riskscore train`, for the benchmark and the oracle tests.

cv:      re-runs the cross-validation of a riskscore bundle with Python `lightgbm`: the same
         feature matrix, the same folds and early-stopping rows (read from the bundle's oof.csv:
         `fold`, and `stopped`, the folds whose boosters stopped early on the row) and the same
         parameter object (manifest.json: cv_lightgbm_params). Each fold's booster trains on the
         other folds minus its stopping rows, stops early on those, and predicts its fold.
         Prints JSON: per-fold and mean AUC, out-of-fold AUC, seconds.
predict: loads the bundle's model.txt with `lightgbm.Booster(model_file=...)`, predicts the
         feature matrix and compares with riskscore's predictions (CSV from `riskscore predict`).
"""
import argparse
import json
import sys
import time

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import rankdata


def auc(y, p):
    y = np.asarray(y)
    r = rankdata(p)
    pos = y.sum()
    neg = len(y) - pos
    return (r[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg)


def load(bundle, features):
    manifest = json.load(open(f"{bundle}/manifest.json"))
    names = [f["name"] for f in manifest["features"]]
    lgb_names = [f["lightgbm_name"] for f in manifest["features"]]
    df = pd.read_parquet(features)
    return manifest, df, names, lgb_names


def cv(args):
    manifest, df, names, lgb_names = load(args.bundle, args.features)
    oof = pd.read_csv(f"{args.bundle}/oof.csv", dtype={"stopped": str})
    id_col, target = manifest["id"], manifest["target"]
    df = df.merge(oof[[id_col, "fold"]], on=id_col, how="inner", sort=False)
    # Same row order as riskscore's matrix (the order of oof.csv).
    df = df.set_index(id_col).loc[oof[id_col]].reset_index()
    X = df[names].to_numpy(dtype=np.float64)
    y = df[target].to_numpy(dtype=np.float64)
    folds = df["fold"].to_numpy()
    stopped = oof["stopped"].fillna("").astype(str).to_numpy()
    params = dict(manifest["cv_lightgbm_params"])
    rounds = params.pop("num_iterations")
    stop = params.pop("early_stopping_rounds")
    started = time.perf_counter()
    fold_auc, best_iters = [], []
    pred = np.full(len(y), np.nan)
    for f in sorted(set(folds)):
        st = np.array([str(f) in s.split() for s in stopped])
        tr, va = (folds != f) & ~st, folds == f
        dtr = lgb.Dataset(X[tr], y[tr], feature_name=lgb_names, free_raw_data=False)
        dst = lgb.Dataset(X[st], y[st], reference=dtr)
        booster = lgb.train(params, dtr, num_boost_round=rounds, valid_sets=[dst],
                            callbacks=[lgb.early_stopping(stop, verbose=False)])
        pred[va] = booster.predict(X[va], num_iteration=booster.best_iteration)
        fold_auc.append(auc(y[va], pred[va]))
        best_iters.append(booster.best_iteration)
        print(f"python fold {f + 1}: AUC {fold_auc[-1]:.4f}, {best_iters[-1]} rounds", file=sys.stderr)
    seconds = time.perf_counter() - started
    rs = oof["probability_raw"].to_numpy()
    print(json.dumps({
        "cv_auc": float(np.mean(fold_auc)),
        "cv_auc_std": float(np.std(fold_auc, ddof=1)),
        "fold_auc": [float(a) for a in fold_auc],
        "best_iterations": [int(b) for b in best_iters],
        "oof_auc": float(auc(y, pred)),
        "max_abs_diff_oof": float(np.max(np.abs(pred - rs))),
        "seconds": seconds,
    }))


def predict(args):
    manifest, df, names, _ = load(args.bundle, args.features)
    booster = lgb.Booster(model_file=f"{args.bundle}/model.txt")
    ours = pd.read_csv(args.scores)
    id_col = manifest["id"]
    df = df.set_index(id_col).loc[ours[id_col]].reset_index()
    p = booster.predict(df[names].to_numpy(dtype=np.float64))
    diff = float(np.max(np.abs(p - ours["probability_raw"].to_numpy())))
    print(json.dumps({"rows": len(p), "max_abs_diff": diff,
                      "num_trees": booster.num_trees(), "rounds": manifest["rounds"]}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cv")
    c.add_argument("--bundle", required=True)
    c.add_argument("--features", required=True)
    p = sub.add_parser("predict")
    p.add_argument("--bundle", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--scores", required=True)
    args = ap.parse_args()
    {"cv": cv, "predict": predict}[args.cmd](args)


if __name__ == "__main__":
    main()
