"""Issue 14, "CSV/JSON import skips the validator": a condition `tasks.quote.[` imported
as "1 updated" and the next ticket went on hold; unchanged rows counted as updated."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_scopes import scopes_disabled

from tickets.tests.test_admin import BackOfficeTestCase


class RowImportValidationTests(BackOfficeTestCase):
    def preview(self, model: str, csv: str) -> object:
        self.client.force_login(self.creator)
        response = self.client.post(
            reverse(f"admin:{model}_import"),
            {"format": "0", "resource": "0", "import_file": SimpleUploadedFile("rows.csv", csv.encode())},
        )
        self.assertEqual(response.status_code, 200)
        return response

    def confirm(self, model: str, response: object) -> object:
        return self.client.post(
            reverse(f"admin:{model}_process_import"),
            response.context["confirm_form"].initial,  # type: ignore[attr-defined]
            follow=True,
        )

    def test_a_broken_condition_is_refused_and_nothing_is_written(self) -> None:
        csv = "workflow,from_task,to_task,condition,priority\nflow,a,b,tasks.quote.[,0\n"
        response = self.preview("workflows_transition", csv)
        result = response.context["result"]  # type: ignore[attr-defined]
        self.assertTrue(result.has_errors())
        self.assertContains(response, "Invalid JMESPath")
        self.assertContains(response, "transition flow/a → b")
        self.assertNotIn("confirm_form", response.context)  # type: ignore[operator]
        with scopes_disabled():
            self.assertEqual(self.wf.transitions.get().condition, "")

    def test_a_wrong_name_is_refused_with_a_suggestion(self) -> None:
        csv = 'workflow,key,title,task_type,input_transform\nflow,b,B,FORM,"{""x"": ""tasks.aa.y""}"\n'
        response = self.preview("workflows_taskdefinition", csv)
        self.assertContains(response, "Unknown task &#x27;aa&#x27;. Did you mean &#x27;a&#x27;?")
        with scopes_disabled():
            self.assertEqual(self.wf.tasks.get(key="b").input_transform, {})

    def test_unchanged_rows_are_reported_unchanged(self) -> None:
        csv = "workflow,from_task,to_task,condition,priority\nflow,a,b,,0\n"
        response = self.preview("workflows_transition", csv)
        result = response.context["result"]  # type: ignore[attr-defined]
        self.assertFalse(result.has_errors(), result.base_errors)
        self.assertEqual((result.totals["update"], result.totals["skip"]), (0, 1))
        csv = "workflow,from_task,to_task,condition,priority\nflow,a,b,output.ok,0\n"
        response = self.preview("workflows_transition", csv)
        result = response.context["result"]  # type: ignore[attr-defined]
        self.assertEqual((result.totals["update"], result.totals["skip"]), (1, 0))
        self.confirm("workflows_transition", response)
        with scopes_disabled():
            self.assertEqual(self.wf.transitions.get().condition, "output.ok")


class BundleUploadLintTests(BackOfficeTestCase):
    url = "admin:workflows_workflowdefinition_upload_bundle"

    def test_warnings_are_shown_and_an_identical_upload_changes_nothing(self) -> None:
        import json

        from tickets.tests.test_bundles import base

        bundle = base()
        bundle["workflows"][0]["key"] = "uploaded"
        bundle["ticket_types"][0]["workflow"] = "uploaded"
        bundle["workflows"][0]["tasks"].append({"key": "orphan", "title": "Orphan", "type": "FORM"})
        self.client.force_login(self.creator)
        response = self.client.post(reverse(self.url), {"text": json.dumps(bundle)})
        self.assertContains(response, "The bundle is valid")
        self.assertContains(response, "Task &#x27;orphan&#x27; cannot be reached from the start task.")
        response = self.client.post(
            reverse(self.url), {"text": json.dumps(bundle), "confirm": "1"}, follow=True
        )
        self.assertContains(response, "published: uploaded v1")
        response = self.client.post(
            reverse(self.url), {"text": json.dumps(bundle), "confirm": "1"}, follow=True
        )
        self.assertContains(response, "nothing changed")
