from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import override_settings
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.browser import BrowserTestCase
from project.testing import (
    PASSWORD,
    make_company,
    make_ticket_type,
    make_user,
    make_workflow,
    run_queued_tasks,
)
from tickets.services import submit_ticket
from workflows.models import TaskStatus, TaskType, WorkflowDefinition, WorkflowStatus

SAMPLE = Path(settings.BASE_DIR) / "fixtures" / "bundles" / "it-support.json"


class BackOfficeBrowserTests(BrowserTestCase):
    def admin_log_in(self, page: object, email: str) -> None:
        self.log_in(page, email, PASSWORD)
        page.goto(self.url("/admin/"))  # type: ignore[attr-defined]

    def test_creator_uploads_a_bundle(self) -> None:
        company = make_company("Upload Co")
        creator = make_user(company, SystemRole.WORKFLOW_CREATOR)
        page = self.page
        self.admin_log_in(page, creator.email)
        page.goto(self.url("/admin/workflows/workflowdefinition/upload-bundle/"))
        page.set_input_files("#id_file", str(SAMPLE))
        page.get_by_role("button", name="Check bundle").click()
        page.wait_for_selector("#bundle-valid")
        page.get_by_role("button", name="Confirm import").click()
        page.wait_for_url(self.url("/admin/workflows/workflowdefinition/"))
        self.assertIn("IT support", page.locator("#result_list").inner_text())
        with scopes_disabled():
            self.assertTrue(WorkflowDefinition.objects.filter(company=company, key="it-support").exists())
        self.assert_console_clean()

    @override_settings(ACTIONS_ALLOW_PRIVATE_NETWORKS=False)
    def test_ticket_admin_opens_dashboard_and_retries_a_failed_step(self) -> None:
        company = make_company("Retry Co")
        admin_user = make_user(company, SystemRole.TICKET_ADMIN)
        submitter = make_user(company, SystemRole.USER)
        wf = make_workflow(
            company, [{"key": "call", "task_type": TaskType.SYNC_ACTION, "action_url": "http://10.0.0.1/x"}]
        )
        tt = make_ticket_type(company, wf, fields={"type": "object"})
        with company_scope(company):
            ticket = submit_ticket(user=submitter, ticket_type=tt, data={"title": "Needs retry"})
            run_queued_tasks()
        ticket.workflow_instance.refresh_from_db()
        self.assertEqual(ticket.workflow_instance.status, WorkflowStatus.ON_HOLD)

        page = self.page
        self.admin_log_in(page, admin_user.email)
        self.assertEqual(page.get_by_test_id("new-errors").inner_text().strip(), "1")
        self.assertTrue(page.locator("#tf-dashboard canvas.chart").is_visible())
        page.goto(self.url(f"/admin/tickets/ticket/{ticket.pk}/change/"))
        page.locator(f'a[href="/admin/tickets/ticket/{ticket.pk}/retry/"]').first.click()
        page.wait_for_load_state()
        page.get_by_test_id("confirm").click()  # the link only asks; the POST acts
        page.wait_for_load_state()
        with scopes_disabled():
            task = ticket.workflow_instance.tasks.get()
            ticket.workflow_instance.refresh_from_db()
        self.assertEqual(task.status, TaskStatus.OPEN)
        self.assertEqual(ticket.workflow_instance.status, WorkflowStatus.IN_PROGRESS)
        self.assert_console_clean()


class DefinitionEditorBrowserTests(BrowserTestCase):
    def test_jsonform_editors_render_and_save_without_loss(self) -> None:
        from project.testing import make_company, make_user, make_workflow
        from workflows.models import TaskDefinition

        company = make_company("Editor Co")
        creator = make_user(company, SystemRole.WORKFLOW_CREATOR)
        simple = {
            "type": "object",
            "properties": {"answer": {"type": "string", "title": "Answer", "minLength": 2}},
            "required": ["answer"],
        }
        rich = {
            "type": "object",
            "properties": {"code": {"type": "string", "pattern": "^[A-Z]+$"}},
            "additionalProperties": False,
        }
        wf = make_workflow(
            company,
            [
                {
                    "key": "simple",
                    "output_schema": simple,
                    "input_transform": {"who": "ticket.title"},
                    "ext_ref": [{"label": "Guide", "uri": "https://example.com/guide"}],
                },
                {"key": "rich", "output_schema": rich},
            ],
            [("simple", "rich", "", 0)],
        )
        page = self.page
        self.log_in(page, creator.email, PASSWORD)
        with scopes_disabled():
            tasks = {t.key: t for t in TaskDefinition.objects.filter(workflow=wf)}
        for key in ("simple", "rich"):
            page.goto(self.url(f"/admin/workflows/taskdefinition/{tasks[key].pk}/change/"))
            page.locator("[name=_continue]").first.click()
            page.wait_for_load_state()
        with scopes_disabled():
            saved = {t.key: t for t in TaskDefinition.objects.filter(workflow=wf)}
        self.assertEqual(saved["simple"].output_schema, simple)
        self.assertEqual(saved["simple"].input_transform, {"who": "ticket.title"})
        self.assertEqual(saved["simple"].ext_ref, [{"label": "Guide", "uri": "https://example.com/guide"}])
        self.assertEqual(saved["rich"].output_schema, rich)
        self.assert_console_clean()


