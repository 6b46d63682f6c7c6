"""The back office: ticket-admin actions, dashboard, definitions, bundles, import/export."""

import json
from datetime import timedelta
from time import monotonic
from unittest import mock

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import make_company, make_ticket_type, make_user, make_workflow, run_queued_tasks
from tickets import dashboard
from tickets.models import ErrorStatus, Ticket, TicketError, TicketType
from tickets.services import submit_ticket
from tickets.tests.test_bundles import base
from workflows.models import TaskInstance, TaskStatus, TaskType, WorkflowDefinition, WorkflowStatus


class BackOfficeTestCase(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Back Co")
        cls.ticket_admin = make_user(cls.company, SystemRole.TICKET_ADMIN)
        cls.creator = make_user(cls.company, SystemRole.WORKFLOW_CREATOR)
        cls.submitter = make_user(cls.company, SystemRole.USER)
        cls.worker = make_user(cls.company, SystemRole.TASK_WORKER)
        cls.worker2 = make_user(cls.company, SystemRole.TASK_WORKER)
        cls.wf = make_workflow(cls.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)], key="flow")
        cls.tt = make_ticket_type(cls.company, cls.wf, fields={"type": "object"})
        cls.other = make_company("Other Co")
        cls.other_admin = make_user(cls.other, *SystemRole.values)
        cls.other_wf = make_workflow(cls.other, [{"key": "x"}], key="secret-flow")

    def ticket(self) -> Ticket:
        with company_scope(self.company), self.captureOnCommitCallbacks(execute=True):
            return submit_ticket(user=self.submitter, ticket_type=self.tt, data={"title": "t"})

    def task_of(self, ticket: Ticket) -> TaskInstance:
        with scopes_disabled():
            task = ticket.workflow_instance.tasks.order_by("-id").first()
        assert task is not None
        return task


