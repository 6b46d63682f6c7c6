"""Who does a FORM task: the task definition's `assign` rule, and the per-worker
open-task counters that make least-loaded assignment cost O(pool), not O(tasks).

Rules (`TaskDefinition.assign`; `{}` is `least_loaded` without a role):

- `least_loaded` [role]: the company's active, available task workers (holding `role`,
  when given) ordered by fewest open tasks, least recently assigned, lowest id.
- `queue` role: nobody; the role's members claim it from their Claimable list.
- `submitter`: the ticket's submitter (no task_worker role needed).
- `user` email: that person of the company.
- `same_as` task: whoever completed that earlier task of this ticket.
- `expression` expr: JMESPath over `{"ticket", "tasks"}` giving an email of the company.

A rule that finds nobody never raises: the task waits unassigned and the decision's
reason says why (the engine puts it on the timeline).

Counters (`User.open_tasks`, `User.last_assigned_at`) change in the same transaction as
the task they count. Lock order: workflow instance, task, then the pool's advisory lock
(least_loaded only; one per company and role, so other pools and companies run in
parallel), and last the counter rows, in user-id order. Services wrap their transaction
in `tracked_loads()`, which defers counter writes to its end and sorts them, so two
transactions never take user rows in opposite orders and nothing waits for a pool lock
while holding a counter row."""

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import CompanyRole, User
from accounts.roles import SystemRole
from workflows import fastsql
from workflows.expressions import ExpressionError, compile_expression, evaluate
from workflows.models import OPEN_TASK_STATUSES, TaskInstance, TaskStatus, TaskType


class Rule(enum.StrEnum):
    LEAST_LOADED = "least_loaded"
    QUEUE = "queue"
    SUBMITTER = "submitter"
    USER = "user"
    SAME_AS = "same_as"
    EXPRESSION = "expression"


# Per rule: required fields, optional fields.
RULE_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    Rule.LEAST_LOADED: ((), ("role",)),
    Rule.QUEUE: (("role",), ()),
    Rule.SUBMITTER: ((), ()),
    Rule.USER: (("email",), ()),
    Rule.SAME_AS: (("task",), ()),
    Rule.EXPRESSION: (("expr",), ()),
}


def rule_problems(
    spec: Any, *, task_type: str, role_names: set[str] | None, task_types: dict[str, str]
) -> list[tuple[str, str]]:
    """(sub-path, message) for every problem of one task's `assign`; sub-paths are
    relative to the `assign` value ("" is the value itself). `role_names` None skips the
    role check (no company known); `task_types` maps the workflow's task keys to types."""
    if spec in (None, {}):
        return []
    if not isinstance(spec, dict):
        return [("", 'An assignment rule is a JSON object such as {"rule": "least_loaded"}.')]
    if task_type != TaskType.FORM:
        return [("", f"Only FORM tasks are assigned to people; a {task_type} task has no assign rule.")]
    rule = spec.get("rule")
    if rule not in RULE_FIELDS:
        return [(".rule", f"Unknown rule {rule!r}; one of: {', '.join(RULE_FIELDS)}.")]
    required, optional = RULE_FIELDS[rule]
    problems: list[tuple[str, str]] = []
    for name in required:
        if not isinstance(spec.get(name), str) or not spec[name].strip():
            problems.append((f".{name}", f"The {rule} rule needs '{name}'."))
    for name in spec:
        if name != "rule" and name not in required + optional:
            problems.append((f".{name}", f"The {rule} rule takes no '{name}'."))
    if problems:
        return problems
    role = spec.get("role")
    if role and role_names is not None and role not in role_names:
        problems.append((".role", f"Unknown company role '{role}'."))
    if rule == Rule.SAME_AS:
        key = spec["task"]
        if key not in task_types:
            problems.append((".task", f"Unknown task '{key}' in this workflow."))
        elif task_types[key] != TaskType.FORM:
            problems.append((".task", f"Task '{key}' is not a FORM task: nobody completes it by hand."))
    if rule == Rule.EXPRESSION:
        try:
            compile_expression(spec["expr"])
        except ExpressionError as exc:
            problems.append((".expr", f"Invalid JMESPath {spec['expr']!r}: {exc.reason}"))
    if rule == Rule.USER and "@" not in spec["email"]:
        problems.append((".email", f"'{spec['email']}' is not an email address."))
    return problems


