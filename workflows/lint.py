"""Lints for one workflow given as bundle data (plain JSON): names used by conditions and
transforms, JMESPath hints, and the shape of the graph.

Names: an expression's paths that start at the evaluation context (`ticket.x`,
`tasks.k.x`, `output.x`) are checked against what can exist there: the ticket type's
fields, the keys of tasks that can run before this point, and those tasks' declared
outputs (an output transform's keys, else the output schema's properties). A name that
cannot exist is an error with "did you mean ...?"; where the outputs are not declared,
nothing is checked.

Graph: unreachable tasks, tasks from which no end (a task without outgoing transitions)
can be reached, and loops made only of actions are warnings: the workflow still runs."""

import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.lexer import Lexer

from workflows.expressions import ExpressionError, compile_expression

ERROR = "error"
WARNING = "warning"

# Names at the root of the context, per place an expression runs (see engine.context).
CONDITION_ROOTS = ("ticket", "tasks", "output")
INPUT_ROOTS = ("ticket", "tasks")
OUTPUT_ROOTS = ("ticket", "tasks", "output", "response")


@dataclass(frozen=True)
class Lint:
    path: str
    message: str
    severity: str = ERROR


def did_you_mean(name: str, candidates: Any) -> str:
    match = get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return f" Did you mean '{match[0]}'?" if match else ""


# --- JMESPath syntax hints -----------------------------------------------------------------

_HYPHENATED = re.compile(r"(?<![\w\"'`-])([A-Za-z_]\w*(?:-\w+)+)")


def syntax_hint(expression: str) -> str:
    """A hint for the two mistakes people make most with JMESPath, or ""."""
    if "-" in expression and _HYPHENATED.search(_outside_literals(expression)):
        quoted = _HYPHENATED.sub(r'"\1"', expression)
        return f" Keys with hyphens must be quoted: {quoted}"
    try:
        tokens = list(Lexer().tokenize(expression))
    except JMESPathError:
        return ""
    previous = ""
    for token in tokens:
        if token["type"] == "number" and previous not in ("lbracket", "colon", "filter"):
            raw = expression[token["start"] : token["end"]]
            fixed = expression[: token["start"]] + f"`{raw}`" + expression[token["end"] :]
            return f" Numbers are JSON literals in JMESPath and need backticks: {fixed}"
        previous = token["type"]
    return ""


def _outside_literals(expression: str) -> str:
    """`expression` with quoted identifiers, raw strings and JSON literals blanked."""
    return re.sub(r"\"(?:\\.|[^\"])*\"|'(?:\\.|[^'])*'|`(?:\\.|[^`])*`", " ", expression)


def expression_problem(expression: str) -> str | None:
    """None when `expression` compiles, else the reason with a hint."""
    try:
        compile_expression(expression)
    except ExpressionError as exc:
        return f"Invalid JMESPath {expression!r}: {exc.reason}.{syntax_hint(expression)}"
    return None


# --- paths rooted at the context ------------------------------------------------------------


def root_paths(expression: str) -> list[list[str]]:
    """The field chains that start at the evaluation context, e.g. `tasks.a.x > \\`1\\``
    gives [["tasks", "a", "x"]]. Parts evaluated against something else (the right of a
    pipe or projection, a filter) are left out."""
    parsed: Any = jmespath.compile(expression).parsed
    return list(_walk(parsed))


def _walk(node: dict[str, Any]) -> Iterator[list[str]]:
    kind = node["type"]
    children = node.get("children", [])
    if kind == "field":
        yield [node["value"]]
    elif kind == "subexpression":
        chain: list[str] = []
        for child in children:
            if child["type"] == "field":
                chain.append(child["value"])
                continue
            if child["type"] == "index_expression" and children[0] is not child:
                first = child["children"][0]
                if first["type"] == "field":
                    chain.append(first["value"])
            elif not chain:  # e.g. a function call or multi-select first
                yield from _walk(child)
            break
        if chain:
            yield chain
    elif kind in (
        "pipe",
        "projection",
        "filter_projection",
        "value_projection",
        "flatten",
        "index_expression",
    ):
        if children:
            yield from _walk(children[0])
    elif kind in (
        "comparator",
        "and_expression",
        "or_expression",
        "not_expression",
        "multi_select_list",
        "multi_select_dict",
        "key_val_pair",
        "function_expression",
    ):
        for child in children:
            yield from _walk(child)
    # literal, current, index, slice, expref, identity: nothing rooted at the context


# --- the workflow --------------------------------------------------------------------------


def declared_outputs(task: dict[str, Any]) -> set[str] | None:
    """The output field names a task declares, or None when anything may come."""
    transform = task.get("output_transform") or {}
    if transform:
        return set(transform)
    properties = (task.get("output_schema") or {}).get("properties")
    if isinstance(properties, dict) and properties:
        return set(properties)
    return None


