from __future__ import annotations

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.admin.models import LogEntry
        from django.db.models.signals import post_save

        from integrations.audit_receivers import mirror_admin_log_entry
        from integrations.redaction import install_log_redaction

        # Admin changes are recorded by Django as LogEntry rows; mirroring them
        # gives one audit trail for the API and the admin.
        post_save.connect(
            mirror_admin_log_entry, sender=LogEntry, dispatch_uid="audit-admin-log"
        )
        # urllib3 (used by requests and PyGithub) logs request lines with their
        # query strings; its loggers get the secret filter too.
        install_log_redaction()
