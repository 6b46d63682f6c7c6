"""/api/v1/: the typed JSON API (django-ninja). Endpoints are thin: each builds a
`Caller` and calls `api.operations`, which the MCP server calls too."""

import logging
from datetime import datetime
from typing import Annotated, Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import File, Form, NinjaAPI, Query, Swagger, UploadedFile
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer
from ninja.security.session import SessionAuth
from pydantic import Field

from api import operations as ops
from api import schemas as s
from api import strictjson
from api.problems import PROBLEM_TYPE, ApiProblem, problem
from project import errors
from workflows.models import WorkflowStatus

logger = logging.getLogger(__name__)

DESCRIPTION = """TicketFlower's API: everything a person can do with definitions, tickets
and tasks. Authenticate with `Authorization: Bearer <API key>` (a company admin creates
keys in the back office; each key acts as one person and carries scopes), or with the
browser session plus the `X-CSRFToken` header. Errors are RFC 9457 problem details.
Another company's objects answer 404; a missing scope answers 403."""


class KeyAuth(HttpBearer):
    """The key itself was resolved by `api.middleware.ApiKeyMiddleware` (before the
    company scope is entered); here it only has to be present."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return getattr(request, "api_key", None)


class CompanySessionAuth(SessionAuth):
    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = request.user
        if getattr(request, "api_key", None) is None and user.is_authenticated and user.company_id:  # type: ignore[union-attr]
            return user
        return None


class ProblemAPI(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """Error responses are application/problem+json, not application/json."""
        schema = super().get_openapi_schema(*args, **kwargs)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for code, response in operation.get("responses", {}).items():
                    if int(code) >= 400 and "content" in response:
                        response["content"] = {PROBLEM_TYPE: response["content"]["application/json"]}
        return schema


api = ProblemAPI(
    title="TicketFlower API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=[KeyAuth(), CompanySessionAuth()],
    parser=strictjson.StrictParser(),
    docs=Swagger(settings={"persistAuthorization": False}),
)


# --- errors as problems -----------------------------------------------------------------


@api.exception_handler(ApiProblem)
def _problem(request: HttpRequest, exc: ApiProblem) -> HttpResponse:
    return problem(exc.status, exc.detail, **exc.extra)


@api.exception_handler(NinjaValidationError)
def _invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors
    ]
    return problem(400, "The request is not valid.", errors=errors)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem(401, "Send an API key as 'Authorization: Bearer <key>', or log in.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem(exc.status_code, str(exc))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(404, "Not found.")


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return problem(403, str(exc) or "Forbidden.")


@api.exception_handler(Exception)
def _crash(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API error on %s %s", request.method, request.path)
    if errors.database_unavailable(exc):
        response = problem(503, errors.API_DETAIL[503])
        response["Retry-After"] = str(errors.RETRY_AFTER_SECONDS)
        return response
    return problem(500, errors.API_DETAIL[500])


def caller(request: HttpRequest) -> ops.Caller:
    return ops.Caller(user=request.user, key=getattr(request, "api_key", None))  # type: ignore[arg-type]


READ_ERRORS: dict[int, Any] = {400: s.Problem, 401: s.Problem, 403: s.Problem, 404: s.Problem, 429: s.Problem}
WRITE_ERRORS: dict[int, Any] = {**READ_ERRORS, 409: s.Problem}
Limit = Annotated[int, Field(ge=1, le=ops.MAX_PAGE)]
Cursor = Annotated[str, Field(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]
Key = Annotated[str, Field(max_length=100, pattern=r"^[-a-zA-Z0-9_]+$")]


# --- bundles ----------------------------------------------------------------------------------


@api.post(
    "/bundles/validate",
    response={200: s.BundleValidation, **READ_ERRORS},
    tags=["bundles"],
    summary="Validate a bundle (no writes)",
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}, "required": True}
    },
)
def validate_bundle(request: HttpRequest) -> Any:
    """Every error (`problems`, which refuse an import) and every lint (`warnings`, which
    do not), each with its JSON path. Scope `definitions:read`."""
    return ops.validate_bundle(caller(request), strictjson.loads(request.body or b"null"))


@api.post(
    "/bundles/import",
    response={200: s.ImportReport, **WRITE_ERRORS},
    tags=["bundles"],
    summary="Import a bundle (all or nothing)",
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}, "required": True}
    },
)
def import_bundle(request: HttpRequest) -> Any:
    """Upserts roles, workflows and ticket types by key, in one transaction; a bundle
    with any problem imports nothing (400 with `problems`). Scope `definitions:write`."""
    return ops.import_bundle(caller(request), strictjson.loads(request.body or b"null"))


@api.post(
    "/workflows/dry-run",
    response={200: dict[str, Any], **READ_ERRORS},
    tags=["bundles"],
    summary="Dry-run a workflow on sample data",
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}, "required": True}
    },
)
def dry_run(request: HttpRequest) -> Any:
    """Runs a stored workflow (`workflow` key; its draft, or `version`) or a bundle not
    yet imported (`bundle`) on `ticket` data with form `outputs` and mocked action
    `responses` by task key. Writes nothing and calls nothing; returns the path, each
    condition with its value, each transform's input and output, and who each form task
    would be assigned to. Scope `definitions:read`."""
    return ops.dry_run(caller(request), strictjson.loads(request.body or b"null"))


@api.get(
    "/bundles/export",
    response={200: dict[str, Any], **READ_ERRORS},
    tags=["bundles"],
    summary="Export definitions as a bundle",
)
def export_bundle(request: HttpRequest, workflow: Query[list[Key] | None] = None) -> Any:
    """The company's definitions, or the named workflows (repeat `workflow`), in the
    format import reads. Scope `definitions:read`."""
    return ops.export_bundle(caller(request), workflow)


@api.get("/bundles/schema", response={200: dict[str, Any], **READ_ERRORS}, tags=["bundles"], auth=None)
def bundle_schema(request: HttpRequest) -> Any:
    """The JSON Schema of a bundle (public)."""
    return ops.bundle_schema()


# --- ticket types -------------------------------------------------------------------------------


@api.get("/ticket-types", response={200: list[s.TicketType], **READ_ERRORS}, tags=["tickets"])
def ticket_types(request: HttpRequest) -> Any:
    """The ticket types you may submit, each with the JSON Schema of its data. Scope
    `tickets:read`."""
    return ops.list_ticket_types(caller(request))


# --- tickets ----------------------------------------------------------------------------------


@api.get("/tickets", response={200: s.TicketPage, **READ_ERRORS}, tags=["tickets"])
def list_tickets(
    request: HttpRequest,
    status: WorkflowStatus | None = None,
    type: Key | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    cursor: Cursor | None = None,
    limit: Limit = ops.DEFAULT_PAGE,
) -> Any:
    """Tickets you may see (yours; every ticket of the company for ticket admins), newest
    first. Scope `tickets:read`."""
    return ops.list_tickets(
        caller(request),
        status=status,
        type_key=type,
        created_after=created_after,
        created_before=created_before,
        cursor=cursor,
        limit=limit,
    )


@api.post("/tickets", response={201: s.Ticket, **WRITE_ERRORS, 413: s.Problem}, tags=["tickets"])
def submit_ticket(
    request: HttpRequest,
    type: Form[Key],
    data: Form[str] = "{}",
    attachments: File[list[UploadedFile]] = None,  # type: ignore[assignment]
) -> Any:
    """Submit a ticket: multipart form with `type` (the ticket type's key), `data` (a
    JSON object matching the type's `fields_schema`) and any number of `attachments`.
    Scope `tickets:write`."""
    parsed = strictjson.loads(data)
    if not isinstance(parsed, dict):
        raise ApiProblem(400, "data must be a JSON object.")
    return 201, ops.submit_ticket(caller(request), type_key=type, data=parsed, files=list(attachments or []))


@api.get("/tickets/{ticket_id}", response={200: s.Ticket, **READ_ERRORS}, tags=["tickets"])
def get_ticket(request: HttpRequest, ticket_id: s.Id) -> Any:
    """A ticket: data, status, current step, attachments and timeline. Scope `tickets:read`."""
    return ops.get_ticket(caller(request), ticket_id)


@api.post("/tickets/{ticket_id}/cancel", response={200: s.Ticket, **WRITE_ERRORS}, tags=["tickets"])
def cancel_ticket(request: HttpRequest, ticket_id: s.Id, body: s.CancelIn) -> Any:
    """Cancel with a reason (the submitter or a ticket admin). Scope `tickets:write`."""
    return ops.cancel_ticket(caller(request), ticket_id, body.reason)


@api.get("/tickets/{ticket_id}/comments", response={200: s.CommentList, **READ_ERRORS}, tags=["tickets"])
def list_comments(
    request: HttpRequest, ticket_id: s.Id, cursor: Cursor | None = None, limit: Limit = ops.MAX_PAGE
) -> Any:
    """The ticket's conversation, oldest first, in pages (`next_cursor`); internal notes
    only for the team (ticket admins and the ticket's assignees). Scope `tickets:read`."""
    return ops.list_comments(caller(request), ticket_id, cursor=cursor, limit=limit)


@api.post(
    "/tickets/{ticket_id}/comments",
    response={201: s.Comment, **WRITE_ERRORS, 413: s.Problem},
    tags=["tickets"],
)
def add_comment(
    request: HttpRequest,
    ticket_id: s.Id,
    body: Form[Annotated[str, Field(min_length=1, max_length=10_000)]],
    internal: Form[bool] = False,
    attachments: File[list[UploadedFile]] = None,  # type: ignore[assignment]
) -> Any:
    """A public reply, or an internal note (`internal=true`, the team only), with any
    attachments: multipart form. Scope `tickets:write`."""
    return 201, ops.add_comment(
        caller(request), ticket_id, body=body, internal=internal, files=list(attachments or [])
    )


# --- tasks ---------------------------------------------------------------------------------------


@api.get("/tasks/mine", response={200: s.TaskPage, **READ_ERRORS}, tags=["tasks"])
def my_tasks(request: HttpRequest, cursor: Cursor | None = None, limit: Limit = ops.DEFAULT_PAGE) -> Any:
    """Your open tasks, oldest first. Scope `tasks:read`."""
    return ops.list_tasks(caller(request), cursor=cursor, limit=limit)


@api.get("/tasks/claimable", response={200: s.TaskPage, **READ_ERRORS}, tags=["tasks"])
def claimable_tasks(
    request: HttpRequest, cursor: Cursor | None = None, limit: Limit = ops.DEFAULT_PAGE
) -> Any:
    """Unclaimed tasks in the queues of your company roles, oldest first. Scope `tasks:read`."""
    return ops.list_claimable(caller(request), cursor=cursor, limit=limit)


@api.get("/tasks/{task_id}", response={200: s.Task, **READ_ERRORS}, tags=["tasks"])
def get_task(request: HttpRequest, task_id: s.Id) -> Any:
    """A task with its input, output schema and the ticket's data. Scope `tasks:read`."""
    return ops.get_task(caller(request), task_id)


@api.post("/tasks/{task_id}/complete", response={200: s.Task, **WRITE_ERRORS}, tags=["tasks"])
def complete_task(request: HttpRequest, task_id: s.Id, body: s.CompleteIn) -> Any:
    """Complete a form task; the output is validated against its output schema (400 with
    `errors` by field). Scope `tasks:write`."""
    return ops.complete_task(caller(request), task_id, strictjson.check(body.output))


@api.post("/tasks/{task_id}/claim", response={200: s.Task, **WRITE_ERRORS}, tags=["tasks"])
def claim_task(request: HttpRequest, task_id: s.Id) -> Any:
    """Take a queue task (members of its queue role; the first claim wins, later ones get
    409). Scope `tasks:write`."""
    return ops.claim_task(caller(request), task_id)


@api.post("/tasks/{task_id}/release", response={200: s.Task, **WRITE_ERRORS}, tags=["tasks"])
def release_task(request: HttpRequest, task_id: s.Id) -> Any:
    """Give a claimed queue task back to its queue (the claimer). Scope `tasks:write`."""
    return ops.release_task(caller(request), task_id)


# --- errors ------------------------------------------------------------------------------------------


@api.get("/errors", response={200: s.ErrorPage, **READ_ERRORS}, tags=["errors"])
def list_errors(
    request: HttpRequest,
    status: Annotated[str, Field(pattern="^(NEW|REVIEWED|RESOLVED)$")] | None = None,
    cursor: Cursor | None = None,
    limit: Limit = ops.DEFAULT_PAGE,
) -> Any:
    """The company's ticket errors, newest first (ticket admins). Scope `tickets:read`."""
    return ops.list_errors(caller(request), status=status, cursor=cursor, limit=limit)


@api.post("/errors/{error_id}/retry", response={200: s.Ticket, **WRITE_ERRORS}, tags=["errors"])
def retry_error(request: HttpRequest, error_id: s.Id) -> Any:
    """Retry the failed step of the error's ticket (ticket admins). Scope `tickets:write`."""
    return ops.retry_error(caller(request), error_id)
