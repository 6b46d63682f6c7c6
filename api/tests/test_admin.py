"""API keys in the back office: a company admin creates one (shown once), revokes it with
a confirmation; other roles and other companies cannot touch them."""

import re

from django.test import Client
from django_scopes import scopes_disabled

from api import keys
from api.models import ApiKey
from api.tests.base import ApiClient, ApiTestCase, make_key

ADD_URL = "/admin/api/apikey/add/"
LIST_URL = "/admin/api/apikey/"


class ApiKeyAdminTests(ApiTestCase):
    def admin_client(self) -> Client:
        client = Client()
        client.force_login(self.admin)
        return client

    def test_create_shows_the_key_once_and_stores_its_hash(self) -> None:
        client = self.admin_client()
        self.assertEqual(client.get(ADD_URL).status_code, 200)
        r = client.post(
            ADD_URL, {"name": "Assistant", "user": self.worker.pk, "scopes": ["tasks:read", "tasks:write"]}
        )
        self.assertEqual(r.status_code, 200, r.content[:500])
        self.assertIn("no-store", r["Cache-Control"])
        raw = re.search(r"tf_[A-Za-z0-9_-]{30,}", r.content.decode())
        assert raw is not None
        with scopes_disabled():
            key = ApiKey.objects.get(name="Assistant")
        self.assertEqual(key.key_hash, keys.hash_key(raw.group()))
        self.assertEqual((key.user, key.company, key.created_by), (self.worker, self.company, self.admin))
        self.assertEqual(key.scopes, ["tasks:read", "tasks:write"])
        change = client.get(f"/admin/api/apikey/{key.pk}/change/")
        self.assertEqual(change.status_code, 200)
        self.assertNotIn(raw.group(), change.content.decode())
        self.assertNotIn(raw.group(), client.get(LIST_URL).content.decode())
        api = ApiClient(raw.group())
        self.assertEqual(api.get("/tasks/mine").status_code, 200)
        self.assertEqual(api.get("/tickets").status_code, 403)  # no tickets:read scope

    def test_bad_input_is_a_form_error(self) -> None:
        client = self.admin_client()
        cases = [
            {"name": "No scopes", "user": self.worker.pk, "scopes": []},
            {"name": "Bad scope", "user": self.worker.pk, "scopes": ["root"]},
            {"name": "Foreign user", "user": self.other_submitter.pk, "scopes": ["tasks:read"]},
            {"name": "", "user": self.worker.pk, "scopes": ["tasks:read"]},
        ]
        for data in cases:
            r = client.post(ADD_URL, data)
            self.assertEqual(r.status_code, 200, data)  # the form again, not the created page
            self.assertNotContains(r, "tf_")
        make_key(self.worker, ["tasks:read"], name="Taken")
        self.assertEqual(
            client.post(
                ADD_URL, {"name": "Taken", "user": self.worker.pk, "scopes": ["tasks:read"]}
            ).status_code,
            200,
        )
        with scopes_disabled():
            self.assertEqual(ApiKey.objects.filter(company=self.company).count(), 1)

    def test_revoke_asks_then_revokes(self) -> None:
        key, raw = make_key(self.worker, ["tasks:read"])
        client = self.admin_client()
        confirm = client.post(LIST_URL, {"action": "revoke", "_selected_action": [key.pk]})
        self.assertEqual(confirm.status_code, 200)
        self.assertContains(confirm, "cannot be undone")
        self.assertEqual(ApiClient(raw).get("/tasks/mine").status_code, 200)
        done = client.post(LIST_URL, {"action": "revoke", "_selected_action": [key.pk], "confirm": "yes"})
        self.assertEqual(done.status_code, 302)
        with scopes_disabled():
            key.refresh_from_db()
        self.assertIsNotNone(key.revoked_at)
        self.assertEqual(ApiClient(raw).get("/tasks/mine").status_code, 401)

    def test_only_company_admins_and_only_their_company(self) -> None:
        for person in (self.ticket_admin, self.creator):
            client = Client()
            client.force_login(person)
            self.assertEqual(client.get(LIST_URL).status_code, 403, person)
            self.assertEqual(client.get(ADD_URL).status_code, 403, person)
        foreign_admin = self.other_submitter
        foreign_admin.groups.clear()
        from accounts.services import set_roles

        set_roles(user=foreign_admin, roles=["admin"])
        foreign_key, _ = make_key(foreign_admin, ["tasks:read"])
        client = self.admin_client()
        self.assertEqual(client.get(f"/admin/api/apikey/{foreign_key.pk}/change/").status_code, 404)
        self.assertNotContains(client.get(LIST_URL), foreign_key.prefix)
        client.post(LIST_URL, {"action": "revoke", "_selected_action": [foreign_key.pk], "confirm": "yes"})
        with scopes_disabled():
            foreign_key.refresh_from_db()
        self.assertIsNone(foreign_key.revoked_at)

    def test_keys_cannot_be_edited_or_deleted(self) -> None:
        key, _ = make_key(self.worker, ["tasks:read"])
        client = self.admin_client()
        client.post(
            f"/admin/api/apikey/{key.pk}/change/",
            {"name": "Renamed", "user": self.admin.pk, "scopes": ["tasks:write"]},
        )
        self.assertEqual(client.get(f"/admin/api/apikey/{key.pk}/delete/").status_code, 403)
        with scopes_disabled():
            key.refresh_from_db()
        self.assertEqual((key.name, key.user, key.scopes), (key.name, self.worker, ["tasks:read"]))
        self.assertNotEqual(key.name, "Renamed")
