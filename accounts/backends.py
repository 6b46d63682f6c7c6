"""The authentication backend: Django's ModelBackend, cheaper per request.

- `get_user` (every authenticated request) loads the user, its company and its role
  names in ONE query, instead of one each, compiled once per process
  (`accounts.prepared`): building it cost 1.5 ms of CPU per request, running it 0.1.
- Permissions come from the roles alone (`accounts.roles.ROLE_PERMISSIONS`, which the
  role groups mirror exactly, see `accounts.permissions`), so the admin's permission
  checks cost no query. Per-user permissions are not used by TicketFlower."""

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.db.models import OuterRef, QuerySet, StringAgg, Subquery, Value

from accounts.models import User
from accounts.prepared import Prepared
from accounts.roles import ROLE_PERMISSIONS

_SEP = "\x1f"


def _role_names() -> Subquery:
    names = (
        Group.objects.filter(user=OuterRef("pk"))
        .order_by()
        .values("user")
        .annotate(names=StringAgg("name", delimiter=Value(_SEP)))
        .values("names")
    )
    return Subquery(names)


def _role_permissions(roles: frozenset[str]) -> set[str]:
    perms: set[str] = set()
    for role in roles:
        for model_label, actions in ROLE_PERMISSIONS.get(role, {}).items():
            app_label, model = model_label.split(".")
            perms.update(f"{app_label}.{action}_{model}" for action in actions)
    return perms


def _user_with_roles(key: str, user_id: int) -> QuerySet[User]:
    return User.objects.select_related("company").annotate(_roles=_role_names()).filter(pk=user_id).order_by()


_USER_WITH_ROLES = Prepared(_user_with_roles)


class UserBackend(ModelBackend):
    def get_user(self, user_id: Any) -> User | None:  # type: ignore[override]
        try:
            pk = int(user_id)
        except (TypeError, ValueError):
            return None
        users: list[User] = _USER_WITH_ROLES.objects("user", pk)  # type: ignore[assignment]
        user = users[0] if users else None
        if user is None or not self.user_can_authenticate(user):
            return None
        roles: str = user._roles or ""  # type: ignore[attr-defined]
        user.__dict__["role_names"] = frozenset(r for r in roles.split(_SEP) if r)
        return user

    def get_user_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return set()

    def get_group_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        return _role_permissions(user_obj.role_names)
