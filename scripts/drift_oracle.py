"""Oracle for the drift tests: Evidently's DataDriftPreset (defaults) and its PSI on two tables.

usage: drift_oracle.py REFERENCE CURRENT EXCLUDE [tests-only]
REFERENCE, CURRENT: .csv or .parquet; EXCLUDE: comma-separated columns not tested;
tests-only: skip the PSI run (the benchmark times the default preset alone).
Prints one JSON object: per column the type Evidently infers from the reference, the default
test's name and score, and the PSI; the number and share of drifted columns. Columns with no
value in either set are listed under "empty" (Evidently refuses them).
"""

import json
import sys
import warnings

warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from evidently import DataDefinition, Dataset, Report  # noqa: E402
from evidently.core.datasets import infer_column_type  # noqa: E402
from evidently.legacy.core import ColumnType  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402


def read(path):
    return pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)


def run(ref, cur, num, cat, **kw):
    dd = DataDefinition(numerical_columns=num, categorical_columns=cat)
    report = Report([DataDriftPreset(**kw)]).run(
        Dataset.from_pandas(cur, data_definition=dd),
        Dataset.from_pandas(ref, data_definition=dd),
    )
    out, summary = {}, None
    for m in report.dict()["metrics"]:
        cfg = m["config"]
        if cfg["type"].endswith("ValueDrift"):
            out[cfg["column"]] = {"test": cfg["method"], "score": m["value"], "threshold": cfg["threshold"]}
        elif cfg["type"].endswith("DriftedColumnsCount"):
            summary = m["value"]
    return out, summary


def main():
    ref, cur = read(sys.argv[1]), read(sys.argv[2])
    exclude = set(filter(None, sys.argv[3].split(",")))
    num, cat, kinds, empty = [], [], {}, []
    for col in ref.columns:
        if col in exclude:
            continue
        kind = infer_column_type(ref[col])
        finite = lambda s: s.replace([np.inf, -np.inf], np.nan).dropna()  # noqa: E731
        if kind == ColumnType.Numerical:
            if finite(ref[col]).empty or finite(cur[col]).empty:
                empty.append(col)
                continue
            num.append(col)
            kinds[col] = "numerical"
        elif kind == ColumnType.Categorical:
            if ref[col].dropna().empty or cur[col].dropna().empty:
                empty.append(col)
                continue
            cat.append(col)
            kinds[col] = "categorical"
    tests, summary = run(ref, cur, num, cat)
    tests_only = len(sys.argv) > 4 and sys.argv[4] == "tests-only"
    psi = {} if tests_only else run(ref, cur, num, cat, method="psi")[0]
    columns = {
        c: {"kind": kinds[c], **tests[c], "psi": psi.get(c, {}).get("score")} for c in tests
    }
    print(json.dumps({"columns": columns, "summary": summary, "empty": empty}))


if __name__ == "__main__":
    main()
