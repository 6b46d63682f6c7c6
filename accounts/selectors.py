"""Account-side reads: what the landing page and navigation show."""

from dataclasses import dataclass

from accounts.models import User
from accounts.roles import SystemRole


@dataclass(frozen=True)
class LandingSummary:
    can_submit: bool
    is_worker: bool
    is_backoffice: bool
    active_tickets: int | None
    open_tasks: int | None


def landing_summary(user: User) -> LandingSummary:
    # Imported here: accounts sits below tickets/workflows in the app graph.
    from tickets.selectors import active_ticket_count
    from workflows.selectors import open_task_count

    can_submit = user.has_role(SystemRole.USER)
    is_worker = user.has_role(SystemRole.TASK_WORKER)
    return LandingSummary(
        can_submit=can_submit,
        is_worker=is_worker,
        is_backoffice=user.is_staff,
        active_tickets=active_ticket_count(user) if can_submit else None,
        open_tasks=open_task_count(user) if is_worker else None,
    )
