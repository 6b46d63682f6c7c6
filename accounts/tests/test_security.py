"""Account findings of issue 11, each reproduced first, then fixed."""

import re

from django.contrib.auth.models import Group
from django.test import TestCase, override_settings
from django.urls import reverse

from accounts.models import Company, User
from accounts.roles import SystemRole
from project.testing import PASSWORD, RealMailMixin, make_company, make_user


class LockoutByNormalisedEmailTests(TestCase):
    """Finding 3: axes counted failures per email as typed, login matched any case."""

    @override_settings(AXES_FAILURE_LIMIT=5)
    def test_case_variants_count_as_one_account(self) -> None:
        make_user(make_company(), SystemRole.USER, email="dora@example.com")
        for variant in (
            "Dora@example.com",
            "DORA@example.com",
            "dora@EXAMPLE.com",
            "dOra@example.com",
            " dora@example.com",
        ):
            self.client.post(reverse("login"), {"username": variant, "password": "wrong-password"})
        response = self.client.post(reverse("login"), {"username": "dora@example.com", "password": PASSWORD})
        self.assertEqual(response.status_code, 429)
        self.assertFalse(response.wsgi_request.user.is_authenticated)


class UserAdminPasswordTests(TestCase):
    """Finding 4: saving a user in the admin with the password field empty set the hash
    to '' and locked the user out. Editing a user never touches the password now."""

    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("People Co")
        cls.owner = make_user(cls.company, *SystemRole.values)
        cls.worker = make_user(cls.company, SystemRole.TASK_WORKER, email="wendy@example.com")

    def test_routine_edit_keeps_the_password(self) -> None:
        self.client.force_login(self.owner)
        url = reverse("admin:accounts_user_change", args=[self.worker.pk])
        page = self.client.get(url)
        self.assertEqual(page.status_code, 200)
        self.assertNotContains(page, 'name="password"')
        data = {
            "email": "wendy@example.com",
            "first_name": "Wendy",
            "last_name": "Worker",
            "is_active": "on",
            "groups": [g.pk for g in self.worker.groups.all()],
            "password": "",
        }
        response = self.client.post(url, data)
        self.assertEqual(
            response.status_code,
            302,
            getattr(response, "context", None) and response.context["adminform"].form.errors,
        )
        self.worker.refresh_from_db()
        self.assertEqual(self.worker.first_name, "Wendy")
        self.assertFalse(self.worker.is_available)  # unticked on purpose: a routine edit
        self.assertTrue(self.worker.check_password(PASSWORD))
        # A password typed into the POST anyway is ignored.
        self.client.post(url, {**data, "password": "owner-chosen-password-1"})
        self.worker.refresh_from_db()
        self.assertTrue(self.worker.check_password(PASSWORD))


class CompanyIdOracleTests(TestCase):
    """Finding 6: /admin/accounts/company/<id>/change/ answered 403 for an existing
    company and 404 for a missing one."""

    def test_existing_and_missing_company_answer_alike(self) -> None:
        mine = make_company("Mine")
        theirs = make_company("Theirs")
        self.client.force_login(make_user(mine, *SystemRole.values))
        missing = Company.objects.order_by("-pk").first().pk + 100  # type: ignore[union-attr]
        for view in ("change", "delete", "history"):
            for pk in (theirs.pk, mine.pk, missing):
                with self.subTest(view=view, pk=pk):
                    url = reverse(f"admin:accounts_company_{view}", args=[pk])
                    self.assertEqual(self.client.get(url).status_code, 404)
        self.assertEqual(User.objects.count(), 1)


class InviteTests(RealMailMixin, TestCase):
    """Deliver 4: a company admin adds a person by email, name and roles; the person
    chooses their own password through a single-use, expiring link sent by email."""

    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Invite Co")
        cls.owner = make_user(cls.company, *SystemRole.values, first_name="Olga")
        cls.worker_group = Group.objects.get(name=SystemRole.TASK_WORKER)

    def add_person(self, **extra: object) -> User:
        self.client.force_login(self.owner)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                reverse("admin:accounts_user_add"),
                {
                    "email": "New.Person@Example.com",
                    "first_name": "Nina",
                    "last_name": "New",
                    "is_active": "on",
                    "is_available": "on",
                    "groups": [self.worker_group.pk],
                    **extra,
                },
            )
        self.assertEqual(response.status_code, 302)
        self.client.logout()
        return User.objects.get(email="new.person@example.com")

    def link(self) -> str:
        delivered = self.mail("new.person@example.com")
        self.assertEqual(len(delivered), 1)
        self.assertIn("Invite Co", delivered[0].subject)
        match = re.search(r"https?://[^/\s]+(/accounts/invite/\S+)", delivered[0].text)
        assert match is not None, delivered[0].text
        return match.group(1)

    def test_add_page_has_no_password_and_the_person_sets_their_own_once(self) -> None:
        self.client.force_login(self.owner)
        self.assertNotContains(self.client.get(reverse("admin:accounts_user_add")), 'type="password"')
        person = self.add_person(password="owner-chosen-password-1")
        self.assertEqual(person.company, self.company)
        self.assertTrue(person.has_role(SystemRole.TASK_WORKER))
        self.assertFalse(person.has_usable_password())  # the owner's typed password was ignored
        link = self.link()
        form_page = self.client.get(link, follow=True)
        self.assertContains(form_page, "Choose the password")
        chosen = "ninas-own-secret-pass-9"
        done = self.client.post(
            form_page.redirect_chain[-1][0], {"new_password1": chosen, "new_password2": chosen}
        )
        self.assertRedirects(done, reverse("home"))
        person.refresh_from_db()
        self.assertTrue(person.check_password(chosen))
        self.assertTrue(self.client.get(reverse("home")).context["user"].is_authenticated)
        self.client.logout()
        self.assertContains(self.client.get(link, follow=True), 'data-testid="invite-invalid"')

    def test_link_expires(self) -> None:
        self.add_person()
        link = self.link()
        with override_settings(INVITE_MAX_AGE_SECONDS=-1):
            self.assertContains(self.client.get(link, follow=True), 'data-testid="invite-invalid"')

    def test_password_reset_tokens_do_not_open_invites(self) -> None:
        from django.contrib.auth.tokens import default_token_generator

        person = self.add_person()
        link = self.link()
        forged = link.rsplit("/", 2)[0] + "/" + default_token_generator.make_token(person) + "/"
        self.assertContains(self.client.get(forged, follow=True), 'data-testid="invite-invalid"')

    def test_resend_only_to_people_without_a_password(self) -> None:
        person = self.add_person()
        self.client.force_login(self.owner)
        changelist = reverse("admin:accounts_user_changelist")
        self.client.post(
            changelist, {"action": "resend_invite", "_selected_action": [person.pk, self.owner.pk]}
        )
        self.assertEqual(len(self.mail("new.person@example.com")), 2)
        self.assertEqual(self.mail(self.owner.email), [])
