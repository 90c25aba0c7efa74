"""The error envelope ``{error, message, details}`` for every error of the API.

DRF errors go through ``api_exception_handler``; errors Django raises before or
outside DRF (an unknown URL, an unhandled exception) go through the handlers
below, which answer with the envelope under /testing/ and /api/ and with the
usual pages elsewhere (the admin, the dashboard).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

API_PREFIXES = ("/testing/", "/api/")


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The upload is larger than allowed."
    default_code = "payload_too_large"


CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
    503: "unavailable",
}


def envelope(code: str, message: str, details: dict[str, Any] | None = None) -> dict:
    return {"error": code, "message": message, "details": details or {}}


def is_api_path(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIXES)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict
            if hasattr(exc, "error_dict")
            else {"non_field_errors": exc.messages}
        )
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled error in %s", context.get("view"))
        return Response(
            envelope("server_error", "An unexpected error occurred."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    code = CODES.get(response.status_code, "error")
    details: dict[str, Any] = {}
    if isinstance(exc, exceptions.ValidationError):
        code = "validation_error"
        message = "The request is invalid."
        details = (
            exc.detail
            if isinstance(exc.detail, dict)
            else {"non_field_errors": exc.detail}
        )
    elif isinstance(exc, exceptions.APIException):
        message = str(exc.detail)
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            details = {"retry_after_seconds": exc.wait}
        elif isinstance(exc.detail, dict):
            details = exc.detail
            message = str(exc.default_detail)
    else:
        message = str(exc) or response.status_code
    response.data = envelope(code, str(message), details)
    return response


def _json(status_code: int, message: str) -> JsonResponse:
    return JsonResponse(envelope(CODES[status_code], message), status=status_code)


def handler400(
    request: HttpRequest, exception: Exception | None = None
) -> HttpResponse:
    if is_api_path(request):
        return _json(400, "The request is malformed.")
    return defaults.bad_request(request, exception)


def handler403(
    request: HttpRequest, exception: Exception | None = None
) -> HttpResponse:
    if is_api_path(request):
        return _json(403, "You do not have permission to perform this action.")
    return defaults.permission_denied(request, exception)


def handler404(
    request: HttpRequest, exception: Exception | None = None
) -> HttpResponse:
    if is_api_path(request):
        return _json(404, f"No route or object matches {request.path}.")
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if is_api_path(request):
        return _json(500, "An unexpected error occurred.")
    return defaults.server_error(request)


__all__ = [
    "Conflict",
    "Http404",
    "PayloadTooLarge",
    "PermissionDenied",
    "api_exception_handler",
    "envelope",
]
