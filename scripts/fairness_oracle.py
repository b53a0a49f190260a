#!/usr/bin/env python3
"""fairlearn as the oracle of riskscore's fairness figures.

  fairness_oracle.py ROWS.csv --threshold T [--min-group 30] [--id COLUMN]

ROWS.csv has `defaulted` (0/1), `probability` (calibrated) and one column per attribute (the
group of each row, empty for missing, read as the group "missing"). Decisions: refused when
probability >= T. Per group, with fairlearn's MetricFrame (y_true = defaulted, y_pred =
refused): count, selection rate (the refusal rate), true and false positive rates; the mean
probability. Disparity measures over the groups with at least --min-group rows, with the
favourable outcome as positive (y_true = repaid, y_pred = granted):
demographic_parity_difference / _ratio, equalized_odds_difference,
equal_opportunity_difference. Prints JSON {attribute: {groups: {...}, measures: {...}}}.
"""
import argparse
import json

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rows")
    ap.add_argument("--threshold", type=float, required=True)
    ap.add_argument("--min-group", type=int, default=30)
    ap.add_argument("--id", help="an id column to leave aside (riskscore fairness --rows writes one)")
    a = ap.parse_args()
    df = pd.read_csv(a.rows, keep_default_na=False, dtype=str)
    if a.id:
        df.pop(a.id)
    y = df.pop("defaulted").astype(int).to_numpy()
    p = df.pop("probability").astype(float).to_numpy()
    refused = (p >= a.threshold).astype(int)
    out = {}
    for attribute in df.columns:
        groups = df[attribute].replace("", "missing").to_numpy()
        mf = MetricFrame(
            metrics={
                "count": count,
                "refusal_rate": selection_rate,
                "true_positive_rate": true_positive_rate,
                "false_positive_rate": false_positive_rate,
            },
            y_true=y,
            y_pred=refused,
            sensitive_features=pd.Series(groups, name=attribute),
        )
        by = mf.by_group
        per = {}
        for g in by.index:
            rows = groups == g
            per[str(g)] = {
                "count": int(by.loc[g, "count"]),
                "approval_rate": 1.0 - float(by.loc[g, "refusal_rate"]),
                "true_positive_rate": float(by.loc[g, "true_positive_rate"]),
                "false_positive_rate": float(by.loc[g, "false_positive_rate"]),
                "mean_probability": float(np.mean(p[rows])),
            }
        keep = np.isin(groups, [g for g in by.index if by.loc[g, "count"] >= a.min_group])
        measures = None
        if len(set(groups[keep])) >= 2:
            kw = dict(y_true=1 - y[keep], y_pred=1 - refused[keep], sensitive_features=groups[keep])
            measures = {
                "demographic_parity_difference": float(demographic_parity_difference(**kw)),
                "demographic_parity_ratio": float(demographic_parity_ratio(**kw)),
                "equalized_odds_difference": float(equalized_odds_difference(**kw)),
                "equal_opportunity_difference": float(equal_opportunity_difference(**kw)),
            }
        out[attribute] = {"groups": per, "measures": measures}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
