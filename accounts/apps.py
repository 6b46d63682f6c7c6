from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Company and people"

    def ready(self) -> None:
        # Permissions only exist after migrate, so the role groups are synced then.
        post_migrate.connect(_sync_roles, dispatch_uid="accounts.sync_roles")


def _sync_roles(sender: AppConfig, **kwargs: Any) -> None:
    if sender.name != "tickets":  # the last of our apps; every permission exists by now
        return
    from accounts.permissions import sync_role_groups

    sync_role_groups(using=kwargs.get("using", "default"))
