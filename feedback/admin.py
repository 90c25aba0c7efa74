"""Operator admin for feedback: triage, attachments, and the GitHub sync.

A FAILED sync shows its error, a "retry sync" action (a new round of
attempts that first looks for an issue an earlier attempt may have created),
and a pre-filled GitHub "new issue" link as the last resort.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from feedback import services
from feedback.github import new_issue_url
from feedback.models import FeedbackAttachment, FeedbackReport, WebhookDelivery

SYNC_COLOURS = {
    FeedbackReport.SyncState.PENDING: "#9a6700",
    FeedbackReport.SyncState.SYNCED: "#1a7f37",
    FeedbackReport.SyncState.FAILED: "#cf222e",
    FeedbackReport.SyncState.DISABLED: "#57606a",
}


class FeedbackAttachmentInline(admin.TabularInline):
    model = FeedbackAttachment
    extra = 0
    can_delete = False
    fields = ("download", "content_type", "file_size", "sha256", "uploaded_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        # Uploads go through the API, where their content is checked.
        return False

    @admin.display(description="File")
    def download(self, attachment: FeedbackAttachment) -> str:
        url = reverse(
            "feedback:attachment-download",
            args=[attachment.feedback_id, attachment.pk],
        )
        return format_html('<a href="{}">{}</a>', url, attachment.filename)


@admin.register(FeedbackReport)
class FeedbackReportAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "category",
        "priority",
        "status",
        "sync_badge",
        "issue_link",
        "reported_by",
        "reported_at",
    )
    list_filter = ("status", "priority", "category", "sync_state")
    search_fields = ("title", "description", "github_issue_number")
    date_hierarchy = "reported_at"
    list_select_related = ("reported_by",)
    inlines = [FeedbackAttachmentInline]
    actions = ["retry_sync"]
    fields = (
        "title",
        "description",
        "category",
        "priority",
        "status",
        "session",
        "reported_by",
        "reported_at",
        "resolved_at",
        "metadata",
        "sync_state",
        "sync_attempts",
        "sync_last_error",
        "synced_at",
        "issue_link",
        "new_issue_link",
    )
    readonly_fields = (
        "session",
        "reported_by",
        "reported_at",
        "resolved_at",
        "sync_state",
        "sync_attempts",
        "sync_last_error",
        "synced_at",
        "issue_link",
        "new_issue_link",
    )

    def has_add_permission(self, request) -> bool:
        # Reports come from testers through the API or the dashboard.
        return False

    @admin.display(description="Sync", ordering="sync_state")
    def sync_badge(self, report: FeedbackReport) -> str:
        return format_html(
            '<strong style="color:{}">{}</strong>',
            SYNC_COLOURS.get(report.sync_state, "#000"),
            report.sync_state,
        )

    @admin.display(description="GitHub issue", ordering="github_issue_number")
    def issue_link(self, report: FeedbackReport) -> str:
        if not report.github_issue_number:
            return "—"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">#{}</a>',
            report.github_issue_url or "#",
            report.github_issue_number,
        )

    @admin.display(description="File it by hand")
    def new_issue_link(self, report: FeedbackReport) -> str:
        if report.sync_state != FeedbackReport.SyncState.FAILED:
            return "—"
        url = new_issue_url(report)
        if not url:
            return "— (GITHUB_REPO is not set)"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">Open a pre-filled new '
            "issue on GitHub</a> (last resort: try “retry sync” first)",
            url,
        )

    def save_model(self, request, obj: FeedbackReport, form, change) -> None:
        if change and "status" in form.changed_data:
            # Keep resolved_at consistent with the status (a database
            # constraint allows it only for RESOLVED and CLOSED).
            services.set_status(obj, obj.status)
        super().save_model(request, obj, form, change)

    @admin.action(description="Retry GitHub sync of the selected reports")
    def retry_sync(self, request, queryset) -> None:
        queued, refused = 0, []
        for report in queryset:
            try:
                services.feedback_sync_retry(
                    report=report, actor=request.user, source="admin"
                )
            except services.SyncNotPossible as exc:
                refused.append(f"“{report.title}”: {exc}")
            else:
                queued += 1
        if queued:
            self.message_user(
                request,
                f"Queued the GitHub sync of {queued} report(s).",
                messages.SUCCESS,
            )
        for message in refused:
            self.message_user(request, message, messages.WARNING)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("delivery_id", "event", "action", "issue_number", "received_at")
    list_filter = ("event", "action")
    search_fields = ("delivery_id", "issue_number")
    date_hierarchy = "received_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
