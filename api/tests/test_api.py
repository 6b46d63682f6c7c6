"""Every /api/v1/ endpoint, through the real middleware stack, with API keys."""

import json
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from api import keys
from api.models import ApiKey
from api.tests.base import ApiClient, ApiTestCase, make_key
from project.testing import make_ticket_type, make_user, make_workflow
from tickets import services as ticket_services
from tickets.models import FileUpload, Ticket, TicketError
from workflows.models import TaskDefinition, TaskInstance, WorkflowDefinition, WorkflowStatus

BUNDLE = json.loads((Path(settings.BASE_DIR) / "fixtures/bundles/it-support.json").read_text())
PROBLEM = "application/problem+json"


class AuthTests(ApiTestCase):
    def test_no_credentials_is_401_problem(self) -> None:
        r = ApiClient(None).get("/tickets")
        self.assertEqual(r.status_code, 401)
        self.assertEqual(r["Content-Type"], PROBLEM)
        self.assertEqual(r.json()["status"], 401)

    def test_unknown_malformed_and_revoked_keys_are_401(self) -> None:
        key, raw = make_key(self.submitter)
        self.assertEqual(ApiClient("tf_not-a-key").get("/tickets").status_code, 401)
        bad = Client().get("/api/v1/tickets", headers={"Authorization": "Basic abc"})
        self.assertEqual(bad.status_code, 401)
        self.assertEqual(ApiClient(raw).get("/tickets").status_code, 200)
        with scopes_disabled():
            keys.revoke_key(key=key)
        self.assertEqual(ApiClient(raw).get("/tickets").status_code, 401)

    def test_key_of_deactivated_user_is_401(self) -> None:
        _, raw = make_key(self.submitter)
        self.submitter.is_active = False
        self.submitter.save()
        self.assertEqual(ApiClient(raw).get("/tickets").status_code, 401)

    def test_key_is_stored_hashed_and_last_use_recorded(self) -> None:
        key, raw = make_key(self.submitter)
        with scopes_disabled():
            stored = ApiKey.objects.get(pk=key.pk)
        self.assertNotIn(raw, json.dumps([stored.key_hash, stored.prefix, stored.name]))
        self.assertEqual(stored.key_hash, keys.hash_key(raw))
        self.assertIsNone(stored.last_used_at)
        ApiClient(raw).get("/tickets")
        with scopes_disabled():
            stored.refresh_from_db()
        self.assertIsNotNone(stored.last_used_at)

    @override_settings(API_RATE_LIMIT=3)
    def test_rate_limit_per_key(self) -> None:
        client = self.api(self.submitter)
        other = self.api(self.ticket_admin)
        statuses = [client.get("/tickets").status_code for _ in range(4)]
        self.assertEqual(statuses, [200, 200, 200, 429])
        r = client.get("/tickets")
        self.assertEqual(r["Content-Type"], PROBLEM)
        self.assertGreaterEqual(int(r["Retry-After"]), 1)
        self.assertEqual(other.get("/tickets").status_code, 200)  # another key has its own budget

    def test_session_needs_csrf_for_writes(self) -> None:
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.submitter)
        self.assertEqual(client.get("/api/v1/tickets").status_code, 200)
        data = {"type": self.ticket_type.key, "data": json.dumps({"title": "From the browser"})}
        r = client.post("/api/v1/tickets", data)
        self.assertEqual(r.status_code, 403)
        self.assertEqual(r["Content-Type"], PROBLEM)
        client.get("/api/v1/docs")  # the docs page sets the CSRF cookie for its own calls
        token = client.cookies["csrftoken"].value
        with self.captureOnCommitCallbacks(execute=True):
            r = client.post("/api/v1/tickets", data, headers={"X-CSRFToken": token})
        self.assertEqual(r.status_code, 201, r.content)
        with scopes_disabled():
            self.assertEqual(Ticket.objects.get(pk=r.json()["id"]).created_by, self.submitter)


