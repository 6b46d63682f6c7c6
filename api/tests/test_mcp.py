"""The SDK's own MCP client against a live server: list the tools, then validate ->
import -> submit -> complete, all over Streamable HTTP with an API key."""

import asyncio
import base64
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import httpx2
from django.conf import settings
from django.core.files.storage import default_storage
from django.test import TransactionTestCase, override_settings
from django_scopes import scopes_disabled
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from accounts.models import CompanyRole
from accounts.roles import SystemRole
from api.mcp_server import max_body_bytes
from api.tests.base import make_key
from api.tests.live import LiveAsgiServer
from project.testing import make_company, make_ticket_type, make_user, make_workflow
from tickets.models import FileUpload, Ticket
from tickets.services import storage_path
from workflows.models import TaskDefinition, TaskStatus

BUNDLE = json.loads((Path(settings.BASE_DIR) / "fixtures/bundles/it-support.json").read_text())
# The same bundle with its second step ("fix") in the queue of the company role "it".
QUEUED = json.loads(json.dumps(BUNDLE))
QUEUED["company_roles"] = [{"name": "it", "description": "IT"}]
QUEUED["workflows"][0]["tasks"][1]["assign"] = {"rule": "queue", "role": "it"}
SCREENSHOT = b"\x89PNG\r\n\x1a\n not really a picture"


def error_status(result: Any) -> int | None:
    """The HTTP-like status a tool error starts with ("Error executing tool x: 404 ...")."""
    if not result.is_error:
        return None
    found = re.search(r": (\d{3}) ", result.content[0].text)
    return int(found.group(1)) if found else None


def structured(result: Any) -> Any:
    assert not result.is_error, result.content
    return result.structured_content


