"""The five system roles and what each may do in the back office.

Each role is a Django `Group` holding model permissions, so the admin's own permission
checks enforce the role matrix. Groups are global; the company boundary is enforced
separately by scoping (see `accounts.tenancy`)."""

from django.db import models


class SystemRole(models.TextChoices):
    ADMIN = "admin", "Company admin"
    USER = "user", "Submitter"
    TICKET_ADMIN = "ticket_admin", "Ticket admin"
    TASK_WORKER = "task_worker", "Task worker"
    WORKFLOW_CREATOR = "workflow_creator", "Workflow creator"


# One line per role, shown wherever roles are chosen or listed.
ROLE_HELP: dict[str, str] = {
    SystemRole.ADMIN: "Runs the company's account: people, roles and everything in the back office.",
    SystemRole.USER: "Submits tickets and follows their progress.",
    SystemRole.TICKET_ADMIN: "Watches every ticket in the back office and fixes the stuck ones.",
    SystemRole.TASK_WORKER: "Receives tasks and completes their forms.",
    SystemRole.WORKFLOW_CREATOR: "Builds ticket types and workflows in the back office.",
}


def role_label(name: str) -> str:
    """The human name of a role group ("task_worker" -> "Task worker")."""
    try:
        return str(SystemRole(name).label)
    except ValueError:
        return name


BACKOFFICE_ROLES = frozenset({SystemRole.ADMIN, SystemRole.TICKET_ADMIN, SystemRole.WORKFLOW_CREATOR})

_ALL = ("add", "change", "delete", "view")
_DEFINITIONS = (
    "workflows.workflowdefinition",
    "workflows.taskdefinition",
    "workflows.transition",
    "tickets.tickettype",
)
_RUNTIME = (
    "workflows.workflowinstance",
    "workflows.taskinstance",
    "tickets.ticket",
    "tickets.ticketerror",
    "tickets.timelineevent",
    "tickets.fileupload",
)

# role -> {"app_label.model": actions}
ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    SystemRole.ADMIN: {
        "accounts.user": _ALL,
        "accounts.companyrole": _ALL,
        **{m: _ALL for m in _DEFINITIONS},
        **{m: ("view", "change") for m in _RUNTIME},
    },
    SystemRole.WORKFLOW_CREATOR: {
        "accounts.companyrole": ("view",),
        **{m: _ALL for m in _DEFINITIONS},
    },
    SystemRole.TICKET_ADMIN: {
        **{m: ("view",) for m in _DEFINITIONS},
        **{m: ("view", "change") for m in _RUNTIME},
    },
    SystemRole.TASK_WORKER: {},
    SystemRole.USER: {},
}
