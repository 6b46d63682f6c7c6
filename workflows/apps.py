from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"

    def ready(self) -> None:
        from workflows import tasks  # noqa: F401  connects the queue to `action_ready`
