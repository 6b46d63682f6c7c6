"""The project's URLs plus two views that fail, to prove the 500 pages (tests only)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from project.urls import handler403, handler404, handler500
from project.urls import urlpatterns as project_urls

__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom (on purpose, for the 500 page test)")


urlpatterns = [path("boom/", boom), path("admin/boom/", boom), *project_urls]
