"""README screenshots of each role's main page, made by this browser test so they stay
current. Every run renders them (and checks a clean console); `SCREENSHOTS=write`
also writes them to docs/screenshots/ for committing."""

import os
import tempfile
from pathlib import Path

from django.conf import settings

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.browser import BrowserTestCase
from project.testing import PASSWORD, make_company, make_user
from tickets import onboarding
from tickets.models import TicketType
from tickets.services import submit_ticket

PAGES = [
    ("company-admin", "boss@shots.test", "/"),
    ("submitter", "sub@shots.test", "/tickets/new/"),
    ("task-worker", "work@shots.test", "/tasks/"),
    ("ticket-admin", "ta@shots.test", "/admin/"),
    ("workflow-creator", "wc@shots.test", "/admin/workflows/workflowdefinition/"),
]


class ScreenshotBrowserTests(BrowserTestCase):
    def test_each_roles_main_page(self) -> None:
        company = make_company("Bloom Ltd")
        boss = make_user(
            company, SystemRole.ADMIN, SystemRole.USER, email="boss@shots.test", first_name="Flora"
        )
        sub = make_user(company, SystemRole.USER, email="sub@shots.test", first_name="Sam")
        make_user(company, SystemRole.TASK_WORKER, email="work@shots.test", first_name="Wes")
        make_user(company, SystemRole.TICKET_ADMIN, email="ta@shots.test", first_name="Tia")
        make_user(company, SystemRole.WORKFLOW_CREATOR, email="wc@shots.test", first_name="Cleo")
        with company_scope(company):
            onboarding.install_sample(user=boss, key="it-support")
            ticket_type = TicketType.objects.get(key="it-support")
            for title in ("Printer is jammed", "New laptop for Ana", "VPN drops every hour"):
                submit_ticket(user=sub, ticket_type=ticket_type, data={"title": title})

        out = Path(settings.BASE_DIR) / "docs" / "screenshots"
        if os.environ.get("SCREENSHOTS") != "write":
            out = Path(tempfile.mkdtemp())
        out.mkdir(parents=True, exist_ok=True)
        for name, email, path in PAGES:
            context = self.browser.new_context(viewport={"width": 1280, "height": 760})
            page = context.new_page()
            self.watch_console(page)
            self.log_in(page, email, PASSWORD)
            page.goto(self.url(path))
            page.wait_for_load_state("networkidle")
            target = out / f"{name}.png"
            page.screenshot(path=str(target))
            context.close()
            self.assertGreater(target.stat().st_size, 10_000)
        self.assert_console_clean()
