"""Issue 14, "edits reach running tickets, and nothing records it": definitions are
published as immutable versions; tickets run on the version they started with."""

import copy
import json
from typing import Any

from django.test import TestCase
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import make_company, make_user
from tickets.access import may_complete_task
from tickets.bundles import bundle_text, import_bundle
from tickets.models import Ticket, TicketType, TimelineEvent
from tickets.services import submit_ticket
from tickets.versions import diff, move_open_tickets, publish
from workflows import services
from workflows.models import TaskDefinition, Transition, WorkflowDefinition, WorkflowStatus, WorkflowVersion


def bundle() -> dict[str, Any]:
    return {
        "format": 1,
        "workflows": [
            {
                "key": "wf",
                "title": "Flow",
                "tasks": [
                    {
                        "key": "review",
                        "title": "Review",
                        "type": "FORM",
                        "start": True,
                        "output_schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
                    },
                    {"key": "accept", "title": "Accept", "type": "FORM"},
                    {"key": "reject", "title": "Reject", "type": "FORM"},
                ],
                "transitions": [
                    {"from": "review", "to": "accept", "condition": "output.ok"},
                    {"from": "review", "to": "reject"},
                ],
            }
        ],
        "ticket_types": [{"key": "tt", "title": "Type", "workflow": "wf"}],
    }


class VersionTests(TestCase):
    def setUp(self) -> None:
        self.company = make_company()
        self.user = make_user(self.company, SystemRole.USER, SystemRole.TICKET_ADMIN)
        self.enterContext(company_scope(self.company))

    def submit(self) -> Ticket:
        with self.captureOnCommitCallbacks(execute=True):
            return submit_ticket(user=self.user, ticket_type=TicketType.objects.get(key="tt"), data={})

    def complete(self, ticket: Ticket, output: dict[str, Any]) -> None:
        task = ticket.workflow_instance.tasks.order_by("-id").first()
        assert task is not None
        services.complete_form_task(task=task, output=output, actor=self.user, permitted=may_complete_task)

    def keys(self, ticket: Ticket) -> list[str]:
        return list(
            ticket.workflow_instance.tasks.order_by("id").values_list("task_definition__key", flat=True)
        )

    def test_import_publishes_and_an_identical_import_publishes_nothing(self) -> None:
        report = import_bundle(company=self.company, bundle=bundle(), actor=self.user)
        self.assertEqual(report.published, ["wf v1"])
        version = WorkflowVersion.objects.get()
        self.assertEqual((version.number, version.created_by), (1, self.user))
        self.assertEqual(len(version.content_hash), 64)
        self.assertEqual(version.bundle["workflows"][0]["key"], "wf")
        again = import_bundle(company=self.company, bundle=bundle(), actor=self.user)
        self.assertFalse(again.changed)
        self.assertEqual(again.unchanged, {"roles": 0, "workflows": 1, "ticket_types": 1})
        self.assertIn("nothing changed", str(again))
        self.assertEqual(WorkflowVersion.objects.count(), 1)
        changed = bundle()
        changed["workflows"][0]["tasks"][1]["title"] = "Accept it"
        report = import_bundle(company=self.company, bundle=changed, actor=self.user)
        self.assertEqual((report.updated["workflows"], report.unchanged["ticket_types"]), (1, 1))
        self.assertEqual(report.published, ["wf v2"])
        older, newer = WorkflowVersion.objects.order_by("number")
        text = diff(older, newer)
        self.assertIn('-          "title": "Accept",', text)
        self.assertIn('+          "title": "Accept it",', text)

    def test_running_ticket_keeps_its_version_across_a_publish(self) -> None:
        import_bundle(company=self.company, bundle=bundle(), actor=self.user)
        running = self.submit()
        # Edit the draft: the condition now sends ok=true to "reject".
        draft = WorkflowDefinition.objects.get(key="wf", is_snapshot=False)
        Transition.objects.filter(workflow=draft, condition="output.ok").update(
            to_task=TaskDefinition.objects.get(workflow=draft, key="reject")
        )
        # A draft edit changes nothing for tickets, running or new, until it is published.
        before_publish = self.submit()
        version = publish(workflow=draft, actor=self.user)
        assert version is not None
        self.assertEqual(version.number, 2)
        after_publish = self.submit()
        for ticket in (running, before_publish, after_publish):
            self.complete(ticket, {"ok": True})
        self.assertEqual(self.keys(running), ["review", "accept"])
        self.assertEqual(self.keys(before_publish), ["review", "accept"])
        self.assertEqual(self.keys(after_publish), ["review", "reject"])
        self.assertIsNone(publish(workflow=draft, actor=self.user))  # nothing changed since

    def test_move_open_tickets_maps_tasks_by_key_and_refuses_missing_keys(self) -> None:
        import_bundle(company=self.company, bundle=bundle(), actor=self.user)
        on_review = self.submit()
        on_reject = self.submit()
        self.complete(on_reject, {"ok": False})
        changed = copy.deepcopy(bundle())
        wf = changed["workflows"][0]
        wf["tasks"] = [t for t in wf["tasks"] if t["key"] != "reject"]
        wf["transitions"] = [{"from": "review", "to": "accept"}]
        import_bundle(company=self.company, bundle=changed, actor=self.user)
        v2 = WorkflowVersion.objects.get(number=2)
        report = move_open_tickets(version=v2, actor=self.user)
        self.assertEqual(report.moved, [on_review.workflow_instance_id])
        self.assertIn("has no task 'reject'", report.refused[on_reject.workflow_instance_id])
        on_review.workflow_instance.refresh_from_db()
        on_reject.workflow_instance.refresh_from_db()
        self.assertEqual(on_review.workflow_instance.workflow, v2.snapshot)
        self.assertNotEqual(on_reject.workflow_instance.workflow, v2.snapshot)
        event = TimelineEvent.objects.get(ticket=on_review, kind="version_moved")
        self.assertIn("Moved from version 1 to version 2", event.message)
        self.assertFalse(TimelineEvent.objects.filter(ticket=on_reject, kind="version_moved").exists())
        # The moved ticket now routes by version 2: the default goes to "accept".
        self.complete(on_review, {"ok": False})
        self.assertEqual(self.keys(on_review), ["review", "accept"])
        self.assertEqual(on_review.workflow_instance.tasks.last().task_definition.workflow, v2.snapshot)  # type: ignore[union-attr]

    def test_snapshots_are_not_drafts(self) -> None:
        import_bundle(company=self.company, bundle=bundle(), actor=self.user)
        publish(workflow=WorkflowDefinition.objects.get(is_snapshot=False), actor=self.user)
        with scopes_disabled():
            self.assertEqual(WorkflowDefinition.all_objects.filter(key="wf").count(), 2)
            self.assertEqual(WorkflowDefinition.objects.filter(key="wf").count(), 1)
            self.assertEqual(TaskDefinition.all_objects.filter(key="review").count(), 2)
            self.assertEqual(TaskDefinition.objects.filter(key="review").count(), 1)
        from tickets.bundles import export_bundle

        exported = export_bundle(company=self.company)
        self.assertEqual(len(exported["workflows"]), 1)
        self.assertEqual(bundle_text(exported), bundle_text(bundle()))

    def test_finished_tickets_stay(self) -> None:
        import_bundle(company=self.company, bundle=bundle(), actor=self.user)
        done = self.submit()
        self.complete(done, {"ok": True})
        self.complete(done, {})
        done.workflow_instance.refresh_from_db()
        self.assertEqual(done.workflow_instance.status, WorkflowStatus.COMPLETED)
        changed = bundle()
        changed["workflows"][0]["title"] = "Flow 2"
        import_bundle(company=self.company, bundle=changed, actor=self.user)
        report = move_open_tickets(version=WorkflowVersion.objects.get(number=2), actor=self.user)
        self.assertEqual((report.moved, report.refused), ([], {}))