class FieldBuilderBrowserTests(BrowserTestCase):
    def test_fields_and_transform_rows_are_added_in_the_page_without_a_prompt(self) -> None:
        from workflows.models import TaskDefinition

        company = make_company("Builder Co")
        creator = make_user(company, SystemRole.WORKFLOW_CREATOR)
        wf = make_workflow(company, [{"key": "ask"}])
        with scopes_disabled():
            task = TaskDefinition.objects.get(workflow=wf, key="ask")
        page = self.page
        dialogs: list[str] = []

        def on_dialog(dialog: Any) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        self.log_in(page, creator.email, PASSWORD)
        page.goto(self.url(f"/admin/workflows/taskdefinition/{task.pk}/change/"))
        schema = page.locator("#id_output_schema").locator("xpath=preceding-sibling::div[1]")
        schema.get_by_role("button", name="Add item").click()
        schema.locator("input[type=text]").first.fill("laptop_model")
        schema.locator("input[type=checkbox]").first.check()
        transform = page.locator("#id_input_transform").locator("xpath=preceding-sibling::div[1]")
        transform.get_by_role("button", name="Add item").click()
        inputs = transform.locator("input[type=text]")
        inputs.nth(0).fill("who")
        inputs.nth(1).fill("ticket.title")
        page.locator("[name=_continue]").first.click()
        page.wait_for_load_state()
        self.assertEqual(dialogs, [])
        with scopes_disabled():
            task.refresh_from_db()
        self.assertEqual(
            task.output_schema,
            {
                "type": "object",
                "properties": {"laptop_model": {"type": "string"}},
                "required": ["laptop_model"],
            },
        )
        self.assertEqual(task.input_transform, {"who": "ticket.title"})
        # A row left without a key is a form error in the page, and nothing changes.
        schema = page.locator("#id_output_schema").locator("xpath=preceding-sibling::div[1]")
        schema.get_by_role("button", name="Add item").last.click()
        page.locator("[name=_continue]").first.click()
        page.wait_for_load_state()
        self.assertIn("Each field needs a key", page.content())
        with scopes_disabled():
            task.refresh_from_db()
        self.assertEqual(list(task.output_schema["properties"]), ["laptop_model"])
        self.assertEqual(dialogs, [])

    def test_field_builder_inputs_are_visible(self) -> None:
        """unfold's reset strips the borders and background of the field builder's text
        and number inputs: a creator saw labels (Title, Minlength...) and no box to type in."""
        company = make_company("Builder Co")
        creator = make_user(company, SystemRole.WORKFLOW_CREATOR)
        schema = {"type": "object", "properties": {"answer": {"type": "string", "title": "Answer"}}}
        wf = make_workflow(company, [{"key": "ask", "output_schema": schema}])
        with scopes_disabled():
            task = wf.tasks.get(key="ask")
        page = self.page
        self.log_in(page, creator.email, PASSWORD)
        page.goto(self.url(f"/admin/workflows/taskdefinition/{task.pk}/change/"))
        inputs = page.locator(".field-output_schema .rjf-form-row input:is([type=text], [type=number])")
        self.assertGreater(inputs.count(), 3)  # Title, Description, Minlength, ...
        for i in range(inputs.count()):
            with self.subTest(i=i):
                width = inputs.nth(i).evaluate("e => getComputedStyle(e).borderTopWidth")
                self.assertNotEqual(width, "0px")
        self.assert_console_clean()
