"""Definitions as data: one JSON bundle of company roles, workflows and ticket types.

`validate` is the one validator behind `validate_bundle`, `import_bundle`, the admin
upload page and the admin's save checks. It reports every problem with a JSON path.
`import_bundle` is all-or-nothing and upserts by key; `export_bundle` writes what
`import_bundle` reads, so export -> import reproduces the same definitions.

Lives in `tickets` (not `workflows`) because bundles hold ticket types, and apps depend
one way: tickets -> workflows -> accounts."""

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
from django.db import transaction
from django.db.models import ProtectedError

from accounts.models import Company, CompanyRole, User
from tickets.models import TicketType
from workflows import jsonsafe
from workflows.assignment import rule_problems
from workflows.dry_run import FAILED, dry_run
from workflows.lint import ERROR, WARNING, lint_workflow
from workflows.models import TaskDefinition, TaskType, Transition, WorkflowDefinition

FORMAT = 1
SCHEMA_PATH = Path(__file__).with_name("bundle.schema.json")

_TASK_FIELDS = {  # bundle name -> model field, with the default export omits
    "description": ("description", ""),
    "ext_ref": ("ext_ref", []),
    "input_schema": ("input_schema", {}),
    "output_schema": ("output_schema", {}),
    "public": ("public_fields", []),
    "input_transform": ("input_transform", {}),
    "output_transform": ("output_transform", {}),
    "action_url": ("action_url", ""),
    "timeout_seconds": ("timeout_seconds", None),
    "callback_timeout_seconds": ("callback_timeout_seconds", None),
    "version": ("version", 1),
    "edit_layout": ("edit_layout", ""),
    "display_layout": ("display_layout", ""),
    "assign": ("assign", {}),
}
_WORKFLOW_FIELDS = {
    "description": ("description", ""),
    "ext_ref": ("ext_ref", []),
    "fields": ("fields", []),
    "version": ("version", 1),
    "display_layout": ("display_layout", ""),
    "examples": ("examples", []),
}
_TYPE_FIELDS = {
    "description": ("description", ""),
    "ext_ref": ("ext_ref", []),
    "fields": ("fields", {}),
    "version": ("version", 1),
    "edit_layout": ("edit_layout", ""),
    "display_layout": ("display_layout", ""),
}


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    # Errors refuse an import; warnings (see workflows.lint) are shown and allowed.
    severity: str = ERROR

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == WARNING else ""
        return f"{self.path}: {prefix}{self.message}"


class BundleInvalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class ImportReport:
    created: dict[str, int] = field(default_factory=lambda: {"roles": 0, "workflows": 0, "ticket_types": 0})
    updated: dict[str, int] = field(default_factory=lambda: {"roles": 0, "workflows": 0, "ticket_types": 0})
    unchanged: dict[str, int] = field(default_factory=lambda: {"roles": 0, "workflows": 0, "ticket_types": 0})
    published: list[str] = field(default_factory=list)  # "key v2"
    warnings: list[Problem] = field(default_factory=list)  # lints: shown, not refused

    @property
    def changed(self) -> bool:
        return any(self.created.values()) or any(self.updated.values()) or bool(self.published)

    def __str__(self) -> str:
        if not self.changed:
            return "nothing changed: the bundle matches the stored definitions; nothing published"
        parts = [
            f"{k}: {self.created[k]} created, {self.updated[k]} updated, {self.unchanged[k]} unchanged"
            for k in self.created
        ]
        parts.append(f"published: {', '.join(self.published) or 'nothing'}")
        return "; ".join(parts)


@cache
def bundle_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def _path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def bundle_text(bundle: dict[str, Any]) -> str:
    """The canonical text of a bundle: what export writes, byte for byte."""
    return json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"


# One size limit for every entry point (admin upload and paste, CLI).
MAX_BUNDLE_BYTES = 2 * 1024 * 1024


