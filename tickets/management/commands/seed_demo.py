from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django_scopes import scopes_disabled

from accounts.models import Company, CompanyRole, User
from accounts.roles import SystemRole
from accounts.services import set_roles
from accounts.tenancy import company_scope
from tickets.bundles import import_bundle, parse

BUNDLES = Path(settings.BASE_DIR) / "fixtures" / "bundles"
SAMPLE_BASE_URL = "http://127.0.0.1:8000"

DEMO_COMPANY = "Demo Company"
DEMO_PASSWORD = "demo-password-2026"
DEMO_USERS: dict[str, list[str]] = {
    "admin@demo.example": list(SystemRole.values),
    "submitter@demo.example": [SystemRole.USER],
    "worker@demo.example": [SystemRole.TASK_WORKER],
    "worker2@demo.example": [SystemRole.TASK_WORKER],
    "manager@demo.example": [SystemRole.TASK_WORKER],
    "ticketadmin@demo.example": [SystemRole.TICKET_ADMIN, SystemRole.USER],
    "creator@demo.example": [SystemRole.WORKFLOW_CREATOR],
}

# Company roles the sample bundles assign by: manager approval goes to `managers`, the
# onboarding desk is a queue for `it`. Everyone is an employee (may request purchases).
DEMO_COMPANY_ROLES: dict[str, list[str]] = {
    "manager@demo.example": ["managers"],
    "worker@demo.example": ["it"],
    "worker2@demo.example": ["it"],
}


class Command(BaseCommand):
    help = "Create (idempotently) the demo company, one user per role and the sample bundles."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        with scopes_disabled():
            company, _ = Company.objects.get_or_create(name=DEMO_COMPANY)
            staff, _ = CompanyRole.objects.get_or_create(company=company, name="Employees")
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
                    # The all-roles admin would otherwise win ties (lowest id) and take
                    # the demo's form tasks from the workers.
                    if email == "admin@demo.example":
                        user.is_available = False
                        user.save(update_fields=["is_available"])
                set_roles(user=user, roles=roles)
                for name in DEMO_COMPANY_ROLES.get(email, []):
                    company_role, _ = CompanyRole.objects.get_or_create(company=company, name=name)
                    user.company_roles.add(company_role)
            self._import_samples(company)
        self.stdout.write(
            f"Demo ready: log in as any of {', '.join(DEMO_USERS)} with password {DEMO_PASSWORD}"
        )

    def _import_samples(self, company: Company) -> None:
        """The sample bundles, pointed at this installation's own demo endpoints."""
        base = settings.PUBLIC_BASE_URL.rstrip("/")
        with company_scope(company):
            for path in sorted(BUNDLES.glob("*.json")):
                bundle = parse(path.read_text().replace(SAMPLE_BASE_URL, base))
                import_bundle(company=company, bundle=bundle)