class TicketActionTests(BackOfficeTestCase):
    def changelist_action(self, name: str, tickets: list[Ticket]) -> object:
        return self.client.post(
            reverse("admin:tickets_ticket_changelist"),
            {
                "action": name,
                "_selected_action": [t.pk for t in tickets],
                "confirm": "yes",
                "reason": "Test",
            },
        )

    def test_hold_resume_cancel_as_bulk_actions(self) -> None:
        ticket = self.ticket()
        self.client.force_login(self.ticket_admin)
        for name, expected in (
            ("hold_selected", "ON_HOLD"),
            ("resume_selected", "IN_PROGRESS"),
            ("cancel_selected", "CANCELLED"),
        ):
            self.changelist_action(name, [ticket])
            ticket.workflow_instance.refresh_from_db()
            self.assertEqual(ticket.workflow_instance.status, expected, name)

    def test_workflow_creator_cannot_run_ticket_actions(self) -> None:
        ticket = self.ticket()
        self.client.force_login(self.creator)
        self.assertEqual(self.changelist_action("cancel_selected", [ticket]).status_code, 403)  # type: ignore[attr-defined]
        url = reverse("admin:tickets_ticket_cancel_detail", args=[ticket.pk])
        self.assertEqual(self.client.get(url).status_code, 403)
        ticket.workflow_instance.refresh_from_db()
        self.assertEqual(ticket.workflow_instance.status, WorkflowStatus.IN_PROGRESS)

    @override_settings(ACTIONS_ALLOW_PRIVATE_NETWORKS=False)
    def test_retry_from_the_ticket_page(self) -> None:
        wf = make_workflow(
            self.company,
            [{"key": "call", "task_type": TaskType.SYNC_ACTION, "action_url": "http://10.0.0.1/x"}],
        )
        tt = make_ticket_type(self.company, wf, fields={"type": "object"})
        with company_scope(self.company), self.captureOnCommitCallbacks(execute=True):
            ticket = submit_ticket(user=self.submitter, ticket_type=tt, data={})
        with company_scope(self.company), self.captureOnCommitCallbacks(execute=True):
            run_queued_tasks()
        ticket.workflow_instance.refresh_from_db()
        self.assertEqual(ticket.workflow_instance.status, WorkflowStatus.ON_HOLD)
        self.client.force_login(self.ticket_admin)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(reverse("admin:tickets_ticket_retry_detail", args=[ticket.pk]))
        self.assertEqual(response.status_code, 302)
        task = self.task_of(ticket)
        self.assertEqual(task.status, TaskStatus.OPEN)
        with scopes_disabled():
            self.assertEqual(set(ticket.errors.values_list("status", flat=True)), {ErrorStatus.RESOLVED})

    def test_reassign_and_complete_by_hand_pages(self) -> None:
        ticket = self.ticket()
        task = self.task_of(ticket)
        self.client.force_login(self.ticket_admin)
        url = reverse("admin:workflows_taskinstance_reassign_detail", args=[task.pk])
        self.assertContains(self.client.get(url), "Reassign")
        target = self.worker2 if task.assigned_to == self.worker else self.worker
        self.client.post(url, {"assignee": target.pk})
        task.refresh_from_db()
        self.assertEqual(task.assigned_to, target)
        # Another company's worker is not a choice.
        self.client.post(url, {"assignee": self.other_admin.pk})
        task.refresh_from_db()
        self.assertEqual(task.assigned_to, target)
        url = reverse("admin:workflows_taskinstance_complete_detail", args=[task.pk])
        self.assertContains(self.client.post(url, {"output": "[1]"}), "must be a JSON object")
        self.client.post(url, {"output": json.dumps({"done": True})})
        task.refresh_from_db()
        self.assertEqual(task.status, TaskStatus.COMPLETED)
        self.client.force_login(self.creator)
        self.assertEqual(self.client.get(url).status_code, 403)

    def test_other_company_objects_are_404_for_detail_actions(self) -> None:
        with company_scope(self.other):
            tt = make_ticket_type(self.other, self.other_wf, fields={"type": "object"})
            foreign = submit_ticket(user=self.other_admin, ticket_type=tt, data={})
        self.client.force_login(self.ticket_admin)
        self.assertEqual(
            self.client.get(reverse("admin:tickets_ticket_cancel_detail", args=[foreign.pk])).status_code, 404
        )
        task = self.task_of(foreign)
        self.assertEqual(
            self.client.get(
                reverse("admin:workflows_taskinstance_reassign_detail", args=[task.pk])
            ).status_code,
            404,
        )

    def test_filters_and_task_views(self) -> None:
        with_error = self.ticket()
        plain = self.ticket()
        with scopes_disabled():
            TicketError.objects.create(
                company=self.company, ticket=with_error, error_type="TASK_UPDATE", message="x"
            )
        old = self.task_of(plain)
        TaskInstance._base_manager.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=5))
        TaskInstance._base_manager.filter(pk=self.task_of(with_error).pk).update(assigned_to=None)
        self.client.force_login(self.ticket_admin)

        def ids(url: str, **params: str) -> set[int]:
            response = self.client.get(url, params)
            self.assertEqual(response.status_code, 200)
            return {o.pk for o in response.context["cl"].result_list}

        tickets_url = reverse("admin:tickets_ticket_changelist")
        self.assertEqual(ids(tickets_url, open_error="yes"), {with_error.pk})
        self.assertEqual(ids(tickets_url, open_error="no"), {plain.pk})
        self.assertEqual(ids(tickets_url, assignee="none"), {with_error.pk})
        self.assertEqual(ids(tickets_url, status="IN_PROGRESS"), {with_error.pk, plain.pk})
        tasks_url = reverse("admin:workflows_taskinstance_changelist")
        self.assertEqual(ids(tasks_url, view="unassigned"), {self.task_of(with_error).pk})
        self.assertEqual(ids(tasks_url, view="overdue"), {old.pk})


class ErrorTriageTests(BackOfficeTestCase):
    def test_status_moves_forward_with_notes(self) -> None:
        ticket = self.ticket()
        with scopes_disabled():
            error = TicketError.objects.create(
                company=self.company, ticket=ticket, error_type="TASK_UPDATE", message="boom"
            )
        self.client.force_login(self.ticket_admin)
        url = reverse("admin:tickets_ticketerror_change", args=[error.pk])
        self.client.post(url, {"status": "REVIEWED", "resolution_notes": "looking"})
        error.refresh_from_db()
        self.assertEqual((error.status, error.resolution_notes), ("REVIEWED", "looking"))
        response = self.client.post(url, {"status": "NEW", "resolution_notes": ""})
        self.assertContains(response, "only moves forward")
        self.client.post(
            reverse("admin:tickets_ticketerror_changelist"),
            {"action": "mark_resolved", "_selected_action": [error.pk]},
        )
        error.refresh_from_db()
        self.assertEqual(error.status, "RESOLVED")


