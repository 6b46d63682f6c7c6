from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from workflows.views import callback


def favicon(request: HttpRequest) -> HttpResponse:
    # Resolved per request: the hashed static name exists only after collectstatic.
    return redirect(static("favicon.svg"), permanent=True)


urlpatterns = [
    # Browsers ask for /favicon.ico on every page, the admin's too.
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("api/callbacks/<uuid:task_uuid>/", callback, name="callback"),
    path("", include("accounts.urls")),
    path("", include("tickets.urls")),
    path("demo/", include("workflows.demo")),  # 404 unless DEMO_ENDPOINTS_ENABLED
]