def decode(raw: bytes) -> str:
    """Bundle bytes as text: within the size limit and UTF-8, never repaired."""
    if len(raw) > MAX_BUNDLE_BYTES:
        raise BundleInvalid(
            [Problem("$", f"The bundle is larger than {MAX_BUNDLE_BYTES // 1024 // 1024} MiB.")]
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleInvalid(
            [Problem("$", f"The bundle is not UTF-8 (invalid byte at offset {exc.start}); nothing was read.")]
        ) from exc


def parse(text: str | bytes) -> dict[str, Any]:
    """A bundle document, parsed strictly (workflows.jsonsafe: no NaN, NUL, lone
    surrogates, out-of-range numbers or nesting deeper than its limit)."""
    if isinstance(text, bytes):
        text = decode(text)
    elif len(text) > MAX_BUNDLE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BUNDLE_BYTES:
        raise BundleInvalid(
            [Problem("$", f"The bundle is larger than {MAX_BUNDLE_BYTES // 1024 // 1024} MiB.")]
        )
    try:
        data = jsonsafe.loads(text)
    except jsonsafe.JSONRefused as exc:
        raise BundleInvalid([Problem(exc.path, exc.message)]) from exc
    if not isinstance(data, dict):
        raise BundleInvalid([Problem("$", "A bundle is a JSON object.")])
    return data


def validate(bundle: Any, *, company: Company | None = None) -> list[Problem]:
    """Every error in `bundle` (what refuses an import). With `company`, references to
    workflows and company roles that already exist in that company are accepted too."""
    return [p for p in check(bundle, company=company) if p.severity == ERROR]


def check(bundle: Any, *, company: Company | None = None) -> list[Problem]:
    """Every error and warning in `bundle`, errors first."""
    refused = jsonsafe.problem(bundle)  # a bundle built in code, not parsed here
    if refused is not None:
        return [Problem(refused.path, refused.message)]
    validator = jsonschema.Draft202012Validator(bundle_schema())
    problems = [
        Problem(_path(e.absolute_path), e.message)
        for e in sorted(validator.iter_errors(bundle), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if problems:  # the semantic checks below assume the structure is right
        return problems
    problems = _semantic_problems(bundle, company)
    return sorted(problems, key=lambda p: p.severity != ERROR)


def _semantic_problems(bundle: dict[str, Any], company: Company | None) -> list[Problem]:
    problems: list[Problem] = []
    add = lambda path, message: problems.append(Problem(path, message))  # noqa: E731

    role_names = _unique(bundle.get("company_roles", []), "name", "$.company_roles", "company role", add)
    if company is not None:
        role_names |= set(CompanyRole.objects.filter(company=company).values_list("name", flat=True))

    workflow_keys = _unique(bundle.get("workflows", []), "key", "$.workflows", "workflow key", add)
    fields = _ticket_fields(bundle, company)
    for w, wf in enumerate(bundle.get("workflows", [])):
        base = f"$.workflows[{w}]"
        _check_workflow(wf, base, add, role_names)
        lints = lint_workflow(wf, base, fields.get(wf["key"]))
        for lint in lints:
            problems.append(Problem(lint.path, lint.message, lint.severity))
        if not any(p.severity == ERROR and p.path.startswith(base) for p in problems):
            problems.extend(_example_problems(wf, base))
    if company is not None:
        workflow_keys |= set(
            WorkflowDefinition.objects.filter(company=company, is_snapshot=False).values_list(
                "key", flat=True
            )
        )

    _unique(bundle.get("ticket_types", []), "key", "$.ticket_types", "ticket type key", add)
    for t, tt in enumerate(bundle.get("ticket_types", [])):
        base = f"$.ticket_types[{t}]"
        if tt["workflow"] not in workflow_keys:
            add(f"{base}.workflow", f"Unknown workflow '{tt['workflow']}'.")
        for r, name in enumerate(tt.get("company_roles", [])):
            if name not in role_names:
                add(f"{base}.company_roles[{r}]", f"Unknown company role '{name}'.")
        _check_schema(tt.get("fields"), f"{base}.fields", add, must_be_object=True)
    return problems


def _example_problems(wf: dict[str, Any], base: str) -> list[Problem]:
    """Each example is dry-run; a path other than the expected one is an error."""
    out: list[Problem] = []
    for e, example in enumerate(wf.get("examples", [])):
        result = dry_run(
            wf,
            ticket=example["ticket"],
            outputs=example.get("outputs"),
            responses=example.get("responses"),
        )
        expected = example["expected_path"]
        if result.path != expected or result.status == FAILED:
            out.append(
                Problem(
                    f"{base}.examples[{e}].expected_path",
                    f"Example '{example['name']}' took {' → '.join(result.path) or 'no step'} "
                    f"({result.status}: {result.message}); expected {' → '.join(expected)}.",
                )
            )
    return out


def _ticket_fields(bundle: dict[str, Any], company: Company | None) -> dict[str, set[str] | None]:
    """Per workflow key, the field names its tickets carry (from the ticket types that
    use it); None when unknown (no type, or a type without declared properties)."""
    types = {t["key"]: (t["workflow"], t.get("fields")) for t in bundle.get("ticket_types", [])}
    if company is not None:
        stored = TicketType.objects.filter(company=company).exclude(key__in=types).select_related("workflow")
        for tt in stored:
            types[tt.key] = (tt.workflow.key, tt.fields)
    out: dict[str, set[str] | None] = {}
    for workflow, schema in types.values():
        properties = (schema or {}).get("properties") if isinstance(schema, dict) else None
        if not isinstance(properties, dict) or not properties:
            out[workflow] = None
        elif workflow not in out or out[workflow] is not None:
            out[workflow] = (out.get(workflow) or set()) | set(properties)
    return out


def _unique(items: list[dict[str, Any]], field: str, base: str, label: str, add: Any) -> set[str]:
    """The set of `field` values; each repeat is reported at its own path."""
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item[field] in seen:
            add(f"{base}[{i}].{field}", f"Duplicate {label} '{item[field]}'.")
        seen.add(item[field])
    return seen


def _check_workflow(wf: dict[str, Any], base: str, add: Any, role_names: set[str]) -> None:
    keys: dict[str, int] = {}
    starts = []
    for i, task in enumerate(wf["tasks"]):
        path = f"{base}.tasks[{i}]"
        if task["key"] in keys:
            add(f"{path}.key", f"Duplicate task key '{task['key']}' in workflow '{wf['key']}'.")
        keys.setdefault(task["key"], i)
        if task.get("start"):
            starts.append(task["key"])
        _check_task(task, path, add)
    task_types = {t["key"]: t["type"] for t in wf["tasks"]}
    for i, task in enumerate(wf["tasks"]):
        if "assign" in task:
            for sub, message in rule_problems(
                task["assign"], task_type=task["type"], role_names=role_names, task_types=task_types
            ):
                add(f"{base}.tasks[{i}].assign{sub}", message)
    if not starts:
        add(f"{base}.tasks", 'No start task: mark exactly one task with "start": true.')
    elif len(starts) > 1:
        add(f"{base}.tasks", f"More than one start task: {', '.join(starts)}.")

    defaults: dict[str, int] = {}
    for i, tr in enumerate(wf.get("transitions", [])):
        path = f"{base}.transitions[{i}]"
        for end in ("from", "to"):
            if tr[end] not in keys:
                add(f"{path}.{end}", f"Unknown task key '{tr[end]}'.")
        if tr.get("condition"):
            continue  # checked with its context by workflows.lint
        if tr["from"] in defaults:
            add(
                f"{path}",
                f"Two default transitions (no condition) leave task '{tr['from']}'; "
                f"the other is transitions[{defaults[tr['from']]}].",
            )
        else:
            defaults[tr["from"]] = i


def _check_task(task: dict[str, Any], path: str, add: Any) -> None:
    for name in ("input_schema", "output_schema"):
        _check_schema(task.get(name), f"{path}.{name}", add, must_be_object=False)
    output_props = (task.get("output_schema") or {}).get("properties") or {}
    for i, name in enumerate(task.get("public") or []):
        if name not in output_props:
            add(f"{path}.public[{i}]", f"Public field '{name}' is not a property of the output_schema.")
    url = task.get("action_url") or ""
    if task["type"] == TaskType.FORM:
        if url:
            add(f"{path}.action_url", "A FORM task has no action URL.")
        return
    if not url:
        add(f"{path}.action_url", f"A {task['type']} task needs an action URL.")
        return
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        add(f"{path}.action_url", f"Action URL must be an absolute http(s) URL, not '{url}'.")


def _check_schema(schema: Any, path: str, add: Any, *, must_be_object: bool) -> None:
    if not schema:
        return
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        add(path, f"Invalid JSON Schema: {exc.message}")
        return
    if must_be_object and schema.get("type", "object") != "object":
        add(f"{path}.type", "A ticket type's fields schema must have type 'object'.")


def row_problems(
    *,
    company: Company,
    workflows: set[str],
    tasks: set[tuple[str, str]] = frozenset(),  # type: ignore[assignment]
    transitions: set[tuple[str, str, str]] = frozenset(),  # type: ignore[assignment]
    ticket_types: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[Problem]:
    """The validator's errors that belong to the given rows, for a row import (CSV/JSON)
    that has just written them: each affected workflow is exported and validated as a
    bundle (with the company's ticket types, so ticket fields are known), and an error is
    kept when its path points into one of the rows. Problems elsewhere (a workflow still
    being built, e.g. no start task yet) do not refuse a row import; the admin's save
    warnings show them."""
    out: list[Problem] = []
    for key in sorted(workflows):
        if not WorkflowDefinition.objects.filter(company=company, key=key).exists():
            continue
        bundle = export_bundle(company=company, workflow_keys=[key])
        wf = bundle["workflows"][0]
        owners: dict[str, str] = {}
        for i, task in enumerate(wf.get("tasks", [])):
            if (key, task["key"]) in tasks:
                owners[f"$.workflows[0].tasks[{i}]"] = f"task {key}/{task['key']}"
        for i, tr in enumerate(wf.get("transitions", [])):
            if (key, tr["from"], tr["to"]) in transitions:
                owners[f"$.workflows[0].transitions[{i}]"] = f"transition {key}/{tr['from']} → {tr['to']}"
        if key in workflows and not tasks and not transitions:
            for name in _WORKFLOW_FIELDS:
                owners[f"$.workflows[0].{name}"] = f"workflow {key}"
        for t, tt in enumerate(bundle.get("ticket_types", [])):
            if tt["key"] in ticket_types:
                owners[f"$.ticket_types[{t}]"] = f"ticket type {tt['key']}"
        for problem in validate(bundle, company=company):
            for prefix, label in owners.items():
                if problem.path == prefix or problem.path.startswith((prefix + ".", prefix + "[")):
                    out.append(Problem(problem.path, f"{label}: {problem.message}"))
                    break
    return out


# --- import --------------------------------------------------------------------------


def import_bundle(*, company: Company, bundle: Any, actor: User | None = None) -> ImportReport:
    """Validates, then writes everything or nothing. Rows are matched by key (roles by
    name) within `company` only, so another company's keys can never be touched.
    Unchanged rows are left alone and counted as unchanged; each workflow whose content
    changed (or that was never published) is published as a new version."""
    from tickets.versions import publish  # tickets.versions builds on this module

    found = check(bundle, company=company)
    problems = [p for p in found if p.severity == ERROR]
    if problems:
        raise BundleInvalid(problems)
    report = ImportReport(warnings=[p for p in found if p.severity != ERROR])
    with transaction.atomic():
        roles = {r.name: r for r in CompanyRole.objects.filter(company=company)}
        for spec in bundle.get("company_roles", []):
            role = roles.get(spec["name"])
            if role is None:
                roles[spec["name"]] = CompanyRole.objects.create(
                    company=company, name=spec["name"], description=spec.get("description", "")
                )
                report.created["roles"] += 1
            elif role.description != spec.get("description", ""):
                role.description = spec.get("description", "")
                role.save(update_fields=["description"])
                report.updated["roles"] += 1
            else:
                report.unchanged["roles"] += 1
        for spec in bundle.get("workflows", []):
            _import_workflow(company, spec, actor, report)
        workflows = {w.key: w for w in WorkflowDefinition.objects.filter(company=company, is_snapshot=False)}
        for spec in bundle.get("ticket_types", []):
            _import_ticket_type(company, spec, workflows, roles, actor, report)
        for spec in bundle.get("workflows", []):
            version = publish(workflow=workflows[spec["key"]], actor=actor)
            if version is not None:
                report.published.append(f"{spec['key']} v{version.number}")
    return report


def _same_json(a: Any, b: Any) -> bool:
    return json.dumps(a) == json.dumps(b)  # key order counts


def _import_ticket_type(
    company: Company,
    spec: dict[str, Any],
    workflows: dict[str, WorkflowDefinition],
    roles: dict[str, CompanyRole],
    actor: User | None,
    report: ImportReport,
) -> None:
    values: dict[str, Any] = {
        model: spec.get(name, default) for name, (model, default) in _TYPE_FIELDS.items()
    }
    values["title"] = spec["title"]
    values["workflow"] = workflows[spec["workflow"]]
    role_rows = [roles[name] for name in spec.get("company_roles", [])]
    tt = TicketType.objects.filter(company=company, key=spec["key"]).first()
    if tt is None:
        tt = TicketType.objects.create(company=company, key=spec["key"], created_by=actor, **values)
        tt.company_roles.set(role_rows)
        report.created["ticket_types"] += 1
        return
    same = all(_same_json(getattr(tt, k), v) for k, v in values.items() if k != "workflow")
    same = same and tt.workflow_id == values["workflow"].pk
    same = same and set(tt.company_roles.values_list("pk", flat=True)) == {r.pk for r in role_rows}
    if same:
        report.unchanged["ticket_types"] += 1
        return
    for name, value in values.items():
        setattr(tt, name, value)
    tt.save()
    tt.company_roles.set(role_rows)
    report.updated["ticket_types"] += 1


def _import_workflow(
    company: Company, spec: dict[str, Any], actor: User | None, report: ImportReport
) -> None:
    drafts = WorkflowDefinition.objects.filter(company=company, is_snapshot=False)
    before = None
    if drafts.filter(key=spec["key"]).exists():
        before = bundle_text(export_bundle(company=company, workflow_keys=[spec["key"]])["workflows"][0])
    with transaction.atomic():  # a savepoint: rolled back when nothing changed
        _write_workflow(company, spec, actor)
        if before is not None:
            after = bundle_text(export_bundle(company=company, workflow_keys=[spec["key"]])["workflows"][0])
            if after == before:
                transaction.set_rollback(True)
                report.unchanged["workflows"] += 1
                return
            report.updated["workflows"] += 1
        else:
            report.created["workflows"] += 1


def _write_workflow(company: Company, spec: dict[str, Any], actor: User | None) -> None:
    values = {model: spec.get(name, default) for name, (model, default) in _WORKFLOW_FIELDS.items()}
    wf, _ = WorkflowDefinition.objects.filter(is_snapshot=False).update_or_create(
        company=company,
        key=spec["key"],
        defaults={"title": spec["title"], **values},
        create_defaults={"title": spec["title"], "created_by": actor, **values},
    )
    existing = {t.key: t for t in TaskDefinition.objects.filter(workflow=wf)}
    tasks: dict[str, TaskDefinition] = {}
    for task_spec in spec["tasks"]:
        task_values = {model: task_spec.get(name, default) for name, (model, default) in _TASK_FIELDS.items()}
        task_values["title"] = task_spec["title"]
        task_values["task_type"] = task_spec["type"]
        task = existing.pop(task_spec["key"], None)
        if task is None:
            task = TaskDefinition.objects.create(
                company=company, workflow=wf, key=task_spec["key"], created_by=actor, **task_values
            )
        else:
            for name, value in task_values.items():
                setattr(task, name, value)
            task.save()
        tasks[task_spec["key"]] = task
    Transition.objects.filter(workflow=wf).delete()
    Transition.objects.bulk_create(
        Transition(
            company=company,
            workflow=wf,
            from_task=tasks[t["from"]],
            to_task=tasks[t["to"]],
            condition=t.get("condition") or "",
            priority=t.get("priority", 0),
        )
        for t in spec.get("transitions", [])
    )
    wf.start_task = next(tasks[t["key"]] for t in spec["tasks"] if t.get("start"))
    wf.save(update_fields=["start_task", "updated_at"])
    for stale in existing.values():  # tasks the bundle no longer has
        try:
            with transaction.atomic():
                stale.delete()
        except ProtectedError as exc:
            raise BundleInvalid(
                [
                    Problem(
                        f"$.workflows[key={spec['key']}].tasks",
                        f"Task '{stale.key}' was removed from the bundle but tickets still use it; keep it.",
                    )
                ]
            ) from exc


# --- export --------------------------------------------------------------------------


def _dump(obj: Any, mapping: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (model, default) in mapping.items():
        value = getattr(obj, model)
        if value != default:
            out[name] = value
    return out


def export_bundle(*, company: Company, workflow_keys: list[str] | None = None) -> dict[str, Any]:
    """The company's definitions (or the named workflows with their ticket types and the
    roles those use) as a bundle. Query count is fixed, whatever the number of rows."""
    workflows = WorkflowDefinition.objects.filter(company=company, is_snapshot=False).order_by("key")
    if workflow_keys is not None:
        workflows = workflows.filter(key__in=workflow_keys)
        missing = set(workflow_keys) - set(workflows.values_list("key", flat=True))
        if missing:
            raise BundleInvalid([Problem("workflow", f"Unknown workflow '{k}'.") for k in sorted(missing)])
    workflows = workflows.prefetch_related("tasks", "transitions__from_task", "transitions__to_task")
    types = (
        TicketType.objects.filter(company=company, workflow__in=workflows)
        .select_related("workflow")
        .prefetch_related("company_roles")
        .order_by("key")
    )
    wf_list = []
    used_roles: set[str] = set()
    for wf in workflows:
        tasks = []
        for task in sorted(wf.tasks.all(), key=lambda t: t.pk):
            item: dict[str, Any] = {"key": task.key, "title": task.title, "type": task.task_type}
            if wf.start_task_id == task.pk:
                item["start"] = True
            item.update(_dump(task, _TASK_FIELDS))
            if isinstance(task.assign, dict) and task.assign.get("role"):
                used_roles.add(task.assign["role"])
            tasks.append(item)
        transitions = []
        for tr in sorted(wf.transitions.all(), key=lambda t: t.pk):
            t_item: dict[str, Any] = {"from": tr.from_task.key, "to": tr.to_task.key}
            if tr.condition:
                t_item["condition"] = tr.condition
            if tr.priority:
                t_item["priority"] = tr.priority
            transitions.append(t_item)
        dumped = _dump(wf, _WORKFLOW_FIELDS)
        examples = dumped.pop("examples", None)
        wf_item: dict[str, Any] = {"key": wf.key, "title": wf.title, **dumped, "tasks": tasks}
        if transitions:
            wf_item["transitions"] = transitions
        if examples:
            wf_item["examples"] = examples
        wf_list.append(wf_item)
    type_list = []
    for tt in types:
        tt_item: dict[str, Any] = {
            "key": tt.key,
            "title": tt.title,
            "workflow": tt.workflow.key,
            **_dump(tt, _TYPE_FIELDS),
        }
        names = sorted(r.name for r in tt.company_roles.all())
        if names:
            tt_item["company_roles"] = names
            used_roles |= set(names)
        type_list.append(tt_item)
    roles = CompanyRole.objects.filter(company=company).order_by("name")
    if workflow_keys is not None:
        roles = roles.filter(name__in=used_roles)
    role_list = [{"name": r.name, **({"description": r.description} if r.description else {})} for r in roles]
    bundle: dict[str, Any] = {"format": FORMAT}
    if role_list:
        bundle["company_roles"] = role_list
    bundle["workflows"] = wf_list
    if type_list:
        bundle["ticket_types"] = type_list
    return bundle
