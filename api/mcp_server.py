"""The MCP server at /mcp (Streamable HTTP, the official `mcp` SDK).

It runs in the same ASGI process as Django (see project/asgi.py), stateless and with JSON
responses, so any number of workers can serve it with no shared session state. Every
request needs an API key (`Authorization: Bearer <key>`), checked and counted against
the key's rate limit before the SDK sees the request. Each tool runs the same
`api.operations` function as the matching JSON endpoint, in a worker thread (the ORM is
synchronous), inside the key's company scope and as the key's user."""

import json
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django_scopes import scopes_disabled
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accounts.tenancy import company_scope
from api import keys, strictjson
from api import operations as ops
from api.middleware import bearer_token
from api.models import ApiKey
from api.problems import PROBLEM_TYPE, ApiProblem

SCOPE_KEY = "ticketflower.api_key_id"
BUNDLE_SCHEMA_URI = "ticketflower://bundle.schema.json"

T = TypeVar("T")

INSTRUCTIONS = """TicketFlower runs tickets through workflows. Typical use: read the bundle
JSON Schema resource, write a bundle, `validate_bundle` until it has no problems (and
look at its warnings), `dry_run` it on sample data, `import_bundle`, `list_ticket_types`
to see each type's fields schema, `submit_ticket` (files as base64 attachments), then
`list_my_tasks` (and `list_claimable_tasks` + `claim_task` for queue tasks) and
`complete_task` with output matching the task's output_schema (`get_task` shows it).
`get_ticket` shows the conversation; `add_comment` replies (or writes an internal note
for the team). The API key's scopes and its person's roles decide what works."""


class Attachment(BaseModel):
    """A file sent inline: MCP calls are JSON, so its bytes travel as base64."""

    filename: str = Field(min_length=1, max_length=255, description="The file's name, e.g. screenshot.png")
    content_base64: str = Field(description="The file's bytes, base64 (standard alphabet).")
    content_type: str | None = Field(
        None, max_length=100, description="MIME type; guessed from the filename when absent."
    )


def _inline(attachments: list[Attachment] | None) -> list[ops.InlineFile]:
    return [ops.InlineFile(a.filename, a.content_base64, a.content_type) for a in attachments or []]


def max_body_bytes() -> int:
    """The largest MCP request: the upload limit in base64 (4/3) plus room for the JSON."""
    return settings.UPLOAD_MAX_REQUEST_BYTES * 4 // 3 + 1024 * 1024


