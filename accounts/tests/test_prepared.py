"""Queries compiled once per process (accounts.prepared), and the two every request runs
through it or without the ORM: the session read and the user (issue 15)."""

import threading
from datetime import timedelta
from typing import Any
from unittest import mock

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import connection, connections
from django.db.models import JSONField, QuerySet, Value
from django.db.models.functions import Cast
from django.db.models.sql.compiler import SQLCompiler
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.backends import UserBackend
from accounts.models import User
from accounts.prepared import _CONNECTIONS_KEPT, Prepared
from accounts.roles import SystemRole
from accounts.sessions import SessionStore
from project.testing import make_company, make_user


class PreparedTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company()
        cls.a = make_user(cls.company, SystemRole.USER, first_name="Ada")
        cls.b = make_user(cls.company, SystemRole.USER, first_name="Bob")

    def test_compiled_once_and_bound_per_call(self) -> None:
        built: list[Any] = []

        def build(key: str, user_id: int) -> QuerySet[User]:
            built.append(user_id)
            return User.objects.filter(pk=user_id).only("first_name")

        prepared = Prepared(build)
        with override_settings(DEBUG=False, TESTING=False):
            names = [prepared.objects("k", u.pk)[0].first_name for u in (self.a, self.b, self.a)]
            missing = prepared.objects("k", 10**9)
        self.assertEqual(names, ["Ada", "Bob", "Ada"])
        self.assertEqual(missing, [])
        self.assertEqual(len(built), 1)  # the sentinel build only: no queryset per call
        self.assertLess(built[0], 0)

    def test_an_id_beyond_64_bits_matches_nothing_without_a_query(self) -> None:
        prepared = Prepared(lambda key, user_id: User.objects.filter(pk=user_id))
        with self.assertNumQueries(0):
            self.assertEqual(prepared.objects("k", 2**63), [])
            self.assertEqual(prepared.tuples("k", 2**63), [])
            self.assertIsNone(prepared.row("k", 2**63))
        self.client.force_login(self.a)
        self.assertEqual(self.client.get(f"/tickets/{2**63}/").status_code, 404)
        self.assertEqual(self.client.get(f"/tickets/new/{2**64}/").status_code, 404)

    def test_values_converts_columns_as_values_list_does(self) -> None:
        # A JSON column comes from PostgreSQL as text (and a datetime from SQLite): only
        # the field's converter makes it what `values_list` returns.
        def build(key: str, user_id: int) -> QuerySet[Any]:
            return (
                User.objects.filter(pk=user_id)
                .annotate(doc=Cast(Value('{"a": [1]}'), output_field=JSONField()))
                .values_list("pk", "first_name", "created_at", "doc")
            )

        prepared = Prepared(build)
        for user in (self.a, self.b):
            rows = prepared.values("k", user.pk)
            self.assertEqual(rows, list(build("k", user.pk)))
            self.assertEqual(rows[0][3], {"a": [1]})
        self.assertEqual(prepared.values("k", 10**9), [])

    def test_converters_are_worked_out_once_per_connection(self) -> None:
        prepared = Prepared(
            lambda key, user_id: User.objects.filter(pk=user_id).values_list("pk", "created_at")
        )
        with_company = Prepared(
            lambda key, user_id: User.objects.filter(pk=user_id).select_related("company")
        )
        original = SQLCompiler.get_converters
        with mock.patch.object(SQLCompiler, "get_converters", autospec=True, side_effect=original) as spy:
            rows = [prepared.values("k", u.pk) for u in (self.a, self.b, self.a)]
            users = [prepared_user.pk for prepared_user in with_company.objects("k", self.b.pk)]
        self.assertEqual(rows, [[(u.pk, u.created_at)] for u in (self.a, self.b, self.a)])
        self.assertEqual(users, [self.b.pk])
        self.assertEqual(spy.call_count, 2)  # one per prepared query, not per call
        self.assertEqual([u.pk for u in with_company.objects("k", self.a.pk)], [self.a.pk])

    def test_converters_of_connections_that_come_and_go_are_let_go(self) -> None:
        # As under ASGI: each request's thread has its own connection, then ends.
        prepared = Prepared(lambda key, user_id: User.objects.filter(pk=user_id).values_list("pk"))
        found: list[Any] = []

        def one_request() -> None:
            try:
                found.append(prepared.values("k", self.a.pk))
            finally:
                connections.close_all()

        for _ in range(20):
            thread = threading.Thread(target=one_request)
            thread.start()
            thread.join()
        self.assertEqual(len(found), 20)  # (the rows are this test's uncommitted ones)
        [compiled] = prepared._cache.values()
        self.assertLessEqual(len(compiled.converters), _CONNECTIONS_KEPT)

    def test_a_user_argument_binds_its_id_and_company(self) -> None:
        other = make_user(make_company(), SystemRole.USER, first_name="Cy")
        prepared = Prepared(lambda key, user: User.objects.filter(pk=user.pk, company_id=user.company_id))
        found = [prepared.objects("k", u)[0].first_name for u in (self.a, other, self.b)]
        self.assertEqual(found, ["Ada", "Cy", "Bob"])
        with self.assertRaises(ValueError):
            prepared.objects("k", User(pk=None, company_id=None))

    def test_a_key_that_misses_a_branch_fails_the_check(self) -> None:
        # The caller decides on something the key does not name: under TESTING the
        # fresh compile disagrees with the cached one and the call fails loudly.
        flag = {"active_only": True}

        def build(key: str, user_id: int) -> QuerySet[User]:
            qs = User.objects.filter(pk=user_id)
            return qs.filter(is_active=True) if flag["active_only"] else qs

        prepared = Prepared(build)
        prepared.objects("same", self.a.pk)
        flag["active_only"] = False
        with self.assertRaises(AssertionError):
            prepared.objects("same", self.a.pk)

    def test_an_id_not_bound_as_a_parameter_fails_the_check(self) -> None:
        def build(key: str, user_id: int) -> QuerySet[User]:
            return User.objects.filter(email=f"user{user_id}@example.com")

        with self.assertRaises(AssertionError):
            Prepared(build).objects("k", self.a.pk)


class RequestUserTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Acme")
        cls.user = make_user(cls.company, SystemRole.USER, SystemRole.TASK_WORKER)

    def test_user_company_and_roles_in_one_query(self) -> None:
        with CaptureQueriesContext(connection) as ctx:
            user = UserBackend().get_user(self.user.pk)
            assert user is not None
            self.assertEqual(user.company.name, "Acme")
            self.assertEqual(user.role_names, frozenset({SystemRole.USER, SystemRole.TASK_WORKER}))
        self.assertEqual(len(ctx.captured_queries), 1)

    def test_inactive_missing_or_malformed_ids_are_no_user(self) -> None:
        User.objects.filter(pk=self.user.pk).update(is_active=False)
        self.assertIsNone(UserBackend().get_user(self.user.pk))
        self.assertIsNone(UserBackend().get_user(10**9))
        self.assertIsNone(UserBackend().get_user("not a number"))
        self.assertIsNone(UserBackend().get_user(None))


class SessionReadTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.user = make_user(make_company(), SystemRole.USER)

    def test_the_engine_reads_sessions_without_the_orm(self) -> None:
        self.client.force_login(self.user)
        key = self.client.cookies["sessionid"].value
        with CaptureQueriesContext(connection) as ctx:
            data = SessionStore(key).load()
        self.assertEqual(str(data[SESSION_KEY]), str(self.user.pk))
        self.assertEqual(len(ctx.captured_queries), 1)
        # The lean read selects the data only (the ORM's get() selects every column).
        self.assertIn("SELECT session_data FROM", ctx.captured_queries[0]["sql"])

    def test_deleted_or_expired_sessions_log_out(self) -> None:
        home = reverse("profile")
        self.client.force_login(self.user)
        self.assertEqual(self.client.get(home).status_code, 200)
        key = self.client.cookies["sessionid"].value
        Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
        self.assertEqual(self.client.get(home).status_code, 302)
        self.client.force_login(self.user)
        Session.objects.filter(session_key=self.client.cookies["sessionid"].value).delete()
        self.assertEqual(self.client.get(home).status_code, 302)
        store = SessionStore("no-such-session-key-0123456789ab")
        self.assertEqual(store.load(), {})
        self.assertIsNone(store.session_key)
