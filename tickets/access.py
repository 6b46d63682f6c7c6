"""The one answer to "what may this user see and do?" for tickets, tasks, attachments,
errors and definitions (in the spirit of django-helpdesk's `helpdesk/user.py`).

Two kinds of answers:
- `visible_*(user)` querysets: the rows a user may see. Views, admin, API and MCP start
  every read of these rows here, so another company's row is simply not found (404).
- `may_*(user, ...)` predicates: whether a user may do one thing. Workflow services that
  re-check a rule on a locked row take the predicate from their caller (for example
  `permitted=access.may_complete_task`): the rule lives here, the app graph stays
  tickets -> workflows -> accounts.

Rules:
- Pages and API are for members of a company. A platform superuser belongs to no
  company and sees no rows there (404); the back office is their place, where they see
  every company (`backoffice`).
- Role capabilities come from the role groups' model permissions (`accounts.roles`), so
  the back office's own permission checks and these answers agree: "manages tickets" is
  `tickets.change_ticket` (ticket admins and company admins), "edits definitions" is
  `workflows.change_workflowdefinition` (workflow creators and company admins).
- Submitters see their own tickets; task workers see the tasks assigned to them and the
  tickets (and attachments) those tasks belong to; ticket managers see the company's.
- Whoever a task is assigned to works it, whatever their system role: the assignment
  rules (workflows.assignment) give tasks to the submitter or a named person too. Members
  of a queue task's company role see it (and its ticket's files) until someone claims it."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, Model, OuterRef, Q, QuerySet, Subquery, TextField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse

from accounts.models import User
from accounts.prepared import Composed, Prepared
from accounts.roles import SystemRole
from accounts.tenancy import visible_rows
from tickets.models import FileUpload, Ticket, TicketError, TicketType
from workflows.models import (
    OPEN_TASK_STATUSES,
    TaskDefinition,
    TaskInstance,
    Transition,
    WorkflowDefinition,
    WorkflowVersion,
)

DEFINITION_MODELS: tuple[type[Model], ...] = (WorkflowDefinition, TaskDefinition, Transition, TicketType)


# --- who the user is ------------------------------------------------------------------------


def company_id(user: Any) -> int | None:
    """The company whose rows `user` may see on pages; None for anonymous, inactive
    and platform users (who then see nothing)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return user.company_id  # type: ignore[no-any-return]


def in_company[M: Model](user: Any, queryset: QuerySet[M]) -> QuerySet[M]:
    """`queryset` narrowed to the user's company (nothing for users without one)."""
    cid = company_id(user)
    return queryset.none() if cid is None else queryset.filter(company_id=cid)


def backoffice[M: Model](user: Any, queryset: QuerySet[M]) -> QuerySet[M]:
    """The back office's view of company-owned rows: a platform superuser sees every
    company, everyone else their own. Which models a role may open at all is the
    admin's model-permission check (role groups)."""
    return visible_rows(user, queryset)


def may_submit_tickets(user: Any) -> bool:
    return company_id(user) is not None and user.has_role(SystemRole.USER)


def may_work_tasks(user: Any) -> bool:
    return company_id(user) is not None and user.has_role(SystemRole.TASK_WORKER)


def in_queue_roles(user: Any) -> bool:
    """Holds a company role, so queue tasks of that role may wait for them."""
    return company_id(user) is not None and user.company_roles.exists()


def manages_tickets(user: Any) -> bool:
    """Ticket admins (and company admins): every ticket, task and error of the company,
    and the operations on them (retry, hold, resume, cancel, reassign, complete by hand)."""
    return company_id(user) is not None and user.has_perm("tickets.change_ticket")


def ticket_managers(company_id: int) -> QuerySet[User]:
    """The active users of a company who manage tickets (who hear of ticket errors)."""
    return User.objects.filter(
        company_id=company_id,
        is_active=True,
        groups__permissions__content_type__app_label="tickets",
        groups__permissions__codename="change_ticket",
    ).distinct()


def edits_definitions(user: Any) -> bool:
    return company_id(user) is not None and user.has_perm("workflows.change_workflowdefinition")


def reads_definitions(user: Any) -> bool:
    """Validate and export bundles: whoever may view workflow definitions in the back
    office (creators, ticket admins, company admins)."""
    return company_id(user) is not None and user.has_perm("workflows.view_workflowdefinition")


def may_open_task_pages(user: Any) -> bool:
    return may_work_tasks(user) or manages_tickets(user)


def in_any_company(user: Any) -> bool:
    return company_id(user) is not None


