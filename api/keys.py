"""API keys: create, revoke, and resolve a presented key (with the per-key rate limit)."""

import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.models import Company, User
from accounts.roles import SystemRole
from api.models import ApiKey
from api.scopes import Scope

KEY_PREFIX = "tf_"


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def may_manage_keys(user: User) -> bool:
    return user.is_active and user.company_id is not None and user.has_role(SystemRole.ADMIN)


def create_key(
    *,
    company: Company,
    name: str,
    user: User,
    scopes: Iterable[str],
    created_by: User | None,
    instance: ApiKey | None = None,
) -> tuple[ApiKey, str]:
    """Returns the row and the plain key; the plain key is never stored or shown again."""
    if created_by is not None and not (created_by.is_superuser or may_manage_keys(created_by)):
        raise PermissionDenied("Only a company admin creates API keys.")
    if created_by is not None and created_by.company_id not in (None, company.pk):
        raise PermissionDenied("API keys belong to the admin's own company.")
    if user.company_id != company.pk or not user.is_active:
        raise ValidationError("A key acts as an active person of the same company.")
    scope_list = sorted(set(scopes))
    unknown = [s for s in scope_list if s not in Scope.values]
    if unknown:
        raise ValidationError(f"Unknown scopes: {', '.join(unknown)}.")
    if not scope_list:
        raise ValidationError("Choose at least one scope.")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = instance or ApiKey()
    key.company = company
    key.name = name.strip()[:100]
    key.user = user
    key.prefix = raw[:10]
    key.key_hash = hash_key(raw)
    key.scopes = scope_list
    key.created_by = created_by
    key.save()
    return key, raw


def revoke_key(*, key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])


@dataclass(frozen=True)
class Resolved:
    key: ApiKey | None
    # Seconds until the window resets when the key is over its limit, else None.
    retry_after: int | None = None


def resolve(raw: str) -> Resolved:
    """The active key for `raw` (None when unknown, revoked, or its user left), counted
    against the rate limit. Three queries, whatever the data size."""
    if not raw.startswith(KEY_PREFIX) or len(raw) > 200:
        return Resolved(None)
    with scopes_disabled():
        key = (
            ApiKey.objects.select_related("user", "company")
            .filter(key_hash=hash_key(raw), revoked_at__isnull=True)
            .first()
        )
    if key is None or not key.user.is_active or key.user.company_id != key.company_id:
        return Resolved(None)
    window = settings.API_RATE_LIMIT_WINDOW_SECONDS
    now = time.time()
    current = int(now // window)
    count = _count_hit(key.pk, current)
    if count > settings.API_RATE_LIMIT:
        return Resolved(key, retry_after=max(1, int((current + 1) * window - now)))
    return Resolved(key)


def _count_hit(key_id: int, window: int) -> int:
    """One atomic UPDATE shared by every process: a fixed-window counter on the key's
    row, and its last-used time."""
    table = ApiKey._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET "  # noqa: S608 - the table name is ours, values are parameters
            "window_count = CASE WHEN window_start = %s THEN window_count + 1 ELSE 1 END, "
            "window_start = %s, last_used_at = %s WHERE id = %s RETURNING window_count",
            [window, window, timezone.now(), key_id],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0
