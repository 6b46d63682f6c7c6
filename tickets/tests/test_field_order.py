"""Issue 14, finding "field order is lost": PostgreSQL jsonb reordered object keys
(shorter first), so forms showed fields out of order, exports differed from imports,
and saving an action task in the admin stored empty schemas."""

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import TestCase
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.browser import BrowserTestCase
from project.testing import PASSWORD, make_company, make_user
from tickets.bundles import bundle_text, export_bundle, import_bundle, parse
from tickets.models import TicketType
from tickets.tests.test_bundles import base
from workflows.models import TaskDefinition

SAMPLES = Path(settings.BASE_DIR) / "fixtures" / "bundles"
# Longest name first: jsonb would store "a" before "zz_longest_name".
ORDERED = {
    "type": "object",
    "properties": {
        "zz_longest_name": {"type": "string", "title": "First"},
        "middle": {"type": "string", "title": "Second"},
        "a": {"type": "string", "title": "Third"},
    },
    "required": ["zz_longest_name"],
}


def ordered_bundle() -> dict[str, Any]:
    bundle = base()
    bundle["workflows"][0]["tasks"][0]["output_schema"] = ORDERED
    bundle["workflows"][0]["tasks"][0]["input_transform"] = {"zz_longest_name": "ticket.a", "a": "ticket.a"}
    bundle["ticket_types"][0]["fields"] = ORDERED
    bundle["ticket_types"][0]["ext_ref"] = [{"label": "Doc", "desc": "d", "uri": "https://example.com"}]
    return bundle


class FieldOrderTests(TestCase):
    def test_every_sample_round_trips_byte_identical(self) -> None:
        for path in sorted(SAMPLES.glob("*.json")):
            with self.subTest(sample=path.name):
                company = make_company()
                text = path.read_text()
                with company_scope(company):
                    import_bundle(company=company, bundle=parse(text))
                    self.assertEqual(bundle_text(export_bundle(company=company)), text)

    def test_key_order_survives_the_database(self) -> None:
        company = make_company()
        bundle = ordered_bundle()
        with company_scope(company):
            import_bundle(company=company, bundle=bundle)
            tt = TicketType.objects.get(key="tt")
            task = TaskDefinition.objects.get(key="a")
            self.assertEqual(list(tt.fields["properties"]), ["zz_longest_name", "middle", "a"])
            self.assertEqual(list(task.output_schema["properties"]), ["zz_longest_name", "middle", "a"])
            self.assertEqual(list(task.input_transform), ["zz_longest_name", "a"])
            self.assertEqual(list(tt.ext_ref[0]), ["label", "desc", "uri"])
            self.assertEqual(parse(bundle_text(export_bundle(company=company))), bundle)

    def test_submit_form_shows_fields_in_defined_order(self) -> None:
        company = make_company()
        user = make_user(company, SystemRole.USER)
        bundle = ordered_bundle()
        bundle["ticket_types"][0].pop("company_roles")
        with company_scope(company):
            import_bundle(company=company, bundle=bundle)
            tt = TicketType.objects.get(key="tt")
        self.client.force_login(user)
        content = self.client.get(reverse("ticket_submit", args=[tt.pk])).content.decode()
        positions = [content.find(f'name="data__{name}"') for name in ("zz_longest_name", "middle", "a")]
        self.assertNotIn(-1, positions, content)
        self.assertEqual(positions, sorted(positions))


class ActionTaskSaveTests(TestCase):
    def test_saving_an_action_task_stores_no_empty_schemas(self) -> None:
        company = make_company()
        creator = make_user(company, SystemRole.WORKFLOW_CREATOR)
        with company_scope(company):
            import_bundle(company=company, bundle=base())
            task = TaskDefinition.objects.get(key="b")
        self.client.force_login(creator)
        url = reverse("admin:workflows_taskdefinition_change", args=[task.pk])
        # What the schema editor posts for an action task whose schemas were left alone
        # (no rows), and what an older page posted (an empty object schema).
        untouched = json.dumps([])
        older = json.dumps({"type": "object", "properties": {}, "required": []})
        response = self.client.post(
            url,
            {
                "workflow": task.workflow_id,
                "key": "b",
                "title": "B",
                "task_type": "SYNC_ACTION",
                "action_url": "https://example.com/hook",
                "version": 1,
                "ext_ref": "[]",
                "input_schema": untouched,
                "output_schema": older,
                "input_transform": "[]",
                "output_transform": "{}",
            },
        )
        self.assertEqual(response.status_code, 302, response.content.decode()[:3000])
        with scopes_disabled():
            task.refresh_from_db()
        self.assertEqual((task.input_schema, task.output_schema), ({}, {}))
        self.assertEqual((task.input_transform, task.output_transform), ({}, {}))
        with company_scope(company):
            exported = export_bundle(company=company)
        self.assertNotIn("input_schema", exported["workflows"][0]["tasks"][1])
        self.assertNotIn("output_schema", exported["workflows"][0]["tasks"][1])


class FieldOrderBrowserTests(BrowserTestCase):
    def test_admin_editor_and_submit_form_keep_the_defined_order(self) -> None:
        company = make_company()
        user = make_user(company, SystemRole.USER, SystemRole.WORKFLOW_CREATOR)
        bundle = ordered_bundle()
        bundle["ticket_types"][0].pop("company_roles")
        with company_scope(company):
            import_bundle(company=company, bundle=bundle)
            task = TaskDefinition.objects.get(key="a")
            tt = TicketType.objects.get(key="tt")
        page = self.page
        self.log_in(page, user.email, PASSWORD)
        page.goto(self.url(f"/admin/workflows/taskdefinition/{task.pk}/change/"))
        page.locator("[name=_continue]").first.click()
        page.wait_for_load_state()
        with scopes_disabled():
            task.refresh_from_db()
        self.assertEqual(list(task.output_schema["properties"]), ["zz_longest_name", "middle", "a"])
        self.assertEqual(list(task.input_transform), ["zz_longest_name", "a"])
        page.goto(self.url(f"/tickets/new/{tt.pk}/"))
        page.get_by_text("Third").first.wait_for()
        text = page.locator("body").inner_text()
        positions = [text.find(label) for label in ("First", "Second", "Third")]
        self.assertNotIn(-1, positions, text)
        self.assertEqual(positions, sorted(positions))
        self.assert_console_clean()
