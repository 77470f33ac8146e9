"""An Azure ML scoring script: it runs unchanged on Azure and on modelworks."""

import json
import logging
import os
import pickle

import pandas as pd


def init():
    """Load the model once per worker process."""
    global model, threshold
    # A model registered from ./model/ is found at $AZUREML_MODEL_DIR/model/...
    path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "model.pkl")
    with open(path, "rb") as handle:
        model = pickle.load(handle)
    threshold = float(os.environ.get("THRESHOLD", "0.5"))
    logging.info("model loaded from %s", path)


def run(raw_data):
    """Score one request: {"input_data": {"columns": [...], "data": [[...]]}}."""
    table = json.loads(raw_data)["input_data"]
    frame = pd.DataFrame(table["data"], columns=table["columns"])
    probability = model.predict_proba(frame)[:, 1]
    return {"probability": probability.round(4).tolist(), "contact": (probability > threshold).tolist()}
