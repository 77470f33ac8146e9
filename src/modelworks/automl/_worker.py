"""A trial worker process: ``python -m modelworks.automl._worker ADDRESS``.

It connects back to the AutoML process over a local socket (the authentication key comes in
``MODELWORKS_AUTOML_AUTHKEY``), loads the shared trial data once from the pickle file it is
told, then runs trials one at a time until told to stop. Running trials in separate
processes lets the parent enforce timeouts by killing a worker, survive a learner that
crashes the interpreter, and keep thread pools of native libraries out of its own process.
"""

from __future__ import annotations

import os
import pickle
import sys
from typing import Any

ENV_AUTHKEY = "MODELWORKS_AUTOML_AUTHKEY"


def run_one(data: Any, spec: Any, cache: Any) -> Any:
    """Run one trial (tabular or forecast) on ``data``."""
    if spec.kind == "forecast":
        from modelworks.automl.forecasting._trial import run_forecast_trial

        return run_forecast_trial(data, spec)
    from modelworks.automl._trial import run_trial

    return run_trial(data, spec, cache)


def main(address: str) -> int:
    import warnings
    from multiprocessing.connection import Client

    warnings.simplefilter("ignore")
    # Import what trials use before saying hello, so no trial pays for imports in its time.
    import sklearn.linear_model  # noqa: F401

    import modelworks.automl._trial
    import modelworks.automl.featurize
    import modelworks.automl.learners
    import modelworks.automl.metrics  # noqa: F401

    authkey = bytes.fromhex(os.environ.pop(ENV_AUTHKEY))
    conn = Client(address, family="AF_UNIX", authkey=authkey)
    conn.send(("hello", os.getpid()))
    from modelworks.automl._trial import FoldCache

    data: Any = None
    cache = FoldCache()
    while True:
        try:
            op, payload = conn.recv()
        except (EOFError, OSError):
            return 0
        if op == "stop":
            return 0
        if op == "load":
            with open(payload, "rb") as fh:
                data = pickle.load(fh)
            cache = FoldCache()
            continue
        if op == "trial":
            conn.send(("result", run_one(data, payload, cache)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
