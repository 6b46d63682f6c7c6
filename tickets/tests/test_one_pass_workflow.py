"""A workflow is created with its tasks, its start and its transitions in one save of the
admin's add page (new tasks have no ids yet: the start is a box on a task's row and
transitions name tasks by key). Warnings about definitions are written for a person."""

from typing import Any

from django.test import TestCase
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from project.testing import make_company, make_user, make_workflow
from tickets.admin.mixins import for_a_person
from workflows.models import Transition, WorkflowDefinition


def task_rows(*rows: dict[str, Any], initial: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {"tasks-TOTAL_FORMS": len(rows), "tasks-INITIAL_FORMS": initial}
    for i, row in enumerate(rows):
        data.update({f"tasks-{i}-{k}": v for k, v in row.items()})
    return data


def transition_rows(*rows: dict[str, Any], initial: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {"transitions-TOTAL_FORMS": len(rows), "transitions-INITIAL_FORMS": initial}
    for i, row in enumerate(rows):
        data.update({f"transitions-{i}-{k}": v for k, v in row.items()})
    return data


def task(key: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "title": key.title(), "task_type": "FORM", "timeout_seconds": 30, **extra}


class OnePassTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("One Pass Co")
        cls.creator = make_user(cls.company, SystemRole.WORKFLOW_CREATOR)
        cls.other = make_company("Other Pass Co")
        cls.other_wf = make_workflow(cls.other, [{"key": "ask"}, {"key": "decide"}])

    def setUp(self) -> None:
        self.client.force_login(self.creator)

    def add(self, tasks: dict[str, Any], transitions: dict[str, Any]) -> Any:
        base = {"key": "leave", "title": "Leave request", "version": 1, "ext_ref": "[]", "fields": "[]"}
        return self.client.post(
            reverse("admin:workflows_workflowdefinition_add"), {**base, **tasks, **transitions}, follow=True
        )

    def test_tasks_start_and_transitions_in_one_save(self) -> None:
        response = self.add(
            task_rows(task("ask"), task("decide", starts="on"), task("notify")),
            transition_rows(
                {"from_key": "decide", "to_key": "ask", "condition": "output.more", "priority": 0},
                {"from_key": "decide", "to_key": "notify", "condition": "", "priority": 1},
                {"from_key": "ask", "to_key": "decide", "condition": "", "priority": 0},
            ),
        )
        self.assertEqual(response.status_code, 200)
        with scopes_disabled():
            workflow = WorkflowDefinition.objects.get(company=self.company, key="leave")
            self.assertEqual(workflow.start_task.key, "decide")  # type: ignore[union-attr]
            edges = set(
                Transition.objects.filter(workflow=workflow).values_list("from_task__key", "to_task__key")
            )
        self.assertEqual(edges, {("decide", "ask"), ("decide", "notify"), ("ask", "decide")})
        self.assertNotContains(response, "is not ready yet")
        # The change page shows the keys and the ticked start, and saves them unchanged.
        page = self.client.get(reverse("admin:workflows_workflowdefinition_change", args=[workflow.pk]))
        self.assertContains(page, 'value="decide"')
        form = page.context["inline_admin_formsets"][0].formset.forms[1]  # type: ignore[index]
        self.assertTrue(form["starts"].value())

    def test_unknown_key_or_two_starts_is_a_form_error_and_creates_nothing(self) -> None:
        response = self.add(
            task_rows(task("ask"), task("decide")),
            transition_rows({"from_key": "ask", "to_key": "decied", "condition": "", "priority": 0}),
        )
        self.assertContains(response, "No task of this workflow has the key &#x27;decied&#x27;")
        response = self.add(
            task_rows(task("ask", starts="on"), task("decide", starts="on")), transition_rows()
        )
        self.assertContains(response, "Only one task can start this workflow")
        # A task of another company's workflow is not a key of this one.
        response = self.add(
            task_rows(task("ask")),
            transition_rows({"from_key": "ask", "to_key": "decide", "condition": "", "priority": 0}),
        )
        self.assertContains(response, "has the key &#x27;decide&#x27;")
        with scopes_disabled():
            self.assertFalse(WorkflowDefinition.objects.filter(company=self.company).exists())
            self.assertEqual(Transition.objects.filter(workflow=self.other_wf).count(), 0)

    def test_no_start_ticked_starts_at_the_first_task(self) -> None:
        response = self.add(task_rows(task("ask"), task("decide")), transition_rows())
        self.assertContains(response, "starts this workflow")
        with scopes_disabled():
            self.assertEqual(
                WorkflowDefinition.objects.get(company=self.company).start_task.key,  # type: ignore[union-attr]
                "ask",
            )


class PersonWordingTests(TestCase):
    def test_validator_messages_read_for_a_person(self) -> None:
        cases = {
            'No start task: mark exactly one task with "start": true.': "Choose the task that starts this workflow",
            "Two default transitions (no condition) leave task 'a'; the other is transitions[0].": "Two transitions without a condition leave the task 'a'",
            "A FORM task has no action URL.": "A form task is done by a person",
            "Action URL must be an absolute http(s) URL, not 'x'.": "full web address",
            "Duplicate task key 'a' in workflow 'w'.": "Two tasks have the key 'a'",
            "No end can be reached from task 'b': tickets there can never complete.": "can never finish",
        }
        for message, wording in cases.items():
            with self.subTest(message=message):
                self.assertIn(wording, for_a_person(message))
        self.assertEqual(for_a_person("Something new."), "Something new.")

    def test_admin_warning_has_the_bundle_path_in_a_detail_line(self) -> None:
        company = make_company("Warn Co")
        creator = make_user(company, SystemRole.WORKFLOW_CREATOR)
        self.client.force_login(creator)
        response = self.client.post(
            reverse("admin:workflows_workflowdefinition_add"),
            {
                "key": "w",
                "title": "W",
                "version": 1,
                "ext_ref": "[]",
                "fields": "[]",
                **task_rows(task("a"), task("b")),
                **transition_rows(),
            },
            follow=True,
        )
        text = response.content.decode()
        self.assertIn("No transition leads to the task &#x27;b&#x27;", text)
        self.assertIn("Detail: $.workflows[0].tasks[1]", text)
