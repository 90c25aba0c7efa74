"""REST API of integration endpoints and their health (SPEC §2).

Every role reads; testers and operators may run a check now; only operators
edit endpoints. Credentials are write-only: responses carry
``has_credentials`` and never a secret.
"""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from integrations import selectors
from integrations.models import IntegrationEndpoint
from integrations.serializers import (
    HealthStatusSerializer,
    IntegrationEndpointSerializer,
    IntegrationEndpointUpdateSerializer,
    RateLimitStatusSerializer,
)
from testenv.api import IgnoreFormatParamNegotiation, paginate
from testenv.audit import audit
from testenv.permissions import HasAnyRole, IsOperator, IsTester

ENDPOINT_ID = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Endpoint id."
)


class IntegrationViewSet(viewsets.GenericViewSet):
    """Integration endpoints."""

    serializer_class = IntegrationEndpointSerializer
    # JSON only: a stray ?format= must not turn into DRF's renderer 404.
    content_negotiation_class = IgnoreFormatParamNegotiation
    lookup_url_kwarg = "id"

    def get_queryset(self):
        return selectors.endpoint_list_with_latest()

    def get_permissions(self):
        if self.action == "partial_update":
            return [IsOperator()]
        if self.action == "check_now":
            return [IsTester()]
        return [HasAnyRole()]

    def get_object(self) -> IntegrationEndpoint:
        endpoint = selectors.endpoint_get(self.kwargs[self.lookup_url_kwarg])
        self.check_object_permissions(self.request, endpoint)
        return endpoint

    @extend_schema(
        summary="Endpoints with their latest health status",
        responses={200: IntegrationEndpointSerializer(many=True)},
    )
    def list(self, request: Request) -> Response:
        return paginate(
            self, selectors.endpoint_list_with_latest(), IntegrationEndpointSerializer
        )

    @extend_schema(
        summary="One endpoint with its latest health status",
        parameters=[ENDPOINT_ID],
        responses={200: IntegrationEndpointSerializer},
    )
    def retrieve(self, request: Request, id: int) -> Response:
        return Response(IntegrationEndpointSerializer(self.get_object()).data)

    @extend_schema(
        summary="Edit an endpoint (operators)",
        parameters=[ENDPOINT_ID],
        request=IntegrationEndpointUpdateSerializer,
        responses={200: IntegrationEndpointSerializer},
    )
    def partial_update(self, request: Request, id: int) -> Response:
        endpoint = self.get_object()
        data = IntegrationEndpointUpdateSerializer(
            endpoint, data=request.data, partial=True
        )
        data.is_valid(raise_exception=True)
        before = {
            name: getattr(endpoint, name)
            for name in data.validated_data
            if name != "credentials"
        }
        with transaction.atomic():
            data.save()
            changes = {
                name: [before[name], getattr(endpoint, name)]
                for name in before
                if before[name] != getattr(endpoint, name)
            }
            if "credentials" in data.validated_data:
                changes["credentials"] = "replaced"
            audit(request.user, "endpoint.update", endpoint, changes)
        return Response(IntegrationEndpointSerializer(self.get_object()).data)

    @extend_schema(
        summary="Latest health status (404 before the first check)",
        parameters=[ENDPOINT_ID],
        responses={200: HealthStatusSerializer},
    )
    def health(self, request: Request, id: int) -> Response:
        latest = selectors.endpoint_latest_health(self.get_object())
        return Response(HealthStatusSerializer(latest).data)

    @extend_schema(
        summary="Run a health check now and return it",
        parameters=[ENDPOINT_ID],
        request=None,
        responses={200: HealthStatusSerializer},
    )
    def check_now(self, request: Request, id: int) -> Response:
        from integrations.services import endpoint_check

        endpoint = self.get_object()
        row = endpoint_check(endpoint)
        audit(
            request.user,
            "endpoint.check",
            endpoint,
            {"health_status_id": row.pk, "status": row.status},
        )
        return Response(HealthStatusSerializer(row).data)

    @extend_schema(
        summary="Outbound budget left, next slot, last Retry-After seen",
        parameters=[ENDPOINT_ID],
        responses={200: RateLimitStatusSerializer},
    )
    def rate_limit_status(self, request: Request, id: int) -> Response:
        from integrations.http import rate_limit_status

        endpoint = self.get_object()
        status = {"endpoint_id": endpoint.pk, **rate_limit_status(endpoint)}
        return Response(RateLimitStatusSerializer(status).data)
