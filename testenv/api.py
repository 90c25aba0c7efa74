"""Shared pieces of the REST API: pagination, throttles, schema helpers.

Every app's API uses these so that the whole of ``/testing/`` behaves alike:

- ``OptionalLimitOffsetPagination``: a list is a plain JSON array; with
  ``?limit=`` and/or ``?offset=`` it is a page ``{count, next, previous,
  results}``. Bad values are a 400, not silently ignored.
- ``FeedbackThrottle`` (scope ``feedback``) and ``WorkflowThrottle`` (scope
  ``workflow``): per-user rates from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``
  (env ``THROTTLE_FEEDBACK`` / ``THROTTLE_WORKFLOW``), counted on unsafe
  methods only, so the same view can list freely and throttle submissions.
- ``error_responses(...)`` for ``extend_schema(responses=...)`` and
  ``postprocess_error_responses``, the drf-spectacular hook that documents the
  error envelope on every operation.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import caches
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import UserRateThrottle

# ---------------------------------------------------------------- pagination

DEFAULT_PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 1000


def _query_int(request, name: str, *, minimum: int, maximum: int | None) -> int:
    raw = request.query_params.get(name, "")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValidationError({name: ["A whole number is required."]}) from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum else f">= {minimum}"
        raise ValidationError({name: [f"Must be {bound}."]})
    return value


class OptionalLimitOffsetPagination(LimitOffsetPagination):
    """Plain array unless ``limit`` or ``offset`` is given; then a page."""

    default_limit = DEFAULT_PAGE_LIMIT
    max_limit = MAX_PAGE_LIMIT
    template = None

    def _wants_page(self, request) -> bool:
        params = request.query_params
        return self.limit_query_param in params or self.offset_query_param in params

    def get_limit(self, request) -> int | None:
        if not self._wants_page(request):
            return None
        if self.limit_query_param not in request.query_params:
            return self.default_limit
        return _query_int(
            request, self.limit_query_param, minimum=1, maximum=self.max_limit
        )

    def get_offset(self, request) -> int:
        if self.offset_query_param not in request.query_params:
            return 0
        return _query_int(request, self.offset_query_param, minimum=0, maximum=None)

    def paginate_queryset(self, queryset, request, view=None):
        # Validate offset even when the limit alone decides that we page.
        if self._wants_page(request):
            self.get_offset(request)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response_schema(self, schema: dict) -> dict:
        page = super().get_paginated_response_schema(schema)
        page["required"] = ["count", "next", "previous", "results"]
        page["description"] = "A page: returned when ?limit= or ?offset= is given."
        return {"oneOf": [schema, page]}

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": self.limit_query_param,
                "required": False,
                "in": "query",
                "description": (
                    "Page size; with limit or offset the answer is a page object "
                    "instead of a plain array."
                ),
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_limit},
            },
            {
                "name": self.offset_query_param,
                "required": False,
                "in": "query",
                "description": "Index of the first result of the page.",
                "schema": {"type": "integer", "minimum": 0},
            },
        ]


def paginate(view, queryset, serializer_class, **serializer_kwargs):
    """List ``queryset`` with ``view``'s paginator: a Response, array or page."""
    from rest_framework.response import Response

    page = view.paginate_queryset(queryset)
    context = {"request": view.request, **serializer_kwargs.pop("context", {})}
    if page is not None:
        data = serializer_class(page, many=True, context=context, **serializer_kwargs)
        return view.get_paginated_response(data.data)
    data = serializer_class(queryset, many=True, context=context, **serializer_kwargs)
    return Response(data.data)


# ------------------------------------------------------------------ throttles


class _UnsafeMethodRateThrottle(UserRateThrottle):
    """A per-user rate on unsafe methods; rates read at request time.

    DRF binds ``THROTTLE_RATES`` when the module is imported, so a changed
    setting (an operator's env, a test's override) would be ignored; this reads
    the live settings instead. The counters live in the cache named by
    ``settings.API_THROTTLE_CACHE`` (default: ``default``); point it at a Redis
    cache when several web processes serve the API, or each counts alone.
    """

    def get_rate(self) -> str | None:
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        return rates.get(self.scope)

    @property
    def cache(self):  # type: ignore[override]
        return caches[getattr(settings, "API_THROTTLE_CACHE", "default")]

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)