class BundleTests(ApiTestCase):
    def test_validate_reports_paths_and_writes_nothing(self) -> None:
        client = self.api(self.creator, ["definitions:read"])
        broken = json.loads(json.dumps(BUNDLE))
        broken["workflows"][0]["transitions"][0]["to"] = "nowhere"
        r = client.post("/bundles/validate", broken)
        self.assertEqual(r.status_code, 200)
        body = r.json()
        self.assertFalse(body["valid"])
        self.assertTrue(any(p["path"] == "$.workflows[0].transitions[0].to" for p in body["problems"]), body)
        self.assertEqual(
            client.post("/bundles/validate", BUNDLE).json(), {"valid": True, "problems": [], "warnings": []}
        )
        with scopes_disabled():
            self.assertFalse(WorkflowDefinition.objects.filter(key="it-support").exists())

    def test_validate_returns_lint_warnings_apart_from_errors(self) -> None:
        """The lints the back office shows (workflows.lint) come back as `warnings`, with
        their JSON paths; they do not make a bundle invalid, and it still imports."""
        client = self.api(self.creator, ["definitions:read", "definitions:write"])
        linted = json.loads(json.dumps(BUNDLE))
        linted["workflows"][0]["tasks"].append({"key": "orphan", "title": "Orphan", "type": "FORM"})
        body = client.post("/bundles/validate", linted).json()
        self.assertTrue(body["valid"], body)
        self.assertEqual(body["problems"], [])
        self.assertEqual([w["path"] for w in body["warnings"]], ["$.workflows[0].tasks[2]"])
        self.assertIn("'orphan' cannot be reached from the start task", body["warnings"][0]["message"])
        # An error beside the warning: both come back, each in its own list.
        linted["workflows"][0]["transitions"][0]["to"] = "nowhere"
        body = client.post("/bundles/validate", linted).json()
        self.assertFalse(body["valid"])
        self.assertIn("$.workflows[0].transitions[0].to", [p["path"] for p in body["problems"]])
        self.assertTrue(body["warnings"])
        self.assertFalse(any("cannot be reached" in p["message"] for p in body["problems"]))
        linted["workflows"][0]["transitions"][0]["to"] = "fix"
        imported = client.post("/bundles/import", linted)
        self.assertEqual(imported.status_code, 200)
        # The import says what it let through, as validate did (a client need not call both).
        self.assertEqual([w["path"] for w in imported.json()["warnings"]], ["$.workflows[0].tasks[2]"])

    def test_validate_refuses_bad_json(self) -> None:
        client = self.api(self.creator)
        r = client.client.post(
            "/api/v1/bundles/validate", b"{not json", content_type="application/json", headers=client.headers
        )
        self.assertEqual(r.status_code, 400)
        self.assertEqual(r["Content-Type"], PROBLEM)
        r = client.post("/bundles/validate", {"format": 1, "workflows": [{"key": "a\u0000b"}]})
        self.assertEqual(r.status_code, 400)
        # The same checker as every other entry point: lone surrogates, 64-bit overflow, NaN.
        for raw in (
            b'{"format": 1, "x": "\\ud800"}',
            b'{"format": 1, "x": 9223372036854775808}',
            b'{"x": NaN}',
        ):
            r = client.client.post(
                "/api/v1/bundles/validate", raw, content_type="application/json", headers=client.headers
            )
            self.assertEqual(r.status_code, 400, raw)
            self.assertEqual(r["Content-Type"], PROBLEM)
        r = client.client.post(
            "/api/v1/bundles/validate",
            b'{"a": {"b": 1e400}}',
            content_type="application/json",
            headers=client.headers,
        )
        self.assertIn("$.a.b", r.json()["detail"])

    def test_import_all_or_nothing_then_export_round_trips(self) -> None:
        client = self.api(self.creator, ["definitions:read", "definitions:write"])
        broken = json.loads(json.dumps(BUNDLE))
        broken["ticket_types"][0]["workflow"] = "missing"
        r = client.post("/bundles/import", broken)
        self.assertEqual(r.status_code, 400)
        self.assertEqual(r["Content-Type"], PROBLEM)
        self.assertTrue(r.json()["problems"])
        with scopes_disabled():
            self.assertFalse(WorkflowDefinition.objects.filter(key="it-support").exists())
        r = client.post("/bundles/import", BUNDLE)
        self.assertEqual(r.status_code, 200, r.content)
        self.assertEqual(r.json()["created"]["workflows"], 1)
        with scopes_disabled():
            self.assertEqual(WorkflowDefinition.objects.get(key="it-support").company_id, self.company.pk)
        exported = client.get("/bundles/export", workflow="it-support")
        self.assertEqual(exported.status_code, 200)
        self.assertEqual(exported.json()["workflows"][0]["key"], "it-support")
        self.assertEqual(
            [t["key"] for t in exported.json()["workflows"][0]["tasks"]],
            [t["key"] for t in BUNDLE["workflows"][0]["tasks"]],
        )
        self.assertEqual(client.get("/bundles/export", workflow="nope").status_code, 404)
        everything = client.get("/bundles/export").json()
        self.assertEqual(sorted(w["key"] for w in everything["workflows"]), ["it-support", "review-flow"])

    def test_schema_is_public(self) -> None:
        r = ApiClient(None).get("/bundles/schema")
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json()["properties"]["format"]["const"], 1)


