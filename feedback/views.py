"""REST API of feedback (SPEC §2): thin, over services and selectors.

Who may do what: testers (and operators) submit; every role reads and
downloads attachments; the reporter, product owners and operators add
attachments; product owners and operators triage (PATCH). An authenticated
user without a role gets 403. The GitHub webhook has no user authentication:
its HMAC signature is the authentication.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from feedback import selectors, services, webhooks
from feedback.conf import conf
from feedback.models import FeedbackReport
from feedback.serializers import (
    AttachmentUploadSerializer,
    FeedbackAttachmentSerializer,
    FeedbackReportSerializer,
    FeedbackSubmitSerializer,
    FeedbackTriageSerializer,
)
from testenv.api import FeedbackThrottle, error_responses, paginate
from testenv.errors import PayloadTooLarge
from testenv.observability import current_trace_id
from testenv.permissions import HasAnyRole, IsProductOwner, IsTester
from testenv.roles import is_product_owner

logger = logging.getLogger(__name__)

REPORT_ID = OpenApiParameter(
    "id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Report id."
)
ATTACHMENT_ID = OpenApiParameter(
    "attachment_id",
    OpenApiTypes.UUID,
    OpenApiParameter.PATH,
    description="Attachment id.",
)
# Multipart framing and form fields around the files themselves.
MULTIPART_OVERHEAD = 1024 * 1024


class FeedbackListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=FeedbackReport.Status.choices, required=False
    )
    priority = serializers.ChoiceField(
        choices=FeedbackReport.Priority.choices, required=False
    )
    category = serializers.ChoiceField(
        choices=FeedbackReport.Category.choices, required=False
    )
    sync_state = serializers.ChoiceField(
        choices=FeedbackReport.SyncState.choices, required=False
    )
    session_id = serializers.UUIDField(required=False)


def _refuse_oversized_body(request: Request, allowed: int) -> None:
    # Before DRF parses (and Django spools) a multipart body far over the cap.
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > allowed:
        raise PayloadTooLarge(
            f"The request is {length} bytes; attachments are limited to "
            f"{conf('FEEDBACK_ATTACHMENT_MAX_BYTES')} bytes each."
        )


def _origin(request: Request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


class FeedbackViewSet(viewsets.GenericViewSet):
    """Feedback reports and their attachments."""

    serializer_class = FeedbackReportSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    lookup_url_kwarg = "id"

    def get_queryset(self):
        return selectors.feedback_list()

    def get_permissions(self):
        if self.action == "create":
            return [IsTester()]
        if self.action == "partial_update":
            return [IsProductOwner()]
        return [HasAnyRole()]

    def get_throttles(self):
        if self.action in {"create", "upload_attachment"}:
            return [FeedbackThrottle()]
        return super().get_throttles()

    def get_object(self) -> FeedbackReport:
        return selectors.feedback_get(self.kwargs[self.lookup_url_kwarg])

    @extend_schema(
        summary="List feedback reports",
        parameters=[FeedbackListQuerySerializer],
        responses={200: FeedbackReportSerializer(many=True)},
    )
    def list(self, request: Request) -> Response:
        query = FeedbackListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        reports = selectors.feedback_list(**query.validated_data)
        return paginate(self, reports, FeedbackReportSerializer)

    @extend_schema(
        summary="Submit feedback (the GitHub issue is created in the background)",
        request={
            "application/json": FeedbackSubmitSerializer,
            "multipart/form-data": FeedbackSubmitSerializer,
        },
        responses={
            201: OpenApiResponse(
                FeedbackReportSerializer,
                description="Stored; sync_state PENDING (or DISABLED without "
                "GitHub settings).",
            ),
            **error_responses(
                413,
                415,
                e413="An attachment is over FEEDBACK_ATTACHMENT_MAX_BYTES.",
                e415="An attachment's content is not an allowed type.",
            ),
        },
    )
    def create(self, request: Request) -> Response:
        _refuse_oversized_body(
            request,
            conf("FEEDBACK_ATTACHMENT_MAX_BYTES")
            * conf("FEEDBACK_MAX_ATTACHMENTS_PER_REPORT")
            + MULTIPART_OVERHEAD,
        )
        data = FeedbackSubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        uploads = values.pop("files", [])
        if "session_id" in values:
            values["session"] = values.pop("session_id")
        report = services.feedback_submit(
            reporter=request.user,
            uploads=uploads,
            submitted_from=_origin(request),
            trace_id=current_trace_id(),
            **values,
        )
        report = selectors.feedback_get(report.pk)
        return Response(
            FeedbackReportSerializer(report, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="A feedback report with its attachments and sync state",
        parameters=[REPORT_ID],
        responses={200: FeedbackReportSerializer},
    )
    def retrieve(self, request: Request, id: str) -> Response:
        return Response(
            FeedbackReportSerializer(
                self.get_object(), context={"request": request}
            ).data
        )

    @extend_schema(
        summary="Triage: change status and/or priority (product owners)",
        parameters=[REPORT_ID],
        request=FeedbackTriageSerializer,
        responses={200: FeedbackReportSerializer},
    )
    def partial_update(self, request: Request, id: str) -> Response:
        report = self.get_object()
        data = FeedbackTriageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.feedback_triage(
            report=report, actor=request.user, **data.validated_data
        )
        return Response(
            FeedbackReportSerializer(
                selectors.feedback_get(report.pk), context={"request": request}
            ).data
        )

    @extend_schema(
        summary="Upload an attachment (multipart field 'file')",
        parameters=[REPORT_ID],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={
            201: FeedbackAttachmentSerializer,
            **error_responses(
                413,
                415,
                e413="The file is over FEEDBACK_ATTACHMENT_MAX_BYTES.",
                e415="The file's content is not an allowed type.",
            ),
        },
    )
    def upload_attachment(self, request: Request, id: str) -> Response:
        report = self.get_object()
        user = request.user
        if report.reported_by_id != user.pk and not is_product_owner(user):
            raise exceptions.PermissionDenied(
                "Only the reporter, product owners and operators add attachments."
            )
        _refuse_oversized_body(
            request, conf("FEEDBACK_ATTACHMENT_MAX_BYTES") + MULTIPART_OVERHEAD
        )
        data = AttachmentUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        attachment = services.attachment_add(
            report=report, upload=data.validated_data["file"], actor=user
        )
        return Response(
            FeedbackAttachmentSerializer(attachment, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="Download an attachment (signed-in users with a role)",
        parameters=[REPORT_ID, ATTACHMENT_ID],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file, as an attachment."
            )
        },
    )
    def download_attachment(
        self, request: Request, id: str, attachment_id: str
    ) -> FileResponse:
        report = self.get_object()
        attachment = selectors.attachment_get(report, attachment_id)
        try:
            handle = attachment.file.open("rb")
        except FileNotFoundError as exc:
            raise exceptions.NotFound("The attachment's file is missing.") from exc
        content_type = attachment.content_type
        if content_type.startswith("text/") or content_type == "application/json":
            content_type += "; charset=utf-8"
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=attachment.filename,
            content_type=content_type,
        )
        # Never rendered as a page of ours, whatever the bytes are.
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response


class GitHubWebhookView(APIView):
    """POST /testing/github/webhook: GitHub ``issues`` events.

    Authenticated by the HMAC signature, not by a user: 401 without
    ``X-Hub-Signature-256``, 403 when it does not match (or no secret is
    configured); nothing is parsed or stored before the check passes.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    # Declared for the schema only: request.data is never read, the raw body
    # is (the signature covers its exact bytes).
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        summary="GitHub webhook (issues events), HMAC-verified",
        request={
            "application/json": OpenApiTypes.OBJECT,
            "application/x-www-form-urlencoded": OpenApiTypes.OBJECT,
        },
        parameters=[
            OpenApiParameter(
                "X-Hub-Signature-256",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="sha256=<hex HMAC-SHA256 of the raw body>",
            ),
            OpenApiParameter(
                "X-GitHub-Event", str, OpenApiParameter.HEADER, required=True
            ),
            OpenApiParameter(
                "X-GitHub-Delivery", str, OpenApiParameter.HEADER, required=True
            ),
        ],
        responses={
            204: OpenApiResponse(description="Handled, ignored or a replay."),
            **error_responses(400, 401, 403),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        body = request.body
        try:
            webhooks.verify_signature(body, request.headers.get("X-Hub-Signature-256"))
        except webhooks.SignatureMissing as exc:
            raise WebhookUnauthenticated(str(exc)) from exc
        except webhooks.SignatureInvalid as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        event = request.headers.get("X-GitHub-Event", "")
        delivery_id = request.headers.get("X-GitHub-Delivery", "")
        if not event or not delivery_id:
            raise exceptions.ValidationError(
                {"headers": ["X-GitHub-Event and X-GitHub-Delivery are required."]}
            )
        if event == "ping":
            return Response(status=status.HTTP_204_NO_CONTENT)
        try:
            payload = webhooks.parse_payload(_payload_bytes(request, body))
        except ValueError as exc:
            raise exceptions.ValidationError({"body": [str(exc)]}) from exc
        result = webhooks.handle_delivery(
            event=event, delivery_id=delivery_id[:100], payload=payload
        )
        if result.ignored_reason:
            logger.info("webhook %s ignored: %s", delivery_id, result.ignored_reason)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _payload_bytes(request: Request, body: bytes) -> bytes:
    # GitHub sends form-encoded deliveries (payload=<json>) when the hook's
    # content type is application/x-www-form-urlencoded.
    if request.content_type.startswith("application/x-www-form-urlencoded"):
        values = parse_qs(body.decode("utf-8", errors="replace")).get("payload")
        if not values:
            raise ValueError("no payload field in the form body")
        return values[0].encode("utf-8")
    return body


class WebhookUnauthenticated(exceptions.APIException):
    """401 without DRF's downgrade to 403 (the view has no authenticators)."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = "The delivery is not signed."
    default_code = "not_authenticated"
