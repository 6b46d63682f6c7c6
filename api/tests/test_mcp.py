"""The SDK's own MCP client against a live server: list the tools, then validate ->
import -> submit -> complete, all over Streamable HTTP with an API key."""

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx2
from django.conf import settings
from django.test import TransactionTestCase, override_settings
from django_scopes import scopes_disabled
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from accounts.roles import SystemRole
from api.tests.base import make_key
from api.tests.live import LiveAsgiServer
from project.testing import make_company, make_user
from tickets.models import Ticket
from workflows.models import TaskStatus

BUNDLE = json.loads((Path(settings.BASE_DIR) / "fixtures/bundles/it-support.json").read_text())


def structured(result: Any) -> Any:
    assert not result.is_error, result.content
    return result.structured_content


@override_settings(ALLOWED_HOSTS=["127.0.0.1", "testserver"])
class McpLiveTests(TransactionTestCase):
    def setUp(self) -> None:
        self.company = make_company("Acme")
        # One person who creates the workflow, submits and works the task.
        self.user = make_user(
            self.company, SystemRole.WORKFLOW_CREATOR, SystemRole.USER, SystemRole.TASK_WORKER
        )
        self.key, self.raw = make_key(self.user)
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
                out["valid"] = structured(await client.call_tool("validate_bundle", {"bundle": BUNDLE}))
                out["imported"] = structured(await client.call_tool("import_bundle", {"bundle": BUNDLE}))
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
                out["ticket"] = structured(
                    await client.call_tool("submit_ticket", {"type": tt["key"], "data": data})
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
                out["ticket_after"] = structured(
                    await client.call_tool("get_ticket", {"ticket_id": out["ticket"]["id"]})
                )
            return out

        out = asyncio.run(scenario())
        self.assertEqual(
            out["tools"],
            sorted(
                [
                    "complete_task",
                    "dry_run",
                    "export_bundle",
                    "get_task",
                    "get_ticket",
                    "import_bundle",
                    "list_my_tasks",
                    "list_ticket_types",
                    "list_tickets",
                    "submit_ticket",
                    "validate_bundle",
                ]
            ),
        )
        self.assertEqual(out["schema"]["properties"]["format"]["const"], 1)
        self.assertFalse(out["invalid"]["valid"])
        self.assertTrue(any(p["path"].startswith("$.workflows[0].key") for p in out["invalid"]["problems"]))
        self.assertEqual(out["valid"], {"valid": True, "problems": [], "warnings": []})
        self.assertEqual(out["imported"]["created"]["workflows"], 1)
        self.assertEqual(out["imported"]["published"], ["it-support v1"])
        self.assertEqual(out["dry"]["path"], ["triage", "fix"])
        self.assertEqual(out["dry"]["status"], "waiting")
        self.assertTrue(out["bad_output"].is_error)
        self.assertEqual(out["done"]["status"], TaskStatus.COMPLETED)
        with scopes_disabled():
            ticket = Ticket.objects.get(pk=out["ticket"]["id"])
            self.assertEqual(ticket.created_by, self.user)
            self.assertEqual(ticket.company, self.company)
        self.assertNotEqual(out["ticket_after"]["current_step"]["key"], out["done"]["key"])

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
