"""The error envelope ``{error, message, details}`` for every error of the API.

DRF errors go through ``api_exception_handler``; errors Django raises before or
outside DRF (an unknown URL, an unhandled exception) go through the handlers
below, which answer with the envelope under /testing/ and /api/ and with the
usual pages elsewhere (the admin, the dashboard).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    ValidationError,
)
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


class DomainError(Exception):
    """An error a service raises that the API answers with the envelope.

    Services stay free of DRF: they raise ``InputError`` (400), ``NotFoundError``
    (404) or ``ConflictError`` (409) with a message and details, and
    ``api_exception_handler`` turns them into responses.
    """

    status_code = status.HTTP_400_BAD_REQUEST
    code = "bad_request"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InputError(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "validation_error"


class NotFoundError(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


class ConflictError(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


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
    if isinstance(exc, DomainError):
        return Response(
            envelope(exc.code, exc.message, exc.details), status=exc.status_code
        )
    if isinstance(exc, ValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict
            if hasattr(exc, "error_dict")
            else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, RequestDataTooBig):
        # Django raises it while DRF parses the body; it is a 413, not a 500.
        exc = PayloadTooLarge()
    elif isinstance(exc, SuspiciousOperation | BadRequest):
        exc = exceptions.ParseError(str(exc) or "The request is malformed.")
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
        message = str(exc) or str(response.status_code)
    response.data = envelope(code, str(message), details)
    return response


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _max_body() -> int:
    from django.conf import settings

    limit = getattr(settings, "API_MAX_BODY_BYTES", None)
    return int(limit or settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2**62)


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


class ApiErrorEnvelopeMiddleware:
    """Turns every non-JSON error under /testing/ and /api/ into the envelope.

    The handlers above only run with DEBUG off, and Django answers some errors
    itself (CSRF failures, a 405 of a plain view, the technical 404/500 pages
    of DEBUG): this middleware catches what they leave, so a client of the API
    never gets an HTML error page. Place it near the top of MIDDLEWARE.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_path(request) and _declared_length(request) > _max_body():
            # DRF streams a JSON body to the parser without Django's
            # DATA_UPLOAD_MAX_MEMORY_SIZE check: refuse an oversized body here,
            # before anything reads it.
            return _json(413, _DEFAULT_MESSAGES[413])
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and is_api_path(request)
            and not _is_json(response)
            and not getattr(response, "streaming", False)
        ):
            status_code = response.status_code
            enveloped = JsonResponse(
                envelope(
                    CODES.get(status_code, "error"),
                    _DEFAULT_MESSAGES.get(status_code, "The request failed."),
                ),
                status=status_code,
            )
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    enveloped[header] = response[header]
            return enveloped
        return response

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not is_api_path(request):
            return None
        if isinstance(exception, Http404):
            return _json(404, f"No route or object matches {request.path}.")
        if isinstance(exception, PermissionDenied):
            return _json(403, _DEFAULT_MESSAGES[403])
        if isinstance(exception, RequestDataTooBig):
            return _json(413, _DEFAULT_MESSAGES[413])
        if isinstance(exception, SuspiciousOperation | BadRequest):
            return _json(400, _DEFAULT_MESSAGES[400])
        logger.exception("unhandled error at %s", request.path)
        return _json(500, _DEFAULT_MESSAGES[500])


_DEFAULT_MESSAGES = {
    400: "The request is malformed.",
    401: "Authentication credentials were not provided.",
    403: "You do not have permission to perform this action.",
    404: "No route or object matches this URL.",
    405: "Method not allowed.",
    406: "Not acceptable.",
    409: "The request conflicts with the current state.",
    413: "The request body is larger than allowed.",
    415: "Unsupported media type.",
    429: "Too many requests.",
    500: "An unexpected error occurred.",
    503: "The service is unavailable.",
}


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
    "ApiErrorEnvelopeMiddleware",
    "Conflict",
    "ConflictError",
    "DomainError",
    "InputError",
    "NotFoundError",
    "Http404",
    "PayloadTooLarge",
    "PermissionDenied",
    "api_exception_handler",
    "envelope",
]
