"""First run: the setup checklist a new company sees on its landing page, and the template
gallery that installs a sample bundle (fixtures/bundles) into the company in one click."""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.urls import reverse

from accounts.models import User
from accounts.roles import SystemRole
from tickets import access
from tickets.bundles import ImportReport, import_bundle, parse
from tickets.models import Ticket, TicketType
from workflows.assignment import available_workers, decision_now
from workflows.models import TaskDefinition, TaskType

BUNDLES = Path(settings.BASE_DIR) / "fixtures" / "bundles"
# The sample bundles' action URLs point at the demo endpoints of a local `make run`;
# installing one rewrites them to this installation's own address.
SAMPLE_BASE_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    why: str
    done: bool
    url: str
    action: str


def setup_checklist(user: User) -> list[Step] | None:
    """The company admin's first steps, each ticked from the data itself (four EXISTS
    queries, whatever the company's size). None for everyone else."""
    company_id = access.company_id(user)
    if company_id is None or not user.has_role(SystemRole.ADMIN):
        return None
    invited = User.objects.filter(company_id=company_id).exclude(pk=user.pk).exists()
    has_type = TicketType.objects.filter(company_id=company_id).exists()
    has_worker = available_workers(company_id).exists()
    has_ticket = Ticket.objects.filter(company_id=company_id).exists()
    return [
        Step(
            "invite",
            "Invite your people",
            "Add the colleagues who submit tickets, work tasks or run the back office, each with a role.",
            invited,
            reverse("admin:accounts_user_add"),
            "Invite someone",
        ),
        Step(
            "workflow",
            "Install or build a workflow",
            "Start from a template and edit it, or build your own ticket type and workflow.",
            has_type,
            reverse("template_gallery"),
            "Choose a template",
        ),
        Step(
            "workers",
            "Have someone to do the tasks",
            "Form tasks go to available task workers. You receive none until you choose to: "
            "make yourself available on My tasks, or invite task workers.",
            has_worker,
            reverse("task_list"),
            "Make yourself available",
        ),
        Step(
            "ticket",
            "Submit a first ticket",
            "See it run through your workflow, step by step.",
            has_ticket,
            reverse("ticket_new"),
            "Submit a ticket",
        ),
    ]


@dataclass(frozen=True)
class Sample:
    key: str
    title: str
    description: str
    workflows: list[str]
    ticket_types: list[str]
    roles: list[str]
    steps: int


def _read(path: Path) -> dict[str, Any]:
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return parse(path.read_text(encoding="utf-8").replace(SAMPLE_BASE_URL, base))


@cache
def _paths() -> dict[str, Path]:
    return {path.stem: path for path in sorted(BUNDLES.glob("*.json"))}


def samples() -> list[Sample]:
    out = []
    for key, path in _paths().items():
        bundle = json.loads(path.read_text(encoding="utf-8"))
        workflows = bundle.get("workflows", [])
        types = bundle.get("ticket_types", [])
        out.append(
            Sample(
                key=key,
                title=(workflows[0]["title"] if workflows else key.replace("-", " ").capitalize()),
                description=(workflows[0].get("description", "") if workflows else ""),
                workflows=[w["title"] for w in workflows],
                ticket_types=[t["title"] for t in types],
                roles=[r["name"] for r in bundle.get("company_roles", [])],
                steps=sum(len(w.get("tasks", [])) for w in workflows),
            )
        )
    return out


def installed_keys(company_id: int) -> set[str]:
    """Samples whose ticket types all exist in the company already."""
    have = set(TicketType.objects.filter(company_id=company_id).values_list("key", flat=True))
    out = set()
    for key, path in _paths().items():
        types = {t["key"] for t in json.loads(path.read_text(encoding="utf-8")).get("ticket_types", [])}
        if types and types <= have:
            out.add(key)
    return out


def closed_types(user: User, key: str) -> list[tuple[str, list[str]]]:
    """The sample's ticket types that `user` may not submit (shared with company roles
    they do not hold), each with those roles' names: right after an install, nobody
    holds them yet."""
    path = _paths().get(key)
    if path is None:
        return []
    keys = [t["key"] for t in json.loads(path.read_text(encoding="utf-8")).get("ticket_types", [])]
    open_ids = set(access.submittable_types(user).filter(key__in=keys).values_list("pk", flat=True))
    closed = TicketType.objects.filter(company_id=access.company_id(user), key__in=keys).exclude(
        pk__in=open_ids
    )
    return [
        (t.title, [r.name for r in t.company_roles.all()]) for t in closed.prefetch_related("company_roles")
    ]


def unstaffed_steps(user: User, key: str) -> list[str]:
    """The installed sample's form steps that nobody could do if a ticket came now (an
    empty pool or role, an unknown person), each as "'Title': why". Rules that depend on
    the ticket (submitter, same_as, expression) are not judged here."""
    path = _paths().get(key)
    company_id = access.company_id(user)
    if path is None or company_id is None:
        return []
    keys = [w["key"] for w in json.loads(path.read_text(encoding="utf-8")).get("workflows", [])]
    steps = TaskDefinition.objects.filter(
        company_id=company_id, workflow__key__in=keys, task_type=TaskType.FORM
    ).order_by("workflow__key", "pk")
    out = []
    for step in steps.only("title", "assign"):
        decision = decision_now(company_id, step.assign)
        if decision is not None and decision.gap:
            out.append(f"'{step.title}': {decision.gap}")
    return out


class UnknownSample(Exception):
    pass


def install_sample(*, user: User, key: str) -> ImportReport:
    """Imports the sample bundle `key` (roles, workflows, ticket types) into the user's
    company, in one transaction; installing again updates it to the sample."""
    path = _paths().get(key)
    if path is None:
        raise UnknownSample(key)
    company = user.company
    assert company is not None
    return import_bundle(company=company, bundle=_read(path), actor=user)
