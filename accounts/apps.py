from typing import Any

from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Company and people"

    def ready(self) -> None:
        # Permissions only exist after migrate, so the role groups are synced then.
        post_migrate.connect(_sync_roles, dispatch_uid="accounts.sync_roles")
        from accounts.models import User

        m2m_changed.connect(_groups_changed, sender=User.groups.through, dispatch_uid="accounts.worker_flag")


def _sync_roles(sender: AppConfig, **kwargs: Any) -> None:
    if sender.name != "tickets":  # the last of our apps; every permission exists by now
        return
    from accounts.permissions import sync_role_groups

    sync_role_groups(using=kwargs.get("using", "default"))


def _groups_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    """Keeps `User.is_task_worker` equal to the task_worker membership, whichever side
    changed it (user.groups or group.user_set; add, remove, set or clear)."""
    from accounts.roles import SystemRole
    from accounts.services import sync_task_worker_flags

    if not reverse:
        if action in ("post_add", "post_remove", "post_clear"):
            sync_task_worker_flags(user_ids=[instance.pk])
        return
    if action in ("post_add", "post_remove"):
        sync_task_worker_flags(user_ids=pk_set or [])
    elif action == "post_clear" and instance.name == SystemRole.TASK_WORKER:
        # Everyone who held it is out; recounted from the membership, not listed by id.
        sync_task_worker_flags()