@override_settings(MEDIA_ROOT=tempfile.mkdtemp())
class TicketTests(ApiTestCase):
    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)
        super().tearDownClass()

    def test_ticket_types_with_schemas(self) -> None:
        r = self.api(self.submitter, ["tickets:read"]).get("/ticket-types")
        self.assertEqual(r.status_code, 200)
        self.assertEqual([t["key"] for t in r.json()], [self.ticket_type.key])
        self.assertEqual(r.json()[0]["fields_schema"], self.ticket_type.fields)

    def test_submit_with_attachments(self) -> None:
        client = self.api(self.submitter)
        with self.captureOnCommitCallbacks(execute=True):
            r = client.post_multipart(
                "/tickets",
                {
                    "type": self.ticket_type.key,
                    "data": json.dumps({"title": "Screen flickers"}),
                    "attachments": [
                        SimpleUploadedFile("a.txt", b"hello", content_type="text/plain"),
                        SimpleUploadedFile("b.log", b"world!", content_type="text/plain"),
                    ],
                },
            )
        self.assertEqual(r.status_code, 201, r.content)
        body = r.json()
        self.assertEqual(body["status"], WorkflowStatus.IN_PROGRESS)
        self.assertEqual(body["current_step"]["key"], "review")
        self.assertEqual(
            [(a["filename"], a["size"]) for a in body["attachments"]], [("a.txt", 5), ("b.log", 6)]
        )
        self.assertEqual(body["data"], {"title": "Screen flickers"})
        self.assertEqual(body["created_by"], self.submitter.email)
        self.assertIn("task_created", [e["kind"] for e in body["timeline"]])
        with scopes_disabled():
            self.assertEqual(FileUpload.objects.filter(ticket_id=body["id"]).count(), 2)

    def test_submit_bad_input_is_400_and_writes_nothing(self) -> None:
        client = self.api(self.submitter)
        cases = [
            {"type": self.ticket_type.key, "data": json.dumps({"nope": 1})},  # missing required title
            {"type": self.ticket_type.key, "data": "{not json"},
            {"type": self.ticket_type.key, "data": "[1, 2]"},
            {"type": self.ticket_type.key, "data": json.dumps({"title": "NaN"}).replace('"NaN"', "NaN")},
            {"type": self.ticket_type.key, "data": json.dumps({"title": "a\u0000b"})},
            {"data": json.dumps({"title": "no type"})},
        ]
        for data in cases:
            r = client.post_multipart("/tickets", data)
            self.assertEqual(r.status_code, 400, (data, r.content))
            self.assertEqual(r["Content-Type"], PROBLEM)
        r = client.post_multipart("/tickets", cases[0])
        self.assertEqual(r.json()["errors"], {"title": ["This field is required."]})
        with scopes_disabled():
            self.assertEqual(Ticket.objects.count(), 0)

    @override_settings(UPLOAD_MAX_FILES=1)
    def test_upload_limits_answer_a_problem(self) -> None:
        files = [SimpleUploadedFile(f"{i}.txt", b"x") for i in range(2)]
        r = self.api(self.submitter).post_multipart(
            "/tickets", {"type": self.ticket_type.key, "data": "{}", "attachments": files}
        )
        self.assertEqual(r.status_code, 413)
        self.assertEqual(r["Content-Type"], PROBLEM)
        self.assertIn("at most 1 files", r.json()["detail"])

    def test_unknown_paths_and_methods_are_problems(self) -> None:
        client = self.api(self.submitter)
        r = client.get("/nowhere")
        self.assertEqual((r.status_code, r["Content-Type"]), (404, PROBLEM))
        r = client.client.delete("/api/v1/tickets", headers=client.headers)
        self.assertEqual((r.status_code, r["Content-Type"]), (405, PROBLEM))

    def test_unknown_and_foreign_types_are_404(self) -> None:
        client = self.api(self.submitter)
        for key in ("nope", self.other_type.key):
            r = client.post_multipart("/tickets", {"type": key, "data": json.dumps({"title": "x"})})
            self.assertEqual(r.status_code, 404, key)

    def test_list_filters_and_cursor(self) -> None:
        client = self.api(self.submitter)
        ids = [self.submit(client, f"Ticket {i}").json()["id"] for i in range(5)]
        other_type = make_ticket_type(self.company, self.workflow)
        other_id = self.submit(client, "Other type", other_type).json()["id"]
        with scopes_disabled():
            Ticket.objects.filter(pk=ids[0]).update(created_at=timezone.now() - timedelta(days=10))
        r = client.get("/tickets", type=self.ticket_type.key, limit=2)
        page1 = r.json()
        self.assertEqual([t["id"] for t in page1["items"]], [ids[4], ids[3]])
        page2 = client.get("/tickets", type=self.ticket_type.key, limit=2, cursor=page1["next_cursor"]).json()
        self.assertEqual([t["id"] for t in page2["items"]], [ids[2], ids[1]])
        page3 = client.get("/tickets", type=self.ticket_type.key, limit=2, cursor=page2["next_cursor"]).json()
        self.assertEqual([t["id"] for t in page3["items"]], [ids[0]])
        self.assertIsNone(page3["next_cursor"])
        since = (timezone.now() - timedelta(days=1)).isoformat()
        recent = client.get("/tickets", created_after=since, limit=100).json()["items"]
        self.assertEqual({t["id"] for t in recent}, {*ids[1:], other_id})
        before = client.get("/tickets", created_before=since).json()["items"]
        self.assertEqual([t["id"] for t in before], [ids[0]])
        self.assertEqual(client.get("/tickets", status="CANCELLED").json()["items"], [])
        self.assertEqual(len(client.get("/tickets", status="IN_PROGRESS", limit=100).json()["items"]), 6)
        for bad in (
            {"cursor": "!!"},
            {"cursor": "e30"},
            {"status": "BOGUS"},
            {"limit": 0},
            {"created_after": "x"},
        ):
            r = client.get("/tickets", **bad)
            self.assertEqual(r.status_code, 400, bad)
            self.assertEqual(r["Content-Type"], PROBLEM)

    def test_visibility_follows_roles_and_company(self) -> None:
        mine = self.submit(self.api(self.submitter)).json()["id"]
        theirs = self.submit(self.api(self.ticket_admin), "Admin's own").json()["id"]
        foreign = self.submit(self.api(self.other_submitter), tt=self.other_type).json()["id"]
        sub = self.api(self.submitter)
        self.assertEqual([t["id"] for t in sub.get("/tickets").json()["items"]], [mine])
        self.assertEqual(sub.get(f"/tickets/{theirs}").status_code, 404)
        self.assertEqual(sub.get(f"/tickets/{foreign}").status_code, 404)
        admin = self.api(self.ticket_admin)
        self.assertEqual({t["id"] for t in admin.get("/tickets").json()["items"]}, {mine, theirs})
        self.assertEqual(admin.get(f"/tickets/{mine}").status_code, 200)
        self.assertEqual(admin.get(f"/tickets/{foreign}").status_code, 404)
        self.assertEqual(admin.get("/tickets/999999999").status_code, 404)

    def test_internal_note_files_never_reach_the_submitter(self) -> None:
        """An internal note's attachment belongs to the ticket row too; the ticket's own
        attachments are the submission's, so a submitter never learns of the note's file."""
        sub = self.api(self.submitter)
        ticket_id = self.submit(sub).json()["id"]
        with scopes_disabled(), self.captureOnCommitCallbacks(execute=True):
            ticket_services.add_comment(
                ticket=Ticket.objects.get(pk=ticket_id),
                author=self.worker,
                body="Password is on the sticky note",
                internal=True,
                files=[SimpleUploadedFile("secret.txt", b"hunter2")],
            )
        for client in (sub, self.api(self.ticket_admin)):
            body = client.get(f"/tickets/{ticket_id}").json()
            self.assertEqual(body["attachments"], [])
            self.assertNotIn("secret.txt", json.dumps(body))
            self.assertNotIn("sticky", json.dumps(body))

    def test_cancel_with_reason(self) -> None:
        client = self.api(self.submitter)
        ticket_id = self.submit(client).json()["id"]
        self.assertEqual(client.post(f"/tickets/{ticket_id}/cancel", {"reason": ""}).status_code, 400)
        self.assertEqual(client.post(f"/tickets/{ticket_id}/cancel", {}).status_code, 400)
        r = client.post(f"/tickets/{ticket_id}/cancel", {"reason": "Fixed it myself"})
        self.assertEqual(r.status_code, 200, r.content)
        self.assertEqual(r.json()["status"], WorkflowStatus.CANCELLED)
        self.assertIn("Ticket cancelled: Fixed it myself", [e["message"] for e in r.json()["timeline"]])
        again = client.post(f"/tickets/{ticket_id}/cancel", {"reason": "Again"})
        self.assertEqual(again.status_code, 409)
        self.assertEqual(again["Content-Type"], PROBLEM)
        foreign = self.submit(self.api(self.other_submitter), tt=self.other_type).json()["id"]
        self.assertEqual(client.post(f"/tickets/{foreign}/cancel", {"reason": "x"}).status_code, 404)


