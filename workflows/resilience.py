"""Keeping background processes alive through database trouble (a lost connection, a
failover, a deadlock): log, back off, reconnect, go on."""

import logging
import sys
import time
from typing import Any

from django.db import InterfaceError, NotSupportedError, OperationalError, connections

logger = logging.getLogger(__name__)


# SQLSTATE classes and codes a retry can get past: connection (08), transaction rollback
# such as deadlock or serialization (40), out of resources (53), lock not available,
# statement timeout, shutdown or restart.
_TRANSIENT_CLASSES = ("08", "40", "53")
_TRANSIENT_CODES = {"55P03", "57014", "57P01", "57P02", "57P03"}
_SQLITE_TRANSIENT = ("database is locked", "database table is locked")


def stale_prepared_statement(exc: BaseException | None) -> bool:
    """A statement this connection prepared before another process changed the type of
    a column it reads (a migration while the app runs): PostgreSQL refuses to run it
    again on this connection. A new connection prepares it anew."""
    cause = getattr(exc, "__cause__", None)
    return (
        isinstance(exc, NotSupportedError)
        and getattr(cause, "sqlstate", None) == "0A000"
        and "cached plan must not change result type" in str(exc)
    )


def drop_stale_connections(sender: Any = None, request: Any = None, **kwargs: Any) -> None:
    """On `got_request_exception`: after a stale prepared statement, close the request's
    connections, so the next request starts with a fresh one (a background process's
    `Backoff` closes them already)."""
    if stale_prepared_statement(sys.exc_info()[1]):
        connections.close_all()


def transient_database_error(exc: BaseException | None) -> bool:
    """Whether `exc` is the database being unreachable or busy (so repeating the request
    may work), not a bug: PostgreSQL's SQLSTATE decides; a driver error without one is a
    lost connection. SQLite reports mistakes as OperationalError too, so only its lock
    errors count."""
    if isinstance(exc, InterfaceError) or stale_prepared_statement(exc):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if cause is not None and type(cause).__module__.startswith("sqlite3"):
        return any(text in str(exc) for text in _SQLITE_TRANSIENT)
    if sqlstate is None:
        return True
    return sqlstate[:2] in _TRANSIENT_CLASSES or sqlstate in _TRANSIENT_CODES


class Backoff:
    """Exponential waits between attempts, reset after a success."""

    def __init__(self, *, first: float = 0.5, most: float = 30.0) -> None:
        self.first, self.most, self.current = first, most, first

    def wait(self, what: str, exc: BaseException) -> None:
        logger.error(
            "%s failed (%s: %s); reconnecting in %.1fs.", what, type(exc).__name__, exc, self.current
        )
        connections.close_all()  # the next query opens a fresh connection
        time.sleep(self.current)
        self.current = min(self.current * 2, self.most)

    def reset(self) -> None:
        self.current = self.first
