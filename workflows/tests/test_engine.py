from django.core.exceptions import PermissionDenied
from django.test import override_settings

from accounts.roles import SystemRole
from project.testing import make_user, make_workflow
from tickets.access import may_complete_task, may_receive_task
from workflows import services
from workflows.models import TaskStatus, TaskType, WorkflowStatus
from workflows.tests.base import EngineTestCase

FORM2 = [{"key": "triage"}, {"key": "fix"}]


class PathTests(EngineTestCase):
    def test_form_form_done(self) -> None:
        wf = make_workflow(self.company, FORM2, [("triage", "fix", "", 0)])
        ticket = self.submit(wf)
        first = self.current_task(ticket)
        self.assertEqual(first.task_definition.key, "triage")
        self.assertEqual(first.assigned_to, self.worker)
        services.complete_form_task(
            task=first, output={"ok": True}, actor=self.worker, permitted=may_complete_task
        )
        second = self.current_task(ticket)
        self.assertEqual(second.task_definition.key, "fix")
        services.complete_form_task(
            task=second, output={"done": 1}, actor=self.worker, permitted=may_complete_task
        )
        self.assertEqual(self.status(ticket), WorkflowStatus.COMPLETED)
        ticket.workflow_instance.refresh_from_db()
        self.assertEqual(
            ticket.workflow_instance.workflow_data["tasks"], {"triage": {"ok": True}, "fix": {"done": 1}}
        )
        kinds = list(ticket.timeline.values_list("kind", flat=True))
        self.assertEqual(kinds.count("assigned"), 2)
        self.assertIn("completed", kinds)

    def _routing_workflow(self):  # type: ignore[no-untyped-def]
        return make_workflow(
            self.company,
            [{"key": "start"}, {"key": "big"}, {"key": "vip"}, {"key": "normal"}],
            [
                ("start", "normal", "", 0),
                ("start", "big", "output.amount > `1000`", 20),
                ("start", "vip", "ticket.vip", 10),
            ],
        )

    def test_routing_by_priority_then_default(self) -> None:
        wf = self._routing_workflow()
        cases = [
            ({"vip": True}, {"amount": 5000}, "vip"),  # both match: lower priority number wins
            ({"vip": False}, {"amount": 5000}, "big"),
            ({"vip": False}, {"amount": 5}, "normal"),  # default path
        ]
        for data, output, expected in cases:
            with self.subTest(expected=expected):
                ticket = self.submit(wf, data)
                services.complete_form_task(
                    task=self.current_task(ticket),
                    output=output,
                    actor=self.worker,
                    permitted=may_complete_task,
                )
                self.assertEqual(self.current_task(ticket).task_definition.key, expected)
                decision = ticket.timeline.filter(kind="routed").get()
                self.assertEqual(decision.data["winner"], expected)
                self.assertTrue(decision.data["candidates"])

    def test_no_match_goes_on_hold_with_error_and_retry_reroutes(self) -> None:
        wf = make_workflow(self.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "output.go", 0)])
        ticket = self.submit(wf)
        task = self.current_task(ticket)
        services.complete_form_task(
            task=task, output={"go": False}, actor=self.worker, permitted=may_complete_task
        )
        task.refresh_from_db()
        self.assertEqual(task.status, TaskStatus.COMPLETED)
        self.assertEqual(self.status(ticket), WorkflowStatus.ON_HOLD)
        self.assertEqual(self.errors(ticket)[0][0], "WORKFLOW_TRANSITION")
        self.assertIn("No transition from 'A' (a) matched", self.errors(ticket)[0][1])
        # Fix the data the condition reads, then retry re-evaluates the routing.
        instance = ticket.workflow_instance
        instance.refresh_from_db()
        instance.workflow_data["tasks"]["a"] = {"go": True}
        instance.save()
        task.output_data = {"go": True}
        task.save()
        with self.captureOnCommitCallbacks(execute=True):
            services.retry(instance=instance, actor=self.admin)
        self.assertEqual(self.keys(ticket), ["a", "b"])
        self.assertEqual(self.status(ticket), WorkflowStatus.IN_PROGRESS)

    def test_condition_that_fails_to_evaluate_is_an_error(self) -> None:
        wf = make_workflow(self.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "abs(output.x)", 0)])
        ticket = self.submit(wf)
        services.complete_form_task(
            task=self.current_task(ticket),
            output={"x": "text"},
            actor=self.worker,
            permitted=may_complete_task,
        )
        self.assertEqual(self.status(ticket), WorkflowStatus.ON_HOLD)
        error_type, message = self.errors(ticket)[0]
        self.assertEqual(error_type, "WORKFLOW_TRANSITION")
        self.assertIn("abs(output.x)", message)

    def test_loop_runs_twice_then_exits(self) -> None:
        wf = make_workflow(
            self.company,
            [{"key": "work"}, {"key": "review"}, {"key": "done"}],
            [("work", "review", "", 0), ("review", "work", "output.again", 0), ("review", "done", "", 1)],
        )
        ticket = self.submit(wf)
        for again in (True, True, False):
            services.complete_form_task(
                task=self.current_task(ticket), output={}, actor=self.worker, permitted=may_complete_task
            )
            services.complete_form_task(
                task=self.current_task(ticket),
                output={"again": again},
                actor=self.worker,
                permitted=may_complete_task,
            )
        services.complete_form_task(
            task=self.current_task(ticket), output={}, actor=self.worker, permitted=may_complete_task
        )
        self.assertEqual(self.keys(ticket), ["work", "review"] * 3 + ["done"])
        self.assertEqual(self.status(ticket), WorkflowStatus.COMPLETED)

    def test_no_start_task_is_a_creation_error_not_a_crash(self) -> None:
        wf = make_workflow(self.company, [])
        ticket = self.submit(wf)
        self.assertEqual(self.status(ticket), WorkflowStatus.ON_HOLD)
        self.assertEqual(self.errors(ticket)[0][0], "WORKFLOW_CREATION")

    def test_broken_input_transform_is_a_creation_error(self) -> None:
        wf = make_workflow(self.company, [{"key": "a", "input_transform": {"x": "abs(ticket.title)"}}])
        ticket = self.submit(wf)
        self.assertEqual(self.status(ticket), WorkflowStatus.ON_HOLD)
        error_type, message = self.errors(ticket)[0]
        self.assertEqual(error_type, "WORKFLOW_CREATION")
        self.assertIn("abs(ticket.title)", message)
        self.assertEqual(ticket.workflow_instance.tasks.count(), 0)
        # The submit inserts the instance already on its FORM start task; a failed start
        # must leave it on no task, as before.
        ticket.workflow_instance.refresh_from_db()
        self.assertIsNone(ticket.workflow_instance.current_task_id)

    def test_input_transform_builds_task_input(self) -> None:
        wf = make_workflow(self.company, [{"key": "a", "input_transform": {"who": "ticket.title"}}])
        ticket = self.submit(wf, {"title": "Printer"})
        self.assertEqual(self.current_task(ticket).input_data, {"who": "Printer"})
        instance = ticket.workflow_instance
        instance.refresh_from_db()
        self.assertEqual(
            (instance.status, instance.current_task_id),
            (WorkflowStatus.IN_PROGRESS, self.current_task(ticket).task_definition_id),
        )

    def test_output_is_validated_per_field(self) -> None:
        schema = {
            "type": "object",
            "properties": {"amount": {"type": "number", "minimum": 0}},
            "required": ["amount", "reason"],
        }
        wf = make_workflow(self.company, [{"key": "a", "output_schema": schema}])
        ticket = self.submit(wf)
        task = self.current_task(ticket)
        with self.assertRaises(services.OutputInvalid) as ctx:
            services.complete_form_task(
                task=task, output={"amount": -1}, actor=self.worker, permitted=may_complete_task
            )
        self.assertIn("amount", ctx.exception.field_errors)
        self.assertIn("reason", ctx.exception.field_errors)
        task.refresh_from_db()
        self.assertEqual(task.status, TaskStatus.OPEN)

    def test_only_assignee_or_ticket_admin_completes(self) -> None:
        other = make_user(self.company, SystemRole.TASK_WORKER, is_available=False)
        wf = make_workflow(self.company, [{"key": "a"}])
        ticket = self.submit(wf)
        with self.assertRaises(PermissionDenied):
            services.complete_form_task(
                task=self.current_task(ticket), output={}, actor=other, permitted=may_complete_task
            )
        services.complete_form_task(
            task=self.current_task(ticket), output={}, actor=self.admin, permitted=may_complete_task
        )
        self.assertEqual(self.status(ticket), WorkflowStatus.COMPLETED)

    def test_completing_twice_is_refused(self) -> None:
        wf = make_workflow(self.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)])
        ticket = self.submit(wf)
        task = self.current_task(ticket)
        services.complete_form_task(task=task, output={}, actor=self.worker, permitted=may_complete_task)
        with self.assertRaises(services.StateConflict):
            services.complete_form_task(task=task, output={}, actor=self.worker, permitted=may_complete_task)
        self.assertEqual(self.keys(ticket), ["a", "b"])


