"""``python -m modelworks.endpoints --workspace W``: host the workspace's online endpoints."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any


def _early_zygote(location: str) -> Any:
    """Start the worker zygote before the host's own imports (about a second), for a local
    folder, so that its imports of numpy, pandas and scikit-learn start as early as they can."""
    if "://" in location:
        return None
    import os
    import uuid
    from pathlib import Path

    from modelworks.endpoints._doorbell import socket_dir
    from modelworks.endpoints._launcher import Launcher

    launcher = Launcher(
        socket_path=Launcher.socket_for(f"{uuid.uuid4().hex}|{os.getpid()}", socket_dir()),
        log_path=Path(location).expanduser().resolve() / "endpoints" / "logs" / "zygote.log",
    )
    launcher.start()
    return launcher


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m modelworks.endpoints", description=__doc__)
    parser.add_argument("--workspace", required=True, help="workspace folder")
    parser.add_argument(
        "--idle-exit", action="store_true", help="exit once the workspace has no endpoints"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    launcher = _early_zygote(args.workspace)
    from modelworks.endpoints.host import serve_forever
    from modelworks.errors import ModelworksError

    try:
        serve_forever(args.workspace, idle_exit=args.idle_exit, launcher=launcher)
    except ModelworksError as e:
        print(f"Error: {e.message}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
