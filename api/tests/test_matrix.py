"""Scope x role x company: every endpoint answers what the pages would, a key without the
endpoint's scope gets 403, and another company's objects are 404."""

import json
import re
from typing import Any

from django.test import Client
from django_scopes import scopes_disabled

from accounts.models import CompanyRole
from accounts.roles import SystemRole
from api.scopes import Scope
from api.tests.base import ALL_SCOPES, ApiClient, ApiTestCase, make_key
from project.testing import make_ticket_type, make_user, make_workflow
from tickets import access
from tickets.models import TicketError
from workflows import services as engine_services
from workflows.models import TaskInstance, WorkflowInstance

ROLES = ["submitter", "worker", "ticket_admin", "creator", "admin"]


class MatrixTests(ApiTestCase):
    def setUp(self) -> None:
        sub = self.api(self.submitter)
        self.ticket = self.submit(sub).json()["id"]
        self.cancelled = self.submit(sub, "To cancel").json()["id"]
        self.assertEqual(sub.post(f"/tickets/{self.cancelled}/cancel", {"reason": "test"}).status_code, 200)
        held_type = make_ticket_type(self.company, make_workflow(self.company, [], key="no-start"))
        self.held = self.submit(sub, tt=held_type).json()["id"]
        with scopes_disabled():
            self.task = TaskInstance.objects.get(workflow_instance__ticket__id=self.ticket).pk
            self.error = TicketError.objects.get(ticket_id=self.held).pk
            # Queue tasks of the role 'desk', of which the worker is a member: one on a
            # ticket on hold (claiming it is a conflict), one the worker claimed and
            # finished (releasing it is a conflict).
            self.desk = CompanyRole.objects.create(company=self.company, name="desk")
            self.worker.company_roles.add(self.desk)
        queue_type = make_ticket_type(
            self.company,
            make_workflow(self.company, [{"key": "desk", "assign": {"rule": "queue", "role": "desk"}}]),
        )
        on_hold, finished = (self.submit(sub, title, queue_type).json()["id"] for title in ("Held", "Done"))
        with scopes_disabled(), self.captureOnCommitCallbacks(execute=True):
            engine_services.hold(
                instance=WorkflowInstance.objects.get(ticket__id=on_hold), actor=self.ticket_admin
            )
            self.queued = TaskInstance.objects.get(workflow_instance__ticket__id=on_hold).pk
            done = TaskInstance.objects.get(workflow_instance__ticket__id=finished)
            engine_services.claim(task=done, actor=self.worker, permitted=access.may_claim_task)
            done.refresh_from_db()
            engine_services.complete_form_task(
                task=done, output={}, actor=self.worker, permitted=access.may_complete_task
            )
            self.released = done.pk

    def ops(self) -> list[tuple[str, Scope, Any]]:
        """(label, required scope, call) where call(client) returns a response. Writes use
        inputs that fail after the access checks (bad data, a finished ticket), so every
        role meets the same state."""
        bad_bundle = {"format": 1, "workflows": [{"key": "x"}]}
        return [
            ("validate", Scope.DEFINITIONS_READ, lambda c: c.post("/bundles/validate", bad_bundle)),
            ("import", Scope.DEFINITIONS_WRITE, lambda c: c.post("/bundles/import", bad_bundle)),
            ("export", Scope.DEFINITIONS_READ, lambda c: c.get("/bundles/export")),
            ("types", Scope.TICKETS_READ, lambda c: c.get("/ticket-types")),
            ("list", Scope.TICKETS_READ, lambda c: c.get("/tickets")),
            ("get", Scope.TICKETS_READ, lambda c: c.get(f"/tickets/{self.ticket}")),
            (
                "submit",
                Scope.TICKETS_WRITE,
                lambda c: c.post_multipart(
                    "/tickets", {"type": self.ticket_type.key, "data": json.dumps({})}
                ),
            ),
            (
                "cancel",
                Scope.TICKETS_WRITE,
                lambda c: c.post(f"/tickets/{self.cancelled}/cancel", {"reason": "x"}),
            ),
            ("mine", Scope.TASKS_READ, lambda c: c.get("/tasks/mine")),
            ("task", Scope.TASKS_READ, lambda c: c.get(f"/tasks/{self.task}")),
            (
                "complete",
                Scope.TASKS_WRITE,
                lambda c: c.post(f"/tasks/{self.task}/complete", {"output": {"approved": "?"}}),
            ),
            ("claimable", Scope.TASKS_READ, lambda c: c.get("/tasks/claimable")),
            ("claim", Scope.TASKS_WRITE, lambda c: c.post(f"/tasks/{self.queued}/claim")),
            ("release", Scope.TASKS_WRITE, lambda c: c.post(f"/tasks/{self.released}/release")),
            ("comments", Scope.TICKETS_READ, lambda c: c.get(f"/tickets/{self.ticket}/comments")),
            (
                "reply",
                Scope.TICKETS_WRITE,
                lambda c: c.post_multipart(f"/tickets/{self.ticket}/comments", {"body": " "}),
            ),
            (
                "note",
                Scope.TICKETS_WRITE,
                lambda c: c.post_multipart(
                    f"/tickets/{self.ticket}/comments", {"body": " ", "internal": "true"}
                ),
            ),
            (
                "dry_run",
                Scope.DEFINITIONS_READ,
                lambda c: c.post("/workflows/dry-run", {"workflow": self.workflow.key, "ticket": {}}),
            ),
            ("errors", Scope.TICKETS_READ, lambda c: c.get("/errors")),
            ("retry", Scope.TICKETS_WRITE, lambda c: c.post(f"/errors/{self.error}/retry")),
        ]

    # Expected status by role, in ROLES order: submitter, worker, ticket_admin, creator,
    # company admin (who manages tickets too: tickets.access.manages_tickets).
    EXPECTED = {
        "validate": [403, 403, 200, 200, 200],
        "import": [403, 403, 403, 400, 400],
        "export": [403, 403, 200, 200, 200],
        "types": [200, 200, 200, 200, 200],
        "list": [200, 200, 200, 200, 200],
        # The worker holds (held) the tickets' tasks: they see the ticket, may not cancel it.
        "get": [200, 200, 200, 404, 200],
        "submit": [400, 403, 400, 403, 400],
        "cancel": [409, 403, 409, 404, 409],
        "mine": [200, 200, 200, 200, 200],
        "task": [404, 200, 200, 404, 200],
        "complete": [404, 400, 400, 404, 400],
        # Queue tasks: members of the queue's role claim (here a conflict: the ticket is on
        # hold); ticket managers see the task but are not members; others do not see it.
        "claimable": [200, 200, 200, 200, 200],
        "claim": [404, 409, 403, 404, 403],
        "release": [404, 409, 409, 404, 409],
        # The conversation: the submitter, the ticket's assignees and ticket managers. A
        # blank message is refused after the access checks; notes are the team's only.
        "comments": [200, 200, 200, 404, 200],
        "reply": [400, 400, 400, 404, 400],
        "note": [403, 400, 400, 404, 400],
        "dry_run": [403, 403, 200, 200, 200],
        "errors": [403, 403, 200, 403, 200],
        "retry": [403, 403, 200, 403, 200],
    }

    def test_role_matrix_with_every_scope(self) -> None:
        clients = {role: self.api(getattr(self, role)) for role in ROLES}
        for label, _, call in self.ops():
            for role, expected in zip(ROLES, self.EXPECTED[label], strict=True):
                with self.subTest(op=label, role=role):
                    response = call(clients[role])
                    self.assertEqual(response.status_code, expected, response.content[:300])
                    if expected >= 400:
                        self.assertEqual(response["Content-Type"], "application/problem+json")

    def test_missing_scope_is_403_and_the_scope_alone_suffices(self) -> None:
        everyone = make_user(self.company, *SystemRole.values)
        everyone.company_roles.add(self.desk)
        for label, scope, call in self.ops():
            with self.subTest(op=label):
                without = [s for s in ALL_SCOPES if s != scope.value]
                response = call(ApiClient(make_key(everyone, without)[1]))
                self.assertEqual(response.status_code, 403, response.content[:300])
                self.assertIn(scope.value, response.json()["detail"])
                only = call(ApiClient(make_key(everyone, [scope.value])[1]))
                self.assertNotIn(only.status_code, (401, 403), (label, only.content[:300]))

    def test_every_operation_of_the_document_is_in_the_matrix(self) -> None:
        """A new endpoint without a row in ops() (and so without its scope, role and
        other-company checks) fails here."""
        called: set[tuple[str, str]] = set()

        class Recording(ApiClient):
            def get(self, path: str, **params: Any) -> Any:
                called.add(("get", f"/api/v1{path}"))
                return super().get(path, **params)

            def post(self, path: str, body: Any = None) -> Any:
                called.add(("post", f"/api/v1{path}"))
                return super().post(path, body)

            def post_multipart(self, path: str, data: dict[str, Any]) -> Any:
                called.add(("post", f"/api/v1{path}"))
                return super().post_multipart(path, data)

        client = Recording(make_key(self.admin)[1])
        for _, _, call in self.ops():
            call(client)
        document = Client().get("/api/v1/openapi.json").json()
        public = {("get", "/api/v1/bundles/schema")}  # no key, no scope (test_api covers it)
        missing = []
        for template, operations in document["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$")
            for method in operations:
                hit = any(m == method and pattern.match(path) for m, path in called)
                if not hit and (method, template) not in public:
                    missing.append(f"{method.upper()} {template}")
        self.assertEqual(missing, [])
        self.assertGreaterEqual(sum(len(ops) for ops in document["paths"].values()), 20)

    # Operations on one object of company A (the rest are lists, checked below).
    OBJECT_OPS = {
        "get",
        "cancel",
        "task",
        "complete",
        "retry",
        "claim",
        "release",
        "comments",
        "reply",
        "note",
    }

    def test_other_company_objects_are_404(self) -> None:
        # Every role of company B, and a member of B's own role named 'desk' too.
        stranger = make_user(self.other, *SystemRole.values)
        with scopes_disabled():
            stranger.company_roles.add(CompanyRole.objects.create(company=self.other, name="desk"))
        outsider = self.api(stranger)
        for label, _, call in self.ops():
            if label in self.OBJECT_OPS:
                with self.subTest(op=label):
                    self.assertEqual(call(outsider).status_code, 404)
        self.assertEqual(outsider.get("/tickets").json()["items"], [])
        self.assertEqual(outsider.get("/tasks/claimable").json()["items"], [])
        self.assertEqual(outsider.get("/errors").json()["items"], [])
        exported = outsider.get("/bundles/export").json()
        self.assertEqual([w["key"] for w in exported["workflows"]], ["review-flow"])  # its own only
        # Not empty for company A's member of 'desk': the outsider's empty list means something.
        claimable = self.api(self.worker).get("/tasks/claimable").json()["items"]
        self.assertEqual([t["id"] for t in claimable], [self.queued])
