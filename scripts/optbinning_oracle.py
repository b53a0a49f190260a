#!/usr/bin/env python3
"""optbinning on every column of a CSV (the scorecard's oracle).

  optbinning_oracle.py DATA.csv TARGET [--exclude ID,...] [--optimal] [--special COL=V,...]

Without --optimal, prints one JSON object: numeric column -> the refined pre-bin splits of
OptimalBinning's defaults (CART pre-binning into at most 20 bins of at least 5 % of all rows,
missing values apart, then the refinement that merges pure bins), read from optbinning's own
PreBinning and _compute_prebins, as OptimalBinning.fit runs them.

With --optimal, fits OptimalBinning with its defaults on every column (numerical, or
categorical for text columns; --special gives a column's special codes) and prints, per column:
its dtype, the optimal splits (categorical: the bins' categories), the binning table's
non-events, events, WoE and IV per row (bins, special, missing) and its total IV, and the time
of all fits.
"""
import argparse
import json
import sys
import time

import numpy as np
import pandas as pd
from optbinning import OptimalBinning
from optbinning.binning.prebinning import PreBinning


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("target")
    ap.add_argument("--exclude", default="")
    ap.add_argument("--optimal", action="store_true")
    ap.add_argument("--special", default="")
    a = ap.parse_args()
    df = pd.read_csv(a.data)
    y = df[a.target].values
    skip = {a.target, *filter(None, a.exclude.split(","))}
    if a.optimal:
        special = {}
        for item in filter(None, a.special.split(",")):
            col, value = item.split("=")
            special.setdefault(col, []).append(float(value))
        json.dump(optimal(df, y, skip, special), sys.stdout)
        return
    out = {}
    for c in df.columns:
        if c in skip or not pd.api.types.is_numeric_dtype(df[c]):
            continue
        x = df[c].values.astype(float)
        clean = ~np.isnan(x)
        xc, yc = x[clean], y[clean]
        ob = OptimalBinning(name=c)
        least = int(np.ceil(ob.min_prebin_size * len(x)))
        weights = np.ones(len(xc))
        pre = PreBinning(method=ob.prebinning_method, n_bins=ob.max_n_prebins,
                         min_bin_size=least, problem_type="classification").fit(xc, yc, weights)
        splits, _, _ = ob._compute_prebins(pre.splits, xc, yc == 0, yc != 0, weights)
        out[c] = [float(s) for s in splits]
    json.dump(out, sys.stdout)


def optimal(df, y, skip, special):
    out = {}
    start = time.perf_counter()
    for c in df.columns:
        if c in skip:
            continue
        numeric = pd.api.types.is_numeric_dtype(df[c])
        if numeric:
            x = df[c].values.astype(float)
            ob = OptimalBinning(name=c, dtype="numerical",
                                special_codes=special.get(c))
        else:
            x = df[c].astype(object).where(df[c].notna(), np.nan).values
            ob = OptimalBinning(name=c, dtype="categorical")
        ob.fit(x, y)
        table = ob.binning_table
        table.build()
        splits = ob.splits
        if numeric:
            splits = [float(s) for s in splits]
        else:
            splits = [[str(v) for v in group] for group in splits]
        out[c] = {
            "dtype": "numerical" if numeric else "categorical",
            "status": ob.status,
            "splits": splits,
            "non_events": [int(v) for v in table.n_nonevent],
            "events": [int(v) for v in table.n_event],
            "woe": [float(v) for v in table._woe],
            "iv": float(table.iv),
        }
    return {"seconds": time.perf_counter() - start, "columns": out}


if __name__ == "__main__":
    main()
