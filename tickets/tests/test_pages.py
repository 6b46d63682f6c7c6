import json
import shutil
import tempfile

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import CompanyRole
from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import make_company, make_ticket_type, make_user, make_workflow
from tickets.models import FileUpload, Ticket
from tickets.services import submit_ticket
from workflows.models import TaskInstance, TaskStatus

FIELDS = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "title": "Summary", "minLength": 3},
        "qty": {"type": "integer", "title": "Quantity"},
    },
    "required": ["title"],
}
OUTPUT = {
    "type": "object",
    "properties": {"answer": {"type": "string", "minLength": 2}},
    "required": ["answer"],
}


class PagesTestCase(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Home Co")
        cls.submitter = make_user(cls.company, SystemRole.USER)
        cls.other_submitter = make_user(cls.company, SystemRole.USER)
        cls.worker = make_user(cls.company, SystemRole.TASK_WORKER)
        cls.ticket_admin = make_user(cls.company, SystemRole.TICKET_ADMIN)
        cls.wf = make_workflow(
            cls.company,
            [{"key": "a", "title": "Answer it", "output_schema": OUTPUT}, {"key": "b"}],
            [("a", "b", "", 0)],
        )
        cls.tt = make_ticket_type(cls.company, cls.wf, fields=FIELDS)
        cls.foreign = make_company("Foreign Co")
        cls.foreign_user = make_user(
            cls.foreign, SystemRole.USER, SystemRole.TASK_WORKER, SystemRole.TICKET_ADMIN
        )
        fwf = make_workflow(cls.foreign, [{"key": "a"}])
        cls.foreign_tt = make_ticket_type(cls.foreign, fwf, fields={"type": "object"})
        with company_scope(cls.foreign):
            cls.foreign_ticket = submit_ticket(
                user=cls.foreign_user, ticket_type=cls.foreign_tt, data={"title": "x"}
            )
            cls.foreign_upload = FileUpload.objects.create(
                company=cls.foreign, ticket=cls.foreign_ticket, filename="f.txt"
            )
            cls.foreign_task = TaskInstance.objects.get()

    def setUp(self) -> None:
        self.media = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.media, True)
        self.enterContext(override_settings(MEDIA_ROOT=self.media))

    def new_ticket(self, user=None, data=None) -> Ticket:  # type: ignore[no-untyped-def]
        with company_scope(self.company), self.captureOnCommitCallbacks(execute=True):
            return submit_ticket(
                user=user or self.submitter, ticket_type=self.tt, data=data or {"title": "Printer jam"}
            )


class SubmitTests(PagesTestCase):
    def test_type_list_respects_company_roles(self) -> None:
        with scopes_disabled():
            role = CompanyRole.objects.create(company=self.company, name="Finance")
            restricted = make_ticket_type(self.company, self.wf, roles=[role])
        self.client.force_login(self.submitter)
        response = self.client.get(reverse("ticket_new"))
        self.assertContains(response, self.tt.title)
        self.assertNotContains(response, restricted.title)
        self.assertEqual(self.client.get(reverse("ticket_submit", args=[restricted.pk])).status_code, 404)
        self.submitter.company_roles.add(role)
        self.assertContains(self.client.get(reverse("ticket_new")), restricted.title)

    def test_submit_with_attachments_redirects_to_detail(self) -> None:
        self.client.force_login(self.submitter)
        files = [SimpleUploadedFile("a.txt", b"hello"), SimpleUploadedFile("b.txt", b"world")]
        response = self.client.post(
            reverse("ticket_submit", args=[self.tt.pk]),
            {
                "data": json.dumps({"title": "New laptop", "qty": 2}),
                "attachments": files,
            },
        )
        with scopes_disabled():
            ticket = Ticket.objects.get(company=self.company)
            self.assertRedirects(response, reverse("ticket_detail", args=[ticket.pk]))
            self.assertEqual(ticket.attachments.count(), 2)
            upload = ticket.attachments.first()
        assert upload is not None
        self.assertNotIn("a.txt", upload.ext_key)
        download = self.client.get(reverse("attachment_download", args=[upload.pk]))
        self.assertEqual(b"".join(download.streaming_content), b"hello")  # type: ignore[attr-defined]
        detail = self.client.get(reverse("ticket_detail", args=[ticket.pk]))
        self.assertContains(detail, "Quantity")
        self.assertContains(detail, "Answer it")

    def test_invalid_data_shows_field_errors_and_creates_nothing(self) -> None:
        self.client.force_login(self.submitter)
        response = self.client.post(
            reverse("ticket_submit", args=[self.tt.pk]), {"data": json.dumps({"title": "x", "qty": "many"})}
        )
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.context["form"].errors)
        with scopes_disabled():
            self.assertEqual(Ticket.objects.filter(company=self.company).count(), 0)

    def test_an_empty_post_is_answered_with_the_required_fields(self) -> None:
        # An empty body used to build an unbound form: the page came back with no errors.
        self.client.force_login(self.submitter)
        response = self.client.post(reverse("ticket_submit", args=[self.tt.pk]), {})
        self.assertContains(response, "This field is required.")
        with scopes_disabled():
            self.assertEqual(Ticket.objects.filter(company=self.company).count(), 0)

    def test_form_and_schema_problems_come_in_one_round(self) -> None:
        self.client.force_login(self.submitter)
        response = self.client.post(
            reverse("ticket_submit", args=[self.tt.pk]), {"data__title": "ab", "data__qty": "many"}
        )
        self.assertContains(response, "Enter a whole number.")
        self.assertContains(response, "Ensure this value has at least 3 characters (it has 2).")
        with scopes_disabled():
            self.assertEqual(Ticket.objects.filter(company=self.company).count(), 0)

    @override_settings(UPLOAD_MAX_BYTES=10)
    def test_oversized_attachment_is_refused(self) -> None:
        self.client.force_login(self.submitter)
        response = self.client.post(
            reverse("ticket_submit", args=[self.tt.pk]),
            {
                "data": json.dumps({"title": "Big file"}),
                "attachments": [SimpleUploadedFile("big.bin", b"x" * 100)],
            },
        )
        # Cut off while streaming (project/uploads.py), with a page that says why.
        self.assertContains(response, "larger than allowed", status_code=413)
        with scopes_disabled():
            self.assertEqual(Ticket.objects.filter(company=self.company).count(), 0)
            self.assertEqual(FileUpload.objects.filter(company=self.company).count(), 0)

    def test_roles(self) -> None:
        self.client.force_login(self.worker)
        for url in (
            reverse("ticket_new"),
            reverse("ticket_submit", args=[self.tt.pk]),
            reverse("ticket_list"),
            reverse("ticket_archive"),
        ):
            with self.subTest(url=url):
                self.assertEqual(self.client.get(url).status_code, 403)
        self.client.force_login(self.submitter)  # no tasks, no queue: an empty list, no toggle
        tasks = self.client.get(reverse("task_list"))
        self.assertContains(tasks, "No open tasks")
        self.assertNotContains(tasks, "Pause new tasks")
        self.client.logout()
        self.assertEqual(self.client.get(reverse("ticket_list")).status_code, 302)


