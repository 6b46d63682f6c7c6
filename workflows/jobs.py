"""The database queue's backend: django-tasks-db's own, with one change for the engine's
hot path (issue 10). Its enqueue wrote the job row with `DBTaskResult.objects.create`,
compiling the INSERT anew for every job: a fifth of a form completion's CPU (each step
queues an email job, each action an action job). Here the row is the same model instance,
written by a statement built once per process (`workflows.fastsql.insert`, which keeps
`save()`'s field preparation and signals). Everything else is the library's: the worker,
the result API, and `isinstance(..., django_tasks_db.DatabaseBackend)` still holds."""

from typing import Any

from django_tasks_db import DatabaseBackend as LibraryBackend
from django_tasks_db.compat import normalize_json

from workflows import fastsql


class DatabaseBackend(LibraryBackend):
    def _task_to_db_task(self, task: Any, args: Any, kwargs: Any) -> Any:
        from django_tasks_db.models import DBTaskResult

        job_id = self._get_id()
        if hasattr(job_id, "resolve_expression"):  # an id made by the database: the library's way
            return super()._task_to_db_task(task, args, kwargs)
        row: Any = DBTaskResult(
            id=job_id,
            args_kwargs=normalize_json({"args": args, "kwargs": kwargs}),
            priority=task.priority,
            task_path=task.module_path,
            queue_name=task.queue_name,
            run_after=task.run_after,
            backend_name=self.alias,
        )
        fastsql.insert([row])
        return row
