"""Who gets a new FORM task: the company's available task worker with the fewest open
tasks; ties go to the one assigned least recently, then the lowest id.

Concurrency: the caller's transaction locks the company row first, so assignments in
one company are serialised and two tasks never read the same "fewest" count."""

from dataclasses import dataclass

from django.db.models import Count, F, IntegerField, OuterRef, QuerySet, Subquery, Window
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Company, User
from accounts.roles import SystemRole
from workflows.models import OPEN_TASK_STATUSES, TaskInstance


@dataclass(frozen=True)
class AssignmentDecision:
    user: User | None
    open_tasks: int | None
    candidates: int

    def reason(self) -> str:
        if self.user is None:
            return "No available task worker; the task waits unassigned."
        return (
            f"Assigned to {self.user} ({self.open_tasks} open task(s), the fewest among "
            f"{self.candidates} available worker(s))."
        )


def available_workers(company_id: int) -> QuerySet[User]:
    return User.objects.filter(
        company_id=company_id,
        is_active=True,
        is_available=True,
        groups__name=SystemRole.TASK_WORKER,
    )


def choose_worker(company_id: int) -> AssignmentDecision:
    # A correlated count per worker reads only the partial index of open tasks, so
    # the cost follows open work, not the company's whole task history. The order and the
    # number of candidates come from the database: one row, whatever the headcount.
    open_count = (
        TaskInstance.objects.filter(assigned_to=OuterRef("pk"), status__in=OPEN_TASK_STATUSES)
        .order_by()
        .values("assigned_to")
        .annotate(n=Count("pk"))
        .values("n")
    )
    best = (
        available_workers(company_id)
        .annotate(
            open_count=Coalesce(Subquery(open_count, output_field=IntegerField()), 0),
            candidates=Window(Count("pk")),
        )
        .order_by("open_count", F("last_assigned_at").asc(nulls_first=True), "pk")
        .first()
    )
    if best is None:
        return AssignmentDecision(user=None, open_tasks=None, candidates=0)
    return AssignmentDecision(
        user=best,
        open_tasks=best.open_count,  # type: ignore[attr-defined]
        candidates=best.candidates,  # type: ignore[attr-defined]
    )


def assign(task: TaskInstance) -> AssignmentDecision:
    """Assigns `task`. Must run inside a transaction. A saved task is updated; an unsaved
    one only gets its fields set (the caller's INSERT writes them)."""
    Company.objects.select_for_update(of=("self",)).filter(pk=task.company_id).first()
    decision = choose_worker(task.company_id)
    now = timezone.now()
    task.assigned_to = decision.user
    task.assigned_at = now if decision.user else None
    if task.pk is not None:
        task.save(update_fields=["assigned_to", "assigned_at", "updated_at"])
    if decision.user is not None:
        User.objects.filter(pk=decision.user.pk).update(last_assigned_at=now)
    return decision