class TenancyTests(PagesTestCase):
    def test_other_company_rows_are_404(self) -> None:
        self.client.force_login(self.ticket_admin)
        self.ticket_admin.groups.add(*self.foreign_user.groups.all())
        for url in (
            reverse("ticket_detail", args=[self.foreign_ticket.pk]),
            reverse("ticket_submit", args=[self.foreign_tt.pk]),
            reverse("attachment_download", args=[self.foreign_upload.pk]),
            reverse("task_detail", args=[self.foreign_task.pk]),
        ):
            with self.subTest(url=url):
                self.assertEqual(self.client.get(url).status_code, 404)
        self.assertEqual(
            self.client.post(reverse("ticket_cancel", args=[self.foreign_ticket.pk])).status_code, 404
        )

    def test_other_submitters_ticket_is_404_but_ticket_admin_sees_it(self) -> None:
        ticket = self.new_ticket(self.other_submitter)
        self.client.force_login(self.submitter)
        self.assertEqual(self.client.get(reverse("ticket_detail", args=[ticket.pk])).status_code, 404)
        self.client.force_login(self.ticket_admin)
        self.assertEqual(self.client.get(reverse("ticket_detail", args=[ticket.pk])).status_code, 200)


class TaskPageTests(PagesTestCase):
    def test_worker_completes_task_and_invalid_output_changes_nothing(self) -> None:
        ticket = self.new_ticket()
        with scopes_disabled():
            task = ticket.workflow_instance.tasks.get()
        self.client.force_login(self.worker)
        self.assertContains(self.client.get(reverse("task_list")), "Answer it")
        page = reverse("task_detail", args=[task.pk])
        self.assertContains(self.client.get(page), "Printer jam")
        bad = self.client.post(page, {"data": json.dumps({"answer": "x"})})
        self.assertEqual(bad.status_code, 200)
        self.assertTrue(bad.context["form"].errors)
        task.refresh_from_db()
        self.assertEqual(task.status, TaskStatus.OPEN)
        good = self.client.post(page, {"data": json.dumps({"answer": "fixed"})})
        self.assertRedirects(good, reverse("task_list"))
        task.refresh_from_db()
        self.assertEqual(task.status, TaskStatus.COMPLETED)
        readonly = self.client.get(page)
        self.assertFalse(readonly.context["editable"])
        self.assertContains(readonly, "fixed")

    def test_other_worker_gets_404_and_availability_toggle(self) -> None:
        ticket = self.new_ticket()
        with scopes_disabled():
            task = ticket.workflow_instance.tasks.get()
        other = make_user(self.company, SystemRole.TASK_WORKER)
        self.client.force_login(other)
        self.assertEqual(self.client.get(reverse("task_detail", args=[task.pk])).status_code, 404)
        self.client.post(reverse("task_availability"), {"available": "0"})
        other.refresh_from_db()
        self.assertFalse(other.is_available)

    def test_cancel_from_detail(self) -> None:
        ticket = self.new_ticket()
        self.client.force_login(self.submitter)
        self.client.post(reverse("ticket_cancel", args=[ticket.pk]), {"reason": "No longer needed"})
        archive = self.client.get(reverse("ticket_archive"))
        self.assertContains(archive, f"#{ticket.pk}")
        self.assertNotContains(self.client.get(reverse("ticket_list")), f"#{ticket.pk}")


