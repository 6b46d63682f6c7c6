"""Every back-office changelist and change page runs the same number of queries at two
data sizes."""

from django.contrib import admin
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.models import CompanyRole
from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import make_company, make_ticket_type, make_user, make_workflow
from tickets.models import FileUpload, Ticket, TicketError
from tickets.services import submit_ticket


class AdminQueryCountTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Rows Co")
        cls.admin_user = make_user(cls.company, *SystemRole.values)
        cls.rounds = 0

    def grow(self, n: int) -> None:
        for _ in range(n):
            type(self).rounds += 1
            i = self.rounds
            make_user(self.company, SystemRole.TASK_WORKER)
            with scopes_disabled():
                CompanyRole.objects.create(company=self.company, name=f"Role {i}")
            wf = make_workflow(self.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)], key=f"wf-{i}")
            tt = make_ticket_type(self.company, wf, fields={"type": "object"})
            with company_scope(self.company):
                ticket = submit_ticket(user=self.admin_user, ticket_type=tt, data={"title": f"T{i}"})
                TicketError.objects.create(
                    company=self.company, ticket=ticket, error_type="TASK_UPDATE", message="x"
                )
                FileUpload.objects.create(company=self.company, ticket=ticket, filename=f"{i}.txt")

    def counts(self) -> dict[str, int]:
        result = {}
        for model in admin.site._registry:
            opts = model._meta
            if opts.app_label not in ("accounts", "workflows", "tickets") or opts.model_name == "company":
                continue
            urls = [reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")]
            with scopes_disabled():
                first = (
                    model._default_manager.filter(company=self.company).order_by("pk").first()
                    if hasattr(model, "company")
                    else None
                )
            if first is not None:
                urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk]))
            for url in urls:
                with CaptureQueriesContext(connection) as ctx:
                    response = self.client.get(url)
                self.assertEqual(response.status_code, 200, url)
                result[url] = len(ctx.captured_queries)
        return result

    def test_query_counts_do_not_grow_with_rows(self) -> None:
        self.client.force_login(self.admin_user)
        self.grow(3)
        self.counts()  # warm per-process caches (content types) so both runs compare alike
        small = self.counts()
        self.grow(12)
        large = self.counts()
        self.assertEqual(small, large)
        with scopes_disabled():
            self.assertEqual(Ticket.objects.filter(company=self.company).count(), 15)
