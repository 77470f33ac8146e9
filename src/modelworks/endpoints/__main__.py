"""``python -m modelworks.endpoints --workspace W``: host the workspace's online endpoints."""

from __future__ import annotations

import argparse
import logging
import sys


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
    from modelworks.endpoints.host import serve_forever
    from modelworks.errors import ModelworksError

    try:
        serve_forever(args.workspace, idle_exit=args.idle_exit)
    except ModelworksError as e:
        print(f"Error: {e.message}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
