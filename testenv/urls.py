"""Top-level URL configuration."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from testenv import dashboard, errors, health, metrics

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"
    ),
    path("testing/dashboard", dashboard.dashboard, name="dashboard"),
    path("testing/", include("integrations.urls")),
    path("testing/", include("integrations.history_urls")),
    path("testing/", include("sessions.urls")),
    path("testing/", include("feedback.urls")),
    path("", health.home, name="home"),
]

handler400 = errors.handler400
handler403 = errors.handler403
handler404 = errors.handler404
handler500 = errors.handler500
