"""The entry point of a packaged deployment's container (``entrypoint.sh`` runs it).

Reads ``deployment.json`` from the build context and serves the deployment's scoring app on
``--port`` with ``$WORKER_COUNT`` processes (default: the deployment's ``instance_count``)
sharing the port, so the container behaves like the deployment's workers behind any load
balancer.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m modelworks.serving.container")
    parser.add_argument("--context", required=True, help="the build context folder")
    parser.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5001")))
    args = parser.parse_args(argv)
    context = Path(args.context).resolve()
    described = json.loads((context / "deployment.json").read_text(encoding="utf-8"))
    spec = described.get("spec") or {}
    code = spec.get("code_configuration")
    config = {
        "name": described.get("model_name") or described.get("deployment"),
        "version": described.get("model_version") or "1",
        "deployment": described.get("deployment"),
        "batching": spec.get("micro_batching"),
        "max_body_bytes": (spec.get("request_settings") or {}).get("max_request_body_bytes"),
    }
    model_dir = os.environ.get("AZUREML_MODEL_DIR") or str(context / "model")
    if Path(model_dir).is_dir():
        config["model_dir"] = model_dir
    if code:
        app_root = Path(os.environ.get("AML_APP_ROOT") or context / "code")
        os.environ["AML_APP_ROOT"] = str(app_root)
        config["entry_script"] = str(app_root / code["scoring_script"])
    workers = int(os.environ.get("WORKER_COUNT") or spec.get("instance_count") or 1)
    from modelworks.serving.worker import ONE_THREAD_ENV

    for key, value in ONE_THREAD_ENV.items():
        os.environ.setdefault(key, value)
    if workers > 1:
        import socket

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((args.host, args.port))
        sock.set_inheritable(True)
        for _ in range(workers - 1):
            if os.fork() == 0:
                break
        _serve(config, sock=sock)
    else:
        _serve(config, host=args.host, port=args.port)


def _serve(
    config: dict[str, object], *, sock: object = None, host: str = "0.0.0.0", port: int = 5001
) -> None:
    import importlib.util

    import uvicorn

    from modelworks.serving.worker import build_app

    app = build_app(config)
    uv = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=300,
    )
    server = uvicorn.Server(uv)
    server.run(sockets=[sock] if sock is not None else None)  # type: ignore[list-item]


if __name__ == "__main__":
    main()
