"""Request and response shapes of /api/v1/ (pydantic, through django-ninja)."""

from datetime import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import ConfigDict, Field

MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Problem(Schema):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: dict[str, list[str]] | list[dict[str, Any]] | None = Field(
        None, description="Field errors by field path (ticket data, task output) or request errors."
    )
    problems: list["BundleProblem"] | None = Field(None, description="Bundle problems with their JSON paths.")


class BundleProblem(Schema):
    path: str = Field(description="JSON path of the offending value, e.g. $.workflows[0].tasks[1].key")
    message: str


class BundleValidation(Schema):
    valid: bool = Field(description="True when there is no error (warnings do not block an import).")
    problems: list[BundleProblem] = Field(description="Errors: an import of this bundle is refused.")
    warnings: list[BundleProblem] = Field(
        description="Lints an import allows, as the back office shows them: unreachable tasks, "
        "dead ends, loops of actions only."
    )


class ImportReport(Schema):
    created: dict[str, int]
    updated: dict[str, int]
    unchanged: dict[str, int]
    published: list[str]  # "key vN" for each workflow published as a new version
    changed: bool
    warnings: list[BundleProblem] = Field(
        description="Lints of the imported bundle (as /bundles/validate gives them); they did not block it."
    )


class TicketType(Schema):
    key: str
    title: str
    description: str
    workflow: str
    fields_schema: dict[str, Any] = Field(description="JSON Schema of the ticket's data.")


class Step(Schema):
    key: str
    title: str
    type: str


class TicketSummary(Schema):
    id: int
    type: str
    title: str
    status: str
    current_step: Step | None
    created_at: datetime
    updated_at: datetime


class Attachment(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    url: str


class TimelineEntry(Schema):
    at: datetime
    kind: str
    message: str
    actor: str | None


class OutcomeField(Schema):
    label: str
    value: Any


class Outcome(Schema):
    step: str
    fields: list[OutcomeField]


class CurrentTask(Schema):
    id: int = Field(description="The task's id, for GET /tasks/{id}, claim, release and complete.")
    key: str
    title: str
    type: str
    status: str
    assignee: str | None = Field(description="Who has it; null while it waits in a queue or for someone.")
    queue: str | None


class Ticket(TicketSummary):
    created_by: str
    data: dict[str, Any]
    fields_schema: dict[str, Any]
    attachments: list[Attachment]
    current_task: CurrentTask | None = Field(description="The open task the ticket waits on, if any.")
    public_outcomes: list[Outcome] = Field(description="Output fields the workflow makes public, by step.")
    timeline: list[TimelineEntry]


class Comment(Schema):
    id: int
    author: str
    body: str
    internal: bool = Field(description="An internal note: the team only (ticket admins, assignees).")
    created_at: datetime
    attachments: list[Attachment]


class CommentList(Schema):
    items: list[Comment]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class TicketPage(Schema):
    items: list[TicketSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class CancelIn(Schema):
    reason: str = Field(min_length=1, max_length=2000)


class TaskSummary(Schema):
    id: int
    ticket_id: int
    ticket_title: str
    key: str
    title: str
    type: str
    status: str
    assignee: str | None
    queue: str | None = Field(description="The company role whose queue the task is in (queue tasks).")
    created_at: datetime


class Task(TaskSummary):
    description: str
    input: dict[str, Any]
    output_schema: dict[str, Any]
    output: dict[str, Any] | None
    ticket_data: dict[str, Any]


class TaskPage(Schema):
    items: list[TaskSummary]
    next_cursor: str | None


class CompleteIn(Schema):
    output: dict[str, Any] = Field(description="Answers, validated against the task's output_schema.")


class TicketErrorOut(Schema):
    id: int
    ticket_id: int
    type: str
    status: str
    message: str
    task_id: int | None
    created_at: datetime


class ErrorPage(Schema):
    items: list[TicketErrorOut]
    next_cursor: str | None


Problem.model_rebuild()
