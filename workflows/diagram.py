"""A workflow diagram drawn on the server as inline SVG: no script, no CDN, and only
presentation attributes (no inline style), so the pages' strict CSP allows it.

Layout: tasks in rows by their distance from the start task (breadth first), in bundle
order within a row; tasks the start cannot reach go last. Forward transitions are
straight arrows; transitions to the same or an earlier row curve round the right side.
Each transition is labelled with its condition ("default" when it has none)."""

from collections import deque
from collections.abc import Callable
from itertools import pairwise
from typing import Any
from xml.sax.saxutils import escape

from django.db.models import QuerySet

from accounts.prepared import Prepared
from workflows.models import TaskDefinition, Transition, WorkflowDefinition

WIDTH, GAP_X, GAP_Y, MARGIN = 210, 50, 70, 20
LABEL_CHARS = 34


# A published snapshot never changes (workflows.versions): a process keeps its spec, keyed
# by id and creation time (an id alone comes back after a rolled-back transaction on SQLite).
_SPECS: dict[tuple[int, Any], dict[str, Any]] = {}
_SPECS_MAX = 512


def workflow_spec(workflow: WorkflowDefinition) -> dict[str, Any]:
    """Tasks and transitions of a workflow row (a draft or a published snapshot) in the
    bundle's shape; two queries, none for a snapshot this process has drawn. Callers
    must not change the returned dict."""
    if not workflow.is_snapshot:
        return _read_spec(workflow)
    key = (workflow.pk, workflow.created_at)
    spec = _SPECS.get(key)
    if spec is None:
        if len(_SPECS) >= _SPECS_MAX:
            _SPECS.clear()
        spec = _SPECS[key] = _read_spec(workflow)
    return spec


def _spec_rows(kind: str, company_id: int, workflow_id: int) -> QuerySet[Any]:
    """A workflow row's tasks or transitions, only the columns a spec holds."""
    if kind == "tasks":
        tasks = TaskDefinition.all_objects.filter(company_id=company_id, workflow_id=workflow_id)
        return tasks.only("id", "key", "title", "task_type", "action_url").order_by("id")
    transitions = Transition.objects.filter(company_id=company_id, workflow_id=workflow_id)
    return transitions.only("id", "from_task_id", "to_task_id", "condition", "priority").order_by(
        "from_task_id", "priority", "id"
    )


# A draft is read on every view (its rows may have changed), so its two queries are
# prepared (accounts.prepared): building them cost more than running them.
_SPEC_ROWS = Prepared(_spec_rows)


def _read_spec(workflow: WorkflowDefinition) -> dict[str, Any]:
    ids = (workflow.company_id, workflow.pk)
    tasks: list[TaskDefinition] = _SPEC_ROWS.objects("tasks", *ids)
    transitions: list[Transition] = _SPEC_ROWS.objects("transitions", *ids)
    keys = {t.pk: t.key for t in tasks}
    return {
        "key": workflow.key,
        "tasks": [
            {
                "key": t.key,
                "title": t.title,
                "type": t.task_type,
                "start": t.pk == workflow.start_task_id,
                "action_url": t.action_url,
            }
            for t in tasks
        ],
        "transitions": [
            {
                "from": keys[tr.from_task_id],
                "to": keys[tr.to_task_id],
                "condition": tr.condition,
                "priority": tr.priority,
            }
            for tr in transitions
            if tr.from_task_id in keys and tr.to_task_id in keys
        ],
    }


