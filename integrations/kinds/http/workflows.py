"""Workflows of the generic "http" kind."""

from __future__ import annotations

from pydantic import BaseModel, Field

from integrations.kinds.base import Workflow, WorkflowContext, register_workflow
from integrations.kinds.http.client import HttpServiceClient


class StatusCheckInput(BaseModel):
    path: str = Field(
        default="", description="Path under base_url, or a URL; default the check URL."
    )
    expected_status: int = Field(default=200, ge=100, le=599)
    max_latency_ms: int | None = Field(default=None, gt=0)


@register_workflow
class HttpStatusCheck(Workflow):
    name = "http_status_check"
    kinds = ("http",)
    description = "GET a URL of the endpoint; assert its status code and latency."
    input_model = StatusCheckInput

    def run(self, ctx: WorkflowContext, data: StatusCheckInput) -> None:
        client = HttpServiceClient(ctx.http)
        response = client.fetch(data.path) if data.path else client.status()
        ctx.check_equal("status code", data.expected_status, response.status_code)
        elapsed_ms = ctx.http.exchanges[-1]["elapsed_ms"]
        ctx.notes["elapsed_ms"] = elapsed_ms
        if data.max_latency_ms is not None:
            ctx.check(
                "latency (ms)",
                f"<= {data.max_latency_ms}",
                elapsed_ms,
                elapsed_ms <= data.max_latency_ms,
            )
