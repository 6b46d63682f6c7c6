from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django_scopes import scopes_disabled

from accounts.models import Company, CompanyRole, User
from accounts.roles import SystemRole
from accounts.services import set_roles
from tickets.models import TicketType
from workflows.models import TaskDefinition, TaskType, Transition, WorkflowDefinition

DEMO_COMPANY = "Demo Company"
DEMO_PASSWORD = "demo-password-2026"
DEMO_USERS: dict[str, list[str]] = {
    "admin@demo.example": list(SystemRole.values),
    "submitter@demo.example": [SystemRole.USER],
    "worker@demo.example": [SystemRole.TASK_WORKER],
    "worker2@demo.example": [SystemRole.TASK_WORKER],
    "ticketadmin@demo.example": [SystemRole.TICKET_ADMIN, SystemRole.USER],
    "creator@demo.example": [SystemRole.WORKFLOW_CREATOR],
}


class Command(BaseCommand):
    help = "Create (idempotently) the demo company, one user per role and an IT support workflow."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        with scopes_disabled():
            company, _ = Company.objects.get_or_create(name=DEMO_COMPANY)
            staff, _ = CompanyRole.objects.get_or_create(company=company, name="Staff")
            for email, roles in DEMO_USERS.items():
                user = User.objects.filter(email=email).first()
                if user is None:
                    local = email.split("@")[0]
                    user = User.objects.create_user(
                        email=email,
                        password=DEMO_PASSWORD,
                        company=company,
                        first_name=local.capitalize(),
                        last_name="Demo",
                    )
                    user.company_roles.add(staff)
                set_roles(user=user, roles=roles)
            self._it_support(company)
        self.stdout.write(
            f"Demo ready: log in as any of {', '.join(DEMO_USERS)} with password {DEMO_PASSWORD}"
        )

    def _it_support(self, company: Company) -> None:
        wf, created = WorkflowDefinition.objects.get_or_create(
            company=company,
            key="it-support",
            defaults={"title": "IT support", "description": "Triage, fix, done."},
        )
        if not created:
            return
        triage = TaskDefinition.objects.create(
            company=company,
            workflow=wf,
            key="triage",
            title="Triage",
            task_type=TaskType.FORM,
            output_schema={
                "type": "object",
                "properties": {
                    "severity": {"type": "string", "enum": ["low", "high"], "title": "Severity"},
                    "notes": {"type": "string", "title": "Notes"},
                },
                "required": ["severity"],
            },
        )
        fix = TaskDefinition.objects.create(
            company=company,
            workflow=wf,
            key="fix",
            title="Fix",
            task_type=TaskType.FORM,
            input_transform={"severity": "tasks.triage.severity"},
            output_schema={
                "type": "object",
                "properties": {"resolution": {"type": "string", "title": "Resolution"}},
                "required": ["resolution"],
            },
        )
        Transition.objects.create(company=company, workflow=wf, from_task=triage, to_task=fix)
        wf.start_task = triage
        wf.save()
        TicketType.objects.create(
            company=company,
            key="it-support",
            title="IT support request",
            workflow=wf,
            description="Something broken? Tell us.",
            fields={
                "type": "object",
                "properties": {
                    "title": {"type": "string", "title": "Summary"},
                    "details": {"type": "string", "title": "Details", "widget": "textarea"},
                },
                "required": ["title"],
            },
        )