def has_task_pages(user: Any, *, claimable: Callable[[], bool] | None = None) -> bool:
    """My tasks in the navigation: task workers, and anyone who holds a task (the
    counter, no query) or may claim one (`claimable`, when the caller already knows,
    else an EXISTS on `claimable_tasks`)."""
    if company_id(user) is None:
        return False
    if may_work_tasks(user) or user.open_tasks > 0:
        return True
    return claimable() if claimable is not None else claimable_tasks(user).exists()


# --- tickets --------------------------------------------------------------------------------


def submittable_types(user: Any) -> QuerySet[TicketType]:
    """Types open to everyone in the company, or shared with one of the user's roles. One
    query: the role test is a pair of EXISTS subqueries (no DISTINCT, no role prefetch)."""
    if not may_submit_tickets(user):
        return TicketType.objects.none()
    # EXISTS rather than a join + DISTINCT: no duplicates, and DISTINCT cannot compare
    # the `json` columns (ordered JSON, see workflows/fields.py).
    shares = TicketType.company_roles.through.objects.filter(tickettype_id=OuterRef("pk"))
    return (
        in_company(user, TicketType.objects.all())
        .filter(~Exists(shares) | Exists(shares.filter(companyrole__users=user)))
        .order_by("title")
    )


def _submittable_type(key: str, user: Any, type_id: int) -> QuerySet[TicketType]:
    # The workflow's live version (snapshot id, time) rides along: a submit finds its
    # frozen rows in `tickets.versions`' per-process cache instead of a second query.
    live = WorkflowVersion._base_manager.filter(workflow_id=OuterRef("workflow_id")).order_by("-number")
    return (
        submittable_types(user)
        .select_related("workflow")
        .annotate(
            live_snapshot_id=Subquery(live.values("snapshot_id")[:1]),
            live_published_at=Subquery(live.values("created_at")[:1]),
        )
        .filter(pk=type_id)
    )


# Prepared (accounts.prepared): building this query cost 2.9 ms of CPU per submit.
_SUBMITTABLE_TYPE = Prepared(_submittable_type)


def submittable_type(user: Any, type_id: int) -> TicketType | None:
    """One type the user may submit (with its workflow), else None. Remembered on the
    user object for this request, so the submit service's `may_submit` re-check of the
    same type costs no second query."""
    if not may_submit_tickets(user):
        return None
    found = _SUBMITTABLE_TYPE.objects("type", user, type_id)
    ticket_type: TicketType | None = found[0] if found else None
    if ticket_type is not None:
        user.__dict__.setdefault("_tf_submittable", set()).add(ticket_type.pk)
    return ticket_type


def may_submit(user: Any, ticket_type: TicketType) -> bool:
    if ticket_type.company_id != company_id(user):
        return False
    if ticket_type.pk in user.__dict__.get("_tf_submittable", ()):
        return True
    return submittable_types(user).filter(pk=ticket_type.pk).exists()


def visible_tickets(user: Any) -> QuerySet[Ticket]:
    """Ticket pages: submitters see their own, whoever holds (or held) a task of a ticket
    sees that ticket, ticket managers the company's."""
    qs = in_company(user, Ticket.objects.all())
    if company_id(user) is None or manages_tickets(user):
        return qs
    holds = Exists(
        TaskInstance.objects.filter(workflow_instance_id=OuterRef("workflow_instance_id"), assigned_to=user)
    )
    return qs.filter(Q(created_by=user) | holds)


def own_tickets(user: Any) -> QuerySet[Ticket]:
    """The submitter's lists (active and archive): always only their own tickets."""
    qs = in_company(user, Ticket.objects.all())
    return qs if company_id(user) is None else qs.filter(created_by=user)


def _holds_task_on(user: Any) -> Exists:
    return Exists(
        TaskInstance.objects.filter(
            workflow_instance_id=OuterRef("ticket__workflow_instance_id"), assigned_to=user
        )
    )


def may_view_ticket(user: Any, ticket: Ticket) -> bool:
    if ticket.company_id != company_id(user):
        return False
    if ticket.created_by_id == user.pk or manages_tickets(user):
        return True
    return TaskInstance.objects.filter(
        workflow_instance_id=ticket.workflow_instance_id, assigned_to=user
    ).exists()


def may_cancel_ticket(user: Any, ticket: Ticket) -> bool:
    """The submitter and ticket managers may cancel (the workflow must still be active;
    that is the engine's StateConflict, not a permission). Assignees only look."""
    if ticket.company_id != company_id(user):
        return False
    return ticket.created_by_id == user.pk or manages_tickets(user)


def may_operate_ticket(user: Any, ticket: Ticket) -> bool:
    """Retry, hold, resume and back-office cancel."""
    return ticket.company_id == company_id(user) and manages_tickets(user)


