"""The one access module: every rule, for every kind of user."""

from django.contrib.auth.models import AnonymousUser
from django.test import TestCase
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import make_company, make_ticket_type, make_user, make_workflow
from tickets import access
from tickets.models import FileUpload, TicketError, TicketType
from tickets.services import submit_ticket
from workflows.models import TaskInstance, WorkflowDefinition


class AccessTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Access Co")
        cls.submitter = make_user(cls.company, SystemRole.USER)
        cls.other_submitter = make_user(cls.company, SystemRole.USER)
        cls.worker = make_user(cls.company, SystemRole.TASK_WORKER)
        cls.idle_worker = make_user(cls.company, SystemRole.TASK_WORKER)
        cls.ticket_admin = make_user(cls.company, SystemRole.TICKET_ADMIN)
        cls.company_admin = make_user(cls.company, SystemRole.ADMIN)
        cls.creator = make_user(cls.company, SystemRole.WORKFLOW_CREATOR)
        cls.inactive_admin = make_user(cls.company, SystemRole.TICKET_ADMIN, is_active=False)
        cls.superuser = make_user(None, is_superuser=True)
        cls.foreign = make_company("Foreign Co")
        cls.foreign_all = make_user(cls.foreign, *SystemRole.values)
        cls.wf = make_workflow(cls.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)])
        cls.tt = make_ticket_type(cls.company, cls.wf, fields={"type": "object"})
        with company_scope(cls.company):
            cls.ticket = submit_ticket(user=cls.submitter, ticket_type=cls.tt, data={"title": "x"})
            cls.task = TaskInstance.objects.get(workflow_instance=cls.ticket.workflow_instance)
            cls.task.assigned_to = cls.worker
            cls.task.save()
            cls.upload = FileUpload.objects.create(company=cls.company, ticket=cls.ticket, filename="a")
            cls.error = TicketError.objects.create(
                company=cls.company, ticket=cls.ticket, error_type="TASK_UPDATE", message="m"
            )

    def setUp(self) -> None:
        # Requests run inside the user's scope; the rules must hold even without it.
        self.enterContext(scopes_disabled())

    def ids(self, qs: object) -> set[int]:
        return set(qs.values_list("pk", flat=True))  # type: ignore[attr-defined]

    def test_tickets(self) -> None:
        expected = {
            self.submitter: True,
            self.other_submitter: False,
            self.worker: True,  # the assignee opens the ticket page (issue 10), cannot cancel
            self.idle_worker: False,
            self.ticket_admin: True,
            self.company_admin: True,
            self.creator: False,
            self.inactive_admin: False,
            self.superuser: False,  # pages are for company members
            self.foreign_all: False,
        }
        for user, sees in expected.items():
            with self.subTest(user=user.email):
                self.assertEqual(self.ticket.pk in self.ids(access.visible_tickets(user)), sees)
                self.assertEqual(access.may_view_ticket(user, self.ticket), sees)
                self.assertEqual(access.may_cancel_ticket(user, self.ticket), sees and user != self.worker)
        self.assertEqual(self.ids(access.visible_tickets(AnonymousUser())), set())
        self.assertEqual(self.ids(access.own_tickets(self.ticket_admin)), set())
        self.assertTrue(access.may_operate_ticket(self.ticket_admin, self.ticket))
        self.assertFalse(access.may_operate_ticket(self.submitter, self.ticket))
        self.assertFalse(access.may_operate_ticket(self.foreign_all, self.ticket))

    def test_submission(self) -> None:
        self.assertTrue(access.may_submit(self.submitter, self.tt))
        for user in (self.worker, self.ticket_admin, self.superuser, self.foreign_all):
            with self.subTest(user=user.email):
                self.assertFalse(access.may_submit(user, self.tt))
        with scopes_disabled():
            role_type = make_ticket_type(self.company, self.wf)
            role = self.company.companyrole_set.create(name="Inner")
            role_type.company_roles.set([role])
        self.assertNotIn(role_type.pk, self.ids(access.submittable_types(self.submitter)))
        self.submitter.company_roles.add(role)
        self.assertIn(role_type.pk, self.ids(access.submittable_types(self.submitter)))

    def test_tasks(self) -> None:
        expected = {
            self.worker: (True, True),
            self.idle_worker: (False, False),
            self.submitter: (False, False),
            self.ticket_admin: (True, True),
            self.inactive_admin: (False, False),
            self.superuser: (False, False),
            self.foreign_all: (False, False),
        }
        for user, (sees, completes) in expected.items():
            with self.subTest(user=user.email):
                self.assertEqual(self.task.pk in self.ids(access.visible_tasks(user)), sees)
                self.assertEqual(access.may_complete_task(user, self.task), completes)
        self.assertEqual(self.ids(access.open_tasks_for(self.worker)), {self.task.pk})
        self.assertEqual(self.ids(access.open_tasks_for(self.ticket_admin)), set())
        self.assertTrue(access.may_receive_task(self.idle_worker, self.task))
        self.assertFalse(access.may_receive_task(self.submitter, self.task))
        self.assertFalse(access.may_receive_task(self.foreign_all, self.task))
        self.assertEqual(
            self.ids(access.assignable_workers(self.task)), {self.worker.pk, self.idle_worker.pk}
        )
        self.assertEqual(
            self.ids(access.workers_seen_by(self.ticket_admin)), {self.worker.pk, self.idle_worker.pk}
        )
        self.assertIn(self.worker.pk, self.ids(access.workers_seen_by(self.superuser)))
        self.assertEqual(self.ids(access.workers_seen_by(self.submitter.__class__())), set())

    def test_attachments_follow_tickets_and_task_holders(self) -> None:
        for user, sees in {
            self.submitter: True,
            self.worker: True,  # holds a task on the ticket
            self.idle_worker: False,
            self.other_submitter: False,
            self.ticket_admin: True,
            self.superuser: False,
            self.foreign_all: False,
        }.items():
            with self.subTest(user=user.email):
                self.assertEqual(access.may_download(user, self.upload), sees)

    def test_errors_and_definitions(self) -> None:
        self.assertEqual(self.ids(access.visible_errors(self.ticket_admin)), {self.error.pk})
        for user in (self.submitter, self.worker, self.creator, self.foreign_all):
            self.assertEqual(self.ids(access.visible_errors(user)), set())
            self.assertFalse(access.may_triage_error(user, self.error))
        self.assertTrue(access.may_triage_error(self.ticket_admin, self.error))
        for user, sees, edits in (
            (self.creator, True, True),
            (self.company_admin, True, True),
            (self.ticket_admin, True, False),
            (self.worker, False, False),
            (self.foreign_all, False, False),
        ):
            with self.subTest(user=user.email):
                self.assertEqual(
                    self.wf.pk in self.ids(access.visible_definitions(user, WorkflowDefinition)), sees
                )
                self.assertEqual(self.tt.pk in self.ids(access.visible_definitions(user, TicketType)), sees)
                self.assertEqual(access.may_edit_definition(user, self.wf), edits)
        with self.assertRaises(ValueError):
            access.visible_definitions(self.creator, TicketError)

    def test_backoffice_superuser_sees_every_company(self) -> None:
        with scopes_disabled():
            qs = TicketError.objects.all()
            self.assertEqual(self.ids(access.backoffice(self.superuser, qs)), self.ids(qs))
            self.assertEqual(self.ids(access.backoffice(self.foreign_all, qs)), set())
