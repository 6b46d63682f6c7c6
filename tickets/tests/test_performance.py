"""Performance by design (issue 15): query counts that do not grow with rows, a bounded
submit, keyset pages, people filters without a list of every user, and (PostgreSQL) every
hot list query read off an index: no sequential scan and no large sort over a company's
table. Speed itself is measured in bench/, never here."""

import json
import unittest
from collections.abc import Callable, Iterator
from typing import Any

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import make_company, make_ticket_type, make_user, make_workflow
from tickets import dashboard
from tickets.models import FileUpload, Ticket, TicketError, TimelineEvent
from tickets.services import submit_ticket
from workflows.models import TaskInstance, TaskStatus, WorkflowInstance, WorkflowStatus

FIELDS = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}


def count_queries(run: Any) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as ctx:
        result = run()
    # Savepoints are transaction control: in production the outer one is BEGIN/COMMIT.
    statements = [q for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    return len(statements), result


class PerformanceTestCase(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Perf Co")
        cls.submitter = make_user(cls.company, SystemRole.USER)
        cls.worker = make_user(cls.company, SystemRole.TASK_WORKER)
        cls.admin = make_user(cls.company, *SystemRole.values)
        cls.admin.is_available = False
        cls.admin.save()
        cls.wf = make_workflow(
            cls.company, [{"key": "a", "title": "Answer"}, {"key": "b"}], [("a", "b", "", 0)]
        )
        cls.tt = make_ticket_type(cls.company, cls.wf, fields=FIELDS)
        cls.other = make_company("Other Co")
        cls.other_user = make_user(cls.other, SystemRole.USER, SystemRole.TASK_WORKER)
        other_wf = make_workflow(cls.other, [{"key": "a"}])
        cls.other_tt = make_ticket_type(cls.other, other_wf, fields=FIELDS)


class QueryCountTests(PerformanceTestCase):
    """Every page costs the same number of queries with 5 rows as with 50."""

    def grow_to(self, n: int) -> None:
        with company_scope(self.company):
            have = Ticket.objects.filter(created_by=self.submitter).count()
            for i in range(have, n):
                ticket = submit_ticket(user=self.submitter, ticket_type=self.tt, data={"title": f"T{i}"})
                TimelineEvent.objects.create(
                    company=self.company, ticket=self.first, kind="note", message=f"n{i}"
                )
                FileUpload.objects.create(company=self.company, ticket=self.first, filename=f"{i}.txt")
                TicketError.objects.create(
                    company=self.company, ticket=ticket, error_type="TASK_UPDATE", message="boom"
                )

    def pages(self) -> dict[str, int]:
        with scopes_disabled():
            task = TaskInstance.objects.filter(workflow_instance__ticket=self.first).get()
        pages = {
            "tickets": (self.submitter, reverse("ticket_list")),
            "tasks": (self.worker, reverse("task_list")),
            "ticket": (self.submitter, reverse("ticket_detail", args=[self.first.pk])),
            "task": (self.worker, reverse("task_detail", args=[task.pk])),
            "home": (self.submitter, reverse("home")),
            "admin tickets": (self.admin, reverse("admin:tickets_ticket_changelist")),
            "admin tickets by assignee": (
                self.admin,
                reverse("admin:tickets_ticket_changelist") + f"?assignee={self.worker.pk}",
            ),
            "admin tasks": (self.admin, reverse("admin:workflows_taskinstance_changelist")),
            "admin tasks by assignee": (
                self.admin,
                reverse("admin:workflows_taskinstance_changelist") + f"?assignee={self.worker.pk}",
            ),
            "admin errors": (self.admin, reverse("admin:tickets_ticketerror_changelist")),
            "admin timeline": (self.admin, reverse("admin:tickets_timelineevent_changelist")),
            "admin ticket": (self.admin, reverse("admin:tickets_ticket_change", args=[self.first.pk])),
            "dashboard": (self.admin, reverse("admin:index")),
        }
        counts = {}
        for name, (user, url) in pages.items():
            dashboard._figures.clear()  # count a fresh read of the figures (kept 30 s)
            self.client.force_login(user)
            n, response = count_queries(lambda url=url: self.client.get(url))
            self.assertEqual(response.status_code, 200, name)
            counts[name] = n
        return counts

    def test_page_queries_do_not_grow_from_5_to_50_rows(self) -> None:
        with company_scope(self.company):
            self.first = submit_ticket(user=self.submitter, ticket_type=self.tt, data={"title": "first"})
        self.grow_to(5)
        self.pages()  # warm per-process caches (content types, permissions)
        small = self.pages()
        self.grow_to(50)
        large = self.pages()
        self.assertEqual(small, large)
        with scopes_disabled():
            self.assertEqual(TaskInstance.objects.filter(assigned_to=self.worker).count(), 50)

    def test_admin_pages_run_the_navigation_counts_at_most_once(self) -> None:
        # The admin never shows them: the lazy navigation runs no query there.
        self.client.force_login(self.admin)
        with CaptureQueriesContext(connection) as ctx:
            self.client.get(reverse("admin:tickets_ticket_changelist"))
        counts = [q for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
        self.assertEqual(counts, [])
        # The front pages run the figures once, in one statement, each count bounded.
        self.client.force_login(self.submitter)
        with CaptureQueriesContext(connection) as ctx:
            self.client.get(reverse("ticket_list"))
        count_sql = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
        # Active tickets and unread notices, bounded; open tasks are the user's counter, no COUNT.
        self.assertEqual(len(count_sql), 1, count_sql)
        self.assertEqual(count_sql[0].upper().count("COUNT(*)"), 2, count_sql)
        self.assertEqual(count_sql[0].count("LIMIT 100"), 2, count_sql)

    def test_navigation_figures_follow_the_rows(self) -> None:
        # One statement answers all three figures; each must still count the right rows.
        from tickets.models import Notification
        from tickets.selectors import landing_summary

        with company_scope(self.company):
            first = landing_summary(self.submitter)
            submit_ticket(user=self.submitter, ticket_type=self.tt, data={"title": "one"})
            Notification._base_manager.filter(recipient=self.submitter).update(read_at=None)
            unread = Notification._base_manager.filter(recipient=self.submitter).count()
            n, after = count_queries(lambda: landing_summary(self.submitter))
            other = landing_summary(self.other_user)
        self.assertEqual(n, 1)
        self.assertEqual((first.active_tickets, first.unread_notices, first.is_worker), (0, 0, False))
        self.assertEqual((after.active_tickets, after.unread_notices), (1, unread))
        self.assertGreater(unread, 0)
        self.assertEqual((other.active_tickets, other.unread_notices), (0, 0))


class SubmitQueryTests(PerformanceTestCase):
    def test_one_submit_is_a_bounded_number_of_queries(self) -> None:
        for _ in range(3):
            make_user(self.company, SystemRole.TASK_WORKER)
        self.client.force_login(self.submitter)
        url = reverse("ticket_submit", args=[self.tt.pk])
        self.client.post(url, {"data": json.dumps({"title": "warm"})})
        n, response = count_queries(lambda: self.client.post(url, {"data": json.dumps({"title": "Paper"})}))
        self.assertEqual(response.status_code, 302)
        with scopes_disabled():
            ticket = Ticket.objects.get(title="Paper")
            task = ticket.workflow_instance.tasks.get()
            self.assertIsNotNone(task.assigned_to_id)
            self.assertEqual(
                list(ticket.timeline.order_by("created_at", "id").values_list("kind", flat=True)),
                ["started", "task_created", "assigned"],
            )
        self.assertLessEqual(n, SUBMIT_QUERY_LIMIT)

    def test_a_new_version_is_picked_up_by_the_next_submit(self) -> None:
        # The view's submit takes the live snapshot from a per-process cache; publishing
        # a new version must move the next ticket onto it at once.
        from tickets.versions import publish

        self.client.force_login(self.submitter)
        url = reverse("ticket_submit", args=[self.tt.pk])
        for title in ("one", "two"):
            self.client.post(url, {"data": json.dumps({"title": title})})
        with scopes_disabled():
            first = Ticket.objects.get(title="two").workflow_instance.workflow_id
            self.wf.title = "Renamed"
            self.wf.save()
            version = publish(workflow=self.wf, actor=self.admin)
        assert version is not None
        self.client.post(url, {"data": json.dumps({"title": "three"})})
        with scopes_disabled():
            now = Ticket.objects.get(title="three").workflow_instance.workflow_id
        self.assertNotEqual(first, now)
        self.assertEqual(now, version.snapshot_id)


class CompletionQueryTests(PerformanceTestCase):
    def second_completion(self, before: Callable[[], object] = lambda: None) -> tuple[int, Ticket]:
        """Queries of a worker's second completion with advance (the first warms the
        per-process caches), `before` run between the two; and the second's ticket."""
        from accounts.backends import UserBackend
        from tickets.access import may_complete_task
        from workflows import services

        with company_scope(self.company):
            tickets = [
                submit_ticket(user=self.submitter, ticket_type=self.tt, data={"title": f"T{i}"})
                for i in range(2)
            ]
            tasks = [t.workflow_instance.tasks.select_related("task_definition").get() for t in tickets]
            worker = UserBackend().get_user(self.worker.pk)  # as a request has it
            assert worker is not None

            def complete(task: TaskInstance) -> None:
                services.complete_form_task(task=task, output={}, actor=worker, permitted=may_complete_task)

            complete(tasks[0])
            before()
            n, _ = count_queries(lambda: complete(tasks[1]))
        return n, tickets[1]

    def test_one_completion_with_advance_is_a_bounded_number_of_queries(self) -> None:
        n, ticket = self.second_completion()
        # Locks (instance, task), task, instance (data and next step in one UPDATE), pool
        # lock, pick, new task, ticket, timeline (4 events) and notice in one INSERT, email
        # job, the counter: see ARCHITECTURE.md "Performance".
        self.assertLessEqual(n, COMPLETION_QUERY_LIMIT)
        with scopes_disabled():
            kinds = list(ticket.timeline.order_by("created_at", "id").values_list("kind", flat=True))
        self.assertEqual(
            kinds,
            ["started", "task_created", "assigned", "task_completed", "routed", "task_created", "assigned"],
        )

    def test_a_completion_that_moves_work_to_another_worker_writes_two_counters(self) -> None:
        # The previous assignee's counter and the next one's: one UPDATE each, in user-id
        # order (the lock order), so one statement more than when the completer goes on.
        others: list[Any] = []
        n, ticket = self.second_completion(  # an idle colleague wins the next step
            lambda: others.append(make_user(self.company, SystemRole.TASK_WORKER))
        )
        with scopes_disabled():
            self.assertEqual(ticket.workflow_instance.tasks.order_by("-id")[0].assigned_to, others[0])
        together = connection.vendor == "postgresql" and not connection.settings_dict["OPTIONS"].get(
            "server_side_binding"
        )
        self.assertLessEqual(n, COMPLETION_QUERY_LIMIT + (0 if together else 1))


# PostgreSQL: the pool's advisory lock, but the timeline and the notices in one statement;
# SQLite: no advisory lock, two INSERTs. See ARCHITECTURE.md "Performance".
COMPLETION_QUERY_LIMIT = 11


# See ARCHITECTURE.md "Performance" for where each query goes. On PostgreSQL the instance
# and the ticket are one INSERT, and the timeline and the notices another; SQLite writes
# them apart (and takes no advisory lock).
SUBMIT_QUERY_LIMIT = 10 if connection.vendor == "postgresql" else 11  # notices included


class KeysetPagingTests(PerformanceTestCase):
    def test_older_and_newer_pages_walk_every_ticket_once(self) -> None:
        with company_scope(self.company):
            made = [
                submit_ticket(user=self.submitter, ticket_type=self.tt, data={"title": f"T{i}"}).pk
                for i in range(45)
            ]
            # Ties on created_at are broken by id.
            Ticket.objects.filter(pk__in=made[10:30]).update(created_at=timezone.now())
        self.client.force_login(self.submitter)
        seen: list[int] = []
        response = self.client.get(reverse("ticket_list"))
        pages = []
        while True:
            page = response.context["page"]
            pages.append(page)
            seen += [t.pk for t in page.rows]
            if not page.next:
                break
            response = self.client.get(reverse("ticket_list"), {"after": page.next})
        self.assertEqual(len(pages), 3)
        self.assertEqual(sorted(seen), sorted(made))
        self.assertEqual(len(seen), len(set(seen)))
        # Back to the newer page: the same rows as on the way forward.
        back = self.client.get(reverse("ticket_list"), {"before": pages[2].previous}).context["page"]
        self.assertEqual([t.pk for t in back.rows], [t.pk for t in pages[1].rows])
        self.assertContains(self.client.get(reverse("ticket_list"), {"after": pages[0].next}), "Newer")

    def test_bad_cursor_is_the_first_page(self) -> None:
        for bad in ("x", "1-", "-1", "99999999999999999999-1", "1-2-3", "١٢-٣", "999999999999999999-1"):
            self.client.force_login(self.submitter)
            response = self.client.get(reverse("ticket_list"), {"after": bad})
            self.assertEqual(response.status_code, 200, bad)
            self.client.force_login(self.worker)
            response = self.client.get(reverse("task_list"), {"before": bad})
            self.assertEqual(response.status_code, 200, bad)

    def test_task_pages_oldest_first(self) -> None:
        with company_scope(self.company):
            for i in range(30):
                submit_ticket(user=self.submitter, ticket_type=self.tt, data={"title": f"T{i}"})
        self.client.force_login(self.worker)
        first = self.client.get(reverse("task_list")).context["page"]
        self.assertEqual(len(first.rows), 25)
        second = self.client.get(reverse("task_list"), {"after": first.next}).context["page"]
        self.assertEqual(len(second.rows), 5)
        keys = [(t.created_at, t.pk) for t in [*first.rows, *second.rows]]
        self.assertEqual(keys, sorted(keys))

    def test_task_list_reads_the_claimable_tasks_only_for_a_queue_role_member(self) -> None:
        from accounts.models import CompanyRole

        self.client.force_login(self.worker)
        url = reverse("task_list")
        self.client.get(url)  # warm
        without, response = count_queries(lambda: self.client.get(url))
        self.assertNotContains(response, 'id="claimable"')
        with scopes_disabled():
            role = CompanyRole.objects.create(company=self.company, name="it")
            self.worker.company_roles.add(role)
        with_role, response = count_queries(lambda: self.client.get(url))
        self.assertContains(response, 'data-testid="claimable-empty"')
        self.assertEqual(with_role, without + 1)


class PeopleFilterTests(PerformanceTestCase):
    def test_task_list_does_not_list_every_worker(self) -> None:
        for i in range(30):
            make_user(self.company, SystemRole.TASK_WORKER, email=f"many{i}@example.com")
        self.client.force_login(self.admin)
        response = self.client.get(reverse("admin:workflows_taskinstance_changelist"))
        self.assertNotContains(response, "many17@example.com")
        self.assertContains(response, "admin-autocomplete")

    def test_assignee_filter_and_its_autocomplete_stay_in_the_company(self) -> None:
        with company_scope(self.company):
            ticket = submit_ticket(user=self.submitter, ticket_type=self.tt, data={"title": "mine"})
        self.client.force_login(self.admin)
        url = reverse("admin:workflows_taskinstance_changelist")
        response = self.client.get(url, {"assignee": self.worker.pk})
        self.assertEqual(
            [t.workflow_instance_id for t in response.context["cl"].result_list],
            [ticket.workflow_instance_id],
        )
        self.assertContains(response, str(self.worker))  # the chosen person's label
        # Another company's person: no rows and no label.
        response = self.client.get(url, {"assignee": self.other_user.pk})
        self.assertEqual(list(response.context["cl"].result_list), [])
        self.assertNotContains(response, self.other_user.email)
        tickets = self.client.get(reverse("admin:tickets_ticket_changelist"), {"assignee": self.worker.pk})
        self.assertEqual([t.pk for t in tickets.context["cl"].result_list], [ticket.pk])
        search = self.client.get(
            reverse("admin:autocomplete"),
            {
                "app_label": "workflows",
                "model_name": "taskinstance",
                "field_name": "assigned_to",
                "term": "e",
            },
        )
        self.assertEqual(search.status_code, 200)
        ids = {int(r["id"]) for r in search.json()["results"]}
        self.assertIn(self.worker.pk, ids)
        self.assertNotIn(self.other_user.pk, ids)

    def test_autocomplete_needs_the_source_list(self) -> None:
        # A submitter may not search people through the back office.
        self.client.force_login(self.submitter)
        search = self.client.get(
            reverse("admin:autocomplete"),
            {
                "app_label": "workflows",
                "model_name": "taskinstance",
                "field_name": "assigned_to",
                "term": "e",
            },
        )
        self.assertNotEqual(search.status_code, 200)


# Tables that grow with a company's history: a hot query must never scan or sort them whole.
BIG_TABLES = {
    "tickets_ticket",
    "workflows_workflowinstance",
    "workflows_taskinstance",
    "tickets_ticketerror",
    "tickets_timelineevent",
}
# A sort of a page-sized set (a ticket's tasks, the current tasks of one page) is fine.
SORT_LIMIT = 100


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@unittest.skipUnless(connection.vendor == "postgresql", "EXPLAIN plans are PostgreSQL's")
class IndexPlanTests(PerformanceTestCase):
    """A few thousand rows, spread over a year, mostly finished (as in production), then
    ANALYZE: each hot page's SELECTs are EXPLAIN ANALYZEd as the page ran them."""

    TICKETS = 3000

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        with scopes_disabled():
            cls.load(cls.company, cls.wf, cls.tt, cls.submitter, cls.worker, cls.TICKETS)
            cls.load(cls.other, cls.other_tt.workflow, cls.other_tt, cls.other_user, cls.other_user, 1000)
        with connection.cursor() as cursor:
            for table in BIG_TABLES:
                cursor.execute(f"ANALYZE {table}")

    @classmethod
    def load(cls, company: Any, wf: Any, tt: Any, submitter: Any, worker: Any, n: int) -> None:
        step_a = wf.tasks.get(key="a")
        others = [make_user(company, SystemRole.USER) for _ in range(20)]
        instances = WorkflowInstance.objects.bulk_create(
            WorkflowInstance(
                company=company,
                workflow=wf,
                current_task=step_a,
                status=WorkflowStatus.IN_PROGRESS if i % 10 == 0 else WorkflowStatus.COMPLETED,
            )
            for i in range(n)
        )
        tickets = Ticket.objects.bulk_create(
            Ticket(
                company=company,
                ticket_type=tt,
                workflow_instance=inst,
                title=f"T{i}",
                data={"title": f"T{i}"},
                created_by=submitter if i % 7 == 0 else others[i % 20],
                is_active=inst.status == WorkflowStatus.IN_PROGRESS,
            )
            for i, inst in enumerate(instances)
        )
        TaskInstance.objects.bulk_create(
            TaskInstance(
                company=company,
                workflow_instance=inst,
                task_definition=step_a,
                status=TaskStatus.OPEN if inst.status == WorkflowStatus.IN_PROGRESS else TaskStatus.COMPLETED,
                assigned_to=worker,
            )
            for inst in instances
        )
        TimelineEvent.objects.bulk_create(
            TimelineEvent(company=company, ticket=t, kind=kind, message=kind)
            for t in tickets
            for kind in ("started", "task_created", "completed")
        )
        TicketError.objects.bulk_create(
            TicketError(
                company=company,
                ticket=t,
                error_type="TASK_UPDATE",
                message="boom",
                status="NEW" if i % 40 == 0 else "RESOLVED",
            )
            for i, t in enumerate(tickets)
            if i % 2 == 0
        )
        # Spread over a year, newest last (auto_now_add stamped them all "now").
        with connection.cursor() as cursor:
            for model in (Ticket, TaskInstance, TicketError, WorkflowInstance, TimelineEvent):
                table = model._meta.db_table
                cursor.execute(
                    f"UPDATE {table} SET created_at = now() - "
                    f"((SELECT max(id) FROM {table}) - id) * interval '1 hour' WHERE company_id = %s",
                    [company.pk],
                )

    def plans_of(self, user: Any, url: str) -> list[tuple[str, dict[str, Any]]]:
        dashboard._figures.clear()  # explain the figures' queries, not a cached copy
        self.client.force_login(user)
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.get(url)
        self.assertEqual(response.status_code, 200, url)
        plans = []
        with connection.cursor() as cursor:
            # At a few thousand rows a seq scan can be cheaper, and the choice then hangs on
            # dead tuples and autovacuum timing. Penalising it asks only whether a matching
            # index exists: without one the plan still shows a Seq Scan.
            cursor.execute("SET LOCAL enable_seqscan = off")
            for query in ctx.captured_queries:
                sql = query["sql"]
                if not sql.startswith("SELECT") or not any(t in sql for t in BIG_TABLES):
                    continue
                cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
                plans.append((sql, cursor.fetchone()[0][0]["Plan"]))
            cursor.execute("RESET enable_seqscan")
        return plans

    def assert_indexed(self, user: Any, url: str) -> None:
        plans = self.plans_of(user, url)
        self.assertTrue(plans, url)
        for sql, plan in plans:
            for node in _nodes(plan):
                if node["Node Type"] == "Seq Scan":
                    self.assertNotIn(node["Relation Name"], BIG_TABLES, f"{url}: seq scan in {sql}")
                if node["Node Type"] in ("Index Scan", "Index Only Scan") and "Index Cond" not in node:
                    # With seq scans penalised, a walk of an unrelated index is the sign of a missing one.
                    self.assertNotIn(node["Relation Name"], BIG_TABLES, f"{url}: full index walk in {sql}")
                if "Sort" in node["Node Type"]:
                    rows = sum(child["Actual Rows"] for child in node.get("Plans", []))
                    self.assertLessEqual(rows, SORT_LIMIT, f"{url}: sorts {rows} rows in {sql}")

    def test_front_pages_read_indexes(self) -> None:
        with scopes_disabled():
            ticket = Ticket.objects.filter(created_by=self.submitter).order_by("-pk").first()
        assert ticket is not None
        self.assert_indexed(self.submitter, reverse("ticket_list"))
        page = self.client.get(reverse("ticket_archive")).context["page"]
        self.assert_indexed(self.submitter, reverse("ticket_archive"))
        self.assert_indexed(self.submitter, reverse("ticket_archive") + f"?after={page.next}")
        self.assert_indexed(self.worker, reverse("task_list"))
        self.assert_indexed(self.submitter, reverse("ticket_detail", args=[ticket.pk]))

    def test_back_office_lists_read_indexes(self) -> None:
        with scopes_disabled():
            ticket = Ticket.objects.filter(company=self.company).order_by("-pk").first()
        assert ticket is not None
        for url in (
            reverse("admin:tickets_ticket_changelist"),
            reverse("admin:tickets_ticket_changelist") + "?status=IN_PROGRESS",
            reverse("admin:workflows_taskinstance_changelist"),
            reverse("admin:workflows_taskinstance_changelist") + "?state=OPEN",
            reverse("admin:workflows_taskinstance_changelist") + "?state=all",
            reverse("admin:workflows_taskinstance_changelist") + f"?assignee={self.worker.pk}",
            reverse("admin:tickets_ticketerror_changelist"),
            reverse("admin:tickets_ticketerror_changelist") + "?status__exact=NEW",
            reverse("admin:tickets_ticket_change", args=[ticket.pk]),
            reverse("admin:index"),
            reverse("admin:tickets_timelineevent_changelist"),
            reverse("admin:tickets_timelineevent_changelist") + "?kind=assigned",
        ):
            with self.subTest(url=url):
                self.assert_indexed(self.admin, url)

    def test_engine_assignment_reads_open_work_only(self) -> None:
        # Submitting reads the company's open tasks per worker through the partial index.
        self.client.force_login(self.submitter)
        with CaptureQueriesContext(connection) as ctx, company_scope(self.company):
            submit_ticket(user=self.submitter, ticket_type=self.tt, data={"title": "new"})
        with connection.cursor() as cursor:
            for query in ctx.captured_queries:
                sql = query["sql"]
                if sql.startswith("SELECT") and "workflows_taskinstance" in sql:
                    cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
                    for node in _nodes(cursor.fetchone()[0][0]["Plan"]):
                        if node["Node Type"] == "Seq Scan":
                            self.assertNotIn(node["Relation Name"], BIG_TABLES, sql)


class ActiveFlagTests(PerformanceTestCase):
    def test_finishing_the_workflow_archives_the_ticket(self) -> None:
        from tickets import access
        from workflows import services

        with company_scope(self.company):
            done = submit_ticket(user=self.submitter, ticket_type=self.tt, data={"title": "done"})
            cancelled = submit_ticket(user=self.submitter, ticket_type=self.tt, data={"title": "gone"})
            held = submit_ticket(user=self.submitter, ticket_type=self.tt, data={"title": "held"})
            for key in ("a", "b"):
                task = done.workflow_instance.tasks.get(task_definition__key=key)
                services.complete_form_task(
                    task=task, output={}, actor=self.admin, permitted=access.may_complete_task
                )
            services.cancel(instance=cancelled.workflow_instance, actor=self.admin)
            services.hold(instance=held.workflow_instance, actor=self.admin)
            flags = dict(Ticket.objects.values_list("title", "is_active"))
        self.assertEqual(flags, {"done": False, "gone": False, "held": True})
        self.client.force_login(self.submitter)
        listed = [t.title for t in self.client.get(reverse("ticket_list")).context["page"].rows]
        archived = [t.title for t in self.client.get(reverse("ticket_archive")).context["page"].rows]
        self.assertEqual((listed, sorted(archived)), (["held"], ["done", "gone"]))
        self.assertEqual(self.client.get(reverse("home")).context["nav"]["active_tickets"], 1)
