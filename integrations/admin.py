"""Operator admin for endpoints, health history, alerts and notification channels."""

from __future__ import annotations

import json
import logging

from django import forms
from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery
from django.utils.html import format_html

from integrations.models import (
    Alert,
    AuditEvent,
    Compensation,
    HealthAggregate,
    IntegrationEndpoint,
    IntegrationHealthStatus,
    NotificationChannel,
)

logger = logging.getLogger(__name__)

STATUS_COLOURS = {
    "HEALTHY": "#1a7f37",
    "DEGRADED": "#9a6700",
    "UNHEALTHY": "#cf222e",
    "TIMEOUT": "#8250df",
}


def status_badge(status: str | None) -> str:
    if not status:
        return "—"
    return format_html(
        '<strong style="color:{}">{}</strong>',
        STATUS_COLOURS.get(status, "#000"),
        status,
    )


class WriteOnlyTextarea(forms.Textarea):
    """Never renders a value back, not even the one just submitted."""

    def format_value(self, value):
        return None


class EndpointAdminForm(forms.ModelForm):
    """Credentials are write-only: typed in, encrypted, never shown back."""

    credentials = forms.CharField(
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text=(
            'A JSON object, e.g. {"api_token": "…"}. Stored encrypted and never '
            "shown again; leave empty to keep the stored credentials."
        ),
    )
    clear_credentials = forms.BooleanField(
        required=False, help_text="Remove the stored credentials."
    )

    class Meta:
        model = IntegrationEndpoint
        fields = (
            "name",
            "kind",
            "mode",
            "enabled",
            "base_url",
            "health_check_url",
            "auth_type",
            "timeout_seconds",
            "retry_attempts",
            "rate_limit_per_minute",
            "check_interval_seconds",
            "startup_grace_seconds",
            "latency_threshold_ms",
            "failure_threshold",
            "recovery_threshold",
            "settings",
        )

    def clean_credentials(self) -> dict | None:
        raw = self.cleaned_data.get("credentials", "").strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            # The message must not echo the secret back.
            raise forms.ValidationError(
                f"Not valid JSON (line {exc.lineno}, column {exc.colno})."
            ) from None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str | int | float | bool)
            for k, v in value.items()
        ):
            raise forms.ValidationError("Give a JSON object of names to values.")
        return value

    def save(self, commit: bool = True) -> IntegrationEndpoint:
        endpoint = super().save(commit=False)
        if self.cleaned_data.get("clear_credentials"):
            endpoint.set_credentials(None)
        elif self.cleaned_data.get("credentials"):
            endpoint.set_credentials(self.cleaned_data["credentials"])
        if commit:
            endpoint.save()
        return endpoint


def _latest(field: str):
    return Subquery(
        IntegrationHealthStatus.objects.filter(endpoint=OuterRef("pk"))
        .order_by("-checked_at", "-id")
        .values(field)[:1]
    )


