"""Comments: public replies and internal notes on the ticket page, the task page, the
back-office ticket page and the timeline; internal notes never reach the submitter."""

import shutil
import tempfile

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import (
    RealMailMixin,
    make_company,
    make_ticket_type,
    make_user,
    make_workflow,
    run_queued_tasks,
)
from tickets.models import Comment, FileUpload, Notification, Ticket, TimelineEvent
from tickets.services import add_comment, submit_ticket
from workflows.models import TaskDefinition, TaskInstance

SECRET = "Supplier-margin-is-42-percent"


class CommentsTestCase(RealMailMixin, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Talk Co")
        cls.submitter = make_user(cls.company, SystemRole.USER, email="sub@talk.test")
        cls.worker = make_user(cls.company, SystemRole.TASK_WORKER, email="worker@talk.test")
        cls.admin_user = make_user(
            cls.company, SystemRole.TICKET_ADMIN, SystemRole.USER, email="admin@talk.test", is_available=False
        )
        cls.other_worker = make_user(cls.company, SystemRole.TASK_WORKER, is_available=False)
        cls.wf = make_workflow(cls.company, [{"key": "a", "title": "Look at it"}])
        cls.tt = make_ticket_type(cls.company, cls.wf)
        cls.foreign = make_company("Elsewhere")
        cls.foreign_user = make_user(cls.foreign, *SystemRole.values)

    def setUp(self) -> None:
        super().setUp()
        media = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, media, True)
        self.enterContext(override_settings(MEDIA_ROOT=media))
        with company_scope(self.company), self.captureOnCommitCallbacks(execute=True):
            self.ticket = submit_ticket(
                user=self.submitter, ticket_type=self.tt, data={"title": "Broken chair"}
            )
            self.task = TaskInstance.objects.get(workflow_instance__ticket=self.ticket)
        assert self.task.assigned_to_id == self.worker.pk
        run_queued_tasks()
        self.smtp.clear()

    def post_comment(self, user, body, *, internal=False, files=None, next_url=None):  # type: ignore[no-untyped-def]
        self.client.force_login(user)
        data: dict = {"body": body, "attachments": files or []}
        if internal:
            data["internal"] = "on"
        if next_url:
            data["next"] = next_url
        with self.captureOnCommitCallbacks(execute=True):  # the email jobs are queued after commit
            return self.client.post(reverse("comment_add", args=[self.ticket.pk]), data)


