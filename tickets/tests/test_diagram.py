"""Issue 14, the workflow diagram: server-side SVG on the workflow admin page, the
back-office ticket page (path and current step) and, simplified, the submitter's page."""

from xml.etree import ElementTree

from django.test import TestCase
from django.urls import reverse

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.browser import BrowserTestCase
from project.testing import PASSWORD, make_company, make_user
from tickets.access import may_complete_task
from tickets.bundles import import_bundle
from tickets.models import Ticket, TicketType
from tickets.services import submit_ticket
from tickets.tests.test_versions import bundle
from workflows import diagram, services
from workflows.models import WorkflowDefinition

SVG = "{http://www.w3.org/2000/svg}"


def routed_ticket() -> tuple[Ticket, object, WorkflowDefinition]:
    company = make_company()
    user = make_user(company, SystemRole.USER, SystemRole.TICKET_ADMIN, SystemRole.WORKFLOW_CREATOR)
    with company_scope(company):
        import_bundle(company=company, bundle=bundle(), actor=user)
        ticket = submit_ticket(user=user, ticket_type=TicketType.objects.get(key="tt"), data={})
        task = ticket.workflow_instance.tasks.get()
        services.complete_form_task(task=task, output={"ok": True}, actor=user, permitted=may_complete_task)
        workflow = WorkflowDefinition.objects.get(key="wf")
    return ticket, user, workflow


class DiagramTests(TestCase):
    def test_svg_has_tasks_transitions_conditions_and_highlights(self) -> None:
        spec = bundle()["workflows"][0]
        svg = diagram.render(
            spec, path=["review", "accept"], current="accept", assignee=diagram.assignment_rule
        )
        root = ElementTree.fromstring(svg)  # well-formed XML
        tasks = {
            g.get("data-key"): g.get("class")
            for g in root.iter(f"{SVG}g")
            if "tf-task" in (g.get("class") or "")
        }
        self.assertEqual(set(tasks), {"review", "accept", "reject"})
        self.assertIn("tf-current", tasks["accept"])
        self.assertIn("tf-visited", tasks["review"])
        self.assertNotIn("tf-visited", tasks["reject"])
        edges = [g for g in root.iter(f"{SVG}g") if "tf-edge" in (g.get("class") or "")]
        self.assertEqual(len(edges), 2)
        self.assertIn("output.ok", svg)
        self.assertIn("default", svg)
        self.assertIn("worker with fewest open tasks", svg)
        self.assertEqual(
            [e.get("data-to") for e in edges if "tf-taken" in (e.get("class") or "")], ["accept"]
        )
        self.assertNotIn("style=", svg)  # the strict CSP forbids inline styles
        hostile = diagram.render(
            {"tasks": [{"key": "a", "title": "<script>x</script>", "type": "FORM", "start": True}]}
        )
        self.assertNotIn("<script>", hostile)

    def test_pages_include_it(self) -> None:
        ticket, user, workflow = routed_ticket()
        self.client.force_login(user)  # type: ignore[arg-type]
        for url in (
            reverse("admin:workflows_workflowdefinition_change", args=[workflow.pk]),
            reverse("admin:tickets_ticket_change", args=[ticket.pk]),
            reverse("ticket_detail", args=[ticket.pk]),
        ):
            with self.subTest(url=url):
                self.assertContains(self.client.get(url), 'class="tf-diagram"')


class DiagramBrowserTests(BrowserTestCase):
    def test_each_diagram_renders(self) -> None:
        ticket, user, workflow = routed_ticket()
        page = self.page
        self.log_in(page, user.email, PASSWORD)  # type: ignore[attr-defined]
        for path, tasks in (
            (f"/admin/workflows/workflowdefinition/{workflow.pk}/change/", 3),
            (f"/admin/tickets/ticket/{ticket.pk}/change/", 3),
            (f"/tickets/{ticket.pk}/", 3),
        ):
            page.goto(self.url(path))
            svg = page.locator("svg.tf-diagram").first
            svg.wait_for()
            self.assertTrue(svg.is_visible(), path)
            box = svg.bounding_box()
            self.assertGreater(box["width"], 100, path)
            self.assertEqual(page.locator("svg.tf-diagram g.tf-task").count(), tasks, path)
            if "workflowdefinition" not in path:
                self.assertEqual(page.locator("svg.tf-diagram g.tf-current").count(), 1, path)
        self.assert_console_clean()