class FeedbackThrottle(_UnsafeMethodRateThrottle):
    """Feedback submissions and attachment uploads per user."""

    scope = "feedback"


class WorkflowThrottle(_UnsafeMethodRateThrottle):
    """Workflow runs (POST /testing/sessions/{id}/results) per user."""

    scope = "workflow"


# ---------------------------------------------------------- content negotiation


class _NoFormatOverride:
    URL_FORMAT_OVERRIDE = None


class IgnoreFormatParamNegotiation(DefaultContentNegotiation):
    """Content negotiation that leaves ``?format=`` to the view.

    DRF reads ``?format=`` as a renderer name and answers 404 for one it does
    not know (``csv``, ``junit``); export views use the parameter themselves.
    """

    settings = _NoFormatOverride()


# ------------------------------------------------------------- schema helpers

ERROR_COMPONENT = "ErrorEnvelope"


class ErrorEnvelopeSerializer(serializers.Serializer):
    """The body of every error response."""

    error = serializers.CharField(
        help_text="Machine-readable code: validation_error, not_authenticated, "
        "permission_denied, not_found, method_not_allowed, conflict, throttled, ..."
    )
    message = serializers.CharField(help_text="Human-readable explanation.")
    details = serializers.DictField(
        child=serializers.JSONField(),
        help_text="Field errors for validation_error; retry_after_seconds for "
        "throttled; otherwise usually empty.",
    )

    class Meta:
        ref_name = ERROR_COMPONENT


ERROR_DESCRIPTIONS = {
    400: "Bad input (details name the fields).",
    401: "Not authenticated.",
    403: "Authenticated, but the role or ownership does not allow it.",
    404: "No such object or route.",
    405: "Method not allowed.",
    406: "The Accept header asks for a type the API does not produce.",
    409: "Conflicts with the current state.",
    413: "The request body is too large.",
    415: "Unsupported request content type.",
    429: "Throttled; details.retry_after_seconds says when to retry.",
    500: "Unexpected server error.",
}


def error_responses(*codes: int, **descriptions: str) -> dict[int, OpenApiResponse]:
    """``{code: OpenApiResponse(ErrorEnvelope)}`` for ``extend_schema``.

    Keyword arguments ``e409="..."`` override a code's description.
    """
    return {
        code: OpenApiResponse(
            ErrorEnvelopeSerializer,
            description=descriptions.get(f"e{code}", ERROR_DESCRIPTIONS[code]),
        )
        for code in codes
    }


_ENVELOPE_SCHEMA = {
    "type": "object",
    "description": "The body of every error response.",
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "details": {"type": "object", "additionalProperties": {}},
    },
    "required": ["error", "message", "details"],
}


def postprocess_error_responses(result: dict, generator, request, public) -> dict:
    """Document the error envelope on every operation (drf-spectacular hook).

    Every operation can answer 401, 403, 406, 429 and 500; those with path
    parameters 404; those with query parameters or a body 400; those with a
    body 413 and 415. Views add the specific ones (409) with
    ``error_responses``. An explicit response of a view is never replaced.
    """
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(ERROR_COMPONENT, _ENVELOPE_SCHEMA)
    ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            params = operation.get("parameters", [])
            codes = {401, 403, 406, 429, 500}
            if any(p.get("in") == "path" for p in params):
                codes.add(404)
            if any(p.get("in") == "query" for p in params):
                codes.add(400)
            if "requestBody" in operation:
                codes |= {400, 413, 415}
            responses = operation.setdefault("responses", {})
            for code in sorted(codes):
                responses.setdefault(
                    str(code),
                    {
                        "description": ERROR_DESCRIPTIONS[code],
                        "content": {"application/json": {"schema": ref}},
                    },
                )
    return result


__all__ = [
    "ERROR_COMPONENT",
    "ErrorEnvelopeSerializer",
    "FeedbackThrottle",
    "IgnoreFormatParamNegotiation",
    "OptionalLimitOffsetPagination",
    "WorkflowThrottle",
    "error_responses",
    "paginate",
    "postprocess_error_responses",
]
