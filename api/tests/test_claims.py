"""Queue tasks over the API: the claimable list, claim (first wins), release."""

from django_scopes import scopes_disabled

from accounts.models import CompanyRole
from accounts.roles import SystemRole
from api.tests.base import ApiTestCase
from project.testing import make_ticket_type, make_user, make_workflow
from workflows.models import TaskInstance


class ClaimTests(ApiTestCase):
    def setUp(self) -> None:
        with scopes_disabled():
            role = CompanyRole.objects.create(company=self.company, name="it")
        self.members = [make_user(self.company, SystemRole.TASK_WORKER) for _ in range(2)]
        for member in self.members:
            member.company_roles.add(role)
        wf = make_workflow(
            self.company,
            [{"key": "desk", "assign": {"rule": "queue", "role": "it"}, "output_schema": {"type": "object"}}],
            key="queue-flow",
        )
        self.queue_type = make_ticket_type(self.company, wf)
        self.ticket_id = self.submit(self.api(self.submitter), tt=self.queue_type).json()["id"]
        with scopes_disabled():
            self.task_id = TaskInstance.objects.get(workflow_instance__ticket__id=self.ticket_id).pk

    def test_claimable_claim_release(self) -> None:
        first, second = (self.api(m) for m in self.members)
        waiting = self.api(self.submitter).get(f"/tickets/{self.ticket_id}").json()["current_task"]
        self.assertEqual((waiting["id"], waiting["assignee"], waiting["queue"]), (self.task_id, None, "it"))
        self.assertEqual([t["id"] for t in first.get("/tasks/claimable").json()["items"]], [self.task_id])
        self.assertEqual(self.api(self.worker).get("/tasks/claimable").json()["items"], [])  # not in the role
        r = first.post(f"/tasks/{self.task_id}/claim")
        self.assertEqual(r.status_code, 200, r.content)
        self.assertEqual((r.json()["assignee"], r.json()["queue"]), (self.members[0].email, "it"))
        # The other member's claim lost the race: a conflict that says so, as on the page.
        lost = second.post(f"/tasks/{self.task_id}/claim")
        self.assertEqual(lost.status_code, 409, lost.content)
        self.assertIn("Someone else has already claimed", lost.json()["detail"])
        again = first.post(f"/tasks/{self.task_id}/claim")
        self.assertEqual(again.status_code, 409)
        self.assertIn("You have already claimed", again.json()["detail"])
        self.assertEqual([t["id"] for t in first.get("/tasks/mine").json()["items"]], [self.task_id])
        self.assertEqual(second.get("/tasks/claimable").json()["items"], [])
        self.assertEqual(second.post(f"/tasks/{self.task_id}/release").status_code, 404)
        r = first.post(f"/tasks/{self.task_id}/release")
        self.assertEqual(r.status_code, 200, r.content)
        self.assertIsNone(r.json()["assignee"])
        self.assertEqual([t["id"] for t in second.get("/tasks/claimable").json()["items"]], [self.task_id])
        self.assertEqual(second.post(f"/tasks/{self.task_id}/claim").status_code, 200)
        # A ticket admin sees the task but is no member of the queue's role.
        admin = self.api(self.ticket_admin)
        self.assertEqual(admin.get(f"/tasks/{self.task_id}").json()["queue"], "it")
        self.assertEqual(admin.post(f"/tasks/{self.task_id}/release").status_code, 403)
        self.assertEqual(admin.post(f"/tasks/{self.task_id}/claim").status_code, 403)

    def test_scopes_and_other_company(self) -> None:
        member = self.members[0]
        self.assertEqual(
            self.api(member, ["tasks:read"]).post(f"/tasks/{self.task_id}/claim").status_code, 403
        )
        self.assertEqual(self.api(member, ["tasks:write"]).get("/tasks/claimable").status_code, 403)
        outsider = self.api(make_user(self.other, *SystemRole.values))
        self.assertEqual(outsider.post(f"/tasks/{self.task_id}/claim").status_code, 404)
        self.assertEqual(outsider.post(f"/tasks/{self.task_id}/release").status_code, 404)
        self.assertEqual(outsider.get("/tasks/claimable").json()["items"], [])