@dataclass(frozen=True)
class AssignmentDecision:
    rule: str
    user: User | None
    message: str
    open_tasks: int | None = None
    candidates: int = 0
    queue_role: CompanyRole | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    gap: str = ""  # why nobody can do the task now (empty when someone can)

    def reason(self) -> str:
        return self.message

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "assignee": self.user.pk if self.user else None,
            **self.extra,
        }
        if self.rule == Rule.LEAST_LOADED:
            out.update(open_tasks=self.open_tasks, candidates=self.candidates)
        if self.queue_role is not None:
            out["queue"] = self.queue_role.name
        return out


def _nobody(rule: str, why: str, **extra: Any) -> AssignmentDecision:
    return AssignmentDecision(rule, None, f"{why} The task waits unassigned.", extra=extra, gap=why)


# --- counters ----------------------------------------------------------------------------


@dataclass
class _Change:
    delta: int = 0
    assigned_at: datetime | None = None


_pending: ContextVar[dict[int, _Change] | None] = ContextVar("assignment_pending", default=None)


@contextmanager
def tracked_loads() -> Iterator[None]:
    """Defers counter writes to the end of the block and applies them in user-id order.
    Use it inside the service's `transaction.atomic()`; nested uses join the outer one."""
    if _pending.get() is not None:
        yield
        return
    token = _pending.set({})
    try:
        yield
        changes = _pending.get() or {}
        _pending.set(None)
        _apply_all([(user_id, changes[user_id]) for user_id in sorted(changes)])
    finally:
        _pending.reset(token)


_APPLY = (
    "UPDATE accounts_user SET open_tasks = open_tasks + %s, "
    "last_assigned_at = COALESCE(%s, last_assigned_at) WHERE id = %s"
)


def _apply(user_id: int, change: _Change) -> None:
    _apply_all([(user_id, change)])


def _apply_all(changes: list[tuple[int, _Change]]) -> None:
    """The counter UPDATEs in the given (user-id) order. On PostgreSQL they go in one
    round trip: several statements in one query string run one after the other, so the
    rows are still locked in that order (one multi-row UPDATE would lock them in scan
    order). Django's client-side binding allows it; with server-side binding (or SQLite)
    each statement goes alone."""
    rows = [(c.delta, c.assigned_at, pk) for pk, c in changes if c.delta or c.assigned_at is not None]
    if not rows:
        return
    adapt = connection.ops.adapt_datetimefield_value
    params = [[delta, adapt(at), pk] for delta, at, pk in rows]
    together = connection.vendor == "postgresql" and not connection.settings_dict["OPTIONS"].get(
        "server_side_binding"
    )
    with connection.cursor() as cursor:
        if together and len(rows) > 1:
            cursor.execute("; ".join([_APPLY] * len(rows)), [v for row in params for v in row])
        else:
            for row in params:
                cursor.execute(_APPLY, row)


def _change(user_id: int, delta: int, assigned_at: datetime | None = None) -> None:
    pending = _pending.get()
    if pending is None:  # outside tracked_loads: still exact, just not lock-ordered
        _apply(user_id, _Change(delta, assigned_at))
        return
    change = pending.setdefault(user_id, _Change())
    change.delta += delta
    if assigned_at is not None:
        change.assigned_at = assigned_at


def set_assignee(task: TaskInstance, user: User | None, *, now: datetime | None = None) -> None:
    """Moves an open task to `user` (or to nobody), counters included; saves the task
    unless it is not inserted yet."""
    now = now or timezone.now()
    task_closing(task)
    task.assigned_to = user
    task.assigned_at = now if user else None
    if user is not None and task.status in OPEN_TASK_STATUSES:
        _change(user.pk, +1, assigned_at=now)
    if task.pk is not None:
        fastsql.update(task, ["assigned_to", "assigned_at", "queue_role", "updated_at"])


def task_closing(task: TaskInstance) -> None:
    """Call before an open task leaves the open statuses (completed, cancelled, error)."""
    if task.assigned_to_id is not None and task.status in OPEN_TASK_STATUSES:
        _change(task.assigned_to_id, -1)


def tasks_closing(assignee_ids: list[int | None]) -> None:
    """Bulk form of `task_closing`: the assignees of the open tasks being closed."""
    for user_id in assignee_ids:
        if user_id is not None:
            _change(user_id, -1)


def open_count_truth() -> Coalesce:
    """The counter's definition as SQL, per user row (used to reconcile and to test)."""
    count = (
        TaskInstance._base_manager.filter(assigned_to=OuterRef("pk"), status__in=OPEN_TASK_STATUSES)
        .order_by()
        .values("assigned_to")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(count), 0)


