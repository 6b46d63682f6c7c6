from io import StringIO

from django.core.management import call_command
from django.test import TestCase
from django_scopes import scopes_disabled

from accounts.models import Company, User
from tickets.models import TicketType
from workflows.models import WorkflowDefinition


class SeedDemoTests(TestCase):
    def test_idempotent_demo_with_every_role_and_the_samples(self) -> None:
        for _ in range(2):
            call_command("seed_demo", stdout=StringIO())
        company = Company.objects.get(name="Demo Company")
        self.assertEqual(Company.objects.count(), 1)
        users = User.objects.filter(company=company)
        self.assertEqual(users.count(), 7)
        roles = set().union(*(u.role_names for u in users))
        self.assertEqual(roles, {"admin", "user", "ticket_admin", "task_worker", "workflow_creator"})
        self.assertFalse(users.get(email="admin@demo.example").is_available)
        with scopes_disabled():
            holders = {
                name: set(users.filter(company_roles__name=name).values_list("email", flat=True))
                for name in ("managers", "it")
            }
        self.assertEqual(holders["managers"], {"manager@demo.example"})
        self.assertEqual(holders["it"], {"worker@demo.example", "worker2@demo.example"})
        with scopes_disabled():
            self.assertEqual(
                set(WorkflowDefinition.objects.filter(company=company).values_list("key", flat=True)),
                {"it-support", "purchase-request", "employee-onboarding"},
            )
            self.assertEqual(TicketType.objects.filter(company=company).count(), 3)


class SweepCommandTests(TestCase):
    def test_runs_once(self) -> None:
        out = StringIO()
        call_command("sweep_workflows", stdout=out)
        self.assertIn("expired=0 recovered=0", out.getvalue())
