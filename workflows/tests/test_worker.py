"""A real `manage.py db_worker` process runs an action task end to end."""

import os
import subprocess
import sys
import time

from django.conf import settings
from django.db import connection
from django.test import TransactionTestCase, override_settings
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import (
    LoopbackServer,
    json_reply,
    make_company,
    make_ticket_type,
    make_user,
    make_workflow,
)
from tickets.services import submit_ticket
from workflows.models import TaskType, WorkflowInstance, WorkflowStatus


@override_settings(ACTIONS_ALLOW_PRIVATE_NETWORKS=True)
class DbWorkerProcessTests(TransactionTestCase):
    def test_db_worker_runs_a_sync_action(self) -> None:
        server = LoopbackServer().start()
        self.addCleanup(server.stop)
        server.handler = lambda body, headers: json_reply(200, {"ok": True})
        company = make_company()
        user = make_user(company, SystemRole.USER)
        wf = make_workflow(
            company, [{"key": "call", "task_type": TaskType.SYNC_ACTION, "action_url": server.url}]
        )
        tt = make_ticket_type(company, wf, fields={"type": "object"})
        with company_scope(company):
            submit_ticket(user=user, ticket_type=tt, data={})

        db = settings.DATABASES["default"]
        env = {
            **os.environ,
            "TESTING": "true",
            "ACTIONS_ALLOW_PRIVATE_NETWORKS": "true",
            "DATABASE_URL": _url_for(db),
        }
        proc = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--batch",
                "--no-startup-delay",
                "--no-reload",
                "--interval",
                "0",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(proc.returncode, 0, proc.stderr)
        deadline = time.monotonic() + 10
        with scopes_disabled():
            while (
                WorkflowInstance.objects.get().status != WorkflowStatus.COMPLETED
                and time.monotonic() < deadline
            ):
                time.sleep(0.1)
            self.assertEqual(WorkflowInstance.objects.get().status, WorkflowStatus.COMPLETED)
        self.assertEqual(len(server.requests), 1)


def _url_for(db: dict) -> str:  # type: ignore[type-arg]
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
