from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from api.views import api
from project import errors
from workflows.views import callback

handler403 = errors.permission_denied
handler404 = errors.page_not_found
handler500 = errors.server_error


def favicon(request: HttpRequest) -> HttpResponse:
    # Resolved per request: the hashed static name exists only after collectstatic.
    return redirect(static("favicon.svg"), permanent=True)


urlpatterns = [
    # Browsers ask for /favicon.ico on every page, the admin's too.
    path("favicon.ico", favicon),
    # Before the admin's own login: a logged-in person without back-office access is told so.
    path("admin/login/", errors.admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("api/callbacks/<uuid:task_uuid>/", callback, name="callback"),
    path("", include("accounts.urls")),
    path("", include("tickets.urls")),
    path("demo/", include("workflows.demo")),  # 404 unless DEMO_ENDPOINTS_ENABLED
]
