#!/usr/bin/env python3
"""SHAP oracle: Python `shap.TreeExplainer` and LightGBM `pred_contrib` on a riskscore bundle's
model.txt, compared with riskscore's values (`riskscore explain --all --out SHAP.parquet`).

    shap_oracle.py --bundle DIR --features X.parquet --ours SHAP.parquet

Prints JSON: rows compared, max |difference| to each oracle, and to the base value.
"""
import argparse
import json

import lightgbm as lgb
import numpy as np
import pandas as pd
import shap


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--features", required=True)
    ap.add_argument("--ours", required=True)
    args = ap.parse_args()
    manifest = json.load(open(f"{args.bundle}/manifest.json"))
    names = [f["name"] for f in manifest["features"]]
    id_col = manifest["id"]
    ours = pd.read_parquet(args.ours)
    df = pd.read_parquet(args.features).set_index(id_col).loc[ours[id_col]]
    X = df[names].to_numpy(dtype=np.float64)
    booster = lgb.Booster(model_file=f"{args.bundle}/model.txt")
    contrib = booster.predict(X, pred_contrib=True)
    explainer = shap.TreeExplainer(booster)
    sv = np.asarray(explainer.shap_values(X))
    if sv.ndim == 3:  # some versions return one array per class
        sv = sv[-1]
    base = np.ravel(explainer.expected_value)[-1]
    mine = ours[names].to_numpy()
    mine_base = ours["base_value"].to_numpy()
    print(json.dumps({
        "rows": int(len(ours)),
        "max_abs_diff_pred_contrib": float(np.max(np.abs(mine - contrib[:, :-1]))),
        "max_abs_diff_pred_contrib_base": float(np.max(np.abs(mine_base - contrib[:, -1]))),
        "max_abs_diff_shap": float(np.max(np.abs(mine - sv))),
        "max_abs_diff_shap_base": float(np.max(np.abs(mine_base - base))),
    }))


if __name__ == "__main__":
    main()