class DashboardTests(BackOfficeTestCase):
    def test_figures_and_constant_query_count(self) -> None:
        self.client.force_login(self.ticket_admin)

        def load() -> tuple[int, object]:
            dashboard._figures.clear()  # a fresh read each time (they are kept 30 s)
            with CaptureQueriesContext(connection) as ctx:
                response = self.client.get(reverse("admin:index"))
            self.assertEqual(response.status_code, 200)
            return len(ctx.captured_queries), response

        for _ in range(3):
            self.ticket()
        small, response = load()
        self.assertContains(response, "Tickets created per day")  # type: ignore[arg-type]
        self.assertEqual(response.context["tf_new_errors"], 0)  # type: ignore[attr-defined]
        for _ in range(20):
            ticket = self.ticket()
            with scopes_disabled():
                TicketError.objects.create(
                    company=self.company, ticket=ticket, error_type="TASK_UPDATE", message="x"
                )
        large, response = load()
        self.assertEqual(small, large)
        self.assertEqual(response.context["tf_new_errors"], 20)  # type: ignore[attr-defined]
        by_status = {label: n for _, label, n in response.context["tf_by_status"]}  # type: ignore[attr-defined]
        self.assertEqual(by_status["In progress"], 23)
        # Each counter links to the matching filtered list; the chart shows its y-axis.
        self.assertContains(response, "/admin/tickets/ticket/?status=IN_PROGRESS")  # type: ignore[arg-type]
        self.assertTrue(json.loads(response.context["tf_chart"])["datasets"][0]["displayYAxis"])  # type: ignore[attr-defined]
        chart = json.loads(response.context["tf_chart"])  # type: ignore[attr-defined]
        self.assertEqual(sum(chart["datasets"][0]["data"]), 23)
        # A worker's row links to the task list filtered to them, with as many open tasks.
        worker_id, _, n = response.context["tf_per_worker"][0]  # type: ignore[attr-defined]
        link = reverse("admin:workflows_taskinstance_changelist") + f"?assignee={worker_id}"
        self.assertContains(response, link)  # type: ignore[arg-type]
        self.assertEqual(len(self.client.get(link).context["cl"].result_list), n)  # type: ignore[attr-defined]
        # Another company's tickets never count.
        self.client.force_login(self.other_admin)
        _, response = load()
        self.assertEqual(response.context["tf_new_errors"], 0)  # type: ignore[attr-defined]

    def test_figures_are_kept_briefly_per_company(self) -> None:
        dashboard._figures.clear()
        url = reverse("admin:index")
        self.client.force_login(self.ticket_admin)
        self.assertEqual(self.client.get(url).context["tf_new_errors"], 0)  # type: ignore[attr-defined]
        ticket = self.ticket()
        with scopes_disabled():
            TicketError.objects.create(
                company=self.company, ticket=ticket, error_type="TASK_UPDATE", message="x"
            )
        # Within CACHE_SECONDS the page shows the figures read before, and reads none.
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.get(url)
        self.assertEqual(response.context["tf_new_errors"], 0)  # type: ignore[attr-defined]
        self.assertFalse([q for q in ctx.captured_queries if "tickets_ticketerror" in q["sql"]])
        self.assertContains(response, 'data-testid="as-of"')
        # Another company's admin gets their own figures, not the cached ones.
        self.client.force_login(self.other_admin)
        other_type = make_ticket_type(self.other, self.other_wf, fields={"type": "object"})
        with company_scope(self.other), self.captureOnCommitCallbacks(execute=True):
            other = submit_ticket(user=self.other_admin, ticket_type=other_type, data={"title": "o"})
        with scopes_disabled():
            for _ in range(2):
                TicketError.objects.create(
                    company=self.other, ticket=other, error_type="TASK_UPDATE", message="y"
                )
        self.assertEqual(self.client.get(url).context["tf_new_errors"], 2)  # type: ignore[attr-defined]
        # Once they are older than that, the next view reads them again.
        self.client.force_login(self.ticket_admin)
        later = monotonic() + dashboard.CACHE_SECONDS + 1
        with mock.patch("tickets.dashboard.monotonic", return_value=later):
            self.assertEqual(self.client.get(url).context["tf_new_errors"], 1)  # type: ignore[attr-defined]