def reconcile(*, company_id: int | None = None) -> list[tuple[int, int, int]]:
    """Sets every counter that differs from the truth; returns (user id, was, now).
    Each fix locks the user row and counts again, so it is safe beside live traffic."""
    users = User.objects.filter(company__isnull=False)
    if company_id is not None:
        users = users.filter(company_id=company_id)
    fixed = []
    suspects = users.annotate(truth=open_count_truth()).exclude(open_tasks=F("truth"))
    for user_id in suspects.values_list("pk", flat=True):
        with transaction.atomic():
            was = (
                User.objects.select_for_update(of=("self",))
                .values_list("open_tasks", flat=True)
                .get(pk=user_id)
            )
            now = (
                User.objects.filter(pk=user_id)
                .annotate(truth=open_count_truth())
                .values_list("truth", flat=True)[0]
            )
            if was != now:
                User.objects.filter(pk=user_id).update(open_tasks=now)
                fixed.append((user_id, was, now))
    return fixed


# --- rules -------------------------------------------------------------------------------


def available_workers(company_id: int, role: str | None = None) -> QuerySet[User]:
    qs = User.objects.filter(
        company_id=company_id,
        is_active=True,
        is_available=True,
        groups__name=SystemRole.TASK_WORKER,
    )
    if role:
        qs = qs.filter(company_roles__name=role)
    return qs


