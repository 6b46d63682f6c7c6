"""Keeping background processes alive through database trouble (a lost connection, a
failover, a deadlock): log, back off, reconnect, go on."""

import logging
import time

from django.db import connections

logger = logging.getLogger(__name__)


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