def _levels(spec: dict[str, Any]) -> dict[str, int]:
    keys = [t["key"] for t in spec["tasks"]]
    edges: dict[str, list[str]] = {k: [] for k in keys}
    for tr in spec.get("transitions", []):
        if tr["from"] in edges and tr["to"] in edges:
            edges[tr["from"]].append(tr["to"])
    start = next((t["key"] for t in spec["tasks"] if t.get("start")), keys[0] if keys else None)
    level: dict[str, int] = {}
    if start is not None:
        level[start] = 0
        queue = deque([start])
        while queue:
            key = queue.popleft()
            for nxt in edges[key]:
                if nxt not in level:
                    level[nxt] = level[key] + 1
                    queue.append(nxt)
    last = max(level.values(), default=-1) + 1
    for key in keys:
        level.setdefault(key, last)
    return level


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(
    spec: dict[str, Any],
    *,
    path: list[str] | None = None,
    current: str | None = None,
    simple: bool = False,
    assignee: Callable[[dict[str, Any]], str] | None = None,
    label: str = "Workflow diagram",
) -> str:
    """The SVG markup. `path`: task keys in the order the ticket went through them (the
    steps and the transitions between consecutive ones are highlighted); `current`: the
    step the ticket is on. `simple` shows titles only (for submitters)."""
    path = path or []
    visited = set(path)
    taken = set(pairwise(path))
    height = 40 if simple else 70
    level = _levels(spec)
    rows: dict[int, list[str]] = {}
    for task in spec["tasks"]:
        rows.setdefault(level[task["key"]], []).append(task["key"])
    widest = max((len(r) for r in rows.values()), default=1)
    transitions = [t for t in spec.get("transitions", []) if t["from"] in level and t["to"] in level]
    backs = [t for t in transitions if level[t["to"]] <= level[t["from"]]]
    top = MARGIN + 8 * len(backs)  # room above the first row for rails into it
    content_w = widest * WIDTH + (widest - 1) * GAP_X
    total_w = MARGIN * 2 + content_w + 14 * len(backs) + (0 if simple else 190)
    total_h = top + MARGIN + 8 * len(backs) + len(rows) * height + (len(rows) - 1) * GAP_Y
    pos: dict[str, tuple[float, float]] = {}
    for lvl, keys in rows.items():
        row_w = len(keys) * WIDTH + (len(keys) - 1) * GAP_X
        x0 = MARGIN + (content_w - row_w) / 2
        for i, key in enumerate(keys):
            pos[key] = (x0 + i * (WIDTH + GAP_X), top + lvl * (height + GAP_Y))
    tasks = {t["key"]: t for t in spec["tasks"]}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="tf-diagram" role="img" '
        f'aria-label="{escape(label)}" width="{total_w:.0f}" height="{total_h:.0f}" '
        f'viewBox="0 0 {total_w:.0f} {total_h:.0f}" font-family="sans-serif" font-size="12">',
        "<title>" + escape(label) + "</title>",
        '<defs><marker id="tf-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" '
        'markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#6b7280"/></marker></defs>',
    ]
    for tr in transitions:
        (x1, y1), (x2, y2) = pos[tr["from"]], pos[tr["to"]]
        hot = (tr["from"], tr["to"]) in taken
        stroke = ' stroke="#2563eb" stroke-width="2.5"' if hot else ' stroke="#6b7280" stroke-width="1.2"'
        text = "" if simple else (_short(tr.get("condition") or "default"))
        klass = "tf-edge tf-taken" if hot else "tf-edge"
        if tr in backs:  # down into the gap, along a rail on the right, into the target from above
            i = backs.index(tr)
            rail = MARGIN + content_w + 14 * (i + 1)
            below, above = y1 + height + 10 + 6 * i, y2 - 10 - 6 * i
            sx, tx = x1 + WIDTH / 2 + 20, x2 + WIDTH / 2 + 20
            d = f"M {sx:.0f} {y1 + height:.0f} V {below:.0f} H {rail:.0f} V {above:.0f} H {tx:.0f} V {y2:.0f}"
            lx, ly, anchor = float(rail + 6), (below + above) / 2, "start"
        else:
            sx, sy, ex, ey = x1 + WIDTH / 2, y1 + height, x2 + WIDTH / 2, y2
            d = f"M {sx:.0f} {sy:.0f} L {ex:.0f} {ey:.0f}"
            lx, ly, anchor = sx + (ex - sx) * 0.62, sy + (ey - sy) * 0.62, "middle"
        label_svg = (
            f'<text x="{lx:.0f}" y="{ly:.0f}" text-anchor="{anchor}" fill="#374151" stroke="#ffffff" '
            f'stroke-width="4" paint-order="stroke">{escape(text)}</text>'
            if text
            else ""
        )
        out.append(
            f'<g class="{klass}" data-from="{escape(tr["from"])}" data-to="{escape(tr["to"])}">'
            f'<path d="{d}" fill="none"{stroke} marker-end="url(#tf-arrow)"/>{label_svg}</g>'
        )
    for key, (x, y) in pos.items():
        task = tasks[key]
        fill = "#dbeafe" if key in visited else "#ffffff"
        stroke = (
            ' stroke="#f59e0b" stroke-width="3"' if key == current else ' stroke="#9ca3af" stroke-width="1"'
        )
        classes = (
            "tf-task" + (" tf-visited" if key in visited else "") + (" tf-current" if key == current else "")
        )
        lines = [
            f'<tspan x="{x + 10:.0f}" dy="0" font-weight="bold">{escape(_short(task["title"], 28))}</tspan>'
        ]
        if not simple:
            kind = "form" if task["type"] == "FORM" else task["type"].replace("_", " ").lower()
            lines.append(f'<tspan x="{x + 10:.0f}" dy="16">{escape(_short(key + " · " + kind, 32))}</tspan>')
            rule = assignee(task) if assignee else ""
            if rule:
                lines.append(
                    f'<tspan x="{x + 10:.0f}" dy="16" fill="#4b5563">{escape(_short(rule, 32))}</tspan>'
                )
        out.append(
            f'<g class="{classes}" data-key="{escape(key)}">'
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{WIDTH}" height="{height}" rx="8" fill="{fill}"{stroke}/>'
            f'<text x="{x + 10:.0f}" y="{y + 20:.0f}" fill="#111827">{"".join(lines)}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)


def assignment_rule(task: dict[str, Any]) -> str:
    """The rule a task's work goes by, in words."""
    if task.get("type") == "FORM":
        return "→ worker with fewest open tasks"
    url = task.get("action_url") or ""
    return f"→ POST {url}" if url else "→ HTTP action"
