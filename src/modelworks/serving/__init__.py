"""Model serving: the scoring runtime that online endpoints run.

- :mod:`~modelworks.serving.app`: the ASGI scoring app of one worker process (Azure
  ``/score``, MLflow ``/invocations``, health, swagger), with
  :mod:`~modelworks.serving.nocode` (registered models, signature enforcement, the numpy fast
  path), :mod:`~modelworks.serving.script` (Azure ``score.py``), :mod:`~modelworks.serving.swagger`
  and :mod:`~modelworks.serving.batching` (adaptive micro-batching).
- :mod:`~modelworks.serving.gateway`: an endpoint's gateway (keys, traffic split, mirror
  traffic, request ids, timeouts, concurrency limits, metrics, access log), forwarding to the
  workers through :mod:`~modelworks.serving.upstream`.
- :mod:`~modelworks.serving.worker` / :mod:`~modelworks.serving.server`: running the app.

The endpoint host that starts gateways and workers from the database lives in
:mod:`modelworks.endpoints`. Nothing here imports pandas or numpy at module level.
"""
