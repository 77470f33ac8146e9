"""``python -m modelworks.cli``: the same as the ``modelworks`` command."""

from __future__ import annotations

from modelworks.cli import main

if __name__ == "__main__":
    main()
