"""Public outcomes: a task declares which output fields its ticket's submitter sees
(`"public"` in the bundle, `public_fields` on the model)."""

import copy
from typing import Any

from django.test import TestCase
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import make_company, make_ticket_type, make_user, make_workflow
from tickets import access
from tickets.bundles import BundleInvalid, export_bundle, import_bundle, validate
from tickets.services import submit_ticket
from workflows import services as engine
from workflows.models import TaskDefinition, TaskInstance

OUTPUT = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "title": "Reason"},
        "order_number": {"type": "string", "title": "Order number"},
        "cost_centre": {"type": "string", "title": "Cost centre"},
    },
}


def bundle(public: Any) -> dict[str, Any]:
    return {
        "format": 1,
        "workflows": [
            {
                "key": "wf",
                "title": "Flow",
                "tasks": [
                    {
                        "key": "a",
                        "title": "Decide",
                        "type": "FORM",
                        "start": True,
                        "output_schema": OUTPUT,
                        "public": public,
                    }
                ],
            }
        ],
        "ticket_types": [{"key": "tt", "title": "Type", "workflow": "wf"}],
    }


class PublicFieldsBundleTests(TestCase):
    def test_schema_and_validator(self) -> None:
        self.assertEqual(validate(bundle(["reason", "order_number"])), [])
        for public, path, message in (
            (["nope"], "$.workflows[0].tasks[0].public[0]", "'nope' is not a property of the output_schema"),
            ("reason", "$.workflows[0].tasks[0].public", "is not of type 'array'"),
            (["reason", "reason"], "$.workflows[0].tasks[0].public", "non-unique"),
        ):
            with self.subTest(public=public):
                problems = validate(bundle(public))
                self.assertTrue(any(p.path == path and message in p.message for p in problems), problems)

    def test_import_export_round_trip_and_refusal(self) -> None:
        company = make_company()
        with company_scope(company):
            import_bundle(company=company, bundle=bundle(["order_number", "reason"]))
            self.assertEqual(TaskDefinition.objects.get(key="a").public_fields, ["order_number", "reason"])
            exported = export_bundle(company=company)
            self.assertEqual(exported["workflows"][0]["tasks"][0]["public"], ["order_number", "reason"])
            with self.assertRaises(BundleInvalid):
                import_bundle(company=company, bundle=bundle(["missing"]))
            self.assertEqual(TaskDefinition.objects.get(key="a").public_fields, ["order_number", "reason"])
            # No public fields: omitted on export (the default), like other defaults.
            import_bundle(company=company, bundle=copy.deepcopy(bundle([])))
            self.assertNotIn("public", export_bundle(company=company)["workflows"][0]["tasks"][0])


class PublicOutcomePageTests(TestCase):
    def test_submitter_sees_public_values_with_labels_only(self) -> None:
        company = make_company()
        submitter = make_user(company, SystemRole.USER)
        worker = make_user(company, SystemRole.TASK_WORKER)
        wf = make_workflow(
            company,
            [
                {
                    "key": "a",
                    "title": "Decide",
                    "output_schema": OUTPUT,
                    "public_fields": ["reason", "order_number"],
                }
            ],
        )
        tt = make_ticket_type(company, wf)
        with company_scope(company):
            ticket = submit_ticket(user=submitter, ticket_type=tt, data={"title": "Chair"})
            task = TaskInstance.objects.get()
        self.client.force_login(submitter)
        self.assertNotContains(
            self.client.get(reverse("ticket_detail", args=[ticket.pk])), 'data-testid="outcomes"'
        )
        with company_scope(company):
            engine.complete_form_task(
                task=task,
                output={"reason": "Too pricey", "order_number": "PO-7", "cost_centre": "CC-SECRET"},
                actor=worker,
                permitted=access.may_complete_task,
            )
        page = self.client.get(reverse("ticket_detail", args=[ticket.pk]))
        self.assertContains(page, "<dt>Reason</dt><dd>Too pricey</dd>", html=True)
        self.assertContains(page, "<dt>Order number</dt><dd>PO-7</dd>", html=True)
        self.assertNotContains(page, "CC-SECRET")
        with scopes_disabled():
            self.assertEqual(TaskInstance.objects.get().output_data["cost_centre"], "CC-SECRET")
