#!/usr/bin/env python3
"""Compare riskscore's feature matrix with the pandas peer's, column by column.

  compare_features.py OURS.parquet PEER.parquet [--rtol 1e-9] [--data DIR]

Rows are matched by SK_ID_CURR. With --data (the Home Credit folder both were built from), the
applicants whose CODE_GENDER is 'XNA' are left out of riskscore's rows first: the kernel (and
the pandas peer) drop them, riskscore scores every applicant; their number is printed. Missing values (null or NaN) are equal to each other; other
values must agree within rtol (relative) or 1e-9 (absolute). Exits 1 and lists every
difference in names, order or values; prints a one-line summary otherwise.
"""
import argparse
import sys

import numpy as np
import pandas as pd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours")
    ap.add_argument("peer")
    ap.add_argument("--rtol", type=float, default=1e-9)
    ap.add_argument("--atol", type=float, default=1e-9)
    ap.add_argument("--data")
    a = ap.parse_args()
    ours = pd.read_parquet(a.ours)
    peer = pd.read_parquet(a.peer)
    problems = []
    if a.data:
        xna = set()
        for name in ("application_train.csv", "application_test.csv"):
            app = pd.read_csv(f"{a.data}/{name}", usecols=["SK_ID_CURR", "CODE_GENDER"])
            xna |= set(app.loc[app["CODE_GENDER"] == "XNA", "SK_ID_CURR"])
        kept = ours["SK_ID_CURR"].isin(xna)
        print("%d applicant(s) of CODE_GENDER XNA kept by riskscore, dropped by the kernel: not compared"
              % int(kept.sum()))
        ours = ours[~kept].reset_index(drop=True)
    if list(ours.columns) != list(peer.columns):
        only_ours = [c for c in ours.columns if c not in set(peer.columns)]
        only_peer = [c for c in peer.columns if c not in set(ours.columns)]
        problems.append("columns differ: only in riskscore %s; only in pandas %s" % (only_ours[:20], only_peer[:20]))
        if not only_ours and not only_peer:
            first = next(i for i, (x, y) in enumerate(zip(ours.columns, peer.columns)) if x != y)
            problems.append("same columns, different order from position %d: %s vs %s"
                            % (first, ours.columns[first], peer.columns[first]))
    if len(ours) != len(peer):
        problems.append("row counts differ: %d vs %d" % (len(ours), len(peer)))
    if list(ours["SK_ID_CURR"]) != list(peer["SK_ID_CURR"]):
        problems.append("row order differs")
    ours = ours.set_index("SK_ID_CURR")
    peer = peer.set_index("SK_ID_CURR").reindex(ours.index)
    worst = 0.0
    compared = 0
    for c in ours.columns:
        if c not in peer.columns:
            continue
        x = ours[c].astype("float64").to_numpy()
        y = peer[c].astype("float64").to_numpy()
        nx, ny = np.isnan(x), np.isnan(y)
        if (nx != ny).any():
            i = int(np.argmax(nx != ny))
            problems.append("%s: missing in one only at SK_ID_CURR %s (riskscore %r, pandas %r)"
                            % (c, ours.index[i], x[i], y[i]))
            continue
        ok = ~nx
        same_inf = np.isinf(x[ok]) & (x[ok] == y[ok])
        with np.errstate(invalid="ignore"):
            diff = np.abs(x[ok] - y[ok])
        diff[same_inf] = 0.0
        tol = a.atol + a.rtol * np.abs(y[ok])
        bad = diff > tol
        if bad.any():
            i = np.flatnonzero(ok)[np.argmax(bad)]
            problems.append("%s: %d values differ, e.g. SK_ID_CURR %s: riskscore %r, pandas %r"
                            % (c, int(bad.sum()), ours.index[i], x[i], y[i]))
        if diff.size:
            rel = diff / np.maximum(np.abs(y[ok]), 1e-300)
            rel[diff <= a.atol] = 0.0
            worst = max(worst, float(np.nanmax(rel)))
        compared += 1
    for p in problems:
        print("DIFF", p)
    print("compared %d rows x %d columns; worst relative difference %.3g; %d problem(s)"
          % (len(ours), compared, worst, len(problems)))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