class CommentTests(CommentsTestCase):
    def test_public_reply_everywhere_and_in_the_timeline(self) -> None:
        response = self.post_comment(
            self.worker,
            "Which room is the chair in?",
            files=[SimpleUploadedFile("photo.txt", b"chair")],
            next_url=reverse("task_detail", args=[self.task.pk]),
        )
        self.assertRedirects(response, reverse("task_detail", args=[self.task.pk]))
        with scopes_disabled():
            comment = Comment.objects.get()
            upload = FileUpload.objects.get(comment=comment)
            self.assertEqual(upload.ticket_id, self.ticket.pk)
            self.assertTrue(TimelineEvent.objects.filter(ticket=self.ticket, kind="comment").exists())
        self.assertFalse(comment.internal)
        # Task page (the worker), ticket page (the submitter), back office (the admin).
        self.assertContains(self.client.get(reverse("task_detail", args=[self.task.pk])), "Which room")
        self.client.force_login(self.submitter)
        page = self.client.get(reverse("ticket_detail", args=[self.ticket.pk]))
        self.assertContains(page, "Which room is the chair in?")
        self.assertContains(page, "photo.txt")
        self.assertContains(page, f"Reply by {self.worker}")  # timeline
        self.assertNotContains(page, 'name="internal"')  # a submitter writes public replies only
        download = self.client.get(reverse("attachment_download", args=[upload.pk]))
        self.assertEqual(b"".join(download.streaming_content), b"chair")  # type: ignore[attr-defined]
        self.client.force_login(self.admin_user)
        admin_page = self.client.get(reverse("admin:tickets_ticket_change", args=[self.ticket.pk]))
        self.assertContains(admin_page, "Which room is the chair in?")
        self.assertContains(admin_page, "Public reply")

    def test_submitter_answers_and_cannot_write_internal_notes(self) -> None:
        response = self.post_comment(self.submitter, "Room 4", internal=True)
        self.assertRedirects(response, reverse("ticket_detail", args=[self.ticket.pk]))
        with scopes_disabled():
            self.assertFalse(Comment.objects.get().internal)
        with company_scope(self.company), self.assertRaisesMessage(Exception, "internal notes"):
            add_comment(ticket=self.ticket, author=self.submitter, body="x", internal=True)

    def test_who_may_comment(self) -> None:
        # Not the ticket's assignee, nor another company: 404 and nothing written.
        for user in (self.other_worker, self.foreign_user):
            with self.subTest(user=user.email):
                self.assertEqual(self.post_comment(user, "hello").status_code, 404)
        self.client.force_login(self.other_worker)
        self.assertEqual(self.client.get(reverse("task_detail", args=[self.task.pk])).status_code, 404)
        # Ticket admins of the company may write both kinds.
        self.assertEqual(self.post_comment(self.admin_user, "Checked stock", internal=True).status_code, 302)
        with scopes_disabled():
            self.assertEqual(list(Comment.objects.values_list("internal", flat=True)), [True])

    def test_get_is_not_allowed_and_bad_input_writes_nothing(self) -> None:
        self.client.force_login(self.worker)
        self.assertEqual(self.client.get(reverse("comment_add", args=[self.ticket.pk])).status_code, 405)
        empty = self.post_comment(self.worker, "   ")
        self.assertEqual(empty.status_code, 400)
        self.assertContains(empty, "This field is required", status_code=400)
        with override_settings(UPLOAD_MAX_BYTES=10):
            big = self.post_comment(
                self.worker, "see file", files=[SimpleUploadedFile("big.bin", b"x" * 100)]
            )
        # The request-wide upload limit answers before the view (the same limit as tickets).
        self.assertEqual(big.status_code, 413)
        # An outside `next` is ignored (no open redirect).
        outside = self.post_comment(self.worker, "ok", next_url="https://evil.example/")
        self.assertRedirects(
            outside, reverse("ticket_detail", args=[self.ticket.pk]), fetch_redirect_response=False
        )
        with scopes_disabled():
            self.assertEqual(Comment.objects.count(), 1)
            self.assertEqual(FileUpload.objects.filter(comment__isnull=False).count(), 0)


