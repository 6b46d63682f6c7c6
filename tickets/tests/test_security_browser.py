"""Acceptance: a page on another origin cannot change a ticket through a logged-in
ticket admin (finding 1: detail actions changed tickets on a top-level GET)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.browser import BrowserTestCase
from project.testing import PASSWORD, make_company, make_ticket_type, make_user, make_workflow
from tickets.services import submit_ticket
from workflows.models import WorkflowStatus


class AttackerSite:
    """A page served from 127.0.0.1 (the app runs on localhost: another origin and
    another site) whose HTML is set by the test."""

    def __init__(self) -> None:
        self.html = ""
        outer = self

        class _H(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = outer.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class CrossSiteBrowserTests(BrowserTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.attacker = AttackerSite()
        self.addCleanup(self.attacker.stop)
        company = make_company("Victim Co")
        self.admin_user = make_user(company, SystemRole.TICKET_ADMIN)
        submitter = make_user(company, SystemRole.USER)
        wf = make_workflow(company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)])
        tt = make_ticket_type(company, wf, fields={"type": "object"})
        with company_scope(company):
            self.ticket = submit_ticket(user=submitter, ticket_type=tt, data={"title": "Keep me"})
        self.assertNotIn("127.0.0.1", self.live_server_url)

    def status(self) -> str:
        with scopes_disabled():
            self.ticket.workflow_instance.refresh_from_db()
            return str(self.ticket.workflow_instance.status)

    def test_other_origin_cannot_cancel_or_hold_a_ticket(self) -> None:
        self.log_in(self.page, self.admin_user.email, PASSWORD)
        base = self.url(f"/admin/tickets/ticket/{self.ticket.pk}")
        # 1. A top-level navigation (SameSite=Lax sends the session cookie on it): the
        #    old detail actions acted on this GET.
        for op in ("cancel", "hold"):
            self.attacker.html = f'<script>location.href = "{base}/{op}/";</script>'
            self.page.goto(self.attacker.url)
            self.page.wait_for_url(f"{base}/{op}/")
            self.page.wait_for_load_state()
            self.assertEqual(self.status(), WorkflowStatus.IN_PROGRESS, op)
            self.assertTrue(self.page.get_by_test_id("confirm-operation").is_visible())
        # 2. An auto-submitted cross-site form POST, and a credentialed fetch.
        changelist = self.url("/admin/tickets/ticket/")
        self.attacker.html = f"""
            <form id="f" method="post" action="{base}/cancel/">
              <input name="reason" value="pwned"></form>
            <script>
              fetch("{base}/hold/", {{method: "POST", mode: "no-cors", credentials: "include",
                body: new URLSearchParams({{reason: "pwned"}})}}).finally(() => {{
                fetch("{changelist}", {{method: "POST", mode: "no-cors", credentials: "include",
                  body: new URLSearchParams({{action: "cancel_selected", _selected_action: "{self.ticket.pk}",
                    confirm: "yes", reason: "pwned"}})}}).finally(() => document.getElementById("f").submit());
              }});
            </script>"""
        self.page.goto(self.attacker.url)
        self.page.wait_for_url(f"{base}/cancel/**")
        self.page.wait_for_load_state()
        self.assertEqual(self.status(), WorkflowStatus.IN_PROGRESS)
        # The admin is still logged in, and the real confirmation still works.
        self.page.goto(f"{base}/hold/")
        self.page.get_by_test_id("confirm").click()
        self.page.wait_for_url(f"{base}/change/")
        self.assertEqual(self.status(), WorkflowStatus.ON_HOLD)
