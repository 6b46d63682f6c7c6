"""The interactive docs page in real Chromium: Swagger UI from our own static files, under
the site's CSP, and "Try it out" calls the API with the browser's session."""

from accounts.roles import SystemRole
from project.browser import BrowserTestCase
from project.testing import PASSWORD, make_company, make_user


class ApiDocsBrowserTests(BrowserTestCase):
    def test_docs_render_and_try_it_out(self) -> None:
        company = make_company("Docs Co")
        user = make_user(company, SystemRole.USER, email="docs@docs.test")
        page = self.page
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        self.log_in(page, user.email, PASSWORD)
        page.goto(self.url("/api/v1/docs"))
        operation = page.locator("#operations-tickets-api_views_list_tickets")
        operation.locator(".opblock-summary").click()
        page.get_by_role("button", name="Try it out").click()
        page.get_by_role("button", name="Execute").click()
        status = operation.locator(".live-responses-table tbody .response-col_status").first
        self.assertEqual(status.inner_text().strip(), "200")
        self.assertTrue(all(url.startswith(self.live_server_url) for url in requested), requested)
        self.assert_console_clean()