class DefinitionAdminTests(BackOfficeTestCase):
    def test_jsonform_widgets_and_code_fields(self) -> None:
        self.client.force_login(self.creator)
        with scopes_disabled():
            task = self.wf.tasks.get(key="a")
        content = self.client.get(
            reverse("admin:workflows_taskdefinition_change", args=[task.pk])
        ).content.decode()
        for name in ("ext_ref", "input_schema", "output_schema", "input_transform", "output_transform"):
            self.assertRegex(content, rf'name="{name}"[^>]*data-django-jsonform', name)
        self.assertIn("font-mono", content)
        content = self.client.get(
            reverse("admin:tickets_tickettype_change", args=[self.tt.pk])
        ).content.decode()
        self.assertRegex(content, r'name="fields"[^>]*data-django-jsonform')

    def test_saving_runs_the_validator(self) -> None:
        self.client.force_login(self.creator)
        with scopes_disabled():
            task = self.wf.tasks.get(key="b")
        url = reverse("admin:workflows_taskdefinition_change", args=[task.pk])
        response = self.client.post(
            url,
            {
                "workflow": self.wf.pk,
                "key": "b",
                "title": "B",
                "task_type": "SYNC_ACTION",
                "action_url": "",
                "version": 1,
                "ext_ref": "[]",
                "input_schema": "{}",
                "output_schema": "{}",
                "input_transform": json.dumps({"x": "ticket.["}),
                "output_transform": "{}",
            },
            follow=True,
        )
        text = response.content.decode()
        self.assertIn("is not ready yet", text)
        self.assertIn("An automatic task needs the address (action URL) it calls.", text)
        self.assertIn("Detail: $.workflows[0].tasks[1].action_url", text)
        self.assertIn("needs an action URL", text)
        self.assertIn("Invalid JMESPath", text)

    def test_schema_editor_prunes_empty_values(self) -> None:
        from tickets.forms import prune_empty

        value = {
            "type": "object",
            "properties": {"a": {"type": "string", "title": "", "enum": [], "minimum": None}},
            "required": [],
        }
        self.assertEqual(prune_empty(value), {"type": "object", "properties": {"a": {"type": "string"}}})

    def test_ticket_admin_reads_but_cannot_change_definitions(self) -> None:
        self.client.force_login(self.ticket_admin)
        self.assertEqual(
            self.client.get(
                reverse("admin:workflows_workflowdefinition_change", args=[self.wf.pk])
            ).status_code,
            200,
        )
        self.assertEqual(
            self.client.get(reverse("admin:workflows_workflowdefinition_upload_bundle")).status_code, 403
        )
        self.assertEqual(self.client.get(reverse("admin:workflows_workflowdefinition_add")).status_code, 403)


class BundleAdminTests(BackOfficeTestCase):
    url = "admin:workflows_workflowdefinition_upload_bundle"

    def test_upload_check_then_confirm(self) -> None:
        self.client.force_login(self.creator)
        bundle = base()
        bundle["workflows"][0]["key"] = "uploaded"
        bundle["ticket_types"][0]["workflow"] = "uploaded"
        upload = SimpleUploadedFile("b.json", json.dumps(bundle).encode())
        response = self.client.post(reverse(self.url), {"file": upload})
        self.assertContains(response, "The bundle is valid")
        with scopes_disabled():
            self.assertFalse(WorkflowDefinition.objects.filter(key="uploaded").exists())
        response = self.client.post(reverse(self.url), {"text": json.dumps(bundle), "confirm": "1"})
        self.assertRedirects(response, reverse("admin:workflows_workflowdefinition_changelist"))
        with scopes_disabled():
            self.assertEqual(WorkflowDefinition.objects.get(key="uploaded").company, self.company)

    def test_invalid_upload_lists_problems_and_writes_nothing(self) -> None:
        self.client.force_login(self.creator)
        bundle = base()
        bundle["workflows"][0]["tasks"][0].pop("start")
        response = self.client.post(reverse(self.url), {"text": json.dumps(bundle), "confirm": "1"})
        self.assertContains(response, "$.workflows[0].tasks")
        self.assertContains(response, "No start task")
        self.assertContains(self.client.post(reverse(self.url), {"text": "{oops"}), "Not valid JSON")
        with scopes_disabled():
            self.assertFalse(WorkflowDefinition.objects.filter(company=self.company, key="wf").exists())

    def test_export_buttons_are_scoped(self) -> None:
        self.client.force_login(self.creator)
        response = self.client.get(
            reverse("admin:workflows_workflowdefinition_export_one", args=[self.wf.pk])
        )
        self.assertEqual(json.loads(response.content)["workflows"][0]["key"], "flow")
        foreign = reverse("admin:workflows_workflowdefinition_export_one", args=[self.other_wf.pk])
        self.assertEqual(self.client.get(foreign).status_code, 404)
        everything = json.loads(
            self.client.get(reverse("admin:workflows_workflowdefinition_export_all")).content
        )
        self.assertEqual([w["key"] for w in everything["workflows"]], ["flow"])