def _call[T](key_id: int, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    close_old_connections()
    try:
        with scopes_disabled():
            key = ApiKey.objects.select_related("user", "company").get(pk=key_id)
        with company_scope(key.company_id):
            return fn(ops.Caller(user=key.user, key=key), *args, **kwargs)
    except ApiProblem as exc:
        detail = f"{exc.status} {exc.detail}"
        extra = {k: v for k, v in exc.extra.items() if v}
        raise ToolError(f"{detail} {json.dumps(extra)}" if extra else detail) from exc
    finally:
        close_old_connections()


async def run[T](ctx: Context, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    request = ctx.request_context.request
    key_id = request.scope.get(SCOPE_KEY) if request is not None else None
    if key_id is None:  # the auth wrapper below never lets such a request through
        raise ToolError("401 Missing API key.")
    return await sync_to_async(_call, thread_sensitive=True)(key_id, fn, args, kwargs)


def build_server() -> MCPServer:
    server = MCPServer("TicketFlower", instructions=INSTRUCTIONS, version="1")

    @server.resource(BUNDLE_SCHEMA_URI, name="bundle-schema", mime_type="application/schema+json")
    def bundle_schema() -> str:
        """The JSON Schema every bundle must satisfy."""
        return json.dumps(ops.bundle_schema())

    @server.tool()
    async def validate_bundle(bundle: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """Check a bundle without writing anything. Returns `valid`, every error
        (`problems`, which refuse an import) and every lint (`warnings`: unreachable
        tasks, dead ends, loops of actions only; an import allows them), each with its
        JSON path. Scope definitions:read."""
        return await run(ctx, ops.validate_bundle, strictjson.check(bundle))

    @server.tool()
    async def import_bundle(bundle: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """Import a bundle, all or nothing, upserting by key. Scope definitions:write."""
        return await run(ctx, ops.import_bundle, strictjson.check(bundle))

    @server.tool()
    async def dry_run(
        ctx: Context,
        ticket: dict[str, Any],
        workflow: str | None = None,
        bundle: dict[str, Any] | None = None,
        version: int | None = None,
        outputs: dict[str, Any] | None = None,
        responses: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Run a stored workflow (by key; its draft, or a published `version`) or a bundle
        not yet imported on sample `ticket` data, with form `outputs` and mocked action
        `responses` by task key (a list gives one per visit). Writes nothing, calls
        nothing; returns the path, conditions with values, transforms and assignments.
        Scope definitions:read."""
        request = {
            "ticket": strictjson.check(ticket),
            "workflow": workflow,
            "bundle": strictjson.check(bundle) if bundle is not None else None,
            "version": version,
            "outputs": strictjson.check(outputs or {}),
            "responses": strictjson.check(responses or {}),
        }
        return await run(ctx, ops.dry_run, request)

    @server.tool()
    async def export_bundle(ctx: Context, workflows: list[str] | None = None) -> dict[str, Any]:
        """Export the company's definitions (or the named workflows) as a bundle. Scope
        definitions:read."""
        return await run(ctx, ops.export_bundle, workflows)

    @server.tool()
    async def list_ticket_types(ctx: Context) -> list[dict[str, Any]]:
        """Ticket types you may submit, each with the JSON Schema of its data. Scope
        tickets:read."""
        return await run(ctx, ops.list_ticket_types)

    @server.tool()
    async def submit_ticket(
        type: str, data: dict[str, Any], ctx: Context, attachments: list[Attachment] | None = None
    ) -> dict[str, Any]:
        """Submit a ticket of the type with this key; `data` must match its fields schema.
        `attachments`: files as base64, under the upload limits of the pages (by default
        10 files, 5 MB each, 20 MB in all). Scope tickets:write."""
        return await run(
            ctx, ops.submit_ticket, type_key=type, data=strictjson.check(data), inline=_inline(attachments)
        )

    @server.tool()
    async def cancel_ticket(ticket_id: int, reason: str, ctx: Context) -> dict[str, Any]:
        """Cancel a ticket with a reason the submitter sees (the submitter or a ticket
        admin). Scope tickets:write."""
        if not reason.strip():
            raise ToolError("400 A reason is required to cancel a ticket.")
        return await run(ctx, ops.cancel_ticket, ticket_id, reason)

    @server.tool()
    async def add_comment(
        ticket_id: int,
        body: str,
        ctx: Context,
        internal: bool = False,
        attachments: list[Attachment] | None = None,
    ) -> dict[str, Any]:
        """Reply on a ticket's conversation (the submitter sees it), or with internal=true
        write an internal note only the team sees (ticket admins and the ticket's
        assignees). Files as base64 `attachments`, under the upload limits. Scope
        tickets:write."""
        return await run(
            ctx, ops.add_comment, ticket_id, body=body, internal=internal, inline=_inline(attachments)
        )

    @server.tool()
    async def list_tickets(
        ctx: Context,
        status: str | None = None,
        type: str | None = None,
        cursor: str | None = None,
        limit: int = ops.DEFAULT_PAGE,
    ) -> dict[str, Any]:
        """Tickets you may see, newest first, filtered by status (IN_PROGRESS, ON_HOLD,
        COMPLETED, CANCELLED, NOT_STARTED) and type key; pass next_cursor as cursor for
        the next page. Scope tickets:read."""
        return await run(ctx, ops.list_tickets, status=status, type_key=type, cursor=cursor, limit=limit)

    @server.tool()
    async def get_ticket(ticket_id: int, ctx: Context) -> dict[str, Any]:
        """One ticket: data, status, current step, attachments, public outcomes, timeline,
        and its conversation (`comments`, oldest first; internal notes only for the team).
        Scope tickets:read."""
        return await run(ctx, ops.get_ticket_and_comments, ticket_id)

    @server.tool()
    async def list_my_tasks(
        ctx: Context, cursor: str | None = None, limit: int = ops.DEFAULT_PAGE
    ) -> dict[str, Any]:
        """Your open tasks, oldest first. Scope tasks:read."""
        return await run(ctx, ops.list_tasks, cursor=cursor, limit=limit)

    @server.tool()
    async def list_claimable_tasks(
        ctx: Context, cursor: str | None = None, limit: int = ops.DEFAULT_PAGE
    ) -> dict[str, Any]:
        """Unclaimed tasks in the queues of your company roles, oldest first; take one with
        claim_task. Scope tasks:read."""
        return await run(ctx, ops.list_claimable, cursor=cursor, limit=limit)

    @server.tool()
    async def claim_task(task_id: int, ctx: Context) -> dict[str, Any]:
        """Take a queue task: it becomes yours (list_my_tasks). The first claim wins;
        a later one gets a 409 error. Scope tasks:write."""
        return await run(ctx, ops.claim_task, task_id)

    @server.tool()
    async def release_task(task_id: int, ctx: Context) -> dict[str, Any]:
        """Give a queue task you claimed back to its queue. Scope tasks:write."""
        return await run(ctx, ops.release_task, task_id)

    @server.tool()
    async def get_task(task_id: int, ctx: Context) -> dict[str, Any]:
        """One task with its input, the ticket's data and the output_schema to answer.
        Scope tasks:read."""
        return await run(ctx, ops.get_task, task_id)

    @server.tool()
    async def complete_task(task_id: int, output: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """Complete a form task; `output` must match its output_schema. Scope tasks:write."""
        return await run(ctx, ops.complete_task, task_id, strictjson.check(output))

    @server.tool()
    async def list_errors(
        ctx: Context, status: str | None = None, cursor: str | None = None, limit: int = ops.DEFAULT_PAGE
    ) -> dict[str, Any]:
        """The company's ticket errors, newest first, filtered by status (NEW, REVIEWED,
        RESOLVED); ticket admins only. Scope tickets:read."""
        if status is not None and status not in ("NEW", "REVIEWED", "RESOLVED"):
            raise ToolError("400 status is one of NEW, REVIEWED, RESOLVED.")
        return await run(ctx, ops.list_errors, status=status, cursor=cursor, limit=limit)

    @server.tool()
    async def retry_error(error_id: int, ctx: Context) -> dict[str, Any]:
        """Retry the failed step of the error's ticket (after fixing its cause); ticket
        admins only. Returns the ticket. Scope tickets:write."""
        return await run(ctx, ops.retry_error, error_id)

    return server


def _transport_security() -> TransportSecuritySettings:
    """Host/Origin checks (DNS rebinding) follow Django's ALLOWED_HOSTS."""
    hosts = [h for h in settings.ALLOWED_HOSTS if h and not h.startswith(".")]
    if "*" in hosts or not hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(
        allowed_hosts=[*hosts, *(f"{h}:*" for h in hosts)],
        allowed_origins=[
            *settings.CSRF_TRUSTED_ORIGINS,
            *(f"{scheme}://{h}{port}" for h in hosts for scheme in ("http", "https") for port in ("", ":*")),
        ],
    )


class ApiKeyGate:
    """Answers 401/429 (problem+json) before the SDK runs; passes the key's id on in the
    ASGI scope, where tools read it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        token = bearer_token(header)
        resolved = (
            await sync_to_async(_resolve, thread_sensitive=True)(token) if token else keys.Resolved(None)
        )
        if resolved.key is None:
            await _problem(send, 401, "Send an API key as 'Authorization: Bearer <key>'.")
            return
        if resolved.retry_after is not None:
            await _problem(
                send,
                429,
                "Rate limit exceeded for this API key.",
                [(b"retry-after", str(resolved.retry_after).encode())],
            )
            return
        if scope.get("method") == "POST":
            body = await _read_body(scope, receive, max_body_bytes())
            if body is None:
                await _problem(send, 413, f"The request is larger than {max_body_bytes()} bytes.")
                return
            receive = _replay(body, receive)
        await self.app({**scope, SCOPE_KEY: resolved.key.pk}, receive, send)


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes `limit` (by its announced length or
    as it streams in). The SDK reads bodies without a bound; this is the bound."""
    announced = dict(scope.get("headers") or []).get(b"content-length", b"")
    if announced.isdigit() and int(announced) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _resolve(token: str) -> keys.Resolved:
    close_old_connections()
    try:
        return keys.resolve(token)
    finally:
        close_old_connections()


async def _problem(
    send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    title = {401: "Unauthorized", 413: "Content Too Large", 429: "Too Many Requests"}[status]
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    extra = [(b"www-authenticate", b'Bearer realm="mcp"')] if status == 401 else []
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                *extra,
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def build_asgi() -> ASGIApp:
    """A fresh ASGI app serving /mcp. Its session manager runs in the ASGI lifespan, once
    per app, so each server process builds its own."""
    app = build_server().streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=True,
        transport_security=_transport_security(),
    )
    return ApiKeyGate(app)