class QueryCountTests(PagesTestCase):
    def count_queries(self, url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        return len(ctx.captured_queries)

    def grow(self, n: int) -> None:
        for i in range(n):
            ticket = self.new_ticket(data={"title": f"Ticket {i}"})
            with scopes_disabled():
                task = ticket.workflow_instance.tasks.get()
            with company_scope(self.company):
                from tickets.models import TimelineEvent

                TimelineEvent.objects.create(
                    company=self.company, ticket=self.first, kind="note", message=f"n{i}"
                )
                FileUpload.objects.create(company=self.company, ticket=self.first, filename=f"{i}.txt")
            if i % 2:
                from workflows import services

                with company_scope(self.company):
                    services.cancel(instance=ticket.workflow_instance, actor=self.ticket_admin)
            del task

    def test_pages_do_not_grow_with_rows(self) -> None:
        self.first = self.new_ticket()
        urls = [
            reverse("ticket_list"),
            reverse("ticket_archive"),
            reverse("ticket_detail", args=[self.first.pk]),
        ]
        self.grow(5)
        self.client.force_login(self.submitter)
        for url in urls:  # warm the per-process caches (a published version's diagram rows)
            self.client.get(url)
        small = [self.count_queries(u) for u in urls]
        self.client.force_login(self.worker)
        small_tasks = self.count_queries(reverse("task_list"))
        self.grow(45)
        self.client.force_login(self.submitter)
        large = [self.count_queries(u) for u in urls]
        self.client.force_login(self.worker)
        self.assertEqual(self.count_queries(reverse("task_list")), small_tasks)
        self.assertEqual(small, large)


class DetailWordingTests(PagesTestCase):
    @override_settings(ACTIONS_ALLOW_PRIVATE_NETWORKS=False)
    def test_on_hold_line_is_plain_for_submitters_and_detailed_for_ticket_admins(self) -> None:
        from project.testing import run_queued_tasks
        from workflows.models import TaskType

        wf = make_workflow(
            self.company,
            [{"key": "call", "task_type": TaskType.SYNC_ACTION, "action_url": "http://10.0.0.1/x"}],
        )
        tt = make_ticket_type(self.company, wf, fields={"type": "object"})
        with company_scope(self.company), self.captureOnCommitCallbacks(execute=True):
            ticket = submit_ticket(user=self.submitter, ticket_type=tt, data={"title": "x"})
        with company_scope(self.company), self.captureOnCommitCallbacks(execute=True):
            run_queued_tasks()
        self.client.force_login(self.submitter)
        response = self.client.get(reverse("ticket_detail", args=[ticket.pk]))
        self.assertContains(response, "could not continue")
        self.assertNotContains(response, "10.0.0.1")
        self.client.force_login(self.ticket_admin)
        self.assertContains(self.client.get(reverse("ticket_detail", args=[ticket.pk])), "10.0.0.1")


class WidgetBlankValueTests(PagesTestCase):
    def test_untouched_optional_inputs_count_as_not_given(self) -> None:
        output = {
            "type": "object",
            "properties": {"done": {"type": "boolean"}, "note": {"type": "string", "minLength": 3}},
            "required": ["answer"],
        }
        output["properties"]["answer"] = {"type": "string"}  # type: ignore[index]
        wf = make_workflow(self.company, [{"key": "a", "output_schema": output}])
        tt = make_ticket_type(self.company, wf, fields=FIELDS)
        with company_scope(self.company), self.captureOnCommitCallbacks(execute=True):
            ticket = submit_ticket(user=self.submitter, ticket_type=tt, data={"title": "Blank values"})
        with scopes_disabled():
            task = ticket.workflow_instance.tasks.get()
        self.client.force_login(self.worker)
        page = reverse("task_detail", args=[task.pk])
        missing = self.client.post(page, {"data": json.dumps({"done": None, "note": "", "answer": ""})})
        self.assertContains(missing, "Answer: This field is required.")
        done = self.client.post(page, {"data": json.dumps({"done": None, "note": "", "answer": "ok"})})
        self.assertRedirects(done, reverse("task_list"))
        task.refresh_from_db()
        self.assertEqual(task.output_data, {"answer": "ok"})