def _lock_pool(company_id: int, role: str | None) -> None:
    """Serialises least-loaded picks within one pool (company + role), and only there.
    SQLite serialises every writer anyway."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"tf-pool:{company_id}:{role or ''}"]
        )


def _role(company_id: int, name: str) -> CompanyRole | None:
    return CompanyRole.objects.filter(company_id=company_id, name=name).first()


def _least_loaded(task: TaskInstance, spec: dict[str, Any]) -> AssignmentDecision:
    role = spec.get("role") or None
    _lock_pool(task.company_id, role)
    return choose_worker(task.company_id, role)


def _pick_sql(with_role: bool, pending: int, loads: int, times: int) -> str:
    """The pool's best worker, one statement (text per shape, built once). The first row
    of the partial index accounts_user_worker_pool (company, open tasks, last assigned
    NULLS FIRST, id) is the answer, so the cost does not grow with the pool (a role pool
    skips the workers ahead of its best member). The `pending` users, whose counters
    this transaction changed (`loads` deltas, `times` assignment times) but
    `tracked_loads` writes only at its end (lock order), are read apart with those
    changes counted: without them, whoever has just completed a step counted it for the
    next one. The candidates are counted up to CANDIDATES_CAP."""
    roles = User.company_roles.through._meta.db_table
    users = User._meta.db_table
    cols = fastsql.select_list(User, "u")

    def pool(alias: str) -> str:
        role = (
            f" AND EXISTS (SELECT 1 FROM {roles} ucr INNER JOIN {CompanyRole._meta.db_table} cr "  # noqa: S608 - names from the models
            f"ON cr.id = ucr.companyrole_id WHERE ucr.user_id = {alias}.id AND cr.name = %s)"
            if with_role
            else ""
        )
        return (
            f"{alias}.company_id = %s AND {alias}.is_active AND {alias}.is_available "
            f"AND {alias}.is_task_worker{role}"
        )

    ids = ", ".join(["%s"] * pending)
    best = (
        f"SELECT {cols}, u.open_tasks AS tf_load, u.last_assigned_at AS tf_recent FROM {users} u "  # noqa: S608 - names from the models, values are parameters
        f"WHERE {pool('u')}{f' AND u.id NOT IN ({ids})' if pending else ''} "
        "ORDER BY u.open_tasks, u.last_assigned_at ASC NULLS FIRST, u.id LIMIT 1"
    )
    if pending:
        load = "u.open_tasks"
        if loads:
            load += " + CASE u.id " + "WHEN %s THEN %s " * loads + "ELSE 0 END"
        recent = "u.last_assigned_at"
        if times:
            recent = "CASE u.id " + "WHEN %s THEN %s " * times + "ELSE u.last_assigned_at END"
        best = (
            f"SELECT * FROM ({best}) a UNION ALL "  # noqa: S608 - names from the models, values are parameters
            f"SELECT {cols}, {load}, {recent} FROM {users} u WHERE u.id IN ({ids}) AND {pool('u')}"
        )
    # In the index's order, so the planner reads the index rather than scan the table
    # until it has found enough.
    count = (
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {users} c WHERE {pool('c')} "  # noqa: S608 - names from the models, values are parameters
        f"ORDER BY c.open_tasks, c.last_assigned_at ASC NULLS FIRST, c.id LIMIT {CANDIDATES_CAP}) n"
    )
    return f"SELECT p.*, ({count}) FROM ({best}) p ORDER BY tf_load, tf_recent ASC NULLS FIRST, id LIMIT 1"  # noqa: S608 - names from the models, values are parameters


# The number of candidates a reason names stops here: counting on would read the whole
# pool, and the user rows' counters change so often that each counted row is a heap read
# (0.5 ms for 100, under the pool's lock, at 1M tickets).
CANDIDATES_CAP = 10


def choose_worker(company_id: int, role: str | None = None) -> AssignmentDecision:
    """The least-loaded pick itself (the caller holds the pool lock): one query, whatever
    the number of tasks or workers, counting this transaction's own unwritten counter
    changes (`_pick_sql`)."""
    pending = _pending.get() or {}
    loads = [(pk, c.delta) for pk, c in pending.items() if c.delta]
    times = [(pk, c.assigned_at) for pk, c in pending.items() if c.assigned_at is not None]
    changed = sorted({pk for pk, _ in loads} | {pk for pk, _ in times})
    adapt = connection.ops.adapt_datetimefield_value
    in_pool: list[Any] = [company_id, *([role] if role else [])]
    params: list[Any] = [*in_pool, *in_pool, *changed]
    if changed:
        params += [v for pk, delta in loads for v in (pk, delta)]
        params += [v for pk, at in times for v in (pk, adapt(at))]
        params += [*changed, *in_pool]
    shape = (bool(role), len(changed), len(loads), len(times))
    sql = fastsql.cached(("pick", *shape), lambda: _pick_sql(*shape))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    pool = f"task workers with the company role '{role}'" if role else "task workers"
    if row is None:
        if role and _role(company_id, role) is None:
            return _nobody(Rule.LEAST_LOADED, f"The company role '{role}' does not exist.", role=role)
        with_role = f" with the company role '{role}'" if role else ""
        return _nobody(Rule.LEAST_LOADED, f"No available task worker{with_role}.", role=role)
    *columns, open_tasks, _, candidates = row
    best = fastsql.row_to(User, columns)
    among = f"{candidates}" if candidates < CANDIDATES_CAP else f"{CANDIDATES_CAP} or more"
    return AssignmentDecision(
        Rule.LEAST_LOADED,
        best,
        f"Assigned to {best} ({open_tasks} open task(s), the fewest among {among} available {pool}).",
        open_tasks=open_tasks,
        candidates=candidates,
        extra={"role": role} if role else {},
    )


def _queue(task: TaskInstance, spec: dict[str, Any]) -> AssignmentDecision:
    return _queue_in(task.company_id, spec)


def _queue_in(company_id: int, spec: dict[str, Any]) -> AssignmentDecision:
    role = _role(company_id, spec["role"])
    if role is None:
        return _nobody(
            Rule.QUEUE, f"The company role '{spec['role']}' does not exist, so nobody can claim it."
        )
    members = role.users.filter(is_active=True).exists()
    message = f"Waiting in the '{role.name}' queue: the first member of the role to claim it does it."
    gap = "" if members else f"The company role '{role.name}' has no active members yet."
    if gap:
        message += " The role has no active members yet: a ticket admin must assign it."
    return AssignmentDecision(Rule.QUEUE, None, message, queue_role=role, gap=gap)


def _person(rule: str, user: User | None, who: str, **extra: Any) -> AssignmentDecision:
    if user is None:
        return _nobody(rule, f"{who} is not a user of this company.", **extra)
    if not user.is_active:
        return _nobody(rule, f"{who} ({user.email}) is inactive.", **extra)
    return AssignmentDecision(rule, user, f"Assigned to {user}: {who}.", extra=extra)


def _by_email(task: TaskInstance, email: str) -> User | None:
    return User.objects.filter(company_id=task.company_id, email__iexact=email.strip()).first()


def _submitter(task: TaskInstance, spec: dict[str, Any]) -> AssignmentDecision:
    user_id = task.workflow_instance.submitted_by_id
    user = User.objects.filter(pk=user_id, company_id=task.company_id).first() if user_id else None
    return _person(Rule.SUBMITTER, user, "the ticket's submitter")


def _user(task: TaskInstance, spec: dict[str, Any]) -> AssignmentDecision:
    email = spec["email"]
    return _person(Rule.USER, _by_email(task, email), f"the named user {email}", email=email)


def _same_as(task: TaskInstance, spec: dict[str, Any]) -> AssignmentDecision:
    key = spec["task"]
    earlier = (
        TaskInstance.objects.filter(
            workflow_instance_id=task.workflow_instance_id,
            task_definition__key=key,
            status=TaskStatus.COMPLETED,
        )
        .select_related("completed_by", "assigned_to")
        .order_by("-completed_at", "-id")
        .first()
    )
    if earlier is None:
        return _nobody(Rule.SAME_AS, f"Task '{key}' has not been completed on this ticket.", task=key)
    person = earlier.completed_by or earlier.assigned_to
    return _person(Rule.SAME_AS, person, f"whoever completed '{key}'", task=key)


def _expression(task: TaskInstance, spec: dict[str, Any]) -> AssignmentDecision:
    expr = spec["expr"]
    data = task.workflow_instance.workflow_data or {}
    try:
        value = evaluate(expr, {"ticket": data.get("ticket", {}), "tasks": data.get("tasks", {})})
    except ExpressionError as exc:
        return _nobody(Rule.EXPRESSION, f"The expression failed: {exc.reason}.", expr=expr)
    if not isinstance(value, str) or not value.strip():
        return _nobody(
            Rule.EXPRESSION, f"The expression {expr!r} gave {value!r}, not an email address.", expr=expr
        )
    return _person(Rule.EXPRESSION, _by_email(task, value), f"{value} (from {expr!r})", expr=expr)


_RULES = {
    Rule.LEAST_LOADED: _least_loaded,
    Rule.QUEUE: _queue,
    Rule.SUBMITTER: _submitter,
    Rule.USER: _user,
    Rule.SAME_AS: _same_as,
    Rule.EXPRESSION: _expression,
}


def decide(task: TaskInstance) -> AssignmentDecision:
    spec = task.task_definition.assign or {}
    rule = spec.get("rule", Rule.LEAST_LOADED) if isinstance(spec, dict) else None
    if rule not in _RULES:  # saved around the validator (e.g. a raw SQL edit)
        return _nobody(str(rule), f"Unknown assignment rule {rule!r}.")
    return _RULES[Rule(rule)](task, spec)


def decision_now(company_id: int, spec: Any) -> AssignmentDecision | None:
    """What a form task's rule would decide now, for the rules that need no ticket
    (least_loaded, queue, user); None for the others. Reads only, takes no lock."""
    spec = spec if isinstance(spec, dict) else {}
    rule = spec.get("rule", Rule.LEAST_LOADED)
    if rule == Rule.LEAST_LOADED:
        return choose_worker(company_id, spec.get("role") or None)
    if rule == Rule.QUEUE:
        return _queue_in(company_id, spec)
    if rule == Rule.USER:
        email = str(spec.get("email", ""))
        user = User.objects.filter(company_id=company_id, email__iexact=email.strip()).first()
        return _person(Rule.USER, user, f"the named user {email}")
    return None


def preview(company_id: int | None, spec: Any) -> str:
    """Who a form task's rule would pick now, without a ticket (dry runs; reads only).
    The rules that depend on the ticket say what they will look at."""
    spec = spec if isinstance(spec, dict) else {}
    rule = spec.get("rule", Rule.LEAST_LOADED)
    role = spec.get("role") or None
    decision = decision_now(company_id, spec) if company_id is not None else None
    if decision is not None:
        return decision.reason()
    if rule == Rule.LEAST_LOADED:
        pool = f" with the company role '{role}'" if role else ""
        return f"The available task worker{pool} with the fewest open tasks."
    if rule == Rule.QUEUE:
        return f"Waiting in the '{spec.get('role', '')}' queue."
    if rule == Rule.SUBMITTER:
        return "The ticket's submitter."
    if rule == Rule.USER:
        return f"The named user {spec.get('email', '')}."
    if rule == Rule.SAME_AS:
        return f"Whoever completed '{spec.get('task', '')}' on the ticket."
    if rule == Rule.EXPRESSION:
        return f"The user whose email {spec.get('expr', '')!r} gives on the ticket."
    return f"Unknown assignment rule {rule!r}."


def assign(task: TaskInstance) -> AssignmentDecision:
    """Applies the task definition's rule to a new open task (saved if it already is).
    Must run inside a transaction; see the module docstring for locks."""
    decision = decide(task)
    task.queue_role = decision.queue_role
    set_assignee(task, decision.user)
    return decision
