"""Dry-run: a workflow (as bundle data) run on sample ticket data, with the form outputs
to use and mocked action responses. No database writes and no HTTP: it is the engine's
routing and transforms (the same `workflows.expressions`) over plain JSON.

`dry_run` is a plain function returning a typed, JSON-serialisable result (`as_dict`),
so the command, the admin page, bundle examples and an API/MCP tool share it."""

from dataclasses import asdict, dataclass, field
from typing import Any

from workflows.expressions import ExpressionError, apply_transform, evaluate, is_truthy
from workflows.schemas import schema_errors

# A dry-run stops after this many steps (a loop that never reaches an end).
MAX_STEPS = 100

COMPLETED = "completed"  # reached a task without outgoing transitions
WAITING = "waiting"  # needs a form output or action response that was not given
FAILED = "failed"  # an expression, an output or the routing failed, as the engine would


@dataclass
class Candidate:
    to: str
    condition: str
    priority: int
    value: Any = None
    error: str | None = None


@dataclass
class Step:
    key: str
    title: str
    type: str
    input: dict[str, Any]
    assignee: str = ""  # FORM tasks: who the assignment rule would pick
    response: Any = None  # actions: the mocked response used
    output: Any = None
    transforms: list[dict[str, Any]] = field(default_factory=list)  # {name, input, output}
    candidates: list[Candidate] = field(default_factory=list)
    next: str | None = None

    @property
    def name(self) -> str:
        # As the engine names steps (engine.step_name): the title, and the key that
        # `outputs` and `responses` are keyed by.
        title = self.title or self.key
        return f"'{title}'" if title == self.key else f"'{title}' ({self.key})"


@dataclass
class DryRunResult:
    status: str
    message: str
    steps: list[Step] = field(default_factory=list)

    @property
    def path(self) -> list[str]:
        return [s.key for s in self.steps]

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message, "path": self.path, **asdict(self)}


def _take(given: dict[str, Any], key: str, visits: int) -> tuple[bool, Any]:
    """The value given for the `visits`-th visit of a task: a list gives one per visit
    (wrap a list output in another list), anything else is used every time."""
    if key not in given:
        return False, None
    value = given[key]
    if isinstance(value, list):
        return (True, value[visits]) if visits < len(value) else (False, None)
    return True, value


def dry_run(
    workflow: dict[str, Any],
    *,
    ticket: dict[str, Any],
    outputs: dict[str, Any] | None = None,
    responses: dict[str, Any] | None = None,
    assignee: Any = None,
) -> DryRunResult:
    """Runs `workflow` (a bundle's workflow object) from its start task.

    outputs: form outputs by task key; responses: action response bodies by task key
    (or `{"status": ..., "body": ...}`); a list gives one per visit. `assignee(task)`
    names who a FORM task would be assigned to (the caller knows the company)."""
    outputs, responses = outputs or {}, responses or {}
    tasks = {t["key"]: t for t in workflow["tasks"]}
    outgoing: dict[str, list[tuple[int, int, dict[str, Any]]]] = {}
    for i, tr in enumerate(workflow.get("transitions", [])):
        outgoing.setdefault(tr["from"], []).append((tr.get("priority", 0), i, tr))
    start = next((t["key"] for t in workflow["tasks"] if t.get("start")), None)
    if start is None:
        return DryRunResult(FAILED, "The workflow has no start task.")
    data: dict[str, Any] = {"ticket": ticket, "tasks": {}}
    result = DryRunResult(COMPLETED, "")
    visits: dict[str, int] = {}
    current: str | None = start
    while current is not None:
        if len(result.steps) >= MAX_STEPS:
            return _end(result, FAILED, f"Stopped after {MAX_STEPS} steps: the path does not reach an end.")
        spec = tasks[current]
        visit = visits.get(current, 0)
        visits[current] = visit + 1
        context = {"ticket": data["ticket"], "tasks": data["tasks"]}
        step = Step(key=current, title=spec["title"], type=spec["type"], input={})
        result.steps.append(step)
        try:
            step.input = apply_transform(spec.get("input_transform"), context) or {}
        except ExpressionError as exc:
            return _end(result, FAILED, f"Input transform of {step.name} failed: {exc}")
        if spec.get("input_transform"):
            step.transforms.append({"name": "input_transform", "input": context, "output": step.input})
        if spec["type"] == "FORM":
            step.assignee = assignee(spec) if assignee else ""
            found, output = _take(outputs, current, visit)
            if not found:
                return _end(result, WAITING, f"Waits for the form output of {step.name}.")
            errors = schema_errors(spec.get("output_schema"), output, what="The output")
            if errors:
                detail = "; ".join(f"{k or 'output'}: {', '.join(v)}" for k, v in errors.items())
                return _end(result, FAILED, f"The output given for {step.name} is invalid: {detail}")
            step.output = output
        else:
            found, response = _take(responses, current, visit)
            if not found:
                return _end(result, WAITING, f"Waits for the response of action '{current}'.")
            if not (isinstance(response, dict) and "body" in response):
                response = {"status": 200, "headers": {}, "body": response}
            step.response = response
            body = response["body"]
            action_context = {**context, "output": body, "response": response}
            try:
                output = apply_transform(spec.get("output_transform"), action_context)
            except ExpressionError as exc:
                return _end(result, FAILED, f"Output transform of '{current}' failed: {exc}")
            if output is None:
                output = body if isinstance(body, dict) else {"result": body}
            else:
                step.transforms.append(
                    {"name": "output_transform", "input": action_context, "output": output}
                )
            step.output = output
        data["tasks"] = {**data["tasks"], current: step.output}
        current = _route(step, sorted(outgoing.get(current, []), key=lambda x: (x[0], x[1])), data, result)
        if result.status != COMPLETED:
            return result
    result.message = result.message or f"Completed after {result.steps[-1].name}."
    return result


def _route(
    step: Step, transitions: list[tuple[int, int, dict[str, Any]]], data: dict[str, Any], result: DryRunResult
) -> str | None:
    """The next task key as the engine would choose it (see engine.advance)."""
    if not transitions:
        return None
    context = {"ticket": data["ticket"], "tasks": data["tasks"], "output": step.output}
    for priority, _, tr in transitions:
        condition = tr.get("condition") or ""
        if not condition:
            continue
        candidate = Candidate(to=tr["to"], condition=condition, priority=priority)
        step.candidates.append(candidate)
        try:
            candidate.value = evaluate(condition, context)
        except ExpressionError as exc:
            candidate.error = str(exc)
            _end(result, FAILED, f"Condition of {step.key} → {tr['to']} failed: {exc}")
            return None
        if is_truthy(candidate.value):
            step.next = tr["to"]
            return step.next
    default = next((tr for _, _, tr in transitions if not tr.get("condition")), None)
    if default is None:
        _end(result, FAILED, f"No transition from {step.name} matched and there is no default path.")
        return None
    step.candidates.append(Candidate(to=default["to"], condition="", priority=default.get("priority", 0)))
    step.next = default["to"]
    return step.next


def _end(result: DryRunResult, status: str, message: str) -> DryRunResult:
    result.status, result.message = status, message
    return result
