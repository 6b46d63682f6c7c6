from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"

    def ready(self) -> None:
        from django.core.signals import got_request_exception

        from workflows import tasks  # noqa: F401  connects the queue to `action_ready`
        from workflows.resilience import drop_stale_connections

        got_request_exception.connect(drop_stale_connections, dispatch_uid="workflows.stale_prepared")
