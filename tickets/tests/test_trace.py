"""Issue 14, "the routing trace is hidden": the back-office ticket page shows each
routing with its candidates, their conditions and values, and the winner."""

from django.test import TestCase
from django.urls import reverse

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import make_company, make_user
from tickets.access import may_complete_task
from tickets.bundles import import_bundle
from tickets.models import TicketType
from tickets.services import submit_ticket
from tickets.tests.test_versions import bundle
from workflows import services


class RoutingTraceTests(TestCase):
    def test_ticket_page_shows_candidates_values_and_winner(self) -> None:
        company = make_company()
        admin = make_user(company, SystemRole.USER, SystemRole.TICKET_ADMIN)
        with company_scope(company):
            import_bundle(company=company, bundle=bundle(), actor=admin)
            ticket = submit_ticket(user=admin, ticket_type=TicketType.objects.get(key="tt"), data={})
            task = ticket.workflow_instance.tasks.get()
            services.complete_form_task(
                task=task, output={"ok": False}, actor=admin, permitted=may_complete_task
            )
        self.client.force_login(admin)
        response = self.client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk]))
        self.assertContains(response, "Routing decisions")
        self.assertContains(response, "output.ok = false → accept")
        self.assertContains(response, "default → reject")
        self.assertContains(response, "<td>reject</td>", html=False)
        self.assertContains(response, "wf v1")
