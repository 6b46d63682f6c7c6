"""Account writes: sign-up, profile, company user management."""

from collections.abc import Iterable

from django.contrib.auth.models import Group
from django.db import transaction

from accounts.models import Company, User
from accounts.roles import SystemRole


def set_roles(*, user: User, roles: Iterable[str]) -> None:
    wanted = {str(SystemRole(r)) for r in roles}
    user.groups.set(Group.objects.filter(name__in=wanted))
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