class ImportExportAdminTests(BackOfficeTestCase):
    def test_csv_export_is_scoped_and_uses_keys(self) -> None:
        self.client.force_login(self.creator)
        response = self.client.post(
            reverse("admin:workflows_taskdefinition_export"),
            {
                "format": "0",
                "resource": "0",
                **{f"taskresource_{f}": "on" for f in ("workflow", "key", "title", "task_type")},
            },
        )
        self.assertEqual(response.status_code, 200, response.content[:500])
        text = response.content.decode()
        self.assertIn("flow", text)
        self.assertNotIn("secret-flow", text)

    def preview(self, csv: str):  # type: ignore[no-untyped-def]
        response = self.client.post(
            reverse("admin:workflows_taskdefinition_import"),
            {"format": "0", "resource": "0", "import_file": SimpleUploadedFile("t.csv", csv.encode())},
        )
        self.assertEqual(response.status_code, 200)
        return response

    def test_csv_import_preview_rejects_other_company_keys(self) -> None:
        self.client.force_login(self.creator)
        csv = "workflow,key,title,task_type\nflow,c,C,FORM\nsecret-flow,z,Z,FORM\n"
        response = self.preview(csv)
        result = response.context["result"]
        self.assertTrue(result.has_validation_errors() or result.has_errors())
        with scopes_disabled():
            self.assertFalse(self.other_wf.tasks.filter(key="z").exists())
            self.assertFalse(self.wf.tasks.filter(key="c").exists())

    def test_csv_import_of_own_rows(self) -> None:
        self.client.force_login(self.creator)
        csv = "workflow,key,title,task_type\nflow,c,C,FORM\n"
        response = self.preview(csv)
        result = response.context["result"]
        self.assertFalse(result.has_errors() or result.has_validation_errors(), result.invalid_rows)
        confirm = response.context["confirm_form"]
        response = self.client.post(reverse("admin:workflows_taskdefinition_process_import"), confirm.initial)
        self.assertEqual(response.status_code, 302)
        with scopes_disabled():
            task = self.wf.tasks.get(key="c")
        self.assertEqual(task.company, self.company)


