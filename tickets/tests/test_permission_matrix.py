"""The permission matrix (issue 11 acceptance): every URL from the resolver -- the pages
and every admin URL of every registered model -- requested as anonymous, as a user of
another company holding every role, and as each role of the owning company; each answer
is compared with the expected status derived from the role matrix (accounts.roles) and
the page rules below. A new URL without a rule fails the test until it gets one."""

import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from django.contrib import admin
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import TestCase, override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django_scopes import scopes_disabled

from accounts.models import Company, CompanyRole, User
from accounts.roles import BACKOFFICE_ROLES, ROLE_PERMISSIONS, SystemRole
from accounts.tenancy import company_scope, is_company_owned
from project.testing import make_company, make_ticket_type, make_user, make_workflow
from tickets.models import FileUpload, Ticket, TicketError, TicketType, TimelineEvent
from tickets.services import storage_path, submit_ticket
from workflows.models import TaskDefinition, TaskInstance, Transition, WorkflowDefinition, WorkflowInstance

ANON, OTHER = "anonymous", "other company"
ROLES = [str(r) for r in SystemRole]

# Admins whose rows are never added or deleted in the back office (engine-made rows).
NOT_ADDABLE = {Ticket, TaskInstance, TicketError, FileUpload, TimelineEvent, WorkflowInstance}
NOT_DELETABLE = {Ticket, TaskInstance, WorkflowInstance}


def walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, prefix + str(p.pattern))
        else:
            yield prefix + str(p.pattern), p


class PermissionMatrixTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.home = make_company("Home")
        cls.users = {role: make_user(cls.home, role) for role in ROLES}
        cls.other = make_user(make_company("Other"), *ROLES)
        submitter, worker = cls.users[SystemRole.USER], cls.users[SystemRole.TASK_WORKER]
        wf = make_workflow(cls.home, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)], key="home-flow")
        cls.tt = make_ticket_type(cls.home, wf, fields={"type": "object"})
        with company_scope(cls.home):
            cls.ticket = submit_ticket(user=submitter, ticket_type=cls.tt, data={"title": "t"})
            cls.task = TaskInstance.objects.get(workflow_instance=cls.ticket.workflow_instance)
            cls.task.assigned_to = worker
            cls.task.save()
            cls.upload = FileUpload.objects.create(company=cls.home, ticket=cls.ticket, filename="a.txt")
            TicketError.objects.create(
                company=cls.home, ticket=cls.ticket, error_type="TASK_UPDATE", message="m"
            )
            CompanyRole.objects.create(company=cls.home, name="Staff")
        with scopes_disabled():
            cls.objects = {
                model: model._default_manager.filter(company=cls.home).first()
                for model in (
                    CompanyRole, WorkflowDefinition, TaskDefinition, Transition, WorkflowInstance,
                    TaskInstance, TicketType, Ticket, TicketError, FileUpload, TimelineEvent,
                )
            }  # fmt: skip
        cls.objects[User] = worker
        cls.objects[Company] = cls.home

    def setUp(self) -> None:
        media = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, media, True)
        self.enterContext(override_settings(MEDIA_ROOT=media, DEMO_ENDPOINTS_ENABLED=False))
        default_storage.save(storage_path(self.upload), ContentFile(b"hello"))

    # --- expectations -----------------------------------------------------------------

    def perms(self, who: str) -> dict[str, set[str]]:
        roles = ROLES if who == OTHER else [who]
        granted: dict[str, set[str]] = {}
        for role in roles:
            for label, actions in ROLE_PERMISSIONS[role].items():
                granted.setdefault(label, set()).update(actions)
        return granted

    def staff(self, who: str) -> bool:
        return who == OTHER or who in BACKOFFICE_ROLES

    def page_rule(self, name: str | None) -> Callable[[str], int]:
        """GET status of each page for each kind of user."""
        logged = lambda ok: lambda who: 302 if who == ANON else ok  # noqa: E731

        def role_page(role: str, row: dict[str, int] | None = None) -> Callable[[str], int]:
            def rule(who: str) -> int:
                if who == ANON:
                    return 302
                if row is not None and who in row:
                    return row[who]
                return 200 if who in (role, OTHER) else 403

            return rule

        managers: dict[str, int] = {SystemRole.ADMIN: 200, SystemRole.TICKET_ADMIN: 200}
        rules: dict[str | None, Callable[[str], int]] = {
            "home": lambda who: 200,
            "signup": lambda who: 200 if who == ANON else 302,
            "login": lambda who: 200 if who == ANON else 302,
            "logout": lambda who: 405,
            "password_reset": lambda who: 200,
            "password_reset_done": lambda who: 200,
            "password_reset_confirm": lambda who: 200,  # invalid link page
            "invite_accept": lambda who: 200,  # invalid link page
            "password_reset_complete": lambda who: 200,
            "profile": logged(200),
            "password_change": logged(200),
            "password_change_done": logged(200),
            "callback": lambda who: 405,
            "demo_budget_check": lambda who: 405,
            "demo_provision_account": lambda who: 405,
            None: lambda who: 301,  # favicon
            "ticket_list": role_page(SystemRole.USER),
            "ticket_archive": role_page(SystemRole.USER),
            "ticket_new": role_page(SystemRole.USER),
            "ticket_submit": role_page(SystemRole.USER, {OTHER: 404}),
            # The submitter's own ticket: the submitter and ticket managers; nobody else.
            # The assignee of a task on it sees it too (issue 10), but gets no cancel form.
            "ticket_detail": role_page(SystemRole.USER, {OTHER: 404, **managers, SystemRole.TASK_WORKER: 200, SystemRole.WORKFLOW_CREATOR: 404}),
            "ticket_cancel": role_page(SystemRole.USER, {OTHER: 404, **managers, SystemRole.TASK_WORKER: 404, SystemRole.WORKFLOW_CREATOR: 404}),
            # The file: the submitter, the worker holding a task on the ticket, managers.
            "attachment_download": role_page(SystemRole.USER, {OTHER: 404, **managers, SystemRole.TASK_WORKER: 200, SystemRole.WORKFLOW_CREATOR: 404}),
            # Open to every company member (a submitter asked to rework, queue members);
            # which rows each one sees is tickets.access.
            "task_list": logged(200),
            "task_claim": logged(405),
            "task_release": logged(405),
            "task_availability": role_page(SystemRole.TASK_WORKER, {SystemRole.TASK_WORKER: 405, OTHER: 405}),
            # Any member may open task pages; a task not theirs (nor their queue's) is 404.
            "task_detail": role_page(SystemRole.TASK_WORKER, {OTHER: 404, **managers, SystemRole.USER: 404, SystemRole.WORKFLOW_CREATOR: 404}),
            "template_gallery": role_page(SystemRole.WORKFLOW_CREATOR, {SystemRole.ADMIN: 200}),
            # Issue 12: POST-only endpoints answer a logged-in GET with 405; the lists are
            # everyone's own (another company's notices are covered in test_notifications).
            "comment_add": logged(405),
            "notification_list": logged(200),
            "notification_read": logged(405),
            "notification_read_all": logged(405),
            "notification_preferences": logged(200),
            "template_install": role_page(SystemRole.WORKFLOW_CREATOR, {SystemRole.ADMIN: 405, SystemRole.WORKFLOW_CREATOR: 405, OTHER: 405}),
        }  # fmt: skip
        if name not in rules:
            raise AssertionError(f"No permission rule for the page {name!r}: add one to this test.")
        return rules[name]

    def api_rule(self, name: str | None) -> Callable[[str], int]:
        """The JSON API (api/) takes a session as well as an API key; it follows the same
        access module, answering 401 without credentials and 404 for rows out of reach."""
        everyone = {
            SystemRole.ADMIN,
            SystemRole.USER,
            SystemRole.TICKET_ADMIN,
            SystemRole.TASK_WORKER,
            SystemRole.WORKFLOW_CREATOR,
            OTHER,
        }
        managers = {SystemRole.ADMIN, SystemRole.TICKET_ADMIN, OTHER}
        definitions = {SystemRole.ADMIN, SystemRole.TICKET_ADMIN, SystemRole.WORKFLOW_CREATOR, OTHER}

        def api(ok: set[str], *, elsewhere: int = 403, other: int | None = None) -> Callable[[str], int]:
            def rule(who: str) -> int:
                if who == ANON:
                    return 401
                if who == OTHER and other is not None:
                    return other
                return 200 if who in ok else elsewhere

            return rule

        post_only = (
            "validate_bundle",
            "dry_run",
            "import_bundle",
            "cancel_ticket",
            "complete_task",
            "claim_task",
            "release_task",
            "retry_error",
        )
        if name in post_only:
            return lambda who: 405
        rules: dict[str | None, Callable[[str], int]] = {
            "openapi-json": lambda who: 200,
            "openapi-view": lambda who: 200,
            "api-root": lambda who: 404,
            "bundle_schema": lambda who: 200,  # the published JSON Schema
            "bundle_export": api(definitions),
            "export_bundle": api(definitions),
            "ticket_types": api(everyone),  # filtered to what the user may submit
            "list_tickets": api(everyone),  # filtered to what the user may see
            "submit_ticket": api(everyone),  # same path: a GET lists
            "get_ticket": api({SystemRole.USER, SystemRole.ADMIN, SystemRole.TICKET_ADMIN, SystemRole.TASK_WORKER}, elsewhere=404, other=404),
            # The conversation opens to whoever sees the ticket (the same rows as get_ticket).
            "list_comments": api({SystemRole.USER, SystemRole.ADMIN, SystemRole.TICKET_ADMIN, SystemRole.TASK_WORKER}, elsewhere=404, other=404),
            "add_comment": api({SystemRole.USER, SystemRole.ADMIN, SystemRole.TICKET_ADMIN, SystemRole.TASK_WORKER}, elsewhere=404, other=404),  # same path: a GET lists
            "my_tasks": api(everyone),
            "claimable_tasks": api(everyone),  # filtered to the queues of the user's roles
            "get_task": api({SystemRole.TASK_WORKER, SystemRole.ADMIN, SystemRole.TICKET_ADMIN}, elsewhere=404, other=404),
            "list_errors": api(managers),
        }  # fmt: skip
        if name not in rules:
            raise AssertionError(f"No permission rule for the API operation {name!r}: add one to this test.")
        return rules[name]

    def admin_rule(self, path: str, name: str | None) -> Callable[[str], int] | None:
        parts = path.split("/")  # admin/<app>/<model>/...
        model_admin = None
        if len(parts) > 3:
            model_admin = next(
                (ma for m, ma in admin.site._registry.items() if (m._meta.app_label, m._meta.model_name) == (parts[1], parts[2])),
                None,
            )  # fmt: skip
        if model_admin is None:  # site-wide admin pages: index, password change, autocomplete
            if path in ("admin/login/", "admin/logout/"):
                return None  # the admin's own login/logout forms (project/errors.py tests)
            if name == "autocomplete":  # without its parameters: refused (tenancy tests cover it)
                return lambda who: 403 if self.staff(who) else 302
            return lambda who: 200 if self.staff(who) else 302
        model = model_admin.model
        label = model._meta.label_lower
        if label == "api.apikey":  # API keys are managed by company admins (api/admin.py)
            admins = {SystemRole.ADMIN, OTHER}
            if "<path:object_id>" in path:
                return None  # no key in the fixture; api tests cover key tenancy
            return lambda who: 302 if not self.staff(who) else (200 if who in admins else 403)
        kind = (name or "").removeprefix(f"{model._meta.app_label}_{model._meta.model_name}_")
        on_object = "<path:object_id>" in path
        if name is None:
            return None  # the bare "<id>/" pattern only redirects to "<id>/change/"
        if on_object and model not in self.objects:
            return None  # global, superuser-only rows (task results, axes logs): no roles

        def rule(who: str) -> int:
            if not self.staff(who):
                return 302
            granted = self.perms(who).get(label, set())
            if on_object and model is Company:
                return 404  # superusers only: no company id is confirmed to anyone else
            if on_object and who == OTHER and (is_company_owned(model) or model is User):
                return 404
            needed = {
                "changelist": {"view", "change"},
                "change": {"view", "change"},
                "history": {"view", "change"},
                "add": set() if model in NOT_ADDABLE else {"add"},
                "delete": set() if model in NOT_DELETABLE else {"delete"},
                "import": {"add"},
                "process_import": {"add"},
                "export": {"view"},
                "export_all": {"view"},
                "export_one": {"view"},
                "versions": {"view", "change"},  # read-only pages of a workflow
                "dry_run": {"view", "change"},
                "upload_bundle": {"add"},
            }.get(kind, {"change"})  # detail actions ask for change
            if kind == "process_import":
                return 405  # POST only, answered before any other check
            return 200 if granted & needed else 403

        return rule

    # --- the matrix -------------------------------------------------------------------

    def url_for(self, path: str) -> str:
        values = {
            "<int:type_id>": self.tt.pk,
            "<int:ticket_id>": self.ticket.pk,
            "<int:task_id>": self.task.pk,
            "<int:upload_id>": self.upload.pk,
            "<uuid:task_uuid>": self.task.uuid,
            "<uidb64>": "MQ",
            "<token>": "set-password-invalid",
            "<slug:key>": "it-support",
            "<ticket_id>": self.ticket.pk,
            "<task_id>": self.task.pk,
            "<error_id>": 1,
            "<int:notification_id>": 999999,
        }
        if path.startswith("admin/") and "<path:object_id>" in path:
            parts = path.split("/")
            model = next(
                m
                for m in admin.site._registry
                if (m._meta.app_label, m._meta.model_name) == (parts[1], parts[2])
            )
            obj = self.objects.get(model)
            values["<path:object_id>"] = obj.pk if obj is not None else 999999
        for placeholder, value in values.items():
            path = path.replace(placeholder, str(value))
        path = path.replace("^", "").replace("$", "")
        assert "<" not in path, path
        return "/" + path

    def test_every_url_for_every_kind_of_user(self) -> None:
        cases: list[tuple[str, Callable[[str], int]]] = []
        for path, pattern in walk(get_resolver().url_patterns):
            if "(?P<" in path or path.startswith(("static/", "media/", "admin/r/")):
                continue  # the admin's regex catch-alls (app index) and view-on-site redirect
            rule: Callable[[str], int] | None
            if path.startswith("api/v1/"):
                rule = self.api_rule(pattern.name)
            elif path.startswith("admin/"):
                rule = self.admin_rule(path, pattern.name)
            else:
                rule = self.page_rule(pattern.name)
            if rule is not None:
                cases.append((self.url_for(path), rule))
        self.assertGreater(len(cases), 100)
        wrong: list[str] = []
        for who in [ANON, OTHER, *ROLES]:
            if who == ANON:
                self.client.logout()
            else:
                self.client.force_login(self.other if who == OTHER else self.users[who])
            for url, rule in cases:
                expected, got = rule(who), self.client.get(url).status_code
                if got != expected:
                    wrong.append(f"{who:>16}  GET {url}: {got}, expected {expected}")
        self.assertEqual(wrong, [], "\n" + "\n".join(wrong))
