"""Recourse oracles: treecf's exact search and DiCE on the same model, clients and action set.

  recourse_oracle.py treecf --model DIR --features F.parquet --rows ROWS.csv --actions A.csv --k K
  recourse_oracle.py dice --model DIR --features F.parquet --rows ROWS.csv --actions A.csv --k K
      [--fields F.parquet-or-csv] [--method random|genetic] [--cfs 3]

ROWS.csv is `riskscore recourse --refused N --out ROWS.csv` (id, status, cost, ...). F.parquet is the
clients' feature matrix (`riskscore features DATA --pipeline DIR/pipeline.json`). The action file
must give min and max for every field (the oracles get the same bounds). One JSON object per
client on stdout.

treecf (exact backend, `recourse_menu` over every set of at most K fields, mode "all"): the
features of the action fields are the fields themselves (a single table's numeric columns), the
others frozen; cost sum |new - old| / |old| (riskscore's --cost relative), the target the raw
score below the one whose calibrated probability reaches the threshold less the review band.

DiCE: a model of the action fields alone, every other input at the client's value; for the
Home Credit layout the kernel's ratios are recomputed from the fields (the formulas of
riskscore's pipeline). Each counterfactual DiCE returns is checked against the action set
(direction, bounds, at most K fields changed, step) and priced as riskscore prices it.
"""

import argparse
import csv
import json
import math
import sys
import time

import numpy as np


def read_actions(path):
    actions = []
    with open(path) as f:
        lines = [l for l in f if l.strip() and not l.startswith("#")]
    for row in csv.DictReader(lines):
        if not row["min"] or not row["max"]:
            sys.exit(f"{path}: {row['field']} needs min and max for the oracles")
        actions.append({
            "field": row["field"],
            "direction": row["direction"],
            "min": float(row["min"]),
            "max": float(row["max"]),
            "step": float(row["step"]) if row["step"] else None,
        })
    return actions


def read_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def bundle(model_dir):
    import lightgbm as lgb
    with open(f"{model_dir}/manifest.json") as f:
        m = json.load(f)
    booster = lgb.Booster(model_file=f"{model_dir}/model.txt")
    return m, booster


def calibrate(cal, q):
    """riskscore's calibration of a probability (Platt, isotonic or none)."""
    method = cal["method"]
    if method == "none":
        return q
    if method == "platt":
        p = min(max(q, 1e-12), 1 - 1e-12)
        z = cal["a"] * math.log(p / (1 - p)) + cal["b"]
        return 1 / (1 + math.exp(-z))
    return float(np.interp(q, cal["x"], cal["y"]))


def probability(cal, raw):
    return calibrate(cal, 1 / (1 + math.exp(-raw)))


def probabilities(cal, raw):
    """`probability` over an array of raw scores."""
    q = 1 / (1 + np.exp(-np.asarray(raw, dtype="float64")))
    if cal["method"] == "none":
        return q
    if cal["method"] == "platt":
        p = np.clip(q, 1e-12, 1 - 1e-12)
        return 1 / (1 + np.exp(-(cal["a"] * np.log(p / (1 - p)) + cal["b"])))
    return np.interp(q, cal["x"], cal["y"])


def raw_limit(m):
    """The largest raw score whose calibrated probability is below the threshold less the band."""
    limit = m["threshold"] - m["review_band"]
    lo, hi = -50.0, 50.0
    if probability(m["calibration"], lo) >= limit:
        return None
    for _ in range(200):
        mid = (lo + hi) / 2
        if probability(m["calibration"], mid) < limit:
            lo = mid
        else:
            hi = mid
    return lo


def features(path, names, id_col):
    import pyarrow.parquet as pq
    t = pq.read_table(path).to_pandas()
    t = t.set_index(id_col)
    return t[names].astype("float64")


