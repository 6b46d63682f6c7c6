import os
import socket
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import Error as DatabaseError
from django.tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_redis import RedisTaskBackend
from django_tasks_redis.management.commands.run_redis_tasks import Command as RedisWorkerCommand
from redis.exceptions import RedisError

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
    help = (
        "Run the configured queue's worker (database or Redis); it survives database and "
        "queue errors (log, back off, reconnect). Start several for more throughput."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queue-name",
            default="",
            help="Comma-separated queues to serve (default: all, e.g. default,mail). `make run` "
            "starts workers for 'default' (workflow actions) and one for 'mail' (emails).",
        )
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between polls when idle.")
        parser.add_argument("--batch", action="store_true", help="Run what is ready, then exit.")
        parser.add_argument("--worker-id", default=f"{socket.gethostname()[:40]}-{os.getpid()}")

    def handle(
        self, *args: Any, queue_name: str, interval: float, batch: bool, worker_id: str, **options: Any
    ) -> None:
        backend = task_backends[DEFAULT_TASK_BACKEND_ALIAS]
        queues = sorted(backend.queues)
        names = sorted({n.strip() for n in queue_name.split(",") if n.strip()}) or queues
        unknown = sorted(set(names) - set(queues))
        if unknown:
            raise CommandError(f"Unknown queue {', '.join(unknown)}: the queues are {', '.join(queues)}.")
        if isinstance(backend, RedisTaskBackend):
            if len(names) != 1 and names != queues:
                raise CommandError("The Redis worker serves one queue, or all of them (no --queue-name).")
            self._run_redis(queue_name=names[0] if len(names) == 1 else None, interval=interval, batch=batch)
            return
        worker = ResilientWorker(
            queue_names=names,
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

    def _run_redis(self, *, queue_name: str | None, interval: float, batch: bool) -> None:
        """django-tasks-redis's worker: a consumer of the Redis stream's group; it
        reclaims messages of dead consumers and stops gracefully on INT/TERM. Its loop
        already logs and goes on after a failed read or job; an error escaping it
        (Redis or the database gone at a bad moment) restarts it after a back-off."""
        backoff = Backoff()
        while True:
            try:
                call_command(
                    RedisWorkerCommand(stdout=self.stdout, stderr=self.stderr),
                    queue_name=queue_name,
                    backend_name=DEFAULT_TASK_BACKEND_ALIAS,
                    continuous=not batch,
                    interval=interval,
                    no_graceful_shutdown=batch,
                )
                return
            except (RedisError, DatabaseError) as exc:
                if batch:
                    raise
                backoff.wait("Redis worker", exc)