class VersionAdminTests(TestCase):
    def setUp(self) -> None:
        self.company = make_company()
        self.creator = make_user(self.company, SystemRole.WORKFLOW_CREATOR)
        self.user = make_user(self.company, SystemRole.USER)
        with company_scope(self.company):
            import_bundle(company=self.company, bundle=bundle(), actor=self.creator)
            self.draft = WorkflowDefinition.objects.get(key="wf")
            self.ticket = submit_ticket(user=self.user, ticket_type=TicketType.objects.get(key="tt"), data={})
        self.url = reverse("admin:workflows_workflowdefinition_versions", args=[self.draft.pk])
        self.client.force_login(self.creator)

    def test_publish_diff_export_and_move(self) -> None:
        page = self.client.get(self.url)
        self.assertContains(page, "The draft matches the current version.")
        self.assertContains(page, "v1 (current)")
        with company_scope(self.company):
            TaskDefinition.objects.filter(workflow=self.draft, key="accept").update(title="Accept it")
        self.assertContains(self.client.get(self.url), "The draft has changes that are not published.")
        self.client.post(self.url, {"operation": "publish"})
        with company_scope(self.company):
            self.assertEqual(WorkflowVersion.objects.filter(workflow=self.draft).count(), 2)
        response = self.client.post(self.url, {"operation": "publish"}, follow=True)
        self.assertContains(response, "nothing published")
        # The finding "Version stays 1 after every update": the list shows the published one.
        listing = self.client.get(reverse("admin:workflows_workflowdefinition_changelist"))
        self.assertRegex(listing.content.decode(), r'class="field-published[^"]*"[^>]*>\s*v2\s*<')
        diff_page = self.client.get(self.url, {"a": 1, "b": 2})
        self.assertContains(diff_page, "+          &quot;title&quot;: &quot;Accept it&quot;,")
        export = self.client.get(self.url, {"export": 1})
        self.assertEqual(export["Content-Type"], "application/json")
        self.assertEqual(json.loads(export.content)["workflows"][0]["tasks"][1]["title"], "Accept")
        # Moving needs the confirmation box; then the ticket moves and its timeline says so.
        self.client.post(self.url, {"operation": "move", "version": 2})
        with company_scope(self.company):
            self.assertFalse(TimelineEvent.objects.filter(kind="version_moved").exists())
        response = self.client.post(
            self.url, {"operation": "move", "version": 2, "confirm": "1"}, follow=True
        )
        self.assertContains(response, "1 moved")
        with company_scope(self.company):
            self.assertTrue(TimelineEvent.objects.filter(ticket=self.ticket, kind="version_moved").exists())

    def test_other_company_and_read_only_users(self) -> None:
        other = make_company()
        outsider = make_user(other, *SystemRole.values)
        self.client.force_login(outsider)
        self.assertEqual(self.client.get(self.url).status_code, 404)
        self.assertEqual(self.client.post(self.url, {"operation": "publish"}).status_code, 404)
        admin = make_user(self.company, SystemRole.TICKET_ADMIN)
        self.client.force_login(admin)
        self.assertEqual(self.client.get(self.url).status_code, 200)
        self.assertEqual(self.client.post(self.url, {"operation": "publish"}).status_code, 403)


