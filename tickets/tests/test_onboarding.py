from django.test import TestCase
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from accounts.services import set_availability
from accounts.tenancy import company_scope
from project.testing import make_company, make_user
from tickets import onboarding
from tickets.models import Ticket, TicketType
from tickets.services import submit_ticket
from workflows.models import TaskDefinition, WorkflowDefinition


class ChecklistTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Fresh Co")
        cls.admin = make_user(cls.company, *SystemRole.values)
        set_availability(user=cls.admin, available=False)  # as sign-up leaves the founder

    def steps(self) -> dict[str, bool]:
        with company_scope(self.company):
            steps = onboarding.setup_checklist(self.admin)
        assert steps is not None
        return {s.key: s.done for s in steps}

    def test_steps_tick_as_they_are_done(self) -> None:
        self.assertEqual(
            self.steps(), {"invite": False, "workflow": False, "workers": False, "ticket": False}
        )
        make_user(self.company, SystemRole.USER)
        self.assertEqual(self.steps(), {"invite": True, "workflow": False, "workers": False, "ticket": False})
        with company_scope(self.company):
            onboarding.install_sample(user=self.admin, key="it-support")
            ticket_type = TicketType.objects.get(key="it-support")
            submit_ticket(user=self.admin, ticket_type=ticket_type, data={"title": "First one"})
        self.assertEqual(self.steps(), {"invite": True, "workflow": True, "workers": False, "ticket": True})
        # The founder holds every role but is paused (issue 10); available, they are a worker.
        set_availability(user=self.admin, available=True)
        self.assertEqual(self.steps(), {"invite": True, "workflow": True, "workers": True, "ticket": True})

    def test_only_company_admins_get_a_checklist(self) -> None:
        self.assertIsNone(onboarding.setup_checklist(make_user(self.company, SystemRole.USER)))

    def test_landing_page_shows_the_checklist_and_roles(self) -> None:
        self.client.force_login(self.admin)
        response = self.client.get("/")
        self.assertContains(response, "Get your company started")
        self.assertContains(response, reverse("template_gallery"))
        self.assertContains(response, "Task worker")
        self.assertContains(response, "Receives tasks and completes their forms.")
        self.assertNotContains(response, "task_worker")

    def test_checklist_costs_the_same_queries_with_more_rows(self) -> None:
        with company_scope(self.company):
            onboarding.install_sample(user=self.admin, key="it-support")
        self.client.force_login(self.admin)
        self.client.get("/")
        with (
            self.assertNumQueries(7) as first
        ):  # session, user (with company and roles), the navigation's figures (one statement), 4 checks
            self.client.get("/")
        for _ in range(3):
            make_user(self.company, SystemRole.USER)
        with company_scope(self.company):
            ticket_type = TicketType.objects.get(key="it-support")
            for i in range(3):
                submit_ticket(user=self.admin, ticket_type=ticket_type, data={"title": f"Ticket {i}"})
        with self.assertNumQueries(len(first.captured_queries)):
            self.client.get("/")


class GalleryTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Gallery Co")
        cls.admin = make_user(cls.company, *SystemRole.values)
        set_availability(user=cls.admin, available=False)  # as sign-up leaves the founder
        cls.submitter = make_user(cls.company, SystemRole.USER)
        cls.other = make_company("Other Co")
        cls.other_admin = make_user(cls.other, *SystemRole.values)

    def test_gallery_lists_every_sample_bundle(self) -> None:
        self.client.force_login(self.admin)
        response = self.client.get(reverse("template_gallery"))
        for sample in ("it-support", "purchase-request", "employee-onboarding"):
            self.assertContains(response, f'data-testid="template-{sample}"')

    def test_one_click_installs_roles_workflow_and_ticket_type(self) -> None:
        self.client.force_login(self.admin)
        response = self.client.post(reverse("template_install", args=["purchase-request"]))
        self.assertRedirects(response, "/")
        with scopes_disabled():
            workflow = WorkflowDefinition.objects.get(company=self.company, key="purchase-request")
            self.assertIsNotNone(workflow.start_task_id)
            self.assertTrue(TicketType.objects.filter(company=self.company, key="purchase-request").exists())
            self.assertTrue(self.company.companyrole_set.filter(name="Employees").exists())
            # Only the installer's company got it.
            self.assertFalse(WorkflowDefinition.objects.filter(company=self.other).exists())
        self.assertContains(self.client.get(reverse("template_gallery")), "Installed.")

    def test_install_says_whom_a_role_restricted_type_is_for(self) -> None:
        """Purchase request is for the 'Employees' role, which nobody holds right after
        the install: the message must not promise a ticket type the owner cannot see."""
        self.client.force_login(self.admin)
        page = self.client.post(reverse("template_install", args=["purchase-request"]), follow=True)
        self.assertContains(page, "&#x27;Purchase request&#x27; is for members of Employees")
        self.assertNotContains(page, "Submit a ticket to try it")
        page = self.client.post(reverse("template_install", args=["it-support"]), follow=True)
        self.assertContains(page, "Submit a ticket to try it")

    def test_install_names_the_steps_nobody_can_do_yet(self) -> None:
        """Right after sign-up nobody is an available worker and the sample's roles are
        empty: the install says which steps would wait unassigned, instead of the first
        ticket waiting in silence."""
        self.client.force_login(self.admin)
        page = self.client.post(reverse("template_install", args=["purchase-request"]), follow=True)
        self.assertContains(page, "Nobody can do these steps yet")
        self.assertContains(
            page, "&#x27;Manager approval&#x27;: No available task worker with the company role"
        )
        self.assertNotContains(page, "Rework")  # the submitter does it: judged per ticket, not here
        page = self.client.post(reverse("template_install", args=["employee-onboarding"]), follow=True)
        self.assertContains(page, "has no active members yet")
        # With an available worker holding the role, the warning is gone.
        worker = make_user(self.company, SystemRole.TASK_WORKER)
        with scopes_disabled():
            worker.company_roles.add(self.company.companyrole_set.get(name="managers"))
        set_availability(user=self.admin, available=True)
        page = self.client.post(reverse("template_install", args=["purchase-request"]), follow=True)
        self.assertNotContains(page, "Nobody can do these steps yet")

    def test_install_needs_post_and_the_right_role(self) -> None:
        self.client.force_login(self.admin)
        self.assertEqual(self.client.get(reverse("template_install", args=["it-support"])).status_code, 405)
        self.client.force_login(self.submitter)
        self.assertEqual(self.client.get(reverse("template_gallery")).status_code, 403)
        self.assertEqual(self.client.post(reverse("template_install", args=["it-support"])).status_code, 403)
        with scopes_disabled():
            self.assertFalse(WorkflowDefinition.objects.filter(company=self.company).exists())

    def test_unknown_template_changes_nothing(self) -> None:
        self.client.force_login(self.admin)
        response = self.client.post(reverse("template_install", args=["no-such"]), follow=True)
        self.assertContains(response, "There is no such template.")
        with scopes_disabled():
            self.assertFalse(WorkflowDefinition.objects.exists())

    def test_empty_state_links_to_the_gallery_or_says_whom_to_ask(self) -> None:
        self.client.force_login(self.admin)
        self.assertContains(self.client.get(reverse("ticket_new")), reverse("template_gallery"))
        self.client.force_login(self.submitter)
        response = self.client.get(reverse("ticket_new"))
        self.assertNotContains(response, reverse("template_gallery"))
        self.assertContains(response, "Ask your company admin")

    def test_installing_in_one_company_leaves_the_other_untouched(self) -> None:
        self.client.force_login(self.other_admin)
        self.client.post(reverse("template_install", args=["it-support"]))
        with scopes_disabled():
            self.assertEqual(Ticket.objects.count(), 0)
            self.assertEqual(set(TicketType.objects.values_list("company__name", flat=True)), {"Other Co"})


class OnePassWorkflowTests(TestCase):
    def test_a_workflow_added_with_its_tasks_gets_its_start(self) -> None:
        company = make_company("One Pass Co")
        creator = make_user(company, SystemRole.WORKFLOW_CREATOR)
        self.client.force_login(creator)
        prefix = "tasks"
        response = self.client.post(
            reverse("admin:workflows_workflowdefinition_add"),
            {
                "key": "leave",
                "title": "Leave request",
                "version": 1,
                "ext_ref": "[]",
                "fields": "[]",
                f"{prefix}-TOTAL_FORMS": 2,
                f"{prefix}-INITIAL_FORMS": 0,
                f"{prefix}-0-key": "ask",
                f"{prefix}-0-title": "Ask",
                f"{prefix}-0-task_type": "FORM",
                f"{prefix}-0-timeout_seconds": 30,
                f"{prefix}-1-key": "decide",
                f"{prefix}-1-title": "Decide",
                f"{prefix}-1-task_type": "FORM",
                f"{prefix}-1-timeout_seconds": 30,
                "transitions-TOTAL_FORMS": 0,
                "transitions-INITIAL_FORMS": 0,
            },
            follow=True,
        )
        self.assertEqual(response.status_code, 200)
        with scopes_disabled():
            workflow = WorkflowDefinition.objects.get(company=company, key="leave")
            self.assertEqual(workflow.start_task, TaskDefinition.objects.get(workflow=workflow, key="ask"))
        self.assertContains(response, "starts this workflow")
