import os
import socket
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import Error as DatabaseError
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME
from django_tasks_db.management.commands.db_worker import Worker

from workflows.resilience import Backoff


class ResilientWorker(Worker):
    """django-tasks-db's worker, restarted in-process after a database error instead of
    exiting. A job whose result could not be written stays RUNNING; the sweeper
    reclaims it, and the action's own deadline gets the task queued again."""

    def run(self) -> None:
        backoff = Backoff()
        while self.running:
            try:
                super().run()
                return
            except DatabaseError as exc:
                backoff.wait(f"Worker {self.worker_id}", exc)


class Command(BaseCommand):
    help = "Run the database queue's worker; it survives database errors (log, back off, reconnect)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queue-name", default=DEFAULT_TASK_QUEUE_NAME)
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between polls when idle.")
        parser.add_argument("--batch", action="store_true", help="Run what is ready, then exit.")
        parser.add_argument("--worker-id", default=f"{socket.gethostname()[:40]}-{os.getpid()}")

    def handle(
        self, *args: Any, queue_name: str, interval: float, batch: bool, worker_id: str, **options: Any
    ) -> None:
        worker = ResilientWorker(
            queue_names=queue_name.split(","),
            interval=interval,
            batch=batch,
            backend_name=DEFAULT_TASK_BACKEND_ALIAS,
            startup_delay=not batch,
            max_tasks=None,
            worker_id=worker_id[:64],
            excluded_queue_names=[],
        )
        if not batch:  # graceful stop on INT/TERM (a batch run, as in tests, just ends)
            worker.configure_signals()
        worker.run()
