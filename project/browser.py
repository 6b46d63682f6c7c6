"""Base class for browser tests: real Chromium (Debian's /usr/bin/chromium) driven by
Playwright against a live server. Skips without Chromium, except in CI (CI=true), where
a missing browser is a failure."""

import os
import shutil
from typing import Any, ClassVar

from django.contrib.staticfiles.testing import StaticLiveServerTestCase

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests
# make around it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


class BrowserTestCase(StaticLiveServerTestCase):
    playwright: ClassVar[Any]
    browser: ClassVar[Any]

    @classmethod
    def setUpClass(cls) -> None:
        if not os.path.exists(CHROMIUM) and os.environ.get("CI") == "true":
            raise RuntimeError(f"Chromium is required in CI but missing at {CHROMIUM}")
        super().setUpClass()
        if os.path.exists(CHROMIUM):
            from playwright.sync_api import sync_playwright

            cls.playwright = sync_playwright().start()
            cls.browser = cls.playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
            )

    @classmethod
    def tearDownClass(cls) -> None:
        if getattr(cls, "browser", None):
            cls.browser.close()
            cls.playwright.stop()
        super().tearDownClass()

    def setUp(self) -> None:
        if not os.path.exists(CHROMIUM):
            self.skipTest("Chromium is not installed")
        self.console_errors: list[str] = []
        self.context = self.browser.new_context()
        self.addCleanup(self.context.close)
        self.page = self.new_page()

    def new_page(self) -> Any:
        page = self.context.new_page()
        self.watch_console(page)
        page.set_default_timeout(15000)
        return page

    def watch_console(self, page: Any) -> None:
        """Collects console errors and uncaught page errors for assert_console_clean."""

        def on_console(message: Any) -> None:
            if message.type == "error":
                self.console_errors.append(f"{page.url}: {message.text}")

        def on_page_error(error: Any) -> None:
            self.console_errors.append(f"{page.url}: {error}")

        def on_response(response: Any) -> None:
            if response.status >= 400:
                self.console_errors.append(f"{page.url}: HTTP {response.status} for {response.url}")

        page.on("console", on_console)
        page.on("pageerror", on_page_error)
        page.on("response", on_response)

    def url(self, path: str) -> str:
        return self.live_server_url + path

    def assert_console_clean(self) -> None:
        self.assertEqual(self.console_errors, [])

    def log_in(self, page: Any, email: str, password: str) -> None:
        page.goto(self.url("/accounts/login/"))
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(self.url("/"))
