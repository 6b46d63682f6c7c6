"""The project's URLs plus two views that fail, to prove the 500 pages (tests only)."""

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import path

from project.urls import handler403, handler404, handler500
from project.urls import urlpatterns as project_urls

__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom (on purpose, for the 500 page test)")


def db_gone(request: HttpRequest) -> HttpResponse:
    raise OperationalError("server closed the connection unexpectedly (on purpose, for the 503 test)")


urlpatterns = [
    path("boom/", boom),
    path("admin/boom/", boom),
    path("db-gone/", db_gone),
    path("admin/db-gone/", db_gone),
    *project_urls,
]
