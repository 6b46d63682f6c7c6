"""Roles read as human names with one line each in the back office's people pages,
the role filter included (it used to list raw group names such as `task_worker`)."""

from django.test import TestCase
from django.urls import reverse
from django.utils.html import escape
from django_scopes import scopes_disabled

from accounts.models import CompanyRole
from accounts.roles import ROLE_HELP, SystemRole
from project.testing import make_company, make_user


class RoleNamesTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Roles Co")
        cls.admin = make_user(cls.company, SystemRole.ADMIN)
        cls.worker = make_user(cls.company, SystemRole.TASK_WORKER)
        cls.submitter = make_user(cls.company, SystemRole.USER)
        cls.other = make_company("Other Roles Co")
        cls.other_worker = make_user(cls.other, SystemRole.TASK_WORKER)
        with scopes_disabled():
            CompanyRole.objects.create(company=cls.company, name="it_support", description="Fixes laptops")

    def test_role_filter_shows_human_names_and_filters_in_the_company(self) -> None:
        self.client.force_login(self.admin)
        url = reverse("admin:accounts_user_changelist")
        page = self.client.get(url).content.decode()
        for role in SystemRole:
            self.assertIn(str(role.label), page)
            self.assertIn(escape(ROLE_HELP[role]), page)
        self.assertNotIn(">task_worker<", page)
        self.assertNotIn(">workflow_creator<", page)
        listed = self.client.get(url, {"role": SystemRole.TASK_WORKER}).context["cl"].result_list  # type: ignore[attr-defined]
        self.assertEqual([u.pk for u in listed], [self.worker.pk])
        # An unknown value filters nothing and is no error.
        self.assertEqual(self.client.get(url, {"role": "nope"}).status_code, 200)

    def test_user_form_explains_system_and_company_roles(self) -> None:
        self.client.force_login(self.admin)
        page = self.client.get(reverse("admin:accounts_user_change", args=[self.worker.pk])).content.decode()
        self.assertIn(escape(f"{SystemRole.TASK_WORKER.label}: {ROLE_HELP[SystemRole.TASK_WORKER]}"), page)
        self.assertIn("it_support: Fixes laptops", page)
