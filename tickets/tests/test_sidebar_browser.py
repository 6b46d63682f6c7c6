from accounts.roles import SystemRole
from project.browser import BrowserTestCase
from project.testing import PASSWORD, make_company, make_user


class SidebarBrowserTests(BrowserTestCase):
    def test_sidebar_grouped_by_role_and_visible_at_1280(self) -> None:
        company = make_company("Side Co")
        make_user(company, SystemRole.TICKET_ADMIN, email="ta@side.test")
        page = self.page
        page.set_viewport_size({"width": 1280, "height": 800})
        self.log_in(page, "ta@side.test", PASSWORD)
        page.goto(self.url("/admin/"))
        sidebar = page.locator("#nav-sidebar")
        self.assertTrue(sidebar.is_visible())
        text = sidebar.inner_text()
        self.assertIn("Work tickets", text)
        self.assertIn("Open tasks", text)
        self.assertLess(text.index("Work tickets"), text.index("Build workflows"))
        self.assertNotIn("People", text)  # users are the company admin's
        box = sidebar.bounding_box()
        self.assertGreater(box["width"], 150)
        self.assertGreaterEqual(box["x"], 0)
        page.get_by_role("link", name="Open tasks").click()
        page.wait_for_url("**/admin/workflows/taskinstance/**")
        self.assert_console_clean()
