"""The back office's admin site: unfold's, with Django's app list built only when a page
shows it. Installed in place of unfold's own app config (settings.INSTALLED_APPS)."""

from typing import Any

from django.contrib import admin
from django.contrib.admin import sites
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject
from unfold.apps import DefaultAppConfig
from unfold.sites import UnfoldAdminSite


class BackOfficeSite(UnfoldAdminSite):
    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> Any:
        """Django's `each_context` builds the app list (a permission check and two URL
        reverses per model, about 1 ms) on every admin page for its sidebar; ours draws
        unfold's SIDEBAR navigation and never reads it. It is built on first use: the
        dashboard's list of models, the command search, an app's index page."""
        build = super().get_app_list
        return SimpleLazyObject(lambda: build(request, app_label))


class BackOfficeConfig(DefaultAppConfig):
    """unfold's app (same name and label, so its templates and static files), with our site."""

    default = False

    def ready(self) -> None:
        site = BackOfficeSite()
        admin.site = site
        sites.site = site