def treecf(a):
    from treecf import Counterfactual, Explainer, Freeze, Monotone, Range, Target

    m, booster = bundle(a.model)
    names = [f["name"] for f in m["features"]]
    lgb = {f["name"]: f["lightgbm_name"] for f in m["features"]}
    actions = read_actions(a.actions)
    fields = [x["field"] for x in actions]
    for f in fields:
        if f not in names:
            sys.exit(f"{f} is not a model input: treecf works on the model's inputs")
    X = features(a.features, names, m["id"])
    r_star = raw_limit(m)
    target = Target.raw(op="<=", value=float(np.nextafter(r_star, -np.inf)))
    base = [Freeze(lgb[n]) for n in names if n not in fields]
    for x in actions:
        f = lgb[x["field"]]
        base.append(Monotone(f, "decrease" if x["direction"] == "down" else "increase"))
    ir = None
    for row in read_rows(a.rows):
        cid = int(row["id"])
        x = X.loc[cid].to_numpy(dtype="float64")
        sigma = {lgb[n]: (abs(v) if n in fields and v != 0 else 1.0) for n, v in zip(names, x)}
        # riskscore bounds the values an option offers, not the applicant's own: a value
        # outside [min, max] may stay. treecf moves any value outside its Range into it, so the
        # range is widened to the applicant's value (equal semantics while the data stay within
        # the bounds, as in the tests).
        ranges = [Range(lgb[x["field"]], min(x["min"], X.at[cid, x["field"]]),
                        max(x["max"], X.at[cid, x["field"]])) for x in actions]
        exp = Explainer(ir if ir is not None else booster, constraints=base + ranges,
                        normalizers=sigma)
        ir = exp.ir
        started = time.perf_counter()
        menu = exp.recourse_menu(x, target, max_levers=a.k, mode="all", seed=0)
        elapsed = time.perf_counter() - started
        found = [e for e in menu.entries.values() if isinstance(e, Counterfactual)]
        best = min(found, key=lambda e: e.distance, default=None)
        print(json.dumps({
            "id": cid,
            "cost": None if best is None else best.distance,
            "changes": None if best is None else {k: list(v) for k, v in best.changes.items()},
            "proof": None if best is None else best.proof,
            "complete": bool(menu.complete),
            "seconds": elapsed,
        }), flush=True)


# The kernel's ratios (riskscore's pipeline, protect::KERNEL_RATIOS): what DiCE's model
# recomputes from the fields it changes.
KERNEL_RATIOS = {
    "DAYS_EMPLOYED_PERC": ("DAYS_EMPLOYED", "DAYS_BIRTH"),
    "INCOME_CREDIT_PERC": ("AMT_INCOME_TOTAL", "AMT_CREDIT"),
    "INCOME_PER_PERSON": ("AMT_INCOME_TOTAL", "CNT_FAM_MEMBERS"),
    "ANNUITY_INCOME_PERC": ("AMT_ANNUITY", "AMT_INCOME_TOTAL"),
    "PAYMENT_RATE": ("AMT_ANNUITY", "AMT_CREDIT"),
}


def percentile_of(knots, v):
    """riskscore's percentile cost: the training percentiles 0..100, linear between distinct
    ones, the middle rank on a run of equal ones."""
    n = len(knots)
    below = int(np.searchsorted(knots, v, side="left"))
    upto = int(np.searchsorted(knots, v, side="right"))
    if below < upto:
        rank = (below + upto - 1) / 2
    elif below == 0:
        rank = 0.0
    elif below == n:
        rank = n - 1.0
    else:
        lo, hi = knots[below - 1], knots[below]
        rank = (below - 1) + (v - lo) / (hi - lo)
    return rank * 100.0 / (n - 1)


