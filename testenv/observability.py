"""OpenTelemetry wiring: Django and ASGI spans when OTEL_ENABLED is set."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)
_configured = False


def configure_tracing() -> None:
    """Install the tracer provider and the Django instrumentation once."""
    global _configured
    if _configured or not settings.OTEL_ENABLED:
        return
    from opentelemetry import trace
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": "testenv"}))
    provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument()
    _configured = True


def instrument_asgi(app: Any) -> Any:
    # Under daphne Django's own instrumentation sees no request spans; the ASGI
    # middleware provides them.
    if not settings.OTEL_ENABLED:
        return app
    configure_tracing()
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(app)


def current_trace_id() -> str:
    """The hex trace id of the current span, or "" when tracing is off."""
    try:
        from opentelemetry import trace
    except ImportError:  # pragma: no cover - a hard dependency
        return ""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""
