import re
from datetime import timedelta

from axes.models import AccessAttempt
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Company, User
from accounts.roles import SystemRole
from project.testing import PASSWORD, RealMailMixin, make_company, make_user

SIGNUP = {
    "company_name": "Flowers Ltd",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@flowers.test",
    "password": "orchids-and-tulips-42",
}


class SignUpTests(TestCase):
    def test_creates_one_company_and_one_user_with_all_roles_and_logs_in(self) -> None:
        response = self.client.post(reverse("signup"), SIGNUP)
        self.assertRedirects(response, reverse("home"))
        self.assertEqual(Company.objects.count(), 1)
        user = User.objects.get()
        self.assertEqual(user.company.name, "Flowers Ltd")
        self.assertEqual(user.role_names, frozenset(SystemRole.values))
        self.assertEqual(self.client.get(reverse("home")).context["user"], user)

    def test_duplicate_email_fails_and_creates_nothing(self) -> None:
        self.client.post(reverse("signup"), SIGNUP)
        self.client.post(reverse("logout"))
        response = self.client.post(
            reverse("signup"), {**SIGNUP, "company_name": "Other", "email": "ADA@flowers.test"}
        )
        self.assertContains(response, "already exists")
        self.assertEqual(Company.objects.count(), 1)
        self.assertEqual(User.objects.count(), 1)

    def test_weak_password_and_empty_fields(self) -> None:
        for data, message in (
            ({**SIGNUP, "password": "short"}, "too short"),
            ({**SIGNUP, "password": "password12345"}, "too common"),
            ({**SIGNUP, "company_name": ""}, "This field is required"),
        ):
            with self.subTest(message=message):
                response = self.client.post(reverse("signup"), data)
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, message)
        self.assertEqual(Company.objects.count(), 0)
        self.assertEqual(User.objects.count(), 0)


class LoginTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.user = make_user(make_company(), SystemRole.USER, email="bob@example.com")

    def login(self, password: str = PASSWORD, email: str = "bob@example.com"):  # type: ignore[no-untyped-def]
        return self.client.post(reverse("login"), {"username": email, "password": password})

    def test_login_rotates_session_and_logout_is_post_only(self) -> None:
        self.client.get(reverse("login"))
        before = self.client.session.session_key
        self.assertRedirects(self.login(), "/")
        self.assertNotEqual(self.client.session.session_key, before)
        self.assertEqual(self.client.get(reverse("logout")).status_code, 405)
        self.client.post(reverse("logout"))
        self.assertFalse(self.client.get("/").context["user"].is_authenticated)

    def test_wrong_password_message_does_not_reveal_account(self) -> None:
        wrong = self.login("nope")
        unknown = self.login("nope", email="nobody@example.com")
        for response in (wrong, unknown):
            self.assertContains(response, "The email or password is not correct.")

    @override_settings(AXES_FAILURE_LIMIT=3)
    def test_lockout_triggers_then_expires(self) -> None:
        for _ in range(3):
            self.login("wrong")
        locked = self.login()
        self.assertEqual(locked.status_code, 429)
        self.assertContains(locked, "Too many failed attempts", status_code=429)
        self.assertNotContains(locked, "bob@example.com", status_code=429)
        # Let the cool-off (15 minutes) pass.
        AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
        self.assertRedirects(self.login(), "/", fetch_redirect_response=False)


class PasswordResetTests(RealMailMixin, TestCase):
    def test_reset_flow_end_to_end_and_link_works_once(self) -> None:
        make_user(make_company(), SystemRole.USER, email="carol@example.com")
        self.client.post(reverse("password_reset"), {"email": "carol@example.com"})
        self.client.post(reverse("password_reset"), {"email": "nobody@example.com"})
        delivered = self.mail()  # through SMTP to the loopback server
        self.assertEqual(len(delivered), 1)
        self.assertEqual(delivered[0].recipients, ["carol@example.com"])
        link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", delivered[0].text).group(1)  # type: ignore[union-attr]
        form_page = self.client.get(link, follow=True)
        self.assertContains(form_page, "Choose a new password")
        new = "a-brand-new-password-77"
        done = self.client.post(form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
        self.assertRedirects(done, reverse("password_reset_complete"))
        self.assertTrue(User.objects.get(email="carol@example.com").check_password(new))
        again = self.client.get(link, follow=True)
        self.assertContains(again, "invalid or was already used")


class ProfileTests(TestCase):
    def test_edit_and_duplicate_email(self) -> None:
        company = make_company()
        user = make_user(company, SystemRole.USER, email="dan@example.com")
        make_user(company, SystemRole.USER, email="erin@example.com")
        self.client.force_login(user)
        response = self.client.post(
            reverse("profile"), {"first_name": "Daniel", "last_name": "X", "email": "erin@example.com"}
        )
        self.assertContains(response, "Another account already uses this email address.")
        response = self.client.post(
            reverse("profile"), {"first_name": "Daniel", "last_name": "X", "email": "dan2@example.com"}
        )
        self.assertRedirects(response, reverse("profile"))
        user.refresh_from_db()
        self.assertEqual((user.first_name, user.email), ("Daniel", "dan2@example.com"))

    def test_password_change(self) -> None:
        user = make_user(make_company(), SystemRole.USER)
        self.client.force_login(user)
        new = "another-long-password-9"
        response = self.client.post(
            reverse("password_change"),
            {
                "old_password": PASSWORD,
                "new_password1": new,
                "new_password2": new,
            },
        )
        self.assertRedirects(response, reverse("password_change_done"))
        user.refresh_from_db()
        self.assertTrue(user.check_password(new))


class LandingTests(TestCase):
    def test_each_role_sees_only_its_sections(self) -> None:
        company = make_company("Landing Co")
        expectations = {
            SystemRole.USER: {"New ticket": True, "Work my tasks": False, "Open the back office": False},
            SystemRole.TASK_WORKER: {
                "New ticket": False,
                "Work my tasks": True,
                "Open the back office": False,
            },
            SystemRole.TICKET_ADMIN: {
                "New ticket": False,
                "Work my tasks": False,
                "Open the back office": True,
            },
            SystemRole.WORKFLOW_CREATOR: {
                "New ticket": False,
                "Work my tasks": False,
                "Open the back office": True,
            },
            SystemRole.ADMIN: {"New ticket": False, "Work my tasks": False, "Open the back office": True},
        }
        for role, sections in expectations.items():
            user = make_user(company, role)
            self.client.force_login(user)
            response = self.client.get(reverse("home"))
            with self.subTest(role=role):
                self.assertContains(response, "Landing Co")
                self.assertContains(response, user.email)
                for text, shown in sections.items():
                    (self.assertContains if shown else self.assertNotContains)(response, text)

    def test_counts(self) -> None:
        user = make_user(make_company(), SystemRole.USER, SystemRole.TASK_WORKER)
        self.client.force_login(user)
        response = self.client.get(reverse("home"))
        self.assertEqual(response.context["nav"]["active_tickets"], 0)
        self.assertEqual(response.context["nav"]["open_tasks"], 0)

    def test_anonymous_sees_welcome(self) -> None:
        self.assertContains(self.client.get("/"), "Create your company")
