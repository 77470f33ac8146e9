"""The MLflow API costs the server nothing at start-up: its handlers load on first use."""

from __future__ import annotations

import ast
import subprocess
import sys


def test_creating_the_app_loads_no_mlflow_handlers() -> None:
    code = (
        "import sys, tempfile\n"
        "from modelworks.server.app import create_app\n"
        "from modelworks.store import open_blobs, open_metadata\n"
        "tmp = tempfile.mkdtemp()\n"
        "create_app(open_metadata(f'sqlite:///{tmp}/db.sqlite'), open_blobs(tmp + '/blobs'))\n"
        "print(sorted(m for m in sys.modules if m.startswith('modelworks.server.mlflow.')"
        " or m.split('.')[0] in ('mlflow', 'pandas', 'numpy', 'sklearn')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = ast.literal_eval(out.stdout.strip())
    assert set(loaded) <= {
        "modelworks.server.mlflow._asgi",
        "modelworks.server.mlflow._errors",
        "modelworks.server.mlflow.env",
    }, loaded
