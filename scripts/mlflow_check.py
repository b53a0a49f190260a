"""Oracle for the MLflow tests: reads what `riskscore train` tracked through the Python client
and loads the logged model with mlflow.pyfunc and mlflow.lightgbm.

usage: mlflow_check.py TRACKING_URI RUN_ID MODEL_URI FEATURES_PARQUET
prints one JSON object: the parent run, its child runs, metric histories, artifacts, and the
probabilities the two flavours predict for the feature rows (in their order).
"""

import json
import sys
import warnings

warnings.filterwarnings("ignore")

import mlflow  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow import MlflowClient  # noqa: E402


def artifacts(client, run_id, path=None):
    out = []
    for a in client.list_artifacts(run_id, path):
        if a.is_dir:
            out.extend(artifacts(client, run_id, a.path))
        else:
            out.append(a.path)
    return out


def main():
    uri, run_id, model_uri, features = sys.argv[1:5]
    mlflow.set_tracking_uri(uri)
    client = MlflowClient()
    parent = client.get_run(run_id)
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run_id}'",
    )
    frame = pd.read_parquet(features)
    pyfunc = mlflow.pyfunc.load_model(model_uri)
    names = pyfunc.metadata.signature.inputs.input_names()
    x = frame[names].astype("float64")
    booster = mlflow.lightgbm.load_model(model_uri)
    child_info = []
    for c in children:
        histories = {}
        for key in c.data.metrics:
            h = client.get_metric_history(c.info.run_id, key)
            histories[key] = [[m.step, m.value] for m in h]
        child_info.append(
            {
                "name": c.info.run_name,
                "status": c.info.status,
                "params": c.data.params,
                "histories": histories,
            }
        )
    fold_auc = client.get_metric_history(run_id, "fold_auc")
    print(
        json.dumps(
            {
                "status": parent.info.status,
                "name": parent.info.run_name,
                "params": parent.data.params,
                "metrics": parent.data.metrics,
                "tags": parent.data.tags,
                "fold_auc": [[m.step, m.value] for m in fold_auc],
                "artifacts": artifacts(client, run_id),
                "children": child_info,
                "signature": names,
                "pyfunc": [float(v) for v in pyfunc.predict(x)],
                "lightgbm": [float(v) for v in booster.predict(x)],
            }
        )
    )


if __name__ == "__main__":
    main()