def sees_staff_detail(user: Any) -> bool:
    """Ticket pages show plumbing (URLs, retries, routing) to ticket managers only."""
    return manages_tickets(user)


# --- conversation ---------------------------------------------------------------------------


def holds_task_on_ticket(user: Any, ticket: Ticket) -> bool:
    """Whether one of the ticket's tasks is (or was) assigned to `user`."""
    return TaskInstance.objects.filter(
        workflow_instance_id=ticket.workflow_instance_id, assigned_to_id=user.pk
    ).exists()


def _assign_rule() -> Coalesce:
    return Coalesce(KeyTextTransform("rule", "task_definition__assign"), Value(""), output_field=TextField())


def _worked_tasks(tasks: QuerySet[TaskInstance], submitter_id: Any) -> QuerySet[TaskInstance]:
    """`tasks` without those the `submitter` rule handed to the ticket's submitter (a
    rework): answering one does not put the submitter on the ticket's team."""
    return tasks.alias(assign_rule=_assign_rule()).exclude(
        assign_rule="submitter", assigned_to_id=submitter_id
    )


def on_ticket_team(user: Any, ticket: Ticket) -> bool:
    """The ticket's team: ticket managers of its company and the people its tasks were
    assigned to. They read and write internal notes; a submitter never does, also not
    when the `submitter` rule hands them a task on their own ticket (a rework)."""
    if ticket.company_id != company_id(user):
        return False
    if manages_tickets(user):
        return True
    row = _WORKED_ON.row("worked on", user, ticket.workflow_instance_id, ticket.created_by_id)
    return bool(row and row[0])


def _worked_on(key: str, user: Any, instance_id: int, submitter_id: int) -> Composed:
    held = TaskInstance.objects.filter(
        company_id=user.company_id, workflow_instance_id=instance_id, assigned_to_id=user.pk
    )
    return Composed.exists(_worked_tasks(held, submitter_id))


_WORKED_ON = Prepared(_worked_on)  # accounts.prepared: every ticket page asks


def may_reply(user: Any, ticket: Ticket) -> bool:
    """Public replies: the submitter, the ticket's assignees, ticket managers."""
    if ticket.company_id != company_id(user):
        return False
    return ticket.created_by_id == user.pk or on_ticket_team(user, ticket)


def commentable_tickets(user: Any) -> QuerySet[Ticket]:
    """Tickets whose conversation the user may open: visible tickets plus the tickets the
    user holds a task on (a worker writes from the task page)."""
    qs = in_company(user, Ticket.objects.all())
    if company_id(user) is None or manages_tickets(user):
        return qs
    held = TaskInstance.objects.filter(
        workflow_instance_id=OuterRef("workflow_instance_id"), assigned_to=user
    )
    return qs.filter(Q(created_by=user) | Exists(held))


# --- tasks ----------------------------------------------------------------------------------


def _claimable_q(user: Any) -> Q:
    return Q(
        queue_role__in=user.company_roles.values("pk"),
        assigned_to__isnull=True,
        status__in=OPEN_TASK_STATUSES,
    )


def visible_tasks(user: Any) -> QuerySet[TaskInstance]:
    """The tasks assigned to the user and the unclaimed queue tasks of their company
    roles. Ticket managers: the company's."""
    qs = in_company(user, TaskInstance.objects.all())
    if company_id(user) is None or manages_tickets(user):
        return qs
    return qs.filter(Q(assigned_to=user) | _claimable_q(user))


def claimed_by_another(user: Any, task_id: int) -> bool:
    """A task of the user's queues that someone else holds now: their Claim lost the
    race (a message, where any other hidden task is a 404)."""
    return (
        in_company(user, TaskInstance.objects.all())
        .filter(pk=task_id, queue_role__in=user.company_roles.values("pk"), assigned_to__isnull=False)
        .exclude(assigned_to=user)
        .exists()
    )


def open_tasks_for(user: Any) -> QuerySet[TaskInstance]:
    """My tasks: open tasks assigned to the user (a worker, a submitter asked to rework
    their request, a named person)."""
    return in_company(user, TaskInstance.objects.all()).filter(
        assigned_to=user, status__in=OPEN_TASK_STATUSES
    )


def claimable_tasks(user: Any) -> QuerySet[TaskInstance]:
    """The Claimable list: open, unclaimed queue tasks of the user's company roles,
    oldest first (the partial index task_claimable answers it)."""
    if company_id(user) is None:
        return TaskInstance.objects.none()
    return (
        in_company(user, TaskInstance.objects.all())
        .filter(_claimable_q(user))
        .select_related("task_definition", "queue_role", "workflow_instance__ticket__ticket_type")
        .order_by("created_at", "id")
    )