class ExportVersionCommandTests(TestCase):
    def test_export_bundle_at_a_version(self) -> None:
        from io import StringIO

        from django.core.management import CommandError, call_command

        company = make_company("Export Co")
        with company_scope(company):
            import_bundle(company=company, bundle=bundle())
            changed = bundle()
            changed["workflows"][0]["title"] = "Flow 2"
            import_bundle(company=company, bundle=changed)
        out = StringIO()
        call_command("export_bundle", company="Export Co", workflows=["wf"], at_version=1, stdout=out)
        self.assertEqual(json.loads(out.getvalue())["workflows"][0]["title"], "Flow")
        with self.assertRaises(CommandError):
            call_command(
                "export_bundle", company="Export Co", workflows=["wf"], at_version=9, stdout=StringIO()
            )
        with self.assertRaises(CommandError):
            call_command("export_bundle", company="Export Co", at_version=1, stdout=StringIO())


class SnapshotImmutabilityTests(TestCase):
    def test_published_rows_refuse_changes(self) -> None:
        from workflows.models import SnapshotImmutable

        company = make_company()
        with company_scope(company):
            import_bundle(company=company, bundle=bundle())
            version = WorkflowVersion.objects.get()
            snapshot = version.snapshot
            self.assertTrue(snapshot.is_snapshot)
            self.assertEqual(snapshot.start_task.key, "review")  # type: ignore[union-attr]
            snapshot.title = "Changed"
            with self.assertRaises(SnapshotImmutable):
                snapshot.save()
            task = TaskDefinition.all_objects.get(workflow=snapshot, key="accept")
            task.title = "Changed"
            with self.assertRaises(SnapshotImmutable):
                task.save()


class PublishCostTests(TestCase):
    def test_publish_query_count_does_not_grow_with_tasks(self) -> None:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        counts = []
        for size in (3, 15):
            company = make_company()
            spec = {
                "format": 1,
                "workflows": [
                    {
                        "key": "wf",
                        "title": "Flow",
                        "tasks": [
                            {
                                "key": f"t{i}",
                                "title": f"T{i}",
                                "type": "FORM",
                                **({"start": True} if i == 0 else {}),
                            }
                            for i in range(size)
                        ],
                        "transitions": [{"from": f"t{i}", "to": f"t{i + 1}"} for i in range(size - 1)],
                    }
                ],
            }
            with company_scope(company):
                import_bundle(company=company, bundle=spec)
                draft = WorkflowDefinition.objects.get(key="wf")
                draft.title = "Flow 2"
                draft.save()
                with CaptureQueriesContext(connection) as queries:
                    version = publish(workflow=draft, actor=None)
                assert version is not None
                self.assertEqual(TaskDefinition.all_objects.filter(workflow=version.snapshot).count(), size)
            counts.append(len(queries))
        self.assertEqual(counts[0], counts[1], counts)
