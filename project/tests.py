"""Settings fail loudly and clearly on bad configuration."""

import os
import subprocess
import sys
from unittest import skipUnless

from django.conf import settings
from django.db import connection
from django.test import SimpleTestCase, TestCase

from project.testing import SmtpServer


def _import_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"TESTING", "DEBUG", "SECRET_KEY", "DATABASE_URL"}
    }
    return subprocess.run(
        [sys.executable, "-c", "import project.settings"],
        cwd=settings.BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


class SettingsTests(SimpleTestCase):
    def test_secret_key_required_without_debug(self) -> None:
        result = _import_settings(DEBUG="false")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("SECRET_KEY is not set", result.stderr)

    def test_malformed_database_url(self) -> None:
        result = _import_settings(DEBUG="true", DATABASE_URL="nosuchdb://what")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("DATABASE_URL is malformed", result.stderr)

    def test_bad_boolean(self) -> None:
        result = _import_settings(DEBUG="maybe")
        self.assertIn("DEBUG must be true or false", result.stderr)

    def test_debug_with_defaults_imports(self) -> None:
        result = _import_settings(DEBUG="true")
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_production_settings_pass_check_deploy(self) -> None:
        skip = {
            "TESTING",
            "DEBUG",
            "DATABASE_URL",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }  # the last is set by browser tests
        clean = {k: v for k, v in os.environ.items() if k not in skip}
        env = {
            **clean,
            "DEBUG": "false",
            "ALLOWED_HOSTS": "tickets.example.com",
            "SECRET_KEY": "x" * 30 + "-Zq8!" * 8,
        }
        result = subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("no issues", result.stdout)


_OPTIONS = (
    "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'project.settings'); django.setup();"
    "from django.conf import settings; print(sorted(settings.DATABASES['default'].get('OPTIONS', {}).items()))"
)


class PreparedStatementTests(SimpleTestCase):
    """Issue 10: on PostgreSQL parameters are bound on the server and repeated statements
    are prepared; DB_PREPARED_STATEMENTS=false turns both off (for a pooler that cannot
    keep prepared statements)."""

    def options(self, **env: str) -> str:
        clean = {k: v for k, v in os.environ.items() if k not in {"TESTING", "DB_PREPARED_STATEMENTS"}}
        result = subprocess.run(
            [sys.executable, "-c", _OPTIONS],
            cwd=settings.BASE_DIR,
            env={**clean, "DEBUG": "true", "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/tf", **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def test_on_by_default_for_postgresql(self) -> None:
        self.assertIn("('prepare_threshold', 5), ('server_side_binding', True)", self.options())

    def test_can_be_turned_off(self) -> None:
        out = self.options(DB_PREPARED_STATEMENTS="false")
        self.assertNotIn("server_side_binding", out)
        self.assertNotIn("prepare_threshold", out)

    def test_not_for_sqlite(self) -> None:
        self.assertNotIn("server_side_binding", self.options(DATABASE_URL="sqlite:///tmp/x.sqlite3"))


@skipUnless(connection.vendor == "postgresql", "PostgreSQL prepares statements")
class StalePreparedStatementTests(SimpleTestCase):
    """Another process changes a column's type (a migration while the app runs): a
    statement this connection prepared before is refused from then on. The request
    answers 503 (retry) and its connection is closed, so the next one prepares anew."""

    databases = {"default"}

    def test_the_connection_is_dropped_and_the_next_one_works(self) -> None:
        import psycopg
        from django.db import connections

        from workflows.resilience import drop_stale_connections, transient_database_error

        params = connection.get_connection_params()
        keep = ("dbname", "user", "host", "port", "password")
        migrator = psycopg.connect(**{k: v for k, v in params.items() if k in keep}, autocommit=True)
        migrator.execute("CREATE TABLE tf_probe_alter (id int PRIMARY KEY, name varchar(10))")
        self.addCleanup(migrator.close)
        self.addCleanup(migrator.execute, "DROP TABLE tf_probe_alter")
        self.addCleanup(connections.close_all)
        migrator.execute("INSERT INTO tf_probe_alter VALUES (1, 'x')")
        query = "SELECT id, name FROM tf_probe_alter WHERE id = %s"
        for _ in range(7):  # prepared from the sixth run on
            with connection.cursor() as cursor:
                cursor.execute(query, [1])
        migrator.execute("ALTER TABLE tf_probe_alter ALTER COLUMN name TYPE varchar(20)")
        try:
            with connection.cursor() as cursor:
                cursor.execute(query, [1])
        except Exception as exc:
            self.assertTrue(transient_database_error(exc))
            drop_stale_connections()
        else:
            self.fail("PostgreSQL ran the stale prepared statement")
        with connection.cursor() as cursor:
            cursor.execute(query, [1])
            self.assertEqual(cursor.fetchone(), (1, "x"))


@skipUnless(connection.vendor == "postgresql", "PostgreSQL prepares statements")
class PreparedOnTheServerTests(TestCase):
    def test_a_statement_run_a_sixth_time_runs_prepared(self) -> None:
        def prepared() -> int:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%tf_probe%"]
                )
                return int(cursor.fetchone()[0])

        seen = []
        for i in range(7):
            with connection.cursor() as cursor:
                cursor.execute("SELECT %s::int + 1 AS tf_probe", [i])
                self.assertEqual(cursor.fetchone()[0], i + 1)
            seen.append(prepared())
        # Planned anew five times (prepare_threshold), then prepared once and reused.
        self.assertEqual(seen, [0, 0, 0, 0, 0, 1, 1])


_SEND = (
    "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'project.settings'); django.setup();"
    "from django.core.mail import send_mail;"
    "send_mail('Hello', 'Sent with the environment settings.', None, ['someone@example.com'])"
)


def _send_with_env(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"TESTING", "DATABASE_URL"} | _MAIL_VARS}
    return subprocess.run(
        [sys.executable, "-c", _SEND],
        cwd=settings.BASE_DIR,
        env={**clean, "DEBUG": "true", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


_MAIL_VARS = {"EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS"}
_MAIL_VARS |= {"EMAIL_USE_SSL", "EMAIL_BACKEND", "EMAIL_TIMEOUT"}


class MailSettingsTests(SimpleTestCase):
    """EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD and EMAIL_USE_TLS
    from the environment reach a real SMTP server (in a fresh process)."""

    def setUp(self) -> None:
        self.server = SmtpServer(username="mailer", password="s3cret-pass").start()
        self.addCleanup(self.server.stop)
        self.env = {
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.server.port),
            "EMAIL_HOST_USER": "mailer",
            "EMAIL_HOST_PASSWORD": "s3cret-pass",
        }

    def test_host_port_and_login_from_the_environment(self) -> None:
        result = _send_with_env(**self.env)
        self.assertEqual(result.returncode, 0, result.stderr)
        [delivered] = self.server.messages()
        self.assertEqual(delivered.recipients, ["someone@example.com"])
        self.assertEqual(delivered.subject, "Hello")
        self.assertIn("Sent with the environment settings.", delivered.text)

    def test_wrong_password_is_refused_and_nothing_delivered(self) -> None:
        result = _send_with_env(**{**self.env, "EMAIL_HOST_PASSWORD": "wrong"})
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("SMTPAuthenticationError", result.stderr)
        self.assertEqual(self.server.messages(), [])

    def test_use_tls_asks_for_starttls(self) -> None:
        # The loopback server offers no STARTTLS, so a client that honours EMAIL_USE_TLS must stop.
        result = _send_with_env(**self.env, EMAIL_USE_TLS="true")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("STARTTLS", result.stderr)
        self.assertEqual(self.server.messages(), [])

    def test_tls_and_ssl_together_are_refused(self) -> None:
        result = _import_settings(
            DEBUG="true", EMAIL_HOST="smtp.example.com", EMAIL_USE_TLS="true", EMAIL_USE_SSL="true"
        )
        self.assertIn("at most one of EMAIL_USE_TLS and EMAIL_USE_SSL", result.stderr)
