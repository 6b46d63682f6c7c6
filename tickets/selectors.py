"""Ticket-side reads. All run inside the caller's company scope."""

from django.db.models import Q, QuerySet

from accounts.models import User
from accounts.roles import SystemRole
from tickets.models import Ticket, TicketType
from workflows.models import ACTIVE_WORKFLOW_STATUSES, FINISHED_WORKFLOW_STATUSES


def submittable_types(user: User) -> QuerySet[TicketType]:
    """Types open to everyone, or shared with one of the user's company roles."""
    role_ids = list(user.company_roles.values_list("pk", flat=True))
    return (
        TicketType.objects.filter(company_id=user.company_id)
        .filter(Q(company_roles__isnull=True) | Q(company_roles__in=role_ids))
        .distinct()
        .order_by("title")
    )


def may_submit(user: User, ticket_type: TicketType) -> bool:
    return user.has_role(SystemRole.USER) and submittable_types(user).filter(pk=ticket_type.pk).exists()


def visible_tickets(user: User) -> QuerySet[Ticket]:
    """Submitters see their own tickets; ticket admins every ticket in the company."""
    qs = Ticket.objects.filter(company_id=user.company_id)
    if not user.has_role(SystemRole.TICKET_ADMIN):
        qs = qs.filter(created_by=user)
    return qs


def ticket_list(user: User, *, archived: bool, search: str = "") -> QuerySet[Ticket]:
    statuses = FINISHED_WORKFLOW_STATUSES if archived else ACTIVE_WORKFLOW_STATUSES
    qs = Ticket.objects.filter(company_id=user.company_id, created_by=user).filter(
        workflow_instance__status__in=statuses
    )
    search = search.strip()
    if search:
        q = Q(title__icontains=search) | Q(ticket_type__title__icontains=search)
        if search.lstrip("#").isdigit():
            q |= Q(pk=int(search.lstrip("#")))
        qs = qs.filter(q)
    return qs.select_related(
        "ticket_type",
        "workflow_instance",
        "workflow_instance__current_task",
    ).order_by("-created_at", "-id")


def active_ticket_count(user: User) -> int:
    return Ticket.objects.filter(
        company_id=user.company_id, created_by=user, workflow_instance__status__in=ACTIVE_WORKFLOW_STATUSES
    ).count()
