"""The security findings of issue 11, each reproduced first, then fixed."""

from django.test import TestCase
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import make_company, make_ticket_type, make_user, make_workflow
from tickets.models import FileUpload
from tickets.services import submit_ticket


class SecurityTestCase(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Sec Co")
        cls.submitter = make_user(cls.company, SystemRole.USER)
        cls.worker = make_user(cls.company, SystemRole.TASK_WORKER)
        cls.ticket_admin = make_user(cls.company, SystemRole.TICKET_ADMIN)
        cls.superuser = make_user(None, is_superuser=True)
        cls.wf = make_workflow(cls.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)])
        cls.tt = make_ticket_type(cls.company, cls.wf, fields={"type": "object"})
        with company_scope(cls.company):
            cls.ticket = submit_ticket(user=cls.submitter, ticket_type=cls.tt, data={"title": "Help"})
            cls.upload = FileUpload.objects.create(
                company=cls.company, ticket=cls.ticket, filename="a.txt", uploaded_by=cls.submitter
            )


class SuperuserOnUserPagesTests(SecurityTestCase):
    """Finding 7: a platform superuser (no company) got a 500 from `company_id_of`."""

    def test_ticket_detail_cancel_and_attachment_are_404_not_500(self) -> None:
        self.client.force_login(self.superuser)
        for url in (
            reverse("ticket_detail", args=[self.ticket.pk]),
            reverse("attachment_download", args=[self.upload.pk]),
        ):
            with self.subTest(url=url):
                self.assertEqual(self.client.get(url).status_code, 404)
        response = self.client.post(reverse("ticket_cancel", args=[self.ticket.pk]))
        self.assertEqual(response.status_code, 404)
        with scopes_disabled():
            self.ticket.workflow_instance.refresh_from_db()
            self.assertEqual(self.ticket.workflow_instance.status, "IN_PROGRESS")

    def test_role_pages_refuse_with_a_page_not_a_crash(self) -> None:
        self.client.force_login(self.superuser)
        for name in ("ticket_new", "ticket_list", "ticket_archive", "task_list"):
            with self.subTest(name=name):
                self.assertEqual(self.client.get(reverse(name)).status_code, 403)
        self.assertEqual(self.client.get(reverse("home")).status_code, 200)
