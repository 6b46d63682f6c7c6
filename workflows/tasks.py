"""Background tasks (django.tasks; run by `manage.py db_worker`)."""

from django.tasks import task

from workflows import services


@task()
def run_action_task(task_id: int) -> None:
    services.run_action(task_id=task_id)
