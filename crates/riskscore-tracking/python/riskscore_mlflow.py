"""The python_function loader of a riskscore model logged to MLflow.

`mlflow.pyfunc.load_model(uri).predict(features)` gives the probability riskscore serves: the
bundle's LightGBM booster (`riskscore/model.txt`), then the bundle's calibration (none, Platt
or isotonic, from `riskscore/manifest.json`) applied exactly as riskscore applies it.
`mlflow.lightgbm.load_model(uri)` gives the booster alone (riskscore's `probability_raw`).
"""

import bisect
import json
import math
import os

import lightgbm
import numpy as np


def _logit(p):
    p = min(max(p, 1e-12), 1.0 - 1e-12)
    return math.log(p / (1.0 - p))


def _sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def _interpolate(x, y, v):
    if not x:
        return v
    if v <= x[0]:
        return y[0]
    if v >= x[-1]:
        return y[-1]
    i = bisect.bisect_right(x, v)
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    return y0 + (y1 - y0) * (v - x0) / (x1 - x0)


class RiskscoreModel:
    def __init__(self, path):
        self.booster = lightgbm.Booster(model_file=os.path.join(path, "model.txt"))
        with open(os.path.join(path, "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
        self.calibration = manifest["calibration"]
        self.threshold = manifest["threshold"]

    def calibrate(self, p):
        c = self.calibration
        method = c.get("method", "none")
        if method == "platt":
            return _sigmoid(c["a"] * _logit(p) + c["b"])
        if method == "isotonic":
            return _interpolate(c["x"], c["y"], p)
        return p

    def predict(self, data, params=None):
        raw = self.booster.predict(data)
        return np.array([self.calibrate(float(p)) for p in raw], dtype=np.float64)


def _load_pyfunc(path):
    return RiskscoreModel(path)
