"""The back office's cached sidebar (tickets/templatetags/admin_chrome.py): rendered once
per distinct content, and still different per role, page and person."""

import re
from unittest import mock

from django.contrib import admin
from django.contrib.admin import AdminSite
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.admin_site import BackOfficeSite
from project.testing import make_company, make_ticket_type, make_user, make_workflow
from tickets.models import FileUpload, TicketError
from tickets.services import submit_ticket
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

    def test_static_help_and_menus_rendered_once_and_still_shown(self) -> None:
        url = reverse("admin:tickets_ticket_changelist")
        shortcuts, command = "unfold/helpers/shortcuts.html", "unfold/helpers/command.html"
        html = self.get(self.ticket_admin, url)
        # Our override of each name, then unfold's own behind it.
        self.assertEqual(names(self.last).count(shortcuts), 2)
        self.assertEqual(names(self.last).count(command), 2)
        for text in ("Available shortcuts", reverse("admin:search"), "switchTheme('dark')"):
            self.assertIn(text, html)
        html = self.get(self.other_admin, url)
        self.assertEqual(names(self.last).count(shortcuts), 1)
        self.assertEqual(names(self.last).count(command), 1)
        for text in ("Available shortcuts", reverse("admin:search"), "switchTheme('dark')"):
            self.assertIn(text, html)
        # The shortcut keys follow the user agent.
        self.assertNotIn("keyboard_command_key", html)
        self.client.force_login(self.ticket_admin)
        mac = self.client.get(url, HTTP_USER_AGENT="Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0)")
        self.assertContains(mac, "keyboard_command_key")

    def test_person_filter_cached_only_while_nobody_is_chosen(self) -> None:
        url = reverse("admin:workflows_taskinstance_changelist")
        widget = "unfold/helpers/field.html"
        self.get(self.ticket_admin, url)
        self.assertIn(widget, names(self.last))
        html = self.get(self.other_admin, url)
        self.assertNotIn(widget, names(self.last))  # the same widget, from the cache
        self.assertIn('name="assignee"', html)
        self.assertIn(reverse("admin:autocomplete"), html)
        # A chosen person is rendered per request, with their name, in their company only.
        html = self.get(self.ticket_admin, f"{url}?assignee={self.company_admin.pk}")
        self.assertIn(widget, names(self.last))
        self.assertIn("Carol Chief", html)
        html = self.get(self.other_admin, f"{url}?assignee={self.company_admin.pk}")
        self.assertNotIn("Carol", html)
        self.assertNotIn("Carol", self.get(self.other_admin, url))

    def test_person_menu_is_never_shared(self) -> None:
        url = reverse("admin:tickets_ticket_changelist")
        alpha = self.get(self.ticket_admin, url)
        self.assertIn("Alice Alphaworker", alpha)
        beta = self.get(self.other_admin, url)
        self.assertNotIn(SIDEBAR, names(self.last))  # served from the cache...
        self.assertIn("Bob Betaworker", beta)  # ...with the person's own menu
        for leaked in ("Alice", "Alphaworker", "Alpha Co", self.ticket_admin.email):
            self.assertNotIn(leaked, beta)


