from accounts.models import User
from project.browser import BrowserTestCase


class SignUpBrowserTests(BrowserTestCase):
    def test_sign_up_log_out_log_in_and_see_landing(self) -> None:
        page = self.page
        page.goto(self.url("/signup/"))
        page.get_by_label("Company name").fill("Petal Works")
        page.get_by_label("First name").fill("Iris")
        page.get_by_label("Last name").fill("Bloom")
        page.get_by_label("Email").fill("iris@petal.test")
        page.get_by_label("Password").fill("sunflowers-in-june-7")
        page.get_by_role("button", name="Sign up").click()
        page.wait_for_url(self.url("/"))
        self.assertIn("Petal Works", page.content())
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(self.url("/"))
        self.assertIn("Create your company", page.content())
        self.log_in(page, "iris@petal.test", "sunflowers-in-june-7")
        body = page.locator("main").inner_text()
        for text in (
            "Hello, Iris",
            "Petal Works",
            "Submit a ticket",
            "My tickets",
            "My tasks",
            "Back office",
        ):
            self.assertIn(text, body)
        self.assertTrue(User.objects.filter(email="iris@petal.test").exists())
        self.assert_console_clean()