@override_settings(ALLOWED_HOSTS=["127.0.0.1", "testserver"], MEDIA_ROOT=tempfile.mkdtemp())
class McpLiveTests(TransactionTestCase):
    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)
        super().tearDownClass()

    def setUp(self) -> None:
        self.company = make_company("Acme")
        # One person who creates the workflow, submits and works the task.
        self.user = make_user(
            self.company, SystemRole.WORKFLOW_CREATOR, SystemRole.USER, SystemRole.TASK_WORKER
        )
        self.key, self.raw = make_key(self.user)
        with scopes_disabled():  # a member of the "it" queue (membership is not in bundles)
            self.user.company_roles.add(CompanyRole.objects.create(company=self.company, name="it"))
        self.server = LiveAsgiServer().start()
        self.addCleanup(self.server.stop)

    def mcp_client(self, raw: str) -> Client:
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {raw}"})
        return Client(streamable_http_client(f"{self.server.url}/mcp", http_client=http))

    def test_tools_end_to_end(self) -> None:
        async def scenario() -> dict[str, Any]:
            out: dict[str, Any] = {}
            async with self.mcp_client(self.raw) as client:
                out["tools"] = sorted(t.name for t in (await client.list_tools()).tools)
                resource = await client.read_resource("ticketflower://bundle.schema.json")
                out["schema"] = json.loads(getattr(resource.contents[0], "text", ""))
                broken = {**BUNDLE, "workflows": [{**BUNDLE["workflows"][0], "key": "Not a slug!"}]}
                out["invalid"] = structured(await client.call_tool("validate_bundle", {"bundle": broken}))
                linted = json.loads(json.dumps(QUEUED))
                linted["workflows"][0]["tasks"].append({"key": "orphan", "title": "Orphan", "type": "FORM"})
                out["linted"] = structured(await client.call_tool("validate_bundle", {"bundle": linted}))
                out["valid"] = structured(await client.call_tool("validate_bundle", {"bundle": QUEUED}))
                out["imported"] = structured(await client.call_tool("import_bundle", {"bundle": QUEUED}))
                out["dry"] = structured(
                    await client.call_tool(
                        "dry_run",
                        {
                            "workflow": "it-support",
                            "ticket": {"title": "x"},
                            "outputs": {"triage": {"severity": "low"}},
                        },
                    )
                )
                types = structured(await client.call_tool("list_ticket_types", {}))
                out["types"] = types
                tt = types["result"][0]
                data = {"title": "Laptop broken", "details": "It will not boot."}
                screenshot = {
                    "filename": "screen.png",
                    "content_base64": base64.b64encode(SCREENSHOT).decode(),
                }
                out["ticket"] = structured(
                    await client.call_tool(
                        "submit_ticket", {"type": tt["key"], "data": data, "attachments": [screenshot]}
                    )
                )
                tasks = structured(await client.call_tool("list_my_tasks", {}))
                task = tasks["items"][0]
                detail = structured(await client.call_tool("get_task", {"task_id": task["id"]}))
                out["bad_output"] = await client.call_tool(
                    "complete_task", {"task_id": task["id"], "output": {"x": 1}}
                )
                answer = _answer_for(detail["output_schema"])
                out["done"] = structured(
                    await client.call_tool("complete_task", {"task_id": task["id"], "output": answer})
                )
                # The next step waits in the "it" queue: claim, release, claim again, complete.
                ticket_id = out["ticket"]["id"]
                out["mine_after_triage"] = structured(await client.call_tool("list_my_tasks", {}))["items"]
                claimable = structured(await client.call_tool("list_claimable_tasks", {}))["items"]
                out["claimable"] = claimable
                fix = claimable[0]["id"]
                out["claimed"] = structured(await client.call_tool("claim_task", {"task_id": fix}))
                out["claim_again"] = await client.call_tool("claim_task", {"task_id": fix})
                out["released"] = structured(await client.call_tool("release_task", {"task_id": fix}))
                out["claimable_again"] = structured(await client.call_tool("list_claimable_tasks", {}))[
                    "items"
                ]
                structured(await client.call_tool("claim_task", {"task_id": fix}))
                out["reply"] = structured(
                    await client.call_tool(
                        "add_comment",
                        {"ticket_id": ticket_id, "body": "On it.", "attachments": [screenshot]},
                    )
                )
                out["note"] = structured(
                    await client.call_tool(
                        "add_comment", {"ticket_id": ticket_id, "body": "Needs a new disk.", "internal": True}
                    )
                )
                out["fixed"] = structured(
                    await client.call_tool(
                        "complete_task", {"task_id": fix, "output": {"resolution": "New disk"}}
                    )
                )
                out["ticket_after"] = structured(
                    await client.call_tool("get_ticket", {"ticket_id": ticket_id})
                )
            return out

        out = asyncio.run(scenario())
        self.assertEqual(
            out["tools"],
            sorted(
                [
                    "add_comment",
                    "cancel_ticket",
                    "claim_task",
                    "complete_task",
                    "dry_run",
                    "export_bundle",
                    "get_task",
                    "get_ticket",
                    "import_bundle",
                    "list_claimable_tasks",
                    "list_my_tasks",
                    "list_ticket_types",
                    "list_tickets",
                    "list_errors",
                    "release_task",
                    "retry_error",
                    "submit_ticket",
                    "validate_bundle",
                ]
            ),
        )
        self.assertEqual(out["schema"]["properties"]["format"]["const"], 1)
        self.assertFalse(out["invalid"]["valid"])
        self.assertTrue(any(p["path"].startswith("$.workflows[0].key") for p in out["invalid"]["problems"]))
        self.assertEqual(out["valid"], {"valid": True, "problems": [], "warnings": []})
        self.assertTrue(out["linted"]["valid"])
        self.assertEqual([w["path"] for w in out["linted"]["warnings"]], ["$.workflows[0].tasks[2]"])
        self.assertEqual(out["imported"]["created"]["workflows"], 1)
        self.assertEqual(out["imported"]["published"], ["it-support v1"])
        self.assertEqual(out["dry"]["path"], ["triage", "fix"])
        self.assertEqual(out["dry"]["status"], "waiting")
        self.assertTrue(out["bad_output"].is_error)
        self.assertEqual(out["done"]["status"], TaskStatus.COMPLETED)
        self.assertEqual(out["done"]["key"], "triage")
        # Claim and release: the queue task moves between the queue and the person.
        self.assertEqual(out["mine_after_triage"], [])
        self.assertEqual([(t["key"], t["queue"]) for t in out["claimable"]], [("fix", "it")])
        self.assertEqual(out["claimed"]["assignee"], self.user.email)
        self.assertEqual(error_status(out["claim_again"]), 409)
        self.assertIsNone(out["released"]["assignee"])
        self.assertEqual([t["id"] for t in out["claimable_again"]], [out["claimed"]["id"]])
        self.assertEqual(out["fixed"]["status"], TaskStatus.COMPLETED)
        # Attachments arrive as the bytes sent; the conversation is in get_ticket.
        after = out["ticket_after"]
        self.assertEqual(after["status"], "COMPLETED")
        self.assertEqual(
            [(a["filename"], a["size"], a["content_type"]) for a in after["attachments"]],
            [("screen.png", len(SCREENSHOT), "image/png")],
        )
        self.assertEqual(
            [(c["body"], c["internal"]) for c in after["comments"]],
            [("On it.", False), ("Needs a new disk.", True)],
        )
        self.assertEqual([a["filename"] for a in out["reply"]["attachments"]], ["screen.png"])
        with scopes_disabled():
            ticket = Ticket.objects.get(pk=out["ticket"]["id"])
            self.assertEqual(ticket.created_by, self.user)
            self.assertEqual(ticket.company, self.company)
            stored = FileUpload.objects.get(ticket=ticket, comment__isnull=True)
            with default_storage.open(storage_path(stored)) as handle:
                self.assertEqual(handle.read(), SCREENSHOT)

    def test_key_required_and_scopes_apply(self) -> None:
        _, read_only = make_key(self.user, ["tickets:read"], name="read only")

        async def scenario() -> tuple[int, Any]:
            async with httpx2.AsyncClient() as http:
                response = await http.post(
                    f"{self.server.url}/mcp",
                    json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                    headers={
                        "Authorization": "Bearer tf_wrong",
                        "Accept": "application/json, text/event-stream",
                    },
                )
            async with self.mcp_client(read_only) as client:
                denied = await client.call_tool("import_bundle", {"bundle": BUNDLE})
            return response.status_code, denied

        status, denied = asyncio.run(scenario())
        self.assertEqual(status, 401)
        self.assertTrue(denied.is_error)
        self.assertIn("403", denied.content[0].text)

    @override_settings(UPLOAD_MAX_BYTES=10, UPLOAD_MAX_FILES=2, UPLOAD_MAX_REQUEST_BYTES=15)
    def test_attachments_keep_the_upload_limits_and_tenancy(self) -> None:
        """Inline files obey the pages' limits on their decoded bytes (413), bad base64 is
        400, a body past the base64 of the request limit is refused before the SDK reads
        it, nothing is written by a refused call, and another company's ticket is 404."""
        with scopes_disabled():
            wf = make_workflow(self.company, [{"key": "look"}], key="look")
            tt = make_ticket_type(self.company, wf)
        stranger = make_user(make_company("Other"), *SystemRole.values)
        _, stranger_key = make_key(stranger)

        def file(content: bytes, name: str = "a.txt") -> dict[str, str]:
            return {"filename": name, "content_base64": base64.b64encode(content).decode()}

        async def scenario() -> dict[str, Any]:
            out: dict[str, Any] = {}
            async with self.mcp_client(self.raw) as client:

                async def submit(files: list[dict[str, str]]) -> Any:
                    args = {"type": tt.key, "data": {"title": "Disk"}, "attachments": files}
                    return await client.call_tool("submit_ticket", args)

                out["too_big"] = await submit([file(b"x" * 11)])
                out["too_many"] = await submit([file(b"x")] * 3)
                out["too_much"] = await submit([file(b"x" * 8), file(b"y" * 8)])
                out["not_base64"] = await submit([{"filename": "a.txt", "content_base64": "***"}])
                out["no_name"] = await submit([file(b"x", name="../")])
                out["ok"] = structured(await submit([file(b"x" * 10, name="C:\\temp\\log.txt")]))
                ticket_id = out["ok"]["id"]
                task_id = structured(await client.call_tool("list_my_tasks", {}))["items"][0]["id"]
                out["comment_too_big"] = await client.call_tool(
                    "add_comment", {"ticket_id": ticket_id, "body": "x", "attachments": [file(b"x" * 11)]}
                )
            async with self.mcp_client(stranger_key) as client:
                out["foreign_get"] = await client.call_tool("get_ticket", {"ticket_id": ticket_id})
                out["foreign_comment"] = await client.call_tool(
                    "add_comment", {"ticket_id": ticket_id, "body": "hello"}
                )
                out["foreign_claim"] = await client.call_tool("claim_task", {"task_id": task_id})
                out["foreign_release"] = await client.call_tool("release_task", {"task_id": task_id})
                out["foreign_cancel"] = await client.call_tool(
                    "cancel_ticket", {"ticket_id": ticket_id, "reason": "Not mine"}
                )
            async with self.mcp_client(self.raw) as client:
                out["no_reason"] = await client.call_tool(
                    "cancel_ticket", {"ticket_id": ticket_id, "reason": " "}
                )
                out["cancelled"] = structured(
                    await client.call_tool("cancel_ticket", {"ticket_id": ticket_id, "reason": "Duplicate"})
                )
            async with httpx2.AsyncClient() as http:
                big = await http.post(
                    f"{self.server.url}/mcp",
                    content=b" " * (max_body_bytes() + 1),
                    headers={
                        "Authorization": f"Bearer {self.raw}",
                        "Content-Type": "application/json",
                        "Accept": "application/json, text/event-stream",
                    },
                )
                out["big"] = (big.status_code, big.headers["content-type"])
            return out

        out = asyncio.run(scenario())
        for name in ("too_big", "too_many", "too_much", "comment_too_big"):
            with self.subTest(name):
                self.assertTrue(out[name].is_error)
                self.assertEqual(error_status(out[name]), 413, out[name].content[0].text)
        for name in ("not_base64", "no_name", "no_reason"):
            with self.subTest(name):
                self.assertEqual(error_status(out[name]), 400, out[name].content[0].text)
        for name in ("foreign_get", "foreign_comment", "foreign_claim", "foreign_release", "foreign_cancel"):
            with self.subTest(name):
                self.assertEqual(error_status(out[name]), 404, out[name].content[0].text)
        self.assertEqual([a["filename"] for a in out["ok"]["attachments"]], ["log.txt"])
        self.assertEqual(out["big"], (413, "application/problem+json"))
        self.assertEqual(out["cancelled"]["status"], "CANCELLED")
        self.assertIn("Ticket cancelled: Duplicate", [e["message"] for e in out["cancelled"]["timeline"]])
        with scopes_disabled():
            self.assertEqual(Ticket.objects.count(), 1)
            self.assertEqual(FileUpload.objects.count(), 1)

    def test_errors_and_retry(self) -> None:
        """A ticket whose workflow cannot start: a ticket admin's assistant lists the error,
        retries it once the definition is fixed; a worker and another company cannot."""
        admin = make_user(self.company, SystemRole.TICKET_ADMIN, SystemRole.USER)
        _, admin_key = make_key(admin)
        _, worker_key = make_key(make_user(self.company, SystemRole.TASK_WORKER))
        _, stranger_key = make_key(make_user(make_company("Other"), *SystemRole.values))
        with scopes_disabled():
            broken = make_workflow(self.company, [], key="no-start")
            tt = make_ticket_type(self.company, broken)

        async def before_fix() -> dict[str, Any]:
            out: dict[str, Any] = {}
            async with self.mcp_client(admin_key) as client:
                ticket = structured(
                    await client.call_tool("submit_ticket", {"type": tt.key, "data": {"title": "x"}})
                )
                out["ticket"] = ticket
                out["errors"] = structured(await client.call_tool("list_errors", {"status": "NEW"}))["items"]
                out["bad_status"] = await client.call_tool("list_errors", {"status": "BOGUS"})
            error_id = out["errors"][0]["id"]
            async with self.mcp_client(worker_key) as client:
                out["worker"] = await client.call_tool("retry_error", {"error_id": error_id})
            async with self.mcp_client(stranger_key) as client:
                out["stranger"] = await client.call_tool("retry_error", {"error_id": error_id})
                out["stranger_list"] = structured(await client.call_tool("list_errors", {}))["items"]
            return out

        out = asyncio.run(before_fix())
        self.assertEqual(
            [(e["ticket_id"], e["type"]) for e in out["errors"]], [(out["ticket"]["id"], "WORKFLOW_CREATION")]
        )
        self.assertEqual(error_status(out["bad_status"]), 400)
        self.assertEqual(error_status(out["worker"]), 403)
        self.assertEqual(error_status(out["stranger"]), 404)
        self.assertEqual(out["stranger_list"], [])
        with scopes_disabled():  # fix the definition, as a workflow creator would
            broken.start_task = TaskDefinition.objects.create(
                company=self.company, workflow=broken, key="go", title="Go"
            )
            broken.save()

        async def after_fix() -> Any:
            async with self.mcp_client(admin_key) as client:
                return structured(await client.call_tool("retry_error", {"error_id": out["errors"][0]["id"]}))

        retried = asyncio.run(after_fix())
        self.assertEqual((retried["status"], retried["current_step"]["key"]), ("IN_PROGRESS", "go"))


def _answer_for(schema: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for name, spec in (schema.get("properties") or {}).items():
        kind = spec.get("type")
        if "enum" in spec:
            answer[name] = spec["enum"][0]
        elif kind == "boolean":
            answer[name] = True
        elif kind in ("integer", "number"):
            answer[name] = spec.get("minimum", 1)
        else:
            answer[name] = "done"
    return answer
