from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from workflows.views import callback

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/callbacks/<uuid:task_uuid>/", callback, name="callback"),
    path("", include("accounts.urls")),
    path("", include("tickets.urls")),
    path("", include("workflows.urls")),
]

if settings.DEMO_ENDPOINTS_ENABLED:
    urlpatterns.append(path("demo/", include("workflows.demo")))