def _reach(start: set[str], edges: dict[str, list[str]]) -> set[str]:
    seen = set(start)
    queue = deque(start)
    while queue:
        for nxt in edges.get(queue.popleft(), []):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def lint_workflow(wf: dict[str, Any], base: str, ticket_fields: set[str] | None) -> list[Lint]:
    """Lints for a structurally valid workflow (unknown keys are reported elsewhere).
    `ticket_fields`: the field names tickets of this workflow carry, None if unknown."""
    lints: list[Lint] = []
    add: Callable[..., None] = lambda *a: lints.append(Lint(*a))  # noqa: E731
    tasks = {t["key"]: t for t in wf["tasks"]}
    index = {t["key"]: i for i, t in reversed(list(enumerate(wf["tasks"])))}
    edges: dict[str, list[str]] = {k: [] for k in tasks}
    back: dict[str, list[str]] = {k: [] for k in tasks}
    for tr in wf.get("transitions", []):
        if tr["from"] in tasks and tr["to"] in tasks:
            edges[tr["from"]].append(tr["to"])
            back[tr["to"]].append(tr["from"])
    # Tasks that can have run before a task: those that reach it.
    before = {k: _reach(set(back[k]), back) for k in tasks}

    def check(expression: str, path: str, roots: tuple[str, ...], prior: set[str], own: str | None) -> None:
        problem = expression_problem(expression)
        if problem:
            add(path, problem)
            return
        for chain in root_paths(expression):
            message = _check_chain(chain, roots, prior, own, tasks, ticket_fields)
            if message:
                add(path, message)

    for i, task in enumerate(wf["tasks"]):
        key = task["key"]
        for name, roots, own in (
            ("input_transform", INPUT_ROOTS, None),
            ("output_transform", OUTPUT_ROOTS, None),  # `output` is the raw response body
        ):
            for out_key, expr in (task.get(name) or {}).items():
                check(expr, f"{base}.tasks[{i}].{name}.{out_key}", roots, before[key], own)
    for i, tr in enumerate(wf.get("transitions", [])):
        condition = tr.get("condition") or ""
        if condition and tr["from"] in tasks:
            prior = before[tr["from"]] | {tr["from"]}
            check(condition, f"{base}.transitions[{i}].condition", CONDITION_ROOTS, prior, tr["from"])
        elif condition:
            problem = expression_problem(condition)
            if problem:
                add(f"{base}.transitions[{i}].condition", problem)

    starts = [t["key"] for t in wf["tasks"] if t.get("start")]
    if len(starts) == 1:
        reached = _reach({starts[0]}, edges)
        for key in tasks:
            if key not in reached:
                add(
                    f"{base}.tasks[{index[key]}]",
                    f"Task '{key}' cannot be reached from the start task.",
                    WARNING,
                )
    ends = {k for k, out in edges.items() if not out}
    finishing = _reach(ends, back)
    for key in tasks:
        if key not in finishing:
            add(
                f"{base}.tasks[{index[key]}]",
                f"No end can be reached from task '{key}': tickets there can never complete.",
                WARNING,
            )
    for loop in _loops(edges):
        if all(tasks[k]["type"] != "FORM" for k in loop):
            add(
                f"{base}.transitions",
                f"Tasks {', '.join(sorted(loop))} form a loop with no human task: it runs until "
                "the automated-step limit puts the ticket on hold.",
                WARNING,
            )
    return lints


def _check_chain(
    chain: list[str],
    roots: tuple[str, ...],
    prior: set[str],
    own: str | None,
    tasks: dict[str, dict[str, Any]],
    ticket_fields: set[str] | None,
) -> str | None:
    root = chain[0]
    if root not in roots:
        return (
            f"'{root}' is not in the context here; expressions start from "
            f"{', '.join(roots)}.{did_you_mean(root, roots)}"
        )
    if len(chain) < 2:
        return None
    name = chain[1]
    if root == "ticket":
        if ticket_fields is not None and name not in ticket_fields:
            return f"Tickets have no field '{name}'.{did_you_mean(name, ticket_fields)}"
        return None
    if root == "output" and own is not None:
        return _check_output(own, name, tasks, "The output of task")
    if root == "tasks":
        if name not in tasks:
            return f"Unknown task '{name}'.{did_you_mean(name, tasks)}"
        if name not in prior:
            return f"Task '{name}' cannot have run before this point, so tasks.{name} is always null."
        if len(chain) > 2:
            return _check_output(name, chain[2], tasks, "Task")
    return None


def _check_output(key: str, name: str, tasks: dict[str, dict[str, Any]], label: str) -> str | None:
    declared = declared_outputs(tasks[key])
    if declared is None or name in declared:
        return None
    return (
        f"{label} '{key}' has no field '{name}' (it has: {', '.join(sorted(declared))})."
        f"{did_you_mean(name, declared)}"
    )


def _loops(edges: dict[str, list[str]]) -> list[set[str]]:
    """Strongly connected groups that contain a cycle (Tarjan would do; graphs are small)."""
    reach = {k: _reach(set(edges[k]), edges) for k in edges}
    loops: list[set[str]] = []
    seen: set[str] = set()
    for key in edges:
        if key in seen or key not in reach[key]:
            continue
        group = {other for other in reach[key] if key in reach[other]}
        seen |= group
        loops.append(group)
    return loops
