"""Sweep jobs: hyperparameter tuning as Optuna's ask → tell loop over command-job trials.

- :mod:`.space` — Azure ML search spaces as Optuna distributions;
- :mod:`.policies` — sampling algorithms and early-termination policies as samplers/pruners;
- :mod:`.submit` — checking and queuing a sweep (the parent job);
- :mod:`.driver` — the loop a worker runs for the parent job.

Build sweeps with :func:`modelworks.jobs.sweep` or ``type: sweep`` YAML.
"""
