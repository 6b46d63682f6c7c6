"""Comments and public outcomes over the API: replies and internal notes with attachments,
notes invisible to the submitter, public output fields on the ticket."""

import json
import shutil
import tempfile

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django_scopes import scopes_disabled

from api.tests.base import ApiTestCase
from project.testing import make_ticket_type, make_workflow
from workflows.models import TaskDefinition

OUTPUT = {
    "type": "object",
    "properties": {"reason": {"type": "string", "title": "Reason"}, "secret": {"type": "string"}},
    "required": ["reason"],
}


@override_settings(MEDIA_ROOT=tempfile.mkdtemp())
class ConversationTests(ApiTestCase):
    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)
        super().tearDownClass()

    def test_replies_and_internal_notes(self) -> None:
        sub = self.api(self.submitter)
        ticket_id = self.submit(sub).json()["id"]
        worker, admin = self.api(self.worker), self.api(self.ticket_admin)
        with self.captureOnCommitCallbacks(execute=True):
            r = sub.post_multipart(
                f"/tickets/{ticket_id}/comments",
                {"body": "Any news?", "attachments": [SimpleUploadedFile("log.txt", b"abc")]},
            )
        self.assertEqual(r.status_code, 201, r.content)
        self.assertEqual((r.json()["author"], r.json()["internal"]), (self.submitter.email, False))
        self.assertEqual([a["filename"] for a in r.json()["attachments"]], ["log.txt"])
        with self.captureOnCommitCallbacks(execute=True):
            note = worker.post_multipart(
                f"/tickets/{ticket_id}/comments",
                {
                    "body": "Checking",
                    "internal": "true",
                    "attachments": [SimpleUploadedFile("note.txt", b"n")],
                },
            )
        self.assertEqual(note.status_code, 201, note.content)
        self.assertTrue(note.json()["internal"])
        # The submitter never sees the note (its text, its file, its timeline event), nor may write one.
        self.assertEqual(
            [c["body"] for c in sub.get(f"/tickets/{ticket_id}/comments").json()["items"]], ["Any news?"]
        )
        seen = sub.get(f"/tickets/{ticket_id}").json()
        self.assertNotIn("internal_note", [e["kind"] for e in seen["timeline"]])
        self.assertIn("comment", [e["kind"] for e in seen["timeline"]])
        self.assertNotIn("note.txt", json.dumps(seen))
        self.assertNotIn("Checking", json.dumps(seen))
        # The assignee (the team, not staff) sees both, and the note's event.
        items = worker.get(f"/tickets/{ticket_id}/comments").json()["items"]
        self.assertEqual(
            [(c["body"], c["internal"]) for c in items], [("Any news?", False), ("Checking", True)]
        )
        self.assertEqual([a["filename"] for a in items[1]["attachments"]], ["note.txt"])
        kinds = [e["kind"] for e in worker.get(f"/tickets/{ticket_id}").json()["timeline"]]
        self.assertIn("internal_note", kinds)
        denied = sub.post_multipart(f"/tickets/{ticket_id}/comments", {"body": "x", "internal": "true"})
        self.assertEqual(denied.status_code, 403)
        team = [c["body"] for c in admin.get(f"/tickets/{ticket_id}/comments").json()["items"]]
        self.assertEqual(team, ["Any news?", "Checking"])
        self.assertEqual(sub.post_multipart(f"/tickets/{ticket_id}/comments", {"body": ""}).status_code, 400)
        # The ticket's own attachments stay the submission's.
        self.assertEqual(sub.get(f"/tickets/{ticket_id}").json()["attachments"], [])

    def test_a_long_conversation_pages_oldest_first(self) -> None:
        """Every comment is reachable (the list was the newest 300 only), in pages by a
        cursor, at a constant number of queries per page; notes stay the team's."""
        from tickets.models import Comment, Ticket

        sub, admin = self.api(self.submitter), self.api(self.ticket_admin)
        ticket_id = self.submit(sub).json()["id"]
        with scopes_disabled():
            ticket = Ticket.objects.get(pk=ticket_id)
            Comment.objects.bulk_create(
                Comment(
                    company_id=ticket.company_id,
                    ticket=ticket,
                    author=self.ticket_admin if i % 3 == 2 else self.submitter,
                    body=f"c{i}",
                    internal=i % 3 == 2,
                )
                for i in range(9)
            )

        def read_all(client, limit: int) -> list[str]:  # type: ignore[no-untyped-def]
            bodies: list[str] = []
            cursor, pages = "", 0
            while True:
                url = f"/tickets/{ticket_id}/comments?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
                page = client.get(url).json()
                bodies += [c["body"] for c in page["items"]]
                pages += 1
                if page["next_cursor"] is None:
                    return bodies
                cursor = page["next_cursor"]
                self.assertLess(pages, 10)

        self.assertEqual(read_all(admin, 4), [f"c{i}" for i in range(9)])
        self.assertEqual(read_all(sub, 2), [f"c{i}" for i in range(9) if i % 3 != 2])
        first = admin.get(f"/tickets/{ticket_id}/comments?limit=2").json()
        self.assertEqual([c["body"] for c in first["items"]], ["c0", "c1"])
        bad = admin.get(f"/tickets/{ticket_id}/comments?cursor=bm90LWEtY3Vyc29y")
        self.assertEqual(bad.status_code, 400)
        self.assertEqual(admin.get(f"/tickets/{ticket_id}/comments?limit=0").status_code, 400)

    def test_conversation_is_private_to_the_ticket(self) -> None:
        ticket_id = self.submit(self.api(self.submitter)).json()["id"]
        stranger = self.api(self.creator)
        self.assertEqual(stranger.get(f"/tickets/{ticket_id}/comments").status_code, 404)
        self.assertEqual(
            stranger.post_multipart(f"/tickets/{ticket_id}/comments", {"body": "hi"}).status_code, 404
        )
        outsider = self.api(self.other_submitter)
        self.assertEqual(outsider.get(f"/tickets/{ticket_id}/comments").status_code, 404)
        self.assertEqual(
            self.api(self.submitter, ["tickets:read"])
            .post_multipart(f"/tickets/{ticket_id}/comments", {"body": "hi"})
            .status_code,
            403,
        )

    def test_public_outcomes(self) -> None:
        wf = make_workflow(
            self.company, [{"key": "decide", "title": "Decision", "output_schema": OUTPUT}], key="decide-flow"
        )
        with scopes_disabled():
            TaskDefinition.objects.filter(workflow=wf).update(public_fields=["reason"])
        tt = make_ticket_type(self.company, wf)
        sub = self.api(self.submitter)
        ticket_id = self.submit(sub, tt=tt).json()["id"]
        self.assertEqual(sub.get(f"/tickets/{ticket_id}").json()["public_outcomes"], [])
        worker = self.api(self.worker)
        task_id = worker.get("/tasks/mine").json()["items"][0]["id"]
        with self.captureOnCommitCallbacks(execute=True):
            done = worker.post(
                f"/tasks/{task_id}/complete", {"output": {"reason": "Too pricey", "secret": "x"}}
            )
        self.assertEqual(done.status_code, 200, done.content)
        outcomes = sub.get(f"/tickets/{ticket_id}").json()["public_outcomes"]
        self.assertEqual(
            outcomes, [{"step": "Decision", "fields": [{"label": "Reason", "value": "Too pricey"}]}]
        )
        self.assertNotIn("secret", json.dumps(outcomes))