class AssignmentTests(EngineTestCase):
    def test_fewest_open_tasks_then_least_recent_then_id(self) -> None:
        second = make_user(self.company, SystemRole.TASK_WORKER)
        make_user(self.company, SystemRole.TASK_WORKER, is_available=False)
        make_user(self.company, SystemRole.USER)  # not a worker
        wf = make_workflow(self.company, [{"key": "a"}])
        assignees = [self.current_task(self.submit(wf)).assigned_to for _ in range(4)]
        # Never-assigned beats assigned; then the least recently assigned.
        self.assertEqual(assignees, [self.worker, second, self.worker, second])

    def test_ties_between_never_assigned_workers_go_to_the_lowest_id(self) -> None:
        from workflows.assignment import choose_worker

        others = [make_user(self.company, SystemRole.TASK_WORKER) for _ in range(4)]
        # Whatever order the database returns them in, the lowest id wins.
        for _ in range(5):
            self.assertEqual(choose_worker(self.company.pk).user, self.worker)
        self.worker.is_available = False
        self.worker.save()
        self.assertEqual(choose_worker(self.company.pk).user, min(others, key=lambda u: u.pk))

    def test_no_available_worker_leaves_task_unassigned(self) -> None:
        self.worker.is_available = False
        self.worker.save()
        wf = make_workflow(self.company, [{"key": "a"}])
        ticket = self.submit(wf)
        task = self.current_task(ticket)
        self.assertIsNone(task.assigned_to)
        self.assertIn("No available task worker", ticket.timeline.get(kind="assigned").message)