def may_claim_task(user: Any, task: TaskInstance) -> bool:
    """An active member of the task's queue role, of its company. (Whether it is still
    unclaimed is state: the claim service's StateConflict.)"""
    return (
        task.company_id == company_id(user)
        and task.queue_role_id is not None
        and user.company_roles.filter(pk=task.queue_role_id).exists()
    )


def may_complete_task(user: Any, task: TaskInstance) -> bool:
    """The assignee, whatever their system role (assignment rules give tasks to
    submitters and named people too), or a ticket manager, of the task's company.
    Services re-check it on the locked row (the task may have been reassigned)."""
    if task.company_id != company_id(user):
        return False
    if manages_tickets(user):
        return True
    return task.assigned_to_id == user.pk


def may_receive_task(user: Any, task: TaskInstance) -> bool:
    """Whom a task may be (re)assigned to: an active task worker of its company."""
    return (
        user is not None
        and user.company_id == task.company_id
        and user.is_active
        and user.has_role(SystemRole.TASK_WORKER)
    )


def may_operate_task(user: Any, task: TaskInstance) -> bool:
    """Reassign, complete by hand, retry."""
    return task.company_id == company_id(user) and manages_tickets(user)


def assignable_workers(task: TaskInstance) -> QuerySet[User]:
    """Whom `task` may go to (see `may_receive_task`): its company's active task workers."""
    return User.objects.filter(
        company_id=task.company_id, groups__name=SystemRole.TASK_WORKER, is_active=True
    ).order_by("email")


def workers_seen_by(user: Any) -> QuerySet[User]:
    """Active task workers in the back-office user's view (assignee filters)."""
    return backoffice(user, User.objects.filter(groups__name=SystemRole.TASK_WORKER, is_active=True))


# --- attachments ----------------------------------------------------------------------------


def visible_attachments(user: Any) -> QuerySet[FileUpload]:
    """Files of visible tickets, of tickets the user holds a task on, and of tickets
    with a queue task the user may claim (they decide whether to take it). An internal
    note's files are the team's only (`on_ticket_team`): not a submitter answering a
    rework, nor a claimer."""
    qs = in_company(user, FileUpload.objects.filter(ticket__isnull=False))
    if company_id(user) is None or manages_tickets(user):
        return qs
    holds = _holds_task_on(user)
    claimable = Exists(
        TaskInstance.objects.filter(workflow_instance_id=OuterRef("ticket__workflow_instance_id")).filter(
            _claimable_q(user)
        )
    )
    team = Exists(
        _worked_tasks(
            TaskInstance.objects.filter(
                workflow_instance_id=OuterRef("ticket__workflow_instance_id"), assigned_to=user
            ),
            OuterRef("ticket__created_by_id"),
        )
    )
    public = ~Q(comment__internal=True) & (holds | claimable | Q(ticket__created_by=user))
    return qs.filter(team | public)


def may_download(user: Any, upload: FileUpload) -> bool:
    return visible_attachments(user).filter(pk=upload.pk).exists()


# --- errors ---------------------------------------------------------------------------------


def visible_errors(user: Any) -> QuerySet[TicketError]:
    """Ticket errors are plumbing: ticket managers only (submitters see a plain line)."""
    qs = in_company(user, TicketError.objects.all())
    return qs if manages_tickets(user) else qs.none()


def may_triage_error(user: Any, error: TicketError) -> bool:
    return error.company_id == company_id(user) and manages_tickets(user)


# --- definitions ----------------------------------------------------------------------------


def visible_definitions[M: Model](user: Any, model: type[M]) -> QuerySet[M]:
    """Workflow, task, transition and ticket-type definitions: readable by everyone in the
    back office who may view them (creators, ticket admins, company admins)."""
    if model not in DEFINITION_MODELS:
        raise ValueError(f"{model.__name__} is not a definition model.")
    opts = model._meta
    qs: QuerySet[M] = model._default_manager.all()  # type: ignore[assignment]
    if company_id(user) is None or not user.has_perm(f"{opts.app_label}.view_{opts.model_name}"):
        return qs.none()
    return in_company(user, qs)


def may_edit_definition(user: Any, definition: Model) -> bool:
    return getattr(definition, "company_id", None) == company_id(user) and edits_definitions(user)


# --- page guard -----------------------------------------------------------------------------

View = Callable[..., HttpResponse]


def page_requires(predicate: Callable[[Any], bool], message: str) -> Callable[[View], View]:
    """Logged in (else the login page) and `predicate(user)` (else 403 with `message`).
    Rows are checked by the view through `visible_*` (404)."""

    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not predicate(request.user):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
