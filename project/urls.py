from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from workflows.views import callback

urlpatterns = [
    # Browsers ask for /favicon.ico on every page, the admin's too.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("api/callbacks/<uuid:task_uuid>/", callback, name="callback"),
    path("", include("accounts.urls")),
    path("", include("tickets.urls")),
    path("", include("workflows.urls")),
    path("demo/", include("workflows.demo")),  # 404 unless DEMO_ENDPOINTS_ENABLED
]