class InternalNoteSecrecyTests(CommentsTestCase):
    def test_internal_notes_never_reach_the_submitter(self) -> None:
        """Pages, downloads, notices and emails: the note and its file stay with the team."""
        self.post_comment(self.submitter, "Is there an update?")
        self.post_comment(
            self.worker,
            f"Internal: {SECRET}",
            internal=True,
            files=[SimpleUploadedFile("margins.txt", SECRET.encode())],
        )
        self.post_comment(self.admin_user, f"Agreed, {SECRET}", internal=True)
        run_queued_tasks()
        with scopes_disabled():
            note_file = FileUpload.objects.get(filename="margins.txt")
        # The team sees the notes.
        self.client.force_login(self.worker)
        self.assertContains(self.client.get(reverse("task_detail", args=[self.task.pk])), SECRET)
        self.assertEqual(
            self.client.get(reverse("attachment_download", args=[note_file.pk])).status_code, 200
        )
        self.client.force_login(self.admin_user)
        self.assertContains(self.client.get(reverse("ticket_detail", args=[self.ticket.pk])), SECRET)
        self.assertContains(
            self.client.get(reverse("admin:tickets_ticket_change", args=[self.ticket.pk])), SECRET
        )
        # The worker, who commented before, hears of the admin's note (email and notice).
        self.assertTrue(any(SECRET in m.text for m in self.mail(to=self.worker.email)))
        # The submitter: every page they can open, the file, their notices and their mail.
        self.client.force_login(self.submitter)
        for url in (
            reverse("ticket_detail", args=[self.ticket.pk]),
            reverse("ticket_list"),
            reverse("notification_list"),
            reverse("home"),
        ):
            with self.subTest(url=url):
                page = self.client.get(url)
                self.assertEqual(page.status_code, 200)
                self.assertNotContains(page, SECRET)
                self.assertNotContains(page, "margins.txt")
                self.assertNotContains(page, "Internal note")
        self.assertEqual(
            self.client.get(reverse("attachment_download", args=[note_file.pk])).status_code, 404
        )
        # Task pages are open to every member (issue 10); a task not theirs is not found.
        self.assertEqual(self.client.get(reverse("task_detail", args=[self.task.pk])).status_code, 404)
        with scopes_disabled():
            for notice in Notification.objects.filter(recipient=self.submitter):
                self.assertNotIn(SECRET, notice.title + notice.body)
        self.assertTrue(self.smtp.messages())
        for message in self.mail(to=self.submitter.email):
            self.assertNotIn(SECRET, message.message.as_string())

    def test_submitter_holding_a_task_on_their_ticket_still_never_sees_internal_notes(self) -> None:
        """The `submitter` rule hands the submitter a task on their own ticket (a rework):
        that makes them its assignee, not a member of the ticket's team."""
        self.post_comment(
            self.worker,
            f"Internal: {SECRET}",
            internal=True,
            files=[SimpleUploadedFile("margins.txt", SECRET.encode())],
        )
        with scopes_disabled():
            note_file = FileUpload.objects.get(filename="margins.txt")
            TaskDefinition.all_objects.filter(pk=self.task.task_definition_id).update(
                assign={"rule": "submitter"}
            )
            TaskInstance.objects.filter(pk=self.task.pk).update(assigned_to=self.submitter)
        self.client.force_login(self.submitter)
        for url in (
            reverse("ticket_detail", args=[self.ticket.pk]),
            reverse("task_detail", args=[self.task.pk]),
        ):
            with self.subTest(url=url):
                page = self.client.get(url)
                self.assertEqual(page.status_code, 200)
                self.assertNotContains(page, SECRET)
                self.assertNotContains(page, "margins.txt")
                self.assertNotContains(page, 'name="internal"')
        self.assertEqual(
            self.client.get(reverse("attachment_download", args=[note_file.pk])).status_code, 404
        )
        self.post_comment(self.submitter, "Reworked", internal=True)
        with scopes_disabled():
            self.assertFalse(Comment.objects.get(body="Reworked").internal)


class CommentQueryCountTests(CommentsTestCase):
    def add(self, n: int) -> None:
        with scopes_disabled():
            start = Comment.objects.count()
        with company_scope(self.company):
            for i in range(start, start + n):
                author = (self.submitter, self.worker, self.admin_user)[i % 3]
                comment = add_comment(
                    ticket=self.ticket,
                    author=author,
                    body=f"Message {i}",
                    internal=author != self.submitter and i % 2 == 0,
                )
                FileUpload.objects.create(
                    company=self.company, ticket=self.ticket, comment=comment, filename=f"{i}.txt"
                )

    def count(self, user, url: str) -> int:  # type: ignore[no-untyped-def]
        self.client.force_login(user)
        self.client.get(url)  # warm caches (session, content types)
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        return len(ctx.captured_queries)

    def test_pages_do_not_grow_with_comments(self) -> None:
        pages = [
            (self.submitter, reverse("ticket_detail", args=[self.ticket.pk])),
            (self.admin_user, reverse("ticket_detail", args=[self.ticket.pk])),
            (self.worker, reverse("task_detail", args=[self.task.pk])),
            (self.admin_user, reverse("admin:tickets_ticket_change", args=[self.ticket.pk])),
        ]
        self.add(5)
        few = [self.count(user, url) for user, url in pages]
        self.add(45)
        with scopes_disabled():
            self.assertEqual(Comment.objects.filter(ticket=self.ticket).count(), 50)
        many = [self.count(user, url) for user, url in pages]
        self.assertEqual(few, many)
        # The pages show what was added.
        self.client.force_login(self.submitter)
        self.assertContains(self.client.get(reverse("ticket_detail", args=[self.ticket.pk])), "Message 49")
        with scopes_disabled():
            self.assertEqual(Ticket.objects.count(), 1)