@admin.register(IntegrationEndpoint)
class IntegrationEndpointAdmin(admin.ModelAdmin):
    form = EndpointAdminForm
    list_display = (
        "name",
        "kind",
        "mode",
        "enabled",
        "latest_status",
        "latest_response_ms",
        "last_checked_at",
        "check_interval_seconds",
        "rate_limit_per_minute",
        "credentials_stored",
    )
    list_filter = ("kind", "mode", "enabled", "auth_type")
    search_fields = ("name", "base_url", "health_check_url")
    readonly_fields = (
        "credentials_stored",
        "latency_baseline_ms",
        "came_up_at",
        "last_checked_at",
        "next_check_at",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "kind", "mode", "enabled")}),
        ("Where", {"fields": ("base_url", "health_check_url")}),
        (
            "Credentials (write-only)",
            {
                "fields": (
                    "auth_type",
                    "credentials_stored",
                    "credentials",
                    "clear_credentials",
                )
            },
        ),
        (
            "Calls",
            {"fields": ("timeout_seconds", "retry_attempts", "rate_limit_per_minute")},
        ),
        (
            "Health checks",
            {
                "fields": (
                    "check_interval_seconds",
                    "startup_grace_seconds",
                    "latency_threshold_ms",
                    "failure_threshold",
                    "recovery_threshold",
                    "latency_baseline_ms",
                    "came_up_at",
                    "last_checked_at",
                    "next_check_at",
                )
            },
        ),
        ("Kind-specific settings", {"fields": ("settings",)}),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )
    actions = ("check_now", "enable", "disable")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _latest_status=_latest("status"), _latest_ms=_latest("response_time_ms")
            )
        )

    @admin.display(description="Status", ordering="_latest_status")
    def latest_status(self, obj: IntegrationEndpoint) -> str:
        return status_badge(getattr(obj, "_latest_status", None))

    @admin.display(description="Latency (ms)", ordering="_latest_ms")
    def latest_response_ms(self, obj: IntegrationEndpoint):
        return getattr(obj, "_latest_ms", None)

    @admin.display(description="Credentials", boolean=True)
    def credentials_stored(self, obj: IntegrationEndpoint) -> bool:
        return obj.has_credentials()

    @admin.action(description="Check now")
    def check_now(self, request, queryset) -> None:
        from integrations.services import endpoint_check

        for endpoint in queryset:
            try:
                row = endpoint_check(endpoint)
            except Exception as exc:  # report, keep going with the others
                logger.exception("check of %s failed", endpoint.name)
                self.message_user(
                    request, f"{endpoint.name}: check failed: {exc}", messages.ERROR
                )
                continue
            level = messages.SUCCESS if row.status == "HEALTHY" else messages.WARNING
            detail = f" ({row.error_message})" if row.error_message else ""
            self.message_user(
                request,
                f"{endpoint.name}: {row.status} in {row.response_time_ms} ms{detail}",
                level,
            )

    @admin.action(description="Enable checks")
    def enable(self, request, queryset) -> None:
        for endpoint in queryset:
            endpoint.enabled = True
            endpoint.save(update_fields=["enabled", "updated_at"])

    @admin.action(description="Disable checks")
    def disable(self, request, queryset) -> None:
        for endpoint in queryset:
            endpoint.enabled = False
            endpoint.save(update_fields=["enabled", "updated_at"])


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is evidence: operators read it, nobody edits it."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(IntegrationHealthStatus)
class IntegrationHealthStatusAdmin(ReadOnlyAdmin):
    list_display = (
        "checked_at",
        "endpoint",
        "coloured_status",
        "response_time_ms",
        "status_code",
        "short_error",
        "session",
    )
    list_filter = ("status", "endpoint", ("checked_at", admin.DateFieldListFilter))
    list_select_related = ("endpoint", "session")
    date_hierarchy = "checked_at"
    search_fields = ("error_message", "endpoint__name")
    show_full_result_count = False  # COUNT(*) over a million rows is slow

    @admin.display(description="Status", ordering="status")
    def coloured_status(self, obj: IntegrationHealthStatus) -> str:
        return status_badge(obj.status)

    @admin.display(description="Error")
    def short_error(self, obj: IntegrationHealthStatus) -> str:
        return (
            (obj.error_message[:80] + "…")
            if len(obj.error_message) > 80
            else obj.error_message
        )


@admin.register(HealthAggregate)
class HealthAggregateAdmin(ReadOnlyAdmin):
    list_display = (
        "hour",
        "endpoint",
        "count",
        "failures",
        "p50_ms",
        "p95_ms",
        "p99_ms",
    )
    list_filter = ("endpoint",)
    date_hierarchy = "hour"


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("opened_at", "endpoint", "kind", "state", "resolved_at", "message")
    list_filter = ("state", "kind", "endpoint")
    list_select_related = ("endpoint",)
    search_fields = ("message", "endpoint__name")
    readonly_fields = [f.name for f in Alert._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


class NotificationChannelForm(forms.ModelForm):
    url = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=(
            "An Apprise URL (discord://…, mailto://…, slack://…). Stored encrypted, "
            "never shown again; leave empty to keep the stored one."
        ),
    )

    class Meta:
        model = NotificationChannel
        fields = ("name", "enabled")

    def clean(self):
        cleaned = super().clean()
        if not self.instance.pk and not cleaned.get("url"):
            self.add_error("url", "A new channel needs a URL.")
        return cleaned

    def save(self, commit: bool = True) -> NotificationChannel:
        channel = super().save(commit=False)
        if self.cleaned_data.get("url"):
            channel.set_url(self.cleaned_data["url"])
        if commit:
            channel.save()
        return channel


@admin.register(NotificationChannel)
class NotificationChannelAdmin(admin.ModelAdmin):
    form = NotificationChannelForm
    list_display = ("name", "enabled", "last_sent_at", "last_error")
    readonly_fields = ("last_sent_at", "last_error")


@admin.register(Compensation)
class CompensationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "session", "workflow", "action", "state", "done_at")
    list_filter = ("state", "workflow")
    list_select_related = ("session",)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor", "source", "action", "target_type", "target_id")
    list_filter = ("source", "action", "target_type")
    search_fields = ("target_id", "actor__username", "action")
    date_hierarchy = "at"
    list_select_related = ("actor",)
