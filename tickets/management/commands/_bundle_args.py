"""Shared argument handling for the bundle commands."""

from django.core.management.base import CommandError

from accounts.models import Company
from tickets.bundles import MAX_BUNDLE_BYTES, decode


def resolve_company(value: str) -> Company:
    """A company by id or exact name; a clear error otherwise."""
    company = Company.objects.filter(pk=int(value)).first() if value.isdigit() else None
    if company is None:
        matches = list(Company.objects.filter(name=value)[:2])
        if len(matches) > 1:
            raise CommandError(f"Several companies are named {value!r}; use the id.")
        company = matches[0] if matches else None
    if company is None:
        raise CommandError(f"No company with id or name {value!r}.")
    return company


def read_file(path: str) -> str:
    """The bundle's text: the admin's size limit, strict UTF-8 (BundleInvalid)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BUNDLE_BYTES + 1)
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}") from exc
    return decode(raw)
