"""Schemathesis fuzzes the OpenAPI document, positive and negative cases for every
operation, against the real app in-process: no 5xx, and every response conforms to the
document (status code, content type, headers, body schema)."""

import tempfile
import time

import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.roles import SystemRole
from api.tests.base import ApiClient, ApiTestCase, make_key
from project.testing import make_user

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_MODE = 15


@override_settings(
    API_RATE_LIMIT=1_000_000, MEDIA_ROOT=tempfile.mkdtemp(), ALLOWED_HOSTS=["localhost", "testserver"]
)
class OpenApiFuzzTests(ApiTestCase):
    def test_fuzz_every_operation(self) -> None:
        everyone = make_user(self.company, *SystemRole.values)
        _, raw = make_key(everyone)
        for i in range(3):  # some real rows, so ids and filters sometimes hit
            self.submit(ApiClient(raw), f"Seed {i}")
        # In-process WSGI calls would close the test's connection (and its transaction)
        # after each request; Django's own test client suspends this the same way.
        for signal in (request_started, request_finished):
            signal.disconnect(close_old_connections)
            self.addCleanup(signal.connect, close_old_connections)
        schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
        headers = {"Authorization": f"Bearer {raw}"}
        operations = [result.ok() for result in schema.get_all_operations()]
        self.assertGreaterEqual(len(operations), 20)  # claim, release, claimable, comments too
        started = time.monotonic()
        ran = 0
        for operation in operations:
            for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
                with self.subTest(operation=operation.label, mode=mode.value):

                    @given(case=operation.as_strategy(generation_mode=mode))
                    @hypothesis_settings(
                        max_examples=EXAMPLES_PER_MODE,
                        deadline=None,
                        database=None,
                        derandomize=True,
                        suppress_health_check=list(HealthCheck),
                        phases=[Phase.explicit, Phase.generate],
                    )
                    def check(case: schemathesis.Case) -> None:
                        nonlocal ran
                        ran += 1
                        case.call_and_validate(headers=headers, checks=CHECKS)

                    try:
                        check()
                    except Unsatisfiable:  # nothing to make invalid (e.g. no parameters)
                        self.assertEqual(mode, schemathesis.GenerationMode.NEGATIVE)
        self.assertGreater(ran, len(operations) * 2)
        print(f"\nschemathesis: {ran} requests in {time.monotonic() - started:.1f}s")