class TicketPageTests(TestCase):
    """The ticket page's lean rendering: one template loop for its read-only fields, and
    errors and attachments as tables instead of read-only inlines."""

    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Page Co")
        cls.admin = make_user(cls.company, SystemRole.TICKET_ADMIN)
        submitter = make_user(cls.company, SystemRole.USER)
        wf = make_workflow(cls.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)])
        tt = make_ticket_type(cls.company, wf, fields={"type": "object"})
        with company_scope(cls.company):
            cls.ticket = submit_ticket(user=submitter, ticket_type=tt, data={"title": "Printer on fire"})
        with scopes_disabled():
            for i in range(3):
                TicketError.objects.create(
                    company=cls.company, ticket=cls.ticket, error_type="TASK_UPDATE", message=f"boom {i}"
                )
                FileUpload.objects.create(company=cls.company, ticket=cls.ticket, filename=f"log{i}.txt")
            cls.errors = list(TicketError.objects.filter(ticket=cls.ticket))
            cls.files = list(FileUpload.objects.filter(ticket=cls.ticket))

    def page(self) -> object:
        self.client.force_login(self.admin)
        response = self.client.get(reverse("admin:tickets_ticket_change", args=[self.ticket.pk]))
        self.assertEqual(response.status_code, 200)
        return response

    def test_fields_render_in_one_loop_with_their_labels_and_values(self) -> None:
        response = self.page()
        self.assertIn("admin/tickets/ticket/change_form.html", names(response))
        self.assertNotIn("unfold/helpers/fieldset_row.html", names(response))
        html = response.content.decode()  # type: ignore[attr-defined]
        for label in ("Title", "Ticket type", "Status", "Tasks", "Timeline (latest first)"):
            self.assertIn(f">{label}</label>", html)
        self.assertIn("Printer on fire", html)

    def test_errors_and_attachments_are_tables_with_links(self) -> None:
        response = self.page()
        self.assertEqual(response.context["inline_admin_formsets"], [])  # type: ignore[attr-defined]
        html = response.content.decode()  # type: ignore[attr-defined]
        for error in self.errors:
            self.assertIn(reverse("admin:tickets_ticketerror_change", args=[error.pk]), html)
            self.assertIn(error.message, html)
        for upload in self.files:
            self.assertIn(reverse("attachment_download", args=[upload.pk]), html)

    def test_long_lists_are_bounded_with_a_link_to_all(self) -> None:
        with mock.patch("tickets.admin.tickets.PAGE_ROWS", 2):
            html = self.page().content.decode()  # type: ignore[attr-defined]
        self.assertEqual(len(re.findall(r"/admin/tickets/ticketerror/\d+/change/", html)), 2)
        self.assertEqual(len(re.findall(r"/attachments/\d+/", html)), 2)
        self.assertIn(f"/admin/tickets/ticketerror/?ticket__id__exact={self.ticket.pk}", html)
        self.assertIn(f"/admin/tickets/fileupload/?ticket__id__exact={self.ticket.pk}", html)
        self.assertNotIn("boom 0", html)  # the oldest error is past the first page

    def test_the_ticket_row_is_read_once_for_page_and_operation_buttons(self) -> None:
        self.client.force_login(self.admin)
        url = reverse("admin:tickets_ticket_change", args=[self.ticket.pk])
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.get(url)
        reads = [q["sql"] for q in ctx.captured_queries if 'FROM "tickets_ticket"' in q["sql"]]
        self.assertEqual(len(reads), 1, reads)
        # The buttons still follow the state: a running ticket can be held, not resumed.
        self.assertContains(response, f"/admin/tickets/ticket/{self.ticket.pk}/hold/")
        self.assertNotContains(response, f"/admin/tickets/ticket/{self.ticket.pk}/resume/")


class AppListTests(TestCase):
    """The admin site builds Django's app list only where a page shows it."""

    @classmethod
    def setUpTestData(cls) -> None:
        cls.admin = make_user(make_company("Apps Co"), SystemRole.TICKET_ADMIN)

    def builds(self, url: str) -> tuple[int, object]:
        self.client.force_login(self.admin)
        with mock.patch.object(
            AdminSite, "_build_app_dict", autospec=True, side_effect=AdminSite._build_app_dict
        ) as build:
            response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        return build.call_count, response

    def test_not_built_for_the_sidebar(self) -> None:
        self.assertIsInstance(admin.site, BackOfficeSite)
        calls, _ = self.builds(reverse("admin:tickets_ticket_changelist"))
        self.assertEqual(calls, 0)

    def test_built_where_shown(self) -> None:
        calls, response = self.builds(reverse("admin:index"))
        self.assertEqual(calls, 1)
        self.assertContains(response, reverse("admin:tickets_ticket_changelist"))  # type: ignore[arg-type]
        calls, response = self.builds(reverse("admin:app_list", args=["tickets"]))
        self.assertEqual(calls, 1)
        self.assertContains(response, reverse("admin:tickets_ticketerror_changelist"))  # type: ignore[arg-type]
