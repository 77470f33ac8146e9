"""The environment that points the MLflow client inside a job at the job's own run.

The jobs code calls :func:`mlflow_env` when it starts a job's process, so that a training
script's ``mlflow.start_run()`` resumes the job's run (``MLFLOW_RUN_ID``) on this workspace's
server (``MLFLOW_TRACKING_URI``), under its experiment, with the job's token: every
``mlflow.log_*`` call of the script lands on the job, unchanged.
"""

from __future__ import annotations

__all__ = ["mlflow_env"]


def mlflow_env(
    tracking_uri: str, run_id: str, experiment_name: str, token: str | None = None
) -> dict[str, str]:
    """``MLFLOW_TRACKING_URI``, ``MLFLOW_RUN_ID``, ``MLFLOW_EXPERIMENT_NAME`` (and
    ``MLFLOW_TRACKING_TOKEN`` when a token is given) for a job's process.

    ``tracking_uri`` is the server's base URL (``http://127.0.0.1:8080``, no path).
    """
    env = {
        "MLFLOW_TRACKING_URI": tracking_uri.rstrip("/"),
        "MLFLOW_RUN_ID": run_id,
        "MLFLOW_EXPERIMENT_NAME": experiment_name,
    }
    if token:
        env["MLFLOW_TRACKING_TOKEN"] = token
    return env
