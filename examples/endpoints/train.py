"""Train the example's model on the bundled bank-marketing data and register it as bank-clf."""

import sys

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelworks as mw
from modelworks.datasets import load_bank_marketing

FEATURES = ["age", "campaign", "pdays", "previous", "emp.var.rate", "cons.price.idx",
            "cons.conf.idx", "euribor3m", "nr.employed"]

ws = mw.Workspace(sys.argv[1] if len(sys.argv) > 1 else "./ws")
frame = load_bank_marketing()
X, y = frame[FEATURES].astype("float64"), (frame["response"] == "yes").astype(int)
with mw.start_run(experiment="bank-endpoints", workspace=ws) as run:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    mw.log_model(model, "model", input_example=X.head(5))
version = ws.models.register(f"runs:/{run.id}/model", name="bank-clf")
print(f"registered bank-clf:{version.version}")
