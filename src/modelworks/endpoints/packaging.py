"""A container build context for a deployment: run the same runtime on any container host.

``modelworks online-deployment package -n blue -e bank -o ./build`` writes::

    build/
      Dockerfile          python:3.11-slim, installs requirements.txt, runs entrypoint.sh
      requirements.txt    modelworks (this version) and the model's own requirements
      model/              AZUREML_MODEL_DIR: the registered files under their original name
      code/               the scoring script folder (when the deployment has one)
      deployment.json     the deployment's spec (request settings, micro-batching, ...)
      entrypoint.sh       python -m modelworks.serving.container (port $PORT, default 5001)

The container serves the deployment's scoring app (``/score``, ``/invocations``, ``/``,
``/swagger.json``) with ``$WORKER_COUNT`` worker processes (default: ``instance_count``). Keys,
traffic split and mirror traffic belong to whatever load balancer or ingress runs the
replicas (Kubernetes: a Deployment + Service; see docs/endpoints.md).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from modelworks.errors import AlreadyExistsError

if TYPE_CHECKING:
    from modelworks.endpoints.entities import OnlineDeployment
    from modelworks.workspace import Workspace

__all__ = ["write_build_context"]

_DOCKERFILE = """\
# Built by `modelworks online-deployment package` for {endpoint}/{deployment}.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 PORT=5001
WORKDIR /var/azureml-app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
EXPOSE 5001
HEALTHCHECK CMD python -c "import urllib.request,os; urllib.request.urlopen('http://127.0.0.1:%s/ready' % os.environ.get('PORT', '5001'))"
ENTRYPOINT ["sh", "/var/azureml-app/entrypoint.sh"]
"""

_ENTRYPOINT = """\
#!/bin/sh
# Serve the deployment's scoring app, from the build context folder or inside the image.
HERE="$(cd "$(dirname "$0")" && pwd)"
export AZUREML_MODEL_DIR="$HERE/model"
if [ -d "$HERE/code" ]; then export AML_APP_ROOT="$HERE/code"; fi
exec "${PYTHON:-python}" -m modelworks.serving.container --context "$HERE" --port "${PORT:-5001}"
"""


def _requirements(model_folder: Path | None) -> list[str]:
    from importlib import metadata

    try:
        version = metadata.version("modelworks")
        lines = [f"modelworks=={version}"]
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        lines = ["modelworks"]
    if model_folder is not None:
        found = next(iter(model_folder.rglob("requirements.txt")), None)
        if found is not None:
            for line in found.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if (
                    line
                    and not line.startswith(("#", "-"))
                    and not line.lower().startswith(("mlflow", "modelworks"))
                ):
                    lines.append(line)
    lines.extend(["inference-schema>=1.8", "orjson>=3.9", "prometheus-client>=0.20"])
    return list(dict.fromkeys(lines))


def write_build_context(ws: Workspace, deployment: OnlineDeployment, output: Path) -> Path:
    """Write the build context of ``deployment`` into ``output`` (which must not exist or be empty)."""
    from modelworks.endpoints._materialise import code_dir, model_dir
    from modelworks.endpoints.host import runtime_dir

    if output.exists() and any(output.iterdir()):
        raise AlreadyExistsError(
            f"{output} already exists and is not empty; give a new folder for the build context."
        )
    output.mkdir(parents=True, exist_ok=True)
    root = runtime_dir(ws)
    model_copy: Path | None = None
    if deployment.model_name is not None and deployment.model_version is not None:
        source = model_dir(ws, deployment.model_name, deployment.model_version, root)
        model_copy = output / "model"
        shutil.copytree(source, model_copy, symlinks=False)
    spec = dict(deployment.spec)
    code = spec.get("code_configuration")
    if code and deployment.code_owner:
        shutil.copytree(code_dir(ws, deployment.code_owner, root), output / "code", symlinks=False)
        marker = output / "code" / ".modelworks-complete"
        marker.unlink(missing_ok=True)
    (output / "deployment.json").write_text(
        json.dumps(
            {
                "endpoint": deployment.endpoint_name,
                "deployment": deployment.name,
                "model": deployment.model,
                "model_name": deployment.model_name,
                "model_version": deployment.model_version,
                "spec": spec,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    (output / "requirements.txt").write_text(
        "\n".join(_requirements(model_copy)) + "\n", encoding="utf-8"
    )
    (output / "Dockerfile").write_text(
        _DOCKERFILE.format(endpoint=deployment.endpoint_name, deployment=deployment.name),
        encoding="utf-8",
    )
    entrypoint = output / "entrypoint.sh"
    entrypoint.write_text(_ENTRYPOINT, encoding="utf-8")
    entrypoint.chmod(0o755)
    return output
