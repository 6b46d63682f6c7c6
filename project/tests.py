"""Settings fail loudly and clearly on bad configuration."""

import os
import subprocess
import sys

from django.conf import settings
from django.test import SimpleTestCase


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
