"""Account writes: sign-up, profile, company user management."""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Exists, OuterRef

from accounts.models import Company, User
from accounts.roles import SystemRole


def sync_task_worker_flags(*, user_ids: Iterable[int] | None = None, company_id: int | None = None) -> int:
    """Sets `User.is_task_worker` from the task_worker group membership, for `user_ids`
    or the people of `company_id` (everyone when neither); returns how many rows changed.
    Called on every change of a user's groups (accounts.apps: m2m_changed) and by
    reconcile_task_counts. A company goes as a filter, not as its ids: one statement
    takes at most 65,535 parameters."""
    through: Any = User.groups.through
    member = through.objects.filter(user_id=OuterRef("pk"), group__name=SystemRole.TASK_WORKER)
    users = User.objects.all() if user_ids is None else User.objects.filter(pk__in=list(user_ids))
    if company_id is not None:
        users = users.filter(company_id=company_id)
    fixes = 0
    for flag in (True, False):
        stale = users.filter(is_task_worker=not flag).filter(Exists(member) if flag else ~Exists(member))
        fixes += stale.update(is_task_worker=flag)
    return fixes


def set_roles(*, user: User, roles: Iterable[str]) -> None:
    wanted = {str(SystemRole(r)) for r in roles}
    user.groups.set(Group.objects.filter(name__in=wanted))
    user.is_task_worker = str(SystemRole.TASK_WORKER) in wanted
    user.__dict__.pop("role_names", None)


def sign_up_company(*, company_name: str, email: str, password: str, first_name: str, last_name: str) -> User:
    """Creates a company and its first user, holding every system role. The owner is
    not available for tasks until they say so on /tasks/: otherwise they would win new
    tasks over the workers they are about to invite."""
    with transaction.atomic():
        company = Company.objects.create(name=company_name.strip())
        user = User.objects.create_user(
            email=email,
            password=password,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            company=company,
            is_available=False,
        )
        set_roles(user=user, roles=SystemRole.values)
    return user


def email_taken(email: str, *, exclude_user_id: int | None = None) -> bool:
    qs = User.objects.filter(email__iexact=email.strip())
    if exclude_user_id is not None:
        qs = qs.exclude(pk=exclude_user_id)
    return qs.exists()


def set_availability(*, user: User, available: bool) -> None:
    user.is_available = available
    user.save(update_fields=["is_available"])
