"""Workers see the ticket: fields, attachments, earlier outputs, the ticket page, held
tasks; the Claimable list and claim/release by POST; cross-company 404s."""

import shutil
import tempfile

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase, override_settings
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import CompanyRole
from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import make_company, make_ticket_type, make_user, make_workflow
from tickets import access
from tickets.models import Ticket
from tickets.services import submit_ticket
from workflows import services
from workflows.models import TaskInstance

FIELDS = {"type": "object", "properties": {"title": {"type": "string", "title": "Summary"}}}
FIRST = {"type": "object", "properties": {"verdict": {"type": "string", "title": "The verdict"}}}

MEDIA = tempfile.mkdtemp()


@override_settings(MEDIA_ROOT=MEDIA)
class TaskPageTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Page Co")
        cls.submitter = make_user(cls.company, SystemRole.USER)
        cls.worker = make_user(cls.company, SystemRole.TASK_WORKER)
        cls.member = make_user(cls.company, SystemRole.USER)  # queue member, not a worker
        cls.outsider = make_user(cls.company, SystemRole.TASK_WORKER, is_available=False)
        cls.admin = make_user(cls.company, SystemRole.TICKET_ADMIN)
        with scopes_disabled():
            cls.it = CompanyRole.objects.create(company=cls.company, name="it")
        cls.member.company_roles.add(cls.it)
        cls.wf = make_workflow(
            cls.company,
            [
                {"key": "first", "title": "First look", "output_schema": FIRST},
                {"key": "desk", "title": "Prepare the desk", "assign": {"rule": "queue", "role": "it"}},
            ],
            [("first", "desk", "", 0)],
        )
        cls.tt = make_ticket_type(cls.company, cls.wf, fields=FIELDS)
        cls.foreign = make_company("Elsewhere")
        cls.foreign_user = make_user(cls.foreign, *SystemRole.values)

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        shutil.rmtree(MEDIA, ignore_errors=True)

    def new_ticket(self) -> Ticket:
        with company_scope(self.company):
            return submit_ticket(
                user=self.submitter,
                ticket_type=self.tt,
                data={"title": "Desk for Ada"},
                files=[SimpleUploadedFile("plan.txt", b"floor plan")],
            )

    def task(self, ticket: Ticket) -> TaskInstance:
        with scopes_disabled():
            task = ticket.workflow_instance.tasks.order_by("-id").first()
        assert task is not None
        return task

    def to_queue(self) -> tuple[Ticket, TaskInstance]:
        ticket = self.new_ticket()
        with company_scope(self.company):
            services.complete_form_task(
                task=self.task(ticket),
                output={"verdict": "go"},
                actor=self.worker,
                permitted=access.may_complete_task,
            )
        return ticket, self.task(ticket)

    def test_assignee_sees_labelled_ticket_attachment_and_opens_the_ticket(self) -> None:
        ticket = self.new_ticket()
        task = self.task(ticket)
        self.client.force_login(self.worker)
        tasks = self.client.get(reverse("task_list"))
        self.assertContains(tasks, reverse("ticket_detail", args=[ticket.pk]))
        page = self.client.get(reverse("task_detail", args=[task.pk]))
        self.assertContains(page, "<dt>Summary</dt><dd>Desk for Ada</dd>", html=True)
        with scopes_disabled():
            upload = ticket.attachments.get()
        self.assertContains(page, reverse("attachment_download", args=[upload.pk]))
        download = self.client.get(reverse("attachment_download", args=[upload.pk]))
        self.assertEqual(b"".join(download.streaming_content), b"floor plan")  # type: ignore[attr-defined]
        self.assertEqual(self.client.get(reverse("ticket_detail", args=[ticket.pk])).status_code, 200)
        # Someone with no part in it sees neither the ticket nor the file.
        self.client.force_login(self.outsider)
        self.assertEqual(self.client.get(reverse("ticket_detail", args=[ticket.pk])).status_code, 404)
        self.assertEqual(self.client.get(reverse("attachment_download", args=[upload.pk])).status_code, 404)

    def test_queue_member_sees_claims_and_sees_earlier_outputs_with_labels(self) -> None:
        ticket, task = self.to_queue()
        self.client.force_login(self.member)
        tasks = self.client.get(reverse("task_list"))
        self.assertContains(tasks, "Claimable")
        self.assertContains(tasks, "Prepare the desk")
        self.assertNotContains(tasks, "Pause new tasks")  # not a task worker
        page = self.client.get(reverse("task_detail", args=[task.pk]))
        self.assertContains(page, "<dt>The verdict</dt><dd>go</dd>", html=True)
        self.assertFalse(page.context["editable"])
        with scopes_disabled():
            upload = ticket.attachments.get()
        self.assertEqual(self.client.get(reverse("attachment_download", args=[upload.pk])).status_code, 200)
        self.assertEqual(self.client.get(reverse("task_claim", args=[task.pk])).status_code, 405)
        response = self.client.post(reverse("task_claim", args=[task.pk]))
        self.assertRedirects(response, reverse("task_detail", args=[task.pk]))
        task.refresh_from_db()
        self.assertEqual(task.assigned_to, self.member)
        self.assertTrue(self.client.get(reverse("task_detail", args=[task.pk])).context["editable"])
        # A second claim (another tab) is a message, not a crash.
        again = self.client.post(reverse("task_claim", args=[task.pk]), follow=True)
        self.assertContains(again, "already claimed")
        self.assertRedirects(self.client.post(reverse("task_release", args=[task.pk])), reverse("task_list"))
        task.refresh_from_db()
        self.assertIsNone(task.assigned_to)

    def test_claim_lost_to_another_member_is_a_message_not_a_404(self) -> None:
        """Two members open the queue task; the first claims it; the second's Claim
        button answered a bare 404."""
        _, task = self.to_queue()
        second = make_user(self.company, SystemRole.USER)
        second.company_roles.add(self.it)
        self.client.force_login(self.member)
        self.client.post(reverse("task_claim", args=[task.pk]))
        self.client.force_login(second)
        response = self.client.post(reverse("task_claim", args=[task.pk]), follow=True)
        self.assertRedirects(response, reverse("task_list"))
        self.assertContains(response, "claimed it first")
        task.refresh_from_db()
        self.assertEqual(task.assigned_to, self.member)
        # Nobody else learns anything: not in the role, or another company.
        for user in (self.outsider, self.foreign_user):
            self.client.force_login(user)
            self.assertEqual(self.client.post(reverse("task_claim", args=[task.pk])).status_code, 404)

    def test_a_submitter_given_a_rework_sees_only_public_outputs_of_earlier_steps(self) -> None:
        review = {
            "type": "object",
            "properties": {
                "verdict": {"type": "string", "title": "The verdict"},
                "margin": {"type": "string", "title": "Our margin"},
            },
        }
        wf = make_workflow(
            self.company,
            [
                {"key": "review", "title": "Review", "output_schema": review, "public_fields": ["verdict"]},
                {"key": "rework", "title": "Rework", "assign": {"rule": "submitter"}},
            ],
            [("review", "rework", "", 0)],
        )
        with company_scope(self.company):
            ticket = submit_ticket(
                user=self.submitter, ticket_type=make_ticket_type(self.company, wf), data={"title": "x"}
            )
            services.complete_form_task(
                task=self.task(ticket),
                output={"verdict": "too pricey", "margin": "40 percent"},
                actor=self.worker,
                permitted=access.may_complete_task,
            )
        rework = self.task(ticket)
        self.client.force_login(self.submitter)
        page = self.client.get(reverse("task_detail", args=[rework.pk]))
        self.assertContains(page, "<dt>The verdict</dt><dd>too pricey</dd>", html=True)
        self.assertNotContains(page, "40 percent")
        self.assertNotContains(page, "Our margin")
        # The team sees every output.
        self.client.force_login(self.admin)
        self.assertContains(self.client.get(reverse("task_detail", args=[rework.pk])), "40 percent")

    def test_non_member_and_other_company_get_404(self) -> None:
        _, task = self.to_queue()
        self.client.force_login(self.outsider)
        for name in ("task_detail", "task_claim", "task_release"):
            with self.subTest(name=name):
                method = self.client.get if name == "task_detail" else self.client.post
                self.assertEqual(method(reverse(name, args=[task.pk])).status_code, 404)
        self.client.force_login(self.foreign_user)
        for name in ("task_detail", "task_claim", "task_release"):
            with self.subTest(name=name, company="foreign"):
                method = self.client.get if name == "task_detail" else self.client.post
                self.assertEqual(method(reverse(name, args=[task.pk])).status_code, 404)
        task.refresh_from_db()
        self.assertIsNone(task.assigned_to)

    def test_held_ticket_shows_held_and_disables_the_form(self) -> None:
        ticket = self.new_ticket()
        task = self.task(ticket)
        with company_scope(self.company):
            services.hold(instance=ticket.workflow_instance, actor=self.admin)
        self.client.force_login(self.worker)
        self.assertContains(self.client.get(reverse("task_list")), "On hold")
        page = self.client.get(reverse("task_detail", args=[task.pk]))
        self.assertContains(page, 'data-testid="held"')
        self.assertContains(page, "<fieldset disabled>")
        self.assertFalse(page.context["editable"])
        posted = self.client.post(reverse("task_detail", args=[task.pk]), {"data": '{"verdict": "x"}'})
        self.assertContains(posted, "on hold")
        task.refresh_from_db()
        self.assertTrue(task.is_open)
