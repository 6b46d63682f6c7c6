"""The sample bundles run end to end against the app's own demo endpoints on a live
server: a SYNC_ACTION budget check and an ASYNC_ACTION whose callback comes back."""

import json
import time
from pathlib import Path

from django.conf import settings
from django.test import LiveServerTestCase, override_settings
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import make_company, make_user, run_queued_tasks
from tickets.access import may_complete_task
from tickets.bundles import import_bundle, parse
from tickets.models import Ticket, TicketType
from tickets.services import submit_ticket
from workflows import services
from workflows.models import TaskInstance, TaskStatus, WorkflowStatus

SAMPLES = Path(settings.BASE_DIR) / "fixtures" / "bundles"


class SampleBundleTests(LiveServerTestCase):
    def setUp(self) -> None:
        self.enterContext(
            override_settings(
                DEMO_ENDPOINTS_ENABLED=True,
                ACTIONS_ALLOW_PRIVATE_NETWORKS=True,
                PUBLIC_BASE_URL=self.live_server_url,
                ACTIONS_RETRY_BASE_SECONDS=0,
            )
        )
        self.company = make_company()
        self.assignees = []
        self.submitter = make_user(self.company, SystemRole.USER)
        self.worker = make_user(self.company, SystemRole.TASK_WORKER)
        with company_scope(self.company):
            for path in SAMPLES.glob("*.json"):
                text = path.read_text().replace("http://127.0.0.1:8000", self.live_server_url)
                import_bundle(company=self.company, bundle=parse(text))
            from accounts.models import CompanyRole

            self.submitter.company_roles.add(CompanyRole.objects.get(name="Employees"))
            self.manager = make_user(self.company, SystemRole.TASK_WORKER)
            self.manager.company_roles.add(CompanyRole.objects.get(name="managers"))

    assignees: list

    def submit(self, type_key: str, data: dict) -> Ticket:  # type: ignore[type-arg]
        with company_scope(self.company):
            return submit_ticket(
                user=self.submitter, ticket_type=TicketType.objects.get(key=type_key), data=data
            )

    def keys(self, ticket: Ticket) -> list[str]:
        with scopes_disabled():
            return list(
                ticket.workflow_instance.tasks.order_by("id").values_list("task_definition__key", flat=True)
            )

    def complete(self, ticket: Ticket, output: dict) -> None:  # type: ignore[type-arg]
        with company_scope(self.company):
            task = ticket.workflow_instance.tasks.select_related("task_definition").order_by("-id").first()
            assert task is not None
            self.assignees.append(task.assigned_to)
            services.complete_form_task(
                task=task, output=output, actor=task.assigned_to or self.worker, permitted=may_complete_task
            )
        run_queued_tasks()

    def test_purchase_request_small_amount_is_auto_approved(self) -> None:
        ticket = self.submit("purchase-request", {"title": "Mouse", "item": "mouse", "amount": 25})
        run_queued_tasks()
        self.assertEqual(self.keys(ticket), ["budget-check", "auto-approval", "order"])
        with scopes_disabled():
            check = TaskInstance.objects.get(
                workflow_instance=ticket.workflow_instance, task_definition__key="budget-check"
            )
        self.assertTrue(check.output_data["within_budget"])
        self.assertTrue(check.output_data["reference"].startswith("BUD-"))

    def test_purchase_request_rejection_loops_back_to_rework(self) -> None:
        ticket = self.submit("purchase-request", {"title": "Laptop", "item": "laptop", "amount": 2500})
        run_queued_tasks()
        self.assertEqual(self.keys(ticket), ["budget-check", "manager-approval"])
        self.complete(ticket, {"decision": "reject", "comment": "too pricey"})
        self.complete(ticket, {"changes": "cheaper model"})
        self.assertEqual(
            self.keys(ticket),
            ["budget-check", "manager-approval", "rework", "budget-check", "manager-approval"],
        )
        self.complete(ticket, {"decision": "approve"})
        self.complete(ticket, {"order_number": "PO-1"})
        # Approvals go to the managers role, rework to the submitter (the sample's rules).
        self.assertEqual(self.assignees, [self.manager, self.submitter, self.manager, self.worker])
        ticket.workflow_instance.refresh_from_db()
        self.assertEqual(ticket.workflow_instance.status, WorkflowStatus.COMPLETED)

    def test_onboarding_callback_from_the_demo_identity_system(self) -> None:
        ticket = self.submit("employee-onboarding", {"employee_name": "Grace Hopper"})
        self.complete(ticket, {"start_date": "2026-12-01", "laptop": True})
        deadline = time.monotonic() + 15
        while "prepare-desk" not in self.keys(ticket) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(self.keys(ticket), ["collect-details", "create-account", "prepare-desk"])
        with scopes_disabled():
            account = TaskInstance.objects.get(
                workflow_instance=ticket.workflow_instance, task_definition__key="create-account"
            )
        self.assertEqual(account.status, TaskStatus.COMPLETED)
        self.assertEqual(account.output_data, {"account": "grace.hopper"})

    def test_demo_endpoints_refuse_unsigned_calls_and_are_off_by_default(self) -> None:
        import requests

        response = requests.post(
            self.live_server_url + "/demo/budget-check/", data=json.dumps({"amount": 1}), timeout=5
        )
        self.assertEqual(response.status_code, 400)
        with override_settings(DEMO_ENDPOINTS_ENABLED=False):
            response = requests.post(self.live_server_url + "/demo/budget-check/", data="{}", timeout=5)
            self.assertEqual(response.status_code, 404)