class ResourceImportTests(BackOfficeTestCase):
    """Each definition resource imports by key, inside the importer's company only."""

    def run_import(self, model: str, csv: str) -> object:
        self.client.force_login(self.creator)
        response = self.client.post(
            reverse(f"admin:{model}_import"),
            {"format": "0", "resource": "0", "import_file": SimpleUploadedFile("rows.csv", csv.encode())},
        )
        self.assertEqual(response.status_code, 200)
        result = response.context["result"]
        if result.has_errors() or result.has_validation_errors():
            return result
        response = self.client.post(
            reverse(f"admin:{model}_process_import"), response.context["confirm_form"].initial
        )
        self.assertEqual(response.status_code, 302)
        return result

    def test_workflow_transition_and_ticket_type_rows(self) -> None:
        self.run_import("workflows_workflowdefinition", "key,title\nflow,Flow renamed\nnew-flow,New flow\n")
        with scopes_disabled():
            self.assertEqual(
                WorkflowDefinition.objects.get(company=self.company, key="flow").title, "Flow renamed"
            )
            self.assertTrue(WorkflowDefinition.objects.filter(company=self.company, key="new-flow").exists())
            self.assertEqual(
                WorkflowDefinition.objects.get(company=self.other, key="secret-flow").title, "Test workflow"
            )
        self.run_import(
            "workflows_transition", "workflow,from_task,to_task,condition,priority\nflow,a,b,output.ok,5\n"
        )
        with scopes_disabled():
            transition = self.wf.transitions.get()
        self.assertEqual((transition.condition, transition.priority), ("output.ok", 5))
        self.run_import("tickets_tickettype", "key,title,workflow\nnew-type,New type,new-flow\n")
        with scopes_disabled():
            self.assertEqual(
                TicketType.objects.get(company=self.company, key="new-type").workflow.key, "new-flow"
            )

    def test_rows_naming_another_companys_keys_are_errors(self) -> None:
        result = self.run_import("tickets_tickettype", "key,title,workflow\nsneaky,Sneaky,secret-flow\n")
        self.assertTrue(result.has_validation_errors() or result.has_errors())  # type: ignore[attr-defined]
        result = self.run_import("workflows_transition", "workflow,from_task,to_task\nsecret-flow,x,x\n")
        self.assertTrue(result.has_validation_errors() or result.has_errors())  # type: ignore[attr-defined]
        with scopes_disabled():
            self.assertFalse(TicketType.objects.filter(key="sneaky").exists())
            self.assertEqual(self.other_wf.transitions.count(), 0)


class TicketPageTests(BackOfficeTestCase):
    def test_tasks_and_timeline_are_shown_escaped_and_bounded(self) -> None:
        from tickets.admin.tickets import TIMELINE_ROWS
        from tickets.models import TimelineEvent

        ticket = self.ticket()
        with scopes_disabled():
            for i in range(TIMELINE_ROWS + 5):
                TimelineEvent.objects.create(
                    company=self.company, ticket=ticket, kind="note", message=f"<b>n{i}</b>"
                )
        self.client.force_login(self.ticket_admin)
        response = self.client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk]))
        content = response.content.decode()
        self.assertIn(reverse("admin:workflows_taskinstance_change", args=[self.task_of(ticket).pk]), content)
        self.assertIn("&lt;b&gt;n104&lt;/b&gt;", content)
        self.assertNotIn("<b>n104</b>", content)
        self.assertNotIn("&lt;b&gt;n0&lt;/b&gt;", content)  # beyond the latest 100
        self.assertIn("All events of this ticket", content)


class TimelineListTests(BackOfficeTestCase):
    """The company's events, newest first; the kind filter offers the kinds of its own
    newest events only, and filters within the company."""

    def test_newest_first_and_the_kind_filter_stays_in_the_company(self) -> None:
        from tickets.models import TimelineEvent

        mine = self.ticket()
        other_tt = make_ticket_type(self.other, self.other_wf, fields={"type": "object"})
        with company_scope(self.other):
            theirs = submit_ticket(user=self.other_admin, ticket_type=other_tt, data={"title": "x"})
        with scopes_disabled():
            TimelineEvent.objects.create(
                company=self.other, ticket=theirs, kind="their_secret", message="hidden"
            )
            TimelineEvent.objects.create(company=self.company, ticket=mine, kind="our_note", message="newest")
        self.client.force_login(self.ticket_admin)
        url = reverse("admin:tickets_timelineevent_changelist")
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        rows = list(response.context["cl"].result_list)
        self.assertEqual(rows[0].message, "newest")
        self.assertTrue(all(row.company_id == self.company.pk for row in rows))
        choices = [
            c["display"]
            for spec in response.context["cl"].filter_specs
            for c in spec.choices(response.context["cl"])
        ]
        self.assertIn("our_note", choices)
        self.assertIn("assigned", choices)
        self.assertNotIn("their_secret", choices)
        filtered = self.client.get(url, {"kind": "their_secret"})
        self.assertEqual(filtered.status_code, 200)
        self.assertEqual(list(filtered.context["cl"].result_list), [])
        self.assertEqual(
            [r.kind for r in self.client.get(url, {"kind": "our_note"}).context["cl"].result_list],
            ["our_note"],
        )
