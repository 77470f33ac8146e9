"""``python -m modelworks.server --workspace W --port P [--no-auth]``: run the API server.

The CLI's ``modelworks server`` does the same; this entry point stays free of the CLI's
imports so that tests and process managers can start a server quickly.
"""

from __future__ import annotations

import argparse
import sys

from modelworks.config import default_location
from modelworks.errors import ModelworksError


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve until interrupted; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m modelworks.server", description=__doc__)
    parser.add_argument("--workspace", default=default_location(), help="workspace folder")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8080, help="TCP port")
    parser.add_argument("--no-auth", action="store_true", help="accept requests without token")
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    args = parser.parse_args(argv)
    from modelworks.server.main import serve

    try:
        serve(
            args.workspace,
            host=args.host,
            port=args.port,
            auth=not args.no_auth,
            log_level=args.log_level,
        )
    except ModelworksError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
