"""Tenancy and the role matrix across every registered admin model."""

from typing import Any

from django.contrib import admin
from django.db import IntegrityError, transaction
from django.test import TestCase
from django.urls import reverse
from django_scopes import ScopeError, scopes_disabled

from accounts.models import CompanyRole, User
from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import PASSWORD, make_company, make_ticket_type, make_user, make_workflow
from tickets.models import FileUpload, Ticket, TicketError, TicketType, TimelineEvent
from tickets.services import submit_ticket
from workflows.models import TaskDefinition, TaskInstance, Transition, WorkflowDefinition, WorkflowInstance

COMPANY_MODELS = [
    User,
    CompanyRole,
    WorkflowDefinition,
    TaskDefinition,
    Transition,
    WorkflowInstance,
    TaskInstance,
    TicketType,
    Ticket,
    TicketError,
    FileUpload,
    TimelineEvent,
]


def build_company(name: str) -> dict[str, Any]:
    """A company with one row of every model, all named after the company."""
    company = make_company(name)
    admin_user = make_user(company, *SystemRole.values, email=f"admin@{name.lower()}.test", first_name=name)
    with scopes_disabled():
        role = CompanyRole.objects.create(company=company, name=f"{name} staff")
        wf = make_workflow(
            company,
            [{"key": "a", "title": f"{name} task"}, {"key": "b"}],
            [("a", "b", "", 0)],
            key=f"{name.lower()}-wf",
        )
        tt = make_ticket_type(company, wf, fields={"type": "object"})
    with company_scope(company):
        ticket = submit_ticket(user=admin_user, ticket_type=tt, data={"title": f"{name} ticket"})
        FileUpload.objects.create(
            company=company, ticket=ticket, filename=f"{name}.txt", uploaded_by=admin_user
        )
        TicketError.objects.create(
            company=company, ticket=ticket, error_type="TASK_UPDATE", message=f"{name} error"
        )
    with scopes_disabled():
        rows = {model: model._default_manager.filter(company=company).first() for model in COMPANY_MODELS}
    return {"company": company, "admin": admin_user, "role": role, "rows": rows, "ticket": ticket}


class AdminTenancyTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.a = build_company("Alpha")
        cls.b = build_company("Bravo")

    def setUp(self) -> None:
        self.client.force_login(self.b["admin"])

    def test_every_company_model_is_registered(self) -> None:
        for model in COMPANY_MODELS:
            self.assertIn(model, admin.site._registry, model)

    def test_foreign_change_delete_history_urls_are_404(self) -> None:
        for model, obj in self.a["rows"].items():
            self.assertIsNotNone(obj, model)
            opts = model._meta
            for view in ("change", "delete", "history"):
                with self.subTest(model=opts.label, view=view):
                    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk])
                    self.assertEqual(self.client.get(url).status_code, 404)

    def test_changelists_show_only_own_rows(self) -> None:
        for model in COMPANY_MODELS:
            opts = model._meta
            with self.subTest(model=opts.label):
                response = self.client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
                self.assertEqual(response.status_code, 200)
                pks = {o.pk for o in response.context["cl"].result_list}
                self.assertNotIn(self.a["rows"][model].pk, pks)
                self.assertIn(self.b["rows"][model].pk, pks)

    def test_filter_sidebars_and_dropdowns_hide_other_company(self) -> None:
        pages = [
            reverse("admin:workflows_taskdefinition_changelist"),
            reverse("admin:workflows_transition_changelist"),
            reverse("admin:tickets_tickettype_changelist"),
            reverse("admin:workflows_taskinstance_changelist"),
            reverse("admin:tickets_tickettype_add"),
            reverse("admin:workflows_transition_add"),
            reverse("admin:accounts_user_add"),
            reverse("admin:workflows_taskdefinition_change", args=[self.b["rows"][TaskDefinition].pk]),
        ]
        for url in pages:
            with self.subTest(url=url):
                content = self.client.get(url).content.decode()
                self.assertNotIn("Alpha", content)

    def test_autocomplete_hides_other_company(self) -> None:
        url = reverse("admin:autocomplete")
        response = self.client.get(
            url,
            {
                "app_label": "workflows",
                "model_name": "taskinstance",
                "field_name": "assigned_to",
                "term": "",
            },
        )
        self.assertEqual(response.status_code, 200)
        ids = {int(r["id"]) for r in response.json()["results"]}
        self.assertIn(self.b["admin"].pk, ids)
        self.assertNotIn(self.a["admin"].pk, ids)

    def test_foreign_key_from_other_company_is_rejected_on_save(self) -> None:
        url = reverse("admin:tickets_tickettype_add")
        response = self.client.post(
            url,
            {
                "title": "Sneaky",
                "key": "sneaky",
                "workflow": self.a["rows"][WorkflowDefinition].pk,
                "version": 1,
                "ext_ref": "[]",
                "fields": "{}",
            },
        )
        self.assertEqual(response.status_code, 200)
        self.assertFalse(TicketType._base_manager.filter(key="sneaky").exists())


class RoleMatrixTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = build_company("Gamma")

    def status(self, user: User, name: str, view: str = "changelist") -> int:
        self.client.force_login(user)
        return self.client.get(reverse(f"admin:{name}_{view}")).status_code

    def test_matrix(self) -> None:
        company = self.company["company"]
        definitions = [
            "workflows_workflowdefinition",
            "workflows_taskdefinition",
            "workflows_transition",
            "tickets_tickettype",
        ]
        runtime = [
            "tickets_ticket",
            "workflows_taskinstance",
            "tickets_ticketerror",
            "workflows_workflowinstance",
        ]
        people = ["accounts_user", "accounts_companyrole"]
        expectations = {
            SystemRole.ADMIN: {
                **{n: (200, 200) for n in definitions + people},
                **{n: (200, 403) for n in runtime},
            },
            SystemRole.WORKFLOW_CREATOR: {
                **{n: (200, 200) for n in definitions},
                **{n: (403, 403) for n in runtime},
                "accounts_user": (403, 403),
                "accounts_companyrole": (200, 403),
            },
            SystemRole.TICKET_ADMIN: {
                **{n: (200, 403) for n in definitions},
                **{n: (200, 403) for n in runtime},
                **{n: (403, 403) for n in people},
            },
        }
        for role, pages in expectations.items():
            user = make_user(company, role)
            for name, (list_status, add_status) in pages.items():
                with self.subTest(role=role, page=name):
                    self.assertEqual(self.status(user, name), list_status)
                    if name not in runtime:
                        self.assertEqual(self.status(user, name, "add"), add_status)
        for role in (SystemRole.USER, SystemRole.TASK_WORKER):
            user = make_user(company, role)
            self.client.force_login(user)
            with self.subTest(role=role):
                response = self.client.get(reverse("admin:index"))
                self.assertEqual(response.status_code, 302)
                self.assertIn("/admin/login/", response["Location"])
                self.assertEqual(self.client.get(reverse("admin:tickets_ticket_changelist")).status_code, 302)

    def test_company_admin_cannot_make_superusers_or_cross_companies(self) -> None:
        admin_user = self.company["admin"]
        other = make_company("Other")
        self.client.force_login(admin_user)
        response = self.client.post(
            reverse("admin:accounts_user_add"),
            {
                "email": "new@gamma.test",
                "password": "a-long-enough-password-1",
                "first_name": "N",
                "last_name": "U",
                "is_active": "on",
                "is_available": "on",
                "is_superuser": "on",
                "company": other.pk,
            },
        )
        self.assertEqual(response.status_code, 302, response.content[:2000])
        created = User.objects.get(email="new@gamma.test")
        self.assertFalse(created.is_superuser)
        self.assertEqual(created.company, self.company["company"])


class ScopeAndConstraintTests(TestCase):
    def test_unscoped_query_raises(self) -> None:
        for model in (WorkflowDefinition, Ticket, TaskInstance, CompanyRole):
            with self.subTest(model=model.__name__), self.assertRaises(ScopeError):
                list(model.objects.all())

    def test_uniqueness_per_company(self) -> None:
        one, two = make_company(), make_company()
        with scopes_disabled():
            CompanyRole.objects.create(company=one, name="Finance")
            CompanyRole.objects.create(company=two, name="Finance")
            WorkflowDefinition.objects.create(company=one, key="same", title="x")
            WorkflowDefinition.objects.create(company=two, key="same", title="x")
            for model, fields in (
                (CompanyRole, {"name": "Finance"}),
                (WorkflowDefinition, {"key": "same", "title": "y"}),
            ):
                with (
                    self.subTest(model=model.__name__),
                    self.assertRaises(IntegrityError),
                    transaction.atomic(),
                ):
                    model.objects.create(company=one, **fields)

    def test_duplicate_in_admin_is_a_form_error(self) -> None:
        company = make_company()
        user = make_user(company, SystemRole.ADMIN)
        with scopes_disabled():
            CompanyRole.objects.create(company=company, name="Finance")
        self.client.force_login(user)
        response = self.client.post(
            reverse("admin:accounts_companyrole_add"), {"name": "Finance", "description": ""}
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "already exists")

    def test_deactivated_user_is_anonymous_on_next_request(self) -> None:
        company = make_company()
        boss = make_user(company, SystemRole.ADMIN)
        worker = make_user(company, SystemRole.TASK_WORKER)
        self.client.post(reverse("login"), {"username": worker.email, "password": PASSWORD})
        self.assertEqual(self.client.get(reverse("home")).context["user"], worker)
        boss_client = self.client_class()
        boss_client.force_login(boss)
        response = boss_client.post(
            reverse("admin:accounts_user_change", args=[worker.pk]),
            {
                "email": worker.email,
                "first_name": "W",
                "last_name": "K",
                "is_available": "on",
                "groups": [g.pk for g in worker.groups.all()],
            },
        )
        self.assertEqual(response.status_code, 302)
        worker.refresh_from_db()
        self.assertFalse(worker.is_active)
        self.assertFalse(self.client.get(reverse("home")).context["user"].is_authenticated)
