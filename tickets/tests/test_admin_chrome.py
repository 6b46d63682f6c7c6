"""The back office's cached sidebar (tickets/templatetags/admin_chrome.py): rendered once
per distinct content, and still different per role, page and person."""

import re

from django.test import TestCase
from django.urls import reverse

from accounts.roles import SystemRole
from project.testing import make_company, make_user
from tickets.templatetags import admin_chrome

SIDEBAR = "admin/tf_sidebar.html"
ACTIVE = re.compile(r'<a href="([^"]+)" class="[^"]* active"')


def names(response: object) -> list[str]:
    return [t.name for t in response.templates]  # type: ignore[attr-defined]


class CachedSidebarTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.alpha = make_company("Alpha Co")
        cls.beta = make_company("Beta Co")
        cls.ticket_admin = make_user(
            cls.alpha, SystemRole.TICKET_ADMIN, first_name="Alice", last_name="Alphaworker"
        )
        cls.company_admin = make_user(cls.alpha, SystemRole.ADMIN, first_name="Carol", last_name="Chief")
        cls.other_admin = make_user(
            cls.beta, SystemRole.TICKET_ADMIN, first_name="Bob", last_name="Betaworker"
        )

    def setUp(self) -> None:
        admin_chrome._html.clear()

    def get(self, user: object, url: str) -> str:
        self.client.force_login(user)  # type: ignore[arg-type]
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        self.last = response
        return response.content.decode()

    def test_rendered_once_for_the_same_role_and_page(self) -> None:
        url = reverse("admin:tickets_ticket_changelist")
        self.get(self.ticket_admin, url)
        self.assertIn(SIDEBAR, names(self.last))
        self.get(self.other_admin, url)
        self.assertNotIn(SIDEBAR, names(self.last))

    def test_entries_follow_the_role(self) -> None:
        url = reverse("admin:index")
        users_link = reverse("admin:accounts_user_changelist")
        # The ticket admin's sidebar is cached first; the company admin must not get it.
        self.assertNotIn(users_link, self.get(self.ticket_admin, url))
        self.assertIn(users_link, self.get(self.company_admin, url))
        self.assertNotIn(users_link, self.get(self.ticket_admin, url))

    def test_active_entry_follows_the_page(self) -> None:
        tickets = reverse("admin:tickets_ticket_changelist")
        tasks = reverse("admin:workflows_taskinstance_changelist")
        for url in (tickets, tasks, tickets):
            with self.subTest(url=url):
                html = self.get(self.ticket_admin, url)
                self.assertEqual(ACTIVE.findall(html), [url])

    def test_person_menu_is_never_shared(self) -> None:
        url = reverse("admin:tickets_ticket_changelist")
        alpha = self.get(self.ticket_admin, url)
        self.assertIn("Alice Alphaworker", alpha)
        beta = self.get(self.other_admin, url)
        self.assertNotIn(SIDEBAR, names(self.last))  # served from the cache...
        self.assertIn("Bob Betaworker", beta)  # ...with the person's own menu
        for leaked in ("Alice", "Alphaworker", "Alpha Co", self.ticket_admin.email):
            self.assertNotIn(leaked, beta)
