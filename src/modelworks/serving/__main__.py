"""``python -m modelworks.serving``: serve one model or score.py over HTTP (no gateway)."""

from __future__ import annotations

import argparse

from modelworks.serving.server import serve_model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m modelworks.serving", description=__doc__)
    parser.add_argument("--model", help="a registry reference: models:/name@alias, name:3, ...")
    parser.add_argument("--model-dir", help="a local model folder or file (AZUREML_MODEL_DIR)")
    parser.add_argument("--entry-script", help="an Azure scoring script (score.py)")
    parser.add_argument("--workspace", default=None, help="workspace for --model")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    args = parser.parse_args(argv)
    serve_model(
        model=args.model,
        model_dir=args.model_dir,
        entry_script=args.entry_script,
        workspace=args.workspace,
        host=args.host,
        port=args.port,
    )


if __name__ == "__main__":
    main()
