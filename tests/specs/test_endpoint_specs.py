"""Azure ML online endpoint/deployment YAML: files load unchanged, Azure-only keys warn, bad
values are reported with file, line and key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelworks.errors import SpecError
from modelworks.specs import SpecWarning
from modelworks.specs.endpoints import load_deployment_spec, load_endpoint_spec


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_azure_files_load_and_azure_only_keys_warn(tmp_path: Path) -> None:
    endpoint = _write(
        tmp_path,
        "endpoint.yml",
        "$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json\n"
        "name: bank\nauth_mode: key\nidentity: {type: system_assigned}\ntags: {team: risk, n: 3}\n",
    )
    with pytest.warns(SpecWarning, match="'identity' is Azure-only"):
        spec = load_endpoint_spec(endpoint)
    assert (spec.name, spec.auth_mode, spec.tags) == ("bank", "key", {"team": "risk", "n": "3"})
    (tmp_path / "onlinescoring").mkdir()
    deployment = _write(
        tmp_path,
        "blue.yml",
        "name: blue\nendpoint_name: bank\nmodel: azureml:bank-clf:1\n"
        "code_configuration: {code: ./onlinescoring, scoring_script: score.py}\n"
        "environment: azureml:sklearn-env:1\ninstance_type: Standard_DS3_v2\ninstance_count: 2\n"
        "request_settings: {request_timeout_ms: 3000, max_concurrent_requests_per_instance: 4}\n"
        "liveness_probe: {period: 5, failure_threshold: 3}\n"
        "data_collector: {collections: {model_inputs: {enabled: 'True'}}}\n",
    )
    with pytest.warns(SpecWarning, match="instance_type"):
        blue = load_deployment_spec(deployment)
    assert blue.code_configuration is not None
    assert blue.code_configuration.code == str(tmp_path / "onlinescoring")
    assert blue.instance_count == 2 and blue.request_settings.request_timeout_ms == 3000
    assert blue.liveness_probe.failure_threshold == 3
    assert blue.data_collector == {"collections": {"model_inputs": {"enabled": "True"}}}


def test_inline_model_paths_resolve_against_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "d.yml", "name: blue\nendpoint_name: bank\nmodel: {path: ./model}\n")
    assert load_deployment_spec(path).inline_model_path == str(tmp_path / "model")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: b\nendpoint_name: bank\nmodel: azureml:m:1\n",
            "line 1: name: invalid deployment name 'b'",
        ),
        ("name: blue\nendpoint_name: bank\n", "needs a model"),
        (
            "name: blue\nendpoint_name: bank\nmodel: x:1\ninstance_count: 0\n",
            "line 4: instance_count",
        ),
        (
            "name: blue\nendpoint_name: bank\nmodel: x:1\nrequest_settings: {request_timeout_ms: -1}\n",
            "request_settings.request_timeout_ms",
        ),
    ],
)
def test_bad_deployments_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message.replace("(", "\\(")):
        load_deployment_spec(_write(tmp_path, "d.yml", text))


def test_traffic_must_be_percentages_adding_to_100(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="traffic weights must add up to 100"):
        load_endpoint_spec(
            _write(tmp_path, "e.yml", "name: bank\ntraffic: {blue: 60, green: 30}\n")
        )
    with pytest.raises(SpecError, match="whole number 0-100"):
        load_endpoint_spec(_write(tmp_path, "e.yml", "name: bank\ntraffic: {blue: 150}\n"))
    with pytest.raises(SpecError, match="aad_token"):
        load_endpoint_spec(_write(tmp_path, "e.yml", "name: bank\nauth_mode: aad_token\n"))
