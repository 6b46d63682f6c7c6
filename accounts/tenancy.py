"""Tenancy helpers: how code enters a company scope.

Company-owned models use django-scopes, so a query without an active scope raises
`ScopeError` instead of silently reading every company's rows."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.models import Model, QuerySet
from django_scopes import scope, scopes_disabled

from accounts.models import Company, User


@contextmanager
def company_scope(company: Company | int) -> Iterator[None]:
    company_id = company if isinstance(company, int) else company.pk
    with scope(company=company_id):
        yield


@contextmanager
def user_scope(user: User) -> Iterator[None]:
    """The scope a request by `user` runs in. Superusers act unscoped, on purpose."""
    if user.is_superuser:
        with scopes_disabled():
            yield
    elif user.company_id is not None:
        with company_scope(user.company_id):
            yield
    else:  # pragma: no cover - prevented by a check constraint
        raise PermissionError("A user without a company must be a superuser.")


def visible_rows(user: User, queryset: QuerySet[Any]) -> QuerySet[Any]:
    """The tenancy rule of the back office: a platform superuser sees every company,
    everyone else only their own company's rows (nothing without a company). The one
    place this is decided: the admin base and `tickets.access.backoffice` call it."""
    if user.is_authenticated and user.is_active and user.is_superuser:
        return queryset
    model = queryset.model
    if not (is_company_owned(model) or model is User):
        return queryset
    company_id = user.company_id if user.is_authenticated and user.is_active else None
    return queryset.none() if company_id is None else queryset.filter(company_id=company_id)


def is_company_owned(model: type[Model]) -> bool:
    return any(f.name == "company" for f in model._meta.concrete_fields)
