#!/usr/bin/env python3
"""optbinning's pre-binning splits of every numeric column of a CSV (the scorecard's oracle).

  optbinning_oracle.py DATA.csv TARGET [--exclude ID,...]

Prints one JSON object: column -> the refined pre-bin splits of OptimalBinning's defaults
(CART pre-binning into at most 20 bins of at least 5 % of all rows, missing values apart, then
the refinement that merges pure bins), read from optbinning's own PreBinning and
_compute_prebins, as OptimalBinning.fit runs them.
"""
import argparse
import json
import sys

import numpy as np
import pandas as pd
from optbinning import OptimalBinning
from optbinning.binning.prebinning import PreBinning


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("target")
    ap.add_argument("--exclude", default="")
    a = ap.parse_args()
    df = pd.read_csv(a.data)
    y = df[a.target].values
    skip = {a.target, *filter(None, a.exclude.split(","))}
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


if __name__ == "__main__":
    main()