class TaskTests(ApiTestCase):
    def test_mine_get_and_complete(self) -> None:
        ticket_id = self.submit(self.api(self.submitter)).json()["id"]
        worker = self.api(self.worker)
        mine = worker.get("/tasks/mine").json()
        self.assertEqual([t["ticket_id"] for t in mine["items"]], [ticket_id])
        task_id = mine["items"][0]["id"]
        current = self.api(self.submitter).get(f"/tickets/{ticket_id}").json()["current_task"]
        self.assertEqual(
            current,
            {
                "id": task_id,
                "key": "review",
                "title": "Review",
                "type": "FORM",
                "status": "OPEN",
                "assignee": self.worker.email,
                "queue": None,
            },
        )
        detail = worker.get(f"/tasks/{task_id}").json()
        self.assertEqual(detail["output_schema"]["required"], ["approved"])
        self.assertEqual(detail["ticket_data"], {"title": "Printer jam"})
        bad = worker.post(f"/tasks/{task_id}/complete", {"output": {"approved": "yes"}})
        self.assertEqual(bad.status_code, 400)
        self.assertEqual(bad["Content-Type"], PROBLEM)
        self.assertIn("approved", bad.json()["errors"])
        self.assertEqual(worker.post(f"/tasks/{task_id}/complete", {"output": []}).status_code, 400)
        with self.captureOnCommitCallbacks(execute=True):
            ok = worker.post(f"/tasks/{task_id}/complete", {"output": {"approved": True, "note": "fine"}})
        self.assertEqual(ok.status_code, 200, ok.content)
        self.assertEqual(ok.json()["status"], "COMPLETED")
        self.assertEqual(ok.json()["output"], {"approved": True, "note": "fine"})
        finished = self.api(self.submitter).get(f"/tickets/{ticket_id}").json()
        self.assertEqual((finished["status"], finished["current_task"]), ("COMPLETED", None))
        self.assertEqual(
            worker.post(f"/tasks/{task_id}/complete", {"output": {"approved": True}}).status_code, 409
        )
        self.assertEqual(worker.get("/tasks/mine").json()["items"], [])

    def test_other_people_and_companies_tasks_are_404(self) -> None:
        self.submit(self.api(self.submitter))
        self.submit(self.api(self.other_submitter), tt=self.other_type)
        with scopes_disabled():
            mine = TaskInstance.objects.get(company=self.company)
            foreign = TaskInstance.objects.get(company=self.other)
        second_worker = self.api(make_user(self.company, SystemRole.TASK_WORKER))
        self.assertEqual(second_worker.get(f"/tasks/{mine.pk}").status_code, 404)
        self.assertEqual(
            second_worker.post(f"/tasks/{mine.pk}/complete", {"output": {"approved": True}}).status_code, 404
        )
        self.assertEqual(self.api(self.ticket_admin).get(f"/tasks/{mine.pk}").status_code, 200)
        self.assertEqual(self.api(self.ticket_admin).get(f"/tasks/{foreign.pk}").status_code, 404)

    def test_action_tasks_cannot_be_completed_by_hand(self) -> None:
        wf = make_workflow(
            self.company, [{"key": "call", "task_type": "SYNC_ACTION", "action_url": "https://example.com/x"}]
        )
        tt = make_ticket_type(self.company, wf)
        ticket_id = self.submit(self.api(self.submitter), tt=tt).json()["id"]
        with scopes_disabled():
            task = TaskInstance.objects.get(workflow_instance__ticket__id=ticket_id)
        r = self.api(self.ticket_admin).post(f"/tasks/{task.pk}/complete", {"output": {}})
        self.assertEqual(r.status_code, 409)


