from django.contrib import admin
from django.urls import include, path

from workflows.views import callback

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/callbacks/<uuid:task_uuid>/", callback, name="callback"),
    path("", include("accounts.urls")),
    path("", include("tickets.urls")),
    path("", include("workflows.urls")),
    path("demo/", include("workflows.demo")),  # 404 unless DEMO_ENDPOINTS_ENABLED
]
