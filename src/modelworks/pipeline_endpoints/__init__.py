"""Published pipelines: a job definition behind a REST endpoint with keys
(``ws.pipeline_endpoints``, ``modelworks pipeline publish``)."""

from modelworks.pipeline_endpoints.entities import (
    PipelineEndpoint,
    PipelineEndpointRun,
    PipelineEndpointVersion,
)

__all__ = ["PipelineEndpoint", "PipelineEndpointRun", "PipelineEndpointVersion"]
