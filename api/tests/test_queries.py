"""Query counts do not grow with the number of rows a list returns."""

import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from accounts.models import CompanyRole
from api.tests.base import ApiClient, ApiTestCase
from project.testing import make_ticket_type, make_workflow


@override_settings(MEDIA_ROOT=tempfile.mkdtemp())
class QueryCountTests(ApiTestCase):
    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)
        super().tearDownClass()

    def count(self, call: Callable[[], Any]) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = call()
        self.assertEqual(response.status_code, 200, response.content[:300])
        return len(ctx.captured_queries)

    def grow(self, sub: ApiClient, n: int) -> None:
        for i in range(n):
            self.submit(sub, f"Ticket {i}")
        held_type = make_ticket_type(self.company, make_workflow(self.company, [], key=f"broken-{n}"))
        for i in range(n):
            self.submit(sub, f"Held {i}", held_type)

    def test_lists_are_constant(self) -> None:
        sub, worker, admin = self.api(self.submitter), self.api(self.worker), self.api(self.ticket_admin)
        self.grow(sub, 2)
        make_workflow(self.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)], key="extra")
        calls = {
            "tickets": lambda: admin.get("/tickets", limit=100),
            "ticket_types": lambda: sub.get("/ticket-types"),
            "my tasks": lambda: worker.get("/tasks/mine", limit=100),
            "errors": lambda: admin.get("/errors", limit=100),
            "export": lambda: self.api(self.creator).get("/bundles/export"),
        }
        small = {name: self.count(call) for name, call in calls.items()}
        self.grow(sub, 10)
        for i in range(5):
            make_ticket_type(self.company, self.workflow)
            make_workflow(self.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)], key=f"extra-{i}")
        large = {name: self.count(call) for name, call in calls.items()}
        self.assertEqual(small, large)
        self.assertEqual(len(admin.get("/tickets", limit=100).json()["items"]), 24)

    def test_ticket_detail_is_constant(self) -> None:
        sub = self.api(self.submitter)
        first = self.submit(sub).json()["id"]
        before = self.count(lambda: sub.get(f"/tickets/{first}"))
        for i in range(5):
            self.submit(sub, f"More {i}")
        worker = self.api(self.worker)
        for item in worker.get("/tasks/mine", limit=100).json()["items"]:
            with self.captureOnCommitCallbacks(execute=True):
                worker.post(f"/tasks/{item['id']}/complete", {"output": {"approved": True}})
        after = self.count(lambda: sub.get(f"/tickets/{first}"))
        self.assertEqual(before + 0, after)

    def test_claimable_and_comments_are_constant(self) -> None:
        with scopes_disabled():
            role = CompanyRole.objects.create(company=self.company, name="desk")
            self.worker.company_roles.add(role)
        queue_type = make_ticket_type(
            self.company,
            make_workflow(self.company, [{"key": "desk", "assign": {"rule": "queue", "role": "desk"}}]),
        )
        sub, worker, admin = self.api(self.submitter), self.api(self.worker), self.api(self.ticket_admin)
        ticket_id = self.submit(sub).json()["id"]

        def grow(n: int) -> None:
            for i in range(n):
                self.submit(sub, f"Queued {i}", queue_type)
                with self.captureOnCommitCallbacks(execute=True):
                    files = {"attachments": [SimpleUploadedFile(f"{i}.txt", b"x")]}
                    sub.post_multipart(f"/tickets/{ticket_id}/comments", {"body": f"Reply {i}", **files})
                    worker.post_multipart(
                        f"/tickets/{ticket_id}/comments", {"body": f"Note {i}", "internal": "true", **files}
                    )

        calls = {
            "claimable": lambda: worker.get("/tasks/claimable", limit=100),
            "comments (team)": lambda: admin.get(f"/tickets/{ticket_id}/comments"),
            "comments (submitter)": lambda: sub.get(f"/tickets/{ticket_id}/comments"),
            "ticket with comments": lambda: worker.get(f"/tickets/{ticket_id}"),
        }
        grow(2)
        small = {name: self.count(call) for name, call in calls.items()}
        grow(8)
        large = {name: self.count(call) for name, call in calls.items()}
        self.assertEqual(small, large)
        self.assertEqual(len(worker.get("/tasks/claimable", limit=100).json()["items"]), 10)
        self.assertEqual(len(admin.get(f"/tickets/{ticket_id}/comments").json()["items"]), 20)
        self.assertEqual(len(sub.get(f"/tickets/{ticket_id}/comments").json()["items"]), 10)