def dice(a):
    import warnings

    import dice_ml
    import pandas as pd

    warnings.filterwarnings("ignore")
    m, booster = bundle(a.model)
    names = [f["name"] for f in m["features"]]
    actions = read_actions(a.actions)
    fields = [x["field"] for x in actions]
    with open(f"{a.model}/profile.json") as f:
        profile = {p["name"]: p["percentiles"] for p in json.load(f)["features"]}
    X = features(a.features, names, m["id"])
    # The application's own fields (Home Credit: the raw columns; a single table: the inputs).
    raw = X if a.fields is None else load_fields(a.fields, m["id"])
    limit = m["threshold"] - m["review_band"]
    cal = m["calibration"]
    col = {n: j for j, n in enumerate(names)}
    fed = [(n, j) for n, j in col.items()
           if n in fields or (n in KERNEL_RATIOS and set(KERNEL_RATIOS[n]) & set(fields))]

    class Granted:
        """predict_proba over the fields: column 1 is 'granted', above 0.5 exactly when the
        calibrated probability is below the limit."""

        def __init__(self, x, app):
            self.x, self.app = x, app

        def rows(self, df):
            out = np.repeat(self.x[None, :], len(df), axis=0)
            value = {k: np.full(len(df), v) for k, v in self.app.items()}
            value.update({f: df[f].to_numpy(dtype="float64") for f in fields})
            with np.errstate(divide="ignore", invalid="ignore"):
                for n, j in fed:
                    if n in KERNEL_RATIOS:
                        num, den = KERNEL_RATIOS[n]
                        out[:, j] = np.where(value[den] != 0, value[num] / value[den], np.nan)
                    else:
                        out[:, j] = value[n]
            return out

        def predict_proba(self, df):
            # DiCE counts a row granted when column 1 is >= 0.5: a hard indicator.
            raw_scores = booster.predict(self.rows(df[fields]), raw_score=True)
            g = (probabilities(cal, raw_scores) < limit).astype(float)
            return np.column_stack([1 - g, g])

        def predict(self, df):
            return (self.predict_proba(df)[:, 1] > 0.5).astype(int)

    # DiCE's data description: the fields over the clients, with an outcome column.
    frame = raw[fields].copy()
    frame["granted"] = 0
    frame = frame.dropna()
    d = dice_ml.Data(dataframe=frame.reset_index(drop=True), continuous_features=fields,
                     outcome_name="granted")
    for row in read_rows(a.rows):
        cid = int(row["id"])
        x = X.loc[cid].to_numpy(dtype="float64")
        app_all = raw.loc[cid]
        app = {k: float(app_all[k]) for k in app_all.index if k in fields or any(
            k in pair for pair in KERNEL_RATIOS.values())}
        if any(math.isnan(app[f]) for f in fields):
            print(json.dumps({"id": cid, "skipped": "a field is missing"}), flush=True)
            continue
        model = dice_ml.Model(model=Granted(x, app), backend="sklearn", model_type="classifier")
        exp = dice_ml.Dice(d, model, method=a.method)
        ranges = {}
        for act in actions:
            v = app[act["field"]]
            lo, hi = act["min"], act["max"]
            if act["direction"] == "down":
                hi = min(hi, v)
            elif act["direction"] == "up":
                lo = max(lo, v)
            ranges[act["field"]] = [lo, hi] if lo <= hi else [v, v]
        query = pd.DataFrame([{f: app[f] for f in fields}])
        started = time.perf_counter()
        try:
            if a.method == "random":
                kw = {"random_seed": 0}
            else:
                import random
                np.random.seed(0)
                random.seed(0)
                kw = {"feature_weights": {f: 1.0 for f in fields}}
            # No post-hoc sparsity: it moves fixed features and leaves the permitted ranges.
            cf = exp.generate_counterfactuals(
                query, total_CFs=a.cfs, desired_class=1, features_to_vary=fields,
                permitted_range=ranges, posthoc_sparsity_param=None, verbose=False, **kw)
            cfs = cf.cf_examples_list[0].final_cfs_df
        except Exception as e:  # DiCE raises when it finds nothing
            cfs = None
            err = type(e).__name__
        elapsed = time.perf_counter() - started
        options = []
        if cfs is not None:
            for _, r in cfs.iterrows():
                # DiCE holds values as float32: a field it left alone comes back rounded.
                new = {f: float(r[f]) for f in fields}
                for f in fields:
                    if abs(new[f] - app[f]) <= 1e-6 * max(abs(app[f]), 1.0):
                        new[f] = app[f]
                changed = [f for f in fields if new[f] != app[f]]
                violations = []
                for act in actions:
                    f, v, c = act["field"], app[act["field"]], new[act["field"]]
                    if c == v:
                        continue
                    if act["direction"] == "down" and c > v or act["direction"] == "up" and c < v:
                        violations.append(f"{f} direction")
                    if c < act["min"] or c > act["max"]:
                        violations.append(f"{f} bounds")
                    if act["step"] and abs(round(c / act["step"]) * act["step"] - c) > 1e-9:
                        violations.append(f"{f} step")
                if len(changed) > a.k:
                    violations.append(f"{len(changed)} fields changed (K = {a.k})")
                p_new = probability(cal, booster.predict(Granted(x, app).rows(
                    pd.DataFrame([new])), raw_score=True)[0])
                cost = sum(abs(percentile_of(profile[f], new[f]) - percentile_of(profile[f], app[f]))
                           for f in changed)
                options.append({"changes": {f: [app[f], new[f]] for f in changed}, "cost": cost,
                                "granted": bool(p_new < limit), "violations": violations})
        valid = [o for o in options if o["granted"] and not o["violations"]]
        best = min(valid, key=lambda o: o["cost"], default=None)
        print(json.dumps({
            "id": cid,
            "found": bool(options),
            "options": options,
            "best_valid_cost": None if best is None else best["cost"],
            "seconds": elapsed,
            **({} if cfs is not None else {"error": err}),
        }), flush=True)


def load_fields(path, id_col):
    """The applications' fields: a Home Credit folder (both application files), a CSV or a
    Parquet file."""
    import os

    import pandas as pd
    if os.path.isdir(path):
        parts = [pd.read_csv(os.path.join(path, f)) for f in
                 ("application_train.csv", "application_test.csv")
                 if os.path.exists(os.path.join(path, f))]
        df = pd.concat(parts)
    elif path.endswith(".parquet"):
        df = pd.read_parquet(path)
    else:
        df = pd.read_csv(path)
    return df.set_index(id_col)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("oracle", choices=["treecf", "dice"])
    p.add_argument("--model", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--rows", required=True)
    p.add_argument("--actions", required=True)
    p.add_argument("--k", type=int, default=2)
    p.add_argument("--fields", help="the applications' raw fields (Home Credit application CSV)")
    p.add_argument("--method", default="random", choices=["random", "genetic"])
    p.add_argument("--cfs", type=int, default=3)
    a = p.parse_args()
    (treecf if a.oracle == "treecf" else dice)(a)


if __name__ == "__main__":
    main()