class ErrorTests(ApiTestCase):
    def held_ticket(self) -> int:
        broken = make_workflow(self.company, [], key="no-start")
        tt = make_ticket_type(self.company, broken)
        return int(self.submit(self.api(self.submitter), tt=tt).json()["id"])

    def test_list_and_retry(self) -> None:
        ticket_id = self.held_ticket()
        admin = self.api(self.ticket_admin)
        errors = admin.get("/errors").json()["items"]
        self.assertEqual(
            [(e["ticket_id"], e["type"], e["status"]) for e in errors],
            [(ticket_id, "WORKFLOW_CREATION", "NEW")],
        )
        self.assertEqual(admin.get("/errors", status="RESOLVED").json()["items"], [])
        with scopes_disabled():  # fix the definition, then retry
            wf = WorkflowDefinition.objects.get(key="no-start")
            wf.start_task = TaskDefinition.objects.create(
                company=self.company, workflow=wf, key="go", title="Go"
            )
            wf.save()
        with self.captureOnCommitCallbacks(execute=True):
            r = admin.post(f"/errors/{errors[0]['id']}/retry")
        self.assertEqual(r.status_code, 200, r.content)
        self.assertEqual(r.json()["status"], "IN_PROGRESS")
        self.assertEqual(r.json()["current_step"]["key"], "go")
        self.assertEqual(admin.get("/errors", status="RESOLVED").json()["items"][0]["id"], errors[0]["id"])
        self.assertEqual(admin.post(f"/errors/{errors[0]['id']}/retry").status_code, 409)

    def test_errors_are_for_ticket_admins_of_the_company(self) -> None:
        self.held_ticket()
        with scopes_disabled():
            error = TicketError.objects.get()
        sub = self.api(self.submitter)
        self.assertEqual(sub.get("/errors").status_code, 403)
        self.assertEqual(sub.post(f"/errors/{error.pk}/retry").status_code, 403)
        foreign = self.api(self.other_submitter)  # a ticket admin of another company
        self.assertEqual(foreign.get("/errors").json()["items"], [])
        self.assertEqual(foreign.post(f"/errors/{error.pk}/retry").status_code, 404)