class OperationsTests(EngineTestCase):
    def test_cancel_cancels_open_tasks(self) -> None:
        wf = make_workflow(self.company, [{"key": "a"}])
        ticket = self.submit(wf)
        services.cancel(instance=ticket.workflow_instance, actor=self.admin)
        self.assertEqual(self.status(ticket), WorkflowStatus.CANCELLED)
        self.assertEqual(self.current_task(ticket).status, TaskStatus.CANCELLED)
        with self.assertRaises(services.StateConflict):
            services.cancel(instance=ticket.workflow_instance, actor=self.admin)

    def test_hold_blocks_completion_and_resume_lifts_it(self) -> None:
        wf = make_workflow(self.company, [{"key": "a"}])
        ticket = self.submit(wf)
        services.hold(instance=ticket.workflow_instance, actor=self.admin)
        with self.assertRaises(services.StateConflict):
            services.complete_form_task(
                task=self.current_task(ticket), output={}, actor=self.worker, permitted=may_complete_task
            )
        services.resume(instance=ticket.workflow_instance, actor=self.admin)
        services.complete_form_task(
            task=self.current_task(ticket), output={}, actor=self.worker, permitted=may_complete_task
        )
        self.assertEqual(self.status(ticket), WorkflowStatus.COMPLETED)
        kinds = set(ticket.timeline.values_list("kind", flat=True))
        self.assertTrue({"held", "resumed"} <= kinds)

    def test_reassign_within_company_only(self) -> None:
        from project.testing import make_company

        other_worker = make_user(self.company, SystemRole.TASK_WORKER)
        foreign = make_user(make_company(), SystemRole.TASK_WORKER)
        wf = make_workflow(self.company, [{"key": "a"}])
        ticket = self.submit(wf)
        task = self.current_task(ticket)
        services.reassign(task=task, user=other_worker, actor=self.admin, eligible=may_receive_task)
        task.refresh_from_db()
        self.assertEqual(task.assigned_to, other_worker)
        from django.core.exceptions import ValidationError

        with self.assertRaises(ValidationError):
            services.reassign(task=task, user=foreign, actor=self.admin, eligible=may_receive_task)
        self.assertTrue(ticket.timeline.filter(kind="reassigned").exists())

    def test_complete_by_hand(self) -> None:
        wf = make_workflow(self.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)])
        ticket = self.submit(wf)
        services.complete_by_hand(task=self.current_task(ticket), output={"x": 1}, actor=self.admin)
        self.assertEqual(self.keys(ticket), ["a", "b"])
        self.assertTrue(ticket.timeline.filter(kind="completed_by_hand", actor=self.admin).exists())

    @override_settings(WORKFLOW_MAX_AUTOMATED_STEPS=5, ACTIONS_ALLOW_PRIVATE_NETWORKS=True)
    def test_loop_of_actions_is_capped(self) -> None:
        from project.testing import LoopbackServer, json_reply

        server = LoopbackServer().start()
        self.addCleanup(server.stop)
        server.handler = lambda body, headers: json_reply(200, {"n": 1})
        wf = make_workflow(
            self.company,
            [{"key": "ping", "task_type": TaskType.SYNC_ACTION, "action_url": server.url + "/ping"}],
            [("ping", "ping", "", 0)],
        )
        ticket = self.submit(wf)
        self.drain()
        self.assertEqual(len(server.requests), 5)
        self.assertEqual(self.status(ticket), WorkflowStatus.ON_HOLD)
        self.assertIn("more than 5 automated steps", self.errors(ticket)[0][1])
