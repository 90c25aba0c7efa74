"""Operator admin for test sessions and their results."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction

from sessions.models import IllegalTransition, TestResult, TestSession
from testenv.realtime import broadcast


class TestResultInline(admin.TabularInline):
    model = TestResult
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("test_name", "endpoint", "status", "mode", "duration_ms", "completed_at")
    readonly_fields = fields
    ordering = ("-completed_at",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


def _transition(modeladmin, request, queryset, target: str, verb: str) -> None:
    done = 0
    for session in queryset:
        try:
            with transaction.atomic():
                locked = TestSession.objects.select_for_update().get(pk=session.pk)
                locked.transition_to(
                    target, reason=f"{verb} by {request.user} in the admin"
                )
                locked.save()
                modeladmin.log_change(request, locked, f"{verb} (now {target})")
                broadcast(
                    "session_updated",
                    {
                        "id": str(locked.pk),
                        "status": locked.status,
                        "name": locked.name,
                    },
                )
            done += 1
        except IllegalTransition as exc:
            modeladmin.message_user(request, f"{session.name}: {exc}", messages.WARNING)
    if done:
        modeladmin.message_user(request, f"{done} session(s) {verb}.", messages.SUCCESS)


@admin.register(TestSession)
class TestSessionAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "tester",
        "status",
        "started_at",
        "ended_at",
        "pause_reason",
    )
    list_filter = ("status", ("started_at", admin.DateFieldListFilter))
    search_fields = ("name", "description", "tester__username")
    list_select_related = ("tester",)
    date_hierarchy = "started_at"
    readonly_fields = (
        "id",
        "status",
        "created_at",
        "ended_at",
        "paused_at",
        "pause_reason",
    )
    inlines = (TestResultInline,)
    actions = ("pause", "resume", "complete")

    @admin.action(description="Pause selected sessions")
    def pause(self, request, queryset) -> None:
        _transition(self, request, queryset, TestSession.Status.PAUSED, "paused")

    @admin.action(description="Resume selected sessions")
    def resume(self, request, queryset) -> None:
        _transition(self, request, queryset, TestSession.Status.ACTIVE, "resumed")

    @admin.action(description="Complete selected sessions")
    def complete(self, request, queryset) -> None:
        _transition(self, request, queryset, TestSession.Status.COMPLETED, "completed")


@admin.register(TestResult)
class TestResultAdmin(admin.ModelAdmin):
    list_display = (
        "completed_at",
        "test_name",
        "status",
        "endpoint",
        "mode",
        "session",
    )
    list_filter = ("status", "test_name", "mode", "endpoint")
    search_fields = ("test_name", "error_details", "session__name")
    list_select_related = ("endpoint", "session")
    readonly_fields = [f.name for f in TestResult._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
