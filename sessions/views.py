"""REST API of test sessions (SPEC §2): thin, over services and selectors.

Who may do what: every role reads; testers (and operators) create sessions
and run workflows; only the session's tester or an operator changes, cleans
up or runs workflows in a session. A tester may create a session only for
themselves; an operator for any tester.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from sessions import exports, selectors, services
from sessions.models import TestSession
from sessions.serializers import (
    CleanupReportSerializer,
    ResultCreateSerializer,
    ResultListQuerySerializer,
    SessionCreateSerializer,
    SessionListQuerySerializer,
    SessionUpdateSerializer,
    TestResultSerializer,
    TestSessionDetailSerializer,
    TestSessionSerializer,
)
from testenv.api import (
    IgnoreFormatParamNegotiation,
    WorkflowThrottle,
    error_responses,
    paginate,
)
from testenv.permissions import HasAnyRole, IsOwnerOrOperatorForWrites, IsTester
from testenv.roles import is_operator

SESSION_ID = OpenApiParameter(
    "id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Session id."
)


def _query(serializer_class, request: Request) -> dict:
    # An empty filter (``?status=``) means no filter, not a bad value.
    params = {k: v for k, v in request.query_params.items() if v != ""}
    query = serializer_class(data=params)
    query.is_valid(raise_exception=True)
    return query.validated_data


class SessionViewSet(viewsets.GenericViewSet):
    """Sessions and the workflows run in them."""

    serializer_class = TestSessionSerializer
    # ?format= names the export format of the report, not a DRF renderer.
    content_negotiation_class = IgnoreFormatParamNegotiation
    owner_field = "tester_id"
    lookup_url_kwarg = "id"

    def get_queryset(self):
        return selectors.session_list()

    def get_permissions(self):
        if self.action in {"list", "retrieve", "report", "results"}:
            return [HasAnyRole()]
        if self.action == "create":
            return [IsTester()]
        return [IsTester(), IsOwnerOrOperatorForWrites()]

    def get_throttles(self):
        if self.action == "run_workflow":
            return [WorkflowThrottle()]
        return super().get_throttles()

    def get_object(self) -> TestSession:
        session = selectors.session_get(self.kwargs[self.lookup_url_kwarg])
        self.check_object_permissions(self.request, session)
        return session

    # ------------------------------------------------------------ handlers

    @extend_schema(
        summary="List sessions",
        parameters=[SessionListQuerySerializer],
        responses={200: TestSessionSerializer(many=True)},
    )
    def list(self, request: Request) -> Response:
        query = _query(SessionListQuerySerializer, request)
        sessions = selectors.session_list(
            status=query.get("status"), tester_id=query.get("tester_id")
        )
        return paginate(self, sessions, TestSessionSerializer)

    @extend_schema(
        summary="Create a session (ACTIVE)",
        request=SessionCreateSerializer,
        responses={
            201: TestSessionSerializer,
            **error_responses(
                409,
                e409="The tester already has an ACTIVE session, or an "
                "ACTIVE session has this name.",
            ),
        },
    )
    def create(self, request: Request) -> Response:
        data = SessionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values["tester_id"] != request.user.pk and not is_operator(request.user):
            raise PermissionDenied("Testers may only create sessions for themselves.")
        session = services.session_create(actor=request.user, **values)
        return Response(
            TestSessionSerializer(session).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        summary="A session with its newest 100 results, feedback and health checks",
        parameters=[SESSION_ID],
        responses={200: TestSessionDetailSerializer},
    )
    def retrieve(self, request: Request, id: str) -> Response:
        return Response(TestSessionDetailSerializer(self.get_object()).data)

    @extend_schema(
        summary="Change the status and/or the configuration",
        parameters=[SESSION_ID],
        request=SessionUpdateSerializer,
        responses={
            200: TestSessionSerializer,
            **error_responses(
                409,
                e409="Illegal status transition, or resuming would make a "
                "second ACTIVE session.",
            ),
        },
    )
    def partial_update(self, request: Request, id: str) -> Response:
        session = self.get_object()
        data = SessionUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.session_update(
            session=session, actor=request.user, **data.validated_data
        )
        return Response(TestSessionSerializer(session).data)

    @extend_schema(
        summary="Undo what the session's workflows created (keeps feedback)",
        parameters=[SESSION_ID],
        responses={
            200: CleanupReportSerializer,
            **error_responses(409, e409="Another cleanup of it is running."),
        },
    )
    def cleanup(self, request: Request, id: str) -> Response:
        report = services.session_cleanup(session=self.get_object(), actor=request.user)
        return Response(CleanupReportSerializer(report).data)

    @extend_schema(
        summary="Export the session (JSON, CSV, JUnit XML or Markdown)",
        parameters=[
            SESSION_ID,
            OpenApiParameter(
                "format",
                str,
                OpenApiParameter.QUERY,
                enum=[*exports.FORMATS],
                default="json",
                description="json (default), csv, junit (JUnit XML: the session "
                "is a test suite) or md (Markdown summary for stakeholders).",
            ),
        ],
        responses={
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="The session, summary and results."
            ),
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="One row per result."
            ),
            (200, "application/xml"): OpenApiResponse(
                OpenApiTypes.STR, description="JUnit XML."
            ),
            (200, "text/markdown"): OpenApiResponse(
                OpenApiTypes.STR, description="Markdown summary."
            ),
        },
    )
    def report(self, request: Request, id: str) -> HttpResponse | Response:
        session = self.get_object()
        export = exports.export_session(session, request.query_params.get("format"))
        if export.media_type == "application/json":
            return Response(export.data)
        response = HttpResponse(export.body, content_type=export.content_type)
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        return response

    @extend_schema(
        summary="Results of a session, newest first",
        parameters=[SESSION_ID, ResultListQuerySerializer],
        responses={200: TestResultSerializer(many=True)},
    )
    def results(self, request: Request, id: str) -> Response:
        session = self.get_object()
        query = _query(ResultListQuerySerializer, request)
        results = selectors.session_results(
            session, endpoint_id=query.get("endpoint_id")
        )
        return paginate(self, results, TestResultSerializer)

    @extend_schema(
        summary="Run workflow test_name on endpoint_id and record the result",
        parameters=[SESSION_ID],
        request=ResultCreateSerializer,
        responses={
            201: TestResultSerializer,
            **error_responses(
                409, e409="The session is not ACTIVE, or the endpoint is disabled."
            ),
        },
        examples=[
            OpenApiExample(
                "Yunite lookup",
                value={
                    "endpoint_id": 1,
                    "test_name": "yunite_user_lookup",
                    "test_data": {"discord_user_id": "123456789012345678"},
                },
                request_only=True,
            )
        ],
    )
    def run_workflow(self, request: Request, id: str) -> Response:
        session = self.get_object()
        data = ResultCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        result = services.workflow_run_in_session(
            session=session,
            endpoint=values["endpoint_id"],
            test_name=values["test_name"],
            test_data=values.get("test_data") or {},
            user=request.user,
        )
        return Response(
            TestResultSerializer(result).data, status=status.HTTP_201_CREATED
        )
