import json
from itertools import count
from typing import Any

from django.test import Client, TestCase
from django_scopes import scopes_disabled

from accounts.models import Company, User
from accounts.roles import SystemRole
from api import keys
from api.models import ApiKey
from api.scopes import Scope
from project.testing import make_company, make_ticket_type, make_user, make_workflow
from tickets.models import TicketType
from workflows.models import WorkflowDefinition

ALL_SCOPES = list(Scope.values)
_seq = count(1)
FORM_OUTPUT = {
    "type": "object",
    "properties": {"approved": {"type": "boolean"}, "note": {"type": "string"}},
    "required": ["approved"],
}


def make_key(user: User, scopes: list[str] | None = None, *, name: str | None = None) -> tuple[ApiKey, str]:
    assert user.company is not None
    with scopes_disabled():
        return keys.create_key(
            company=user.company,
            name=name or f"key {next(_seq)}",
            user=user,
            scopes=ALL_SCOPES if scopes is None else scopes,
            created_by=None,
        )


class ApiClient:
    """Django's test client speaking to /api/v1/ with a bearer key."""

    def __init__(self, raw_key: str | None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {raw_key}"} if raw_key else {}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params, headers=self.headers)

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post(
            f"/api/v1{path}",
            json.dumps(body if body is not None else {}),
            content_type="application/json",
            headers=self.headers,
        )

    def post_multipart(self, path: str, data: dict[str, Any]) -> Any:
        return self.client.post(f"/api/v1{path}", data, headers=self.headers)


class ApiTestCase(TestCase):
    """Company A with one person per role, a one-step form workflow and its ticket type;
    company B with the same, for cross-company checks."""

    company: Company
    other: Company
    admin: User
    submitter: User
    worker: User
    ticket_admin: User
    creator: User
    workflow: WorkflowDefinition
    ticket_type: TicketType
    other_submitter: User
    other_type: TicketType

    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Acme")
        cls.admin = make_user(cls.company, SystemRole.ADMIN, SystemRole.USER)
        cls.submitter = make_user(cls.company, SystemRole.USER)
        cls.worker = make_user(cls.company, SystemRole.TASK_WORKER)
        cls.ticket_admin = make_user(cls.company, SystemRole.TICKET_ADMIN, SystemRole.USER)
        cls.creator = make_user(cls.company, SystemRole.WORKFLOW_CREATOR)
        cls.workflow = make_workflow(
            cls.company, [{"key": "review", "output_schema": FORM_OUTPUT}], key="review-flow"
        )
        cls.ticket_type = make_ticket_type(cls.company, cls.workflow)
        cls.other = make_company("Other")
        cls.other_submitter = make_user(
            cls.other, SystemRole.USER, SystemRole.TICKET_ADMIN, SystemRole.TASK_WORKER
        )
        other_wf = make_workflow(
            cls.other, [{"key": "review", "output_schema": FORM_OUTPUT}], key="review-flow"
        )
        cls.other_type = make_ticket_type(cls.other, other_wf)

    def api(self, user: User, scopes: list[str] | None = None) -> ApiClient:
        _, raw = make_key(user, scopes)
        return ApiClient(raw)

    def submit(self, client: ApiClient, title: str = "Printer jam", tt: TicketType | None = None) -> Any:
        with self.captureOnCommitCallbacks(execute=True):
            return client.post_multipart(
                "/tickets", {"type": (tt or self.ticket_type).key, "data": json.dumps({"title": title})}
            )