class DocsTests(ApiTestCase):
    def test_openapi_document_and_docs_page(self) -> None:
        doc = Client().get("/api/v1/openapi.json").json()
        self.assertTrue(doc["openapi"].startswith("3."))
        paths = doc["paths"]
        for path in ("/api/v1/tickets", "/api/v1/tasks/{task_id}/complete", "/api/v1/bundles/import"):
            self.assertIn(path, paths)
        problem = paths["/api/v1/tickets"]["get"]["responses"]["403"]["content"]
        self.assertEqual(list(problem), [PROBLEM])
        page = Client().get("/api/v1/docs")
        self.assertEqual(page.status_code, 200)
        html = page.content.decode()
        self.assertIn("/static/ninja/swagger-ui-bundle.js", html)
        self.assertNotIn("cdn", html.lower())


def _ids(items: list[dict[str, Any]]) -> list[int]:
    return [int(i["id"]) for i in items]


class DryRunApiTests(ApiTestCase):
    def test_dry_run_stored_and_bundle_scoped_and_validated(self) -> None:
        client = self.api(self.creator, ["definitions:read"])
        r = client.post("/workflows/dry-run", {"workflow": self.workflow.key, "ticket": {"title": "x"}})
        self.assertEqual(r.status_code, 200, r.content)
        first = self.workflow_first_key()
        self.assertEqual(r.json()["path"], [first])
        self.assertEqual(r.json()["status"], "waiting")
        r = client.post(
            "/workflows/dry-run",
            {"bundle": BUNDLE, "ticket": {"title": "x"}, "outputs": {"triage": {"severity": "low"}}},
        )
        self.assertEqual(r.status_code, 200, r.content)
        self.assertEqual(r.json()["path"], ["triage", "fix"])
        candidates = r.json()["steps"][0]["candidates"]
        self.assertEqual(candidates[0]["to"], "fix")
        with scopes_disabled():
            self.assertFalse(WorkflowDefinition.objects.filter(key="it-support").exists())  # nothing imported
        foreign = make_workflow(self.other, [{"key": "x"}], key="only-elsewhere")
        self.assertEqual(
            client.post("/workflows/dry-run", {"workflow": foreign.key, "ticket": {}}).status_code, 404
        )
        self.assertEqual(client.post("/workflows/dry-run", {"ticket": {}}).status_code, 400)
        self.assertEqual(
            client.post("/workflows/dry-run", {"workflow": self.workflow.key, "ticket": [1]}).status_code, 400
        )
        broken = json.loads(json.dumps(BUNDLE))
        broken["workflows"][0]["transitions"][0]["to"] = "nowhere"
        self.assertEqual(client.post("/workflows/dry-run", {"bundle": broken, "ticket": {}}).status_code, 400)
        no_scope = self.api(self.creator, ["tickets:read"])
        self.assertEqual(
            no_scope.post("/workflows/dry-run", {"workflow": self.workflow.key, "ticket": {}}).status_code,
            403,
        )

    def workflow_first_key(self) -> str:
        with scopes_disabled():
            return WorkflowDefinition.objects.get(pk=self.workflow.pk).start_task.key  # type: ignore[union-attr]
