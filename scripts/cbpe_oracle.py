"""NannyML 0.13.1's CBPE on a reference and an analysis set, for riskscore's estimate to equal.

  cbpe_oracle.py REFERENCE.csv ANALYSIS.csv --threshold T --chunk-size N
      --cost FN,FP,TP,TN

Both CSV files have `probability` (calibrated, of default) and `defaulted` (0/1; empty in the
analysis set when unknown). The decision is "refused" when probability >= T (CBPE's y_pred).
riskscore's probabilities are already calibrated out of fold: NannyML runs with its
NoopCalibrator. The confusion matrix is normalised by all; the business value is NannyML's
unnormalised value divided by the chunk's size (a cost per client). One JSON object per
analysis chunk on stdout, after one object with the check's answer (`needs_calibration`) and,
with `--splits`, the test indices of scikit-learn's `StratifiedShuffleSplit(10,
test_size=0.1, random_state=42)` on the reference's outcomes, the splits the check uses.
"""

import argparse
import json
import logging
import os
import warnings

os.environ["NML_DISABLE_USAGE_LOGGING"] = "1"
logging.disable(logging.WARNING)
warnings.filterwarnings("ignore")

import nannyml as nml  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from nannyml.calibration import NoopCalibrator  # noqa: E402
from sklearn.model_selection import StratifiedShuffleSplit  # noqa: E402


def frame(path, threshold):
    df = pd.read_csv(path)
    out = pd.DataFrame({
        "y_pred_proba": df["probability"].astype("float64"),
        "y_pred": (df["probability"] >= threshold).astype(int),
    })
    if df["defaulted"].notna().all():
        out["y_true"] = df["defaulted"].astype(int)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("reference")
    p.add_argument("analysis")
    p.add_argument("--threshold", type=float, required=True)
    p.add_argument("--chunk-size", type=int, required=True)
    p.add_argument("--cost", required=True, help="FN,FP,TP,TN")
    p.add_argument("--calibrator", choices=["isotonic", "noop"], default="isotonic")
    p.add_argument("--splits", action="store_true")
    a = p.parse_args()
    fn, fp, tp, tn = (float(x) for x in a.cost.split(","))
    ref = frame(a.reference, a.threshold)
    ana = frame(a.analysis, a.threshold)
    labelled = "y_true" in ana
    cbpe = nml.CBPE(
        y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="y_true",
        problem_type="classification_binary",
        metrics=["roc_auc", "confusion_matrix", "business_value"],
        chunk_size=a.chunk_size, normalize_confusion_matrix="all",
        business_value_matrix=[[tn, fp], [fn, tp]], normalize_business_value=None,
        calibrator=NoopCalibrator() if a.calibrator == "noop" else None,
    ).fit(ref)
    head = {"needs_calibration": bool(cbpe.needs_calibration)}
    if a.splits:
        split = StratifiedShuffleSplit(n_splits=10, test_size=0.1, random_state=42)
        head["split_tests"] = [t.tolist() for _, t in split.split(ref["y_pred_proba"], ref["y_true"])]
    print(json.dumps(head))
    res = cbpe.estimate(ana).filter(period="analysis").to_df()
    names = {"roc_auc": "roc_auc", "true_positive": "true_positive",
             "false_positive": "false_positive", "false_negative": "false_negative",
             "true_negative": "true_negative", "business_value": "cost"}
    for _, row in res.iterrows():
        n = int(row[("chunk", "end_index")]) - int(row[("chunk", "start_index")]) + 1
        out = {"start": int(row[("chunk", "start_index")]), "n": n}
        for m, name in names.items():
            scale = 1.0 / n if m == "business_value" else 1.0
            value = float(row[(m, "value")]) * scale
            out[name] = {
                "value": value,
                "sampling_error": float(row[(m, "sampling_error")]) * scale,
                # The business value's band is in chunk totals: not compared.
                "lower": None if m == "business_value" else float(row[(m, "lower_threshold")]),
                "upper": None if m == "business_value" else float(row[(m, "upper_threshold")]),
                "alert": bool(row[(m, "alert")]),
                "realized": (float(row[(m, "realized")]) * scale) if labelled else None,
            }
        print(json.dumps(out, allow_nan=True), flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
