"""The security findings of issue 11, each reproduced first, then fixed."""

import io
import shutil
import tempfile
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory, TestCase, override_settings
from django.test.client import BOUNDARY, MULTIPART_CONTENT, ClientHandler, encode_multipart
from django.urls import reverse
from django_scopes import scopes_disabled

from accounts.roles import SystemRole
from accounts.tenancy import company_scope
from project.testing import make_company, make_ticket_type, make_user, make_workflow
from tickets.models import FileUpload, Ticket, TicketType
from tickets.services import submit_ticket
from workflows.models import TaskDefinition


class SecurityTestCase(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.company = make_company("Sec Co")
        cls.submitter = make_user(cls.company, SystemRole.USER)
        cls.worker = make_user(cls.company, SystemRole.TASK_WORKER)
        cls.ticket_admin = make_user(cls.company, SystemRole.TICKET_ADMIN)
        cls.superuser = make_user(None, is_superuser=True)
        cls.wf = make_workflow(cls.company, [{"key": "a"}, {"key": "b"}], [("a", "b", "", 0)])
        cls.tt = make_ticket_type(cls.company, cls.wf, fields={"type": "object"})
        with company_scope(cls.company):
            cls.ticket = submit_ticket(user=cls.submitter, ticket_type=cls.tt, data={"title": "Help"})
            cls.upload = FileUpload.objects.create(
                company=cls.company, ticket=cls.ticket, filename="a.txt", uploaded_by=cls.submitter
            )


class SuperuserOnUserPagesTests(SecurityTestCase):
    """Finding 7: a platform superuser (no company) got a 500 from `company_id_of`."""

    def test_ticket_detail_cancel_and_attachment_are_404_not_500(self) -> None:
        self.client.force_login(self.superuser)
        for url in (
            reverse("ticket_detail", args=[self.ticket.pk]),
            reverse("attachment_download", args=[self.upload.pk]),
        ):
            with self.subTest(url=url):
                self.assertEqual(self.client.get(url).status_code, 404)
        response = self.client.post(reverse("ticket_cancel", args=[self.ticket.pk]))
        self.assertEqual(response.status_code, 404)
        with scopes_disabled():
            self.ticket.workflow_instance.refresh_from_db()
            self.assertEqual(self.ticket.workflow_instance.status, "IN_PROGRESS")

    def test_role_pages_refuse_with_a_page_not_a_crash(self) -> None:
        self.client.force_login(self.superuser)
        for name in ("ticket_new", "ticket_list", "ticket_archive", "task_list"):
            with self.subTest(name=name):
                self.assertEqual(self.client.get(reverse(name)).status_code, 403)
        self.assertEqual(self.client.get(reverse("home")).status_code, 200)


class StateChangesOnlyByPostTests(SecurityTestCase):
    """Finding 1: detail actions changed tickets on GET, without CSRF or confirmation,
    then redirected to the Referer (an open redirect)."""

    def status(self) -> str:
        with scopes_disabled():
            self.ticket.workflow_instance.refresh_from_db()
            return str(self.ticket.workflow_instance.status)

    def test_get_on_every_ticket_and_task_detail_action_only_asks(self) -> None:
        self.client.force_login(self.ticket_admin)
        with scopes_disabled():
            task = self.ticket.workflow_instance.tasks.get()
        urls = [
            reverse(f"admin:tickets_ticket_{op}_detail", args=[self.ticket.pk])
            for op in ("retry", "hold", "resume", "cancel")
        ] + [
            reverse(f"admin:workflows_taskinstance_{op}_detail", args=[task.pk])
            for op in ("retry", "reassign", "complete")
        ]
        for url in urls:
            with self.subTest(url=url):
                response = self.client.get(url, HTTP_REFERER="https://evil.example/")
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, 'name="csrfmiddlewaretoken"')
                self.assertEqual(self.status(), "IN_PROGRESS")

    def test_post_without_csrf_token_is_refused(self) -> None:
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        client.force_login(self.ticket_admin)
        url = reverse("admin:tickets_ticket_hold_detail", args=[self.ticket.pk])
        self.assertEqual(client.post(url).status_code, 403)
        self.assertEqual(self.status(), "IN_PROGRESS")
        # With the token from the confirmation page, it acts.
        client.get(url)
        token = client.cookies["csrftoken"].value
        response = client.post(url, {"csrfmiddlewaretoken": token})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(self.status(), "ON_HOLD")

    def test_redirect_goes_to_the_object_never_the_referer(self) -> None:
        self.client.force_login(self.ticket_admin)
        url = reverse("admin:tickets_ticket_hold_detail", args=[self.ticket.pk])
        response = self.client.post(url, HTTP_REFERER="https://evil.example/phish")
        self.assertRedirects(
            response,
            reverse("admin:tickets_ticket_change", args=[self.ticket.pk]),
            fetch_redirect_response=False,
        )
        self.assertEqual(self.status(), "ON_HOLD")

    def test_back_office_cancel_needs_a_reason_the_submitter_sees(self) -> None:
        self.client.force_login(self.ticket_admin)
        url = reverse("admin:tickets_ticket_cancel_detail", args=[self.ticket.pk])
        response = self.client.post(url, {"reason": ""})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "This field is required")
        self.assertEqual(self.status(), "IN_PROGRESS")
        self.client.post(url, {"reason": "Duplicate of #12, handled there."})
        self.assertEqual(self.status(), "CANCELLED")
        self.client.force_login(self.submitter)
        page = self.client.get(reverse("ticket_detail", args=[self.ticket.pk]))
        self.assertContains(page, "Duplicate of #12, handled there.")

    def test_bulk_actions_confirm_before_acting(self) -> None:
        self.client.force_login(self.ticket_admin)
        changelist = reverse("admin:tickets_ticket_changelist")
        response = self.client.post(
            changelist, {"action": "cancel_selected", "_selected_action": [self.ticket.pk]}
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'data-testid="confirm-operation"')
        self.assertEqual(self.status(), "IN_PROGRESS")
        self.client.post(
            changelist,
            {
                "action": "cancel_selected",
                "_selected_action": [self.ticket.pk],
                "confirm": "yes",
                "reason": "",
            },
        )
        self.assertEqual(self.status(), "IN_PROGRESS")  # a cancel needs its reason
        self.client.post(
            changelist,
            {
                "action": "cancel_selected",
                "_selected_action": [self.ticket.pk],
                "confirm": "yes",
                "reason": "Spam",
            },
        )
        self.assertEqual(self.status(), "CANCELLED")

    def test_submitters_cancel_asks_first_and_needs_a_reason(self) -> None:
        self.client.force_login(self.submitter)
        url = reverse("ticket_cancel", args=[self.ticket.pk])
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Cancel ticket #")
        self.assertEqual(self.status(), "IN_PROGRESS")
        self.assertContains(self.client.post(url, {"reason": "  "}), "This field is required")
        self.assertEqual(self.status(), "IN_PROGRESS")
        response = self.client.post(url, {"reason": "Solved it myself"})
        self.assertRedirects(response, reverse("ticket_detail", args=[self.ticket.pk]))
        self.assertEqual(self.status(), "CANCELLED")
        self.assertContains(
            self.client.get(reverse("ticket_detail", args=[self.ticket.pk])), "Solved it myself"
        )
        # Another submitter of the company cannot even see the page.
        other = make_user(self.company, SystemRole.USER)
        self.client.force_login(other)
        self.assertEqual(self.client.get(url).status_code, 404)


class SafeLinksTests(SecurityTestCase):
    """Finding 2: only the bundle validator enforced http(s); the admin forms and CSV/JSON
    import stored `javascript:` and `data:` URIs that rendered as links."""

    BAD = [
        "javascript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://x.example/f",
        "//evil.example/x",
        "JaVaScRiPt:alert(1)",
    ]

    def task_def(self) -> "TaskDefinition":
        with scopes_disabled():
            return TaskDefinition.objects.filter(workflow=self.wf).first()  # type: ignore[return-value]

    def test_model_layer_refuses_bad_ext_ref_and_action_urls(self) -> None:
        task = self.task_def()
        for uri in self.BAD:
            with self.subTest(uri=uri), scopes_disabled():
                task.ext_ref = [{"label": "Guide", "uri": uri}]
                with self.assertRaises(ValidationError):
                    task.full_clean()  # what admin forms run
                with self.assertRaises(ValidationError):
                    task.save()  # and any write that skips forms
                self.tt.ext_ref = [{"label": "Guide", "uri": uri}]
                with self.assertRaises(ValidationError):
                    self.tt.save()
                task.ext_ref = []
                task.action_url = uri
                with self.assertRaises(ValidationError):
                    task.save()
        with scopes_disabled():
            task.refresh_from_db()
            self.assertEqual((task.ext_ref, task.action_url), ([], ""))
            task.ext_ref = [{"label": "Guide", "uri": "https://docs.example/guide"}]
            task.action_url = "https://api.example/hook"
            task.full_clean()
            task.save()

    def test_csv_import_refuses_javascript_links(self) -> None:
        creator = make_user(self.company, SystemRole.WORKFLOW_CREATOR)
        self.client.force_login(creator)
        task = self.task_def()
        bad = '"[{""label"": ""Guide"", ""uri"": ""javascript:alert(1)""}]"'
        csv = f"workflow,key,title,task_type,ext_ref\n{self.wf.key},{task.key},T,FORM,{bad}\n"
        response = self.client.post(
            reverse("admin:workflows_taskdefinition_import"),
            {"format": "0", "resource": "0", "import_file": SimpleUploadedFile("rows.csv", csv.encode())},
        )
        result = response.context["result"]
        self.assertTrue(result.has_errors() or result.has_validation_errors())
        with scopes_disabled():
            task.refresh_from_db()
        self.assertEqual(task.ext_ref, [])

    def test_bundle_import_refuses_javascript_links(self) -> None:
        from tickets.bundles import BundleInvalid, export_bundle, import_bundle

        with company_scope(self.company):
            bundle = export_bundle(company=self.company)
            bundle["workflows"][0]["tasks"][0]["ext_ref"] = [{"label": "x", "uri": "javascript:alert(1)"}]
            with self.assertRaises(BundleInvalid):
                import_bundle(company=self.company, bundle=bundle, actor=self.ticket_admin)

    def test_links_render_only_http_with_noopener(self) -> None:
        with scopes_disabled():
            # A row stored before validation existed (update() skips save()).
            TicketType.objects.filter(pk=self.tt.pk).update(
                ext_ref=[
                    {"label": "Bad", "uri": "javascript:alert(1)"},
                    {"label": "Good", "uri": "https://docs.example/"},
                ]
            )
        self.client.force_login(self.submitter)
        page = self.client.get(reverse("ticket_new")).content.decode()
        self.assertNotIn("javascript:", page)
        self.assertIn('<a href="https://docs.example/" rel="noopener noreferrer"', page)


class ContentSecurityPolicyTests(SecurityTestCase):
    """Finding 2 (second half): the user pages' CSP allowed 'unsafe-inline' scripts."""

    def script_src(self, url: str) -> list[str]:
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200, url)
        policy = response.headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
        self.assertEqual(directives.get("object-src"), "'none'")
        return directives["script-src"].split()

    def test_user_pages_allow_no_inline_script(self) -> None:
        self.assertEqual(self.script_src(reverse("login")), ["'self'"])
        self.client.force_login(self.submitter)
        for url in (
            reverse("ticket_new"),
            reverse("ticket_submit", args=[self.tt.pk]),
            reverse("ticket_list"),
        ):
            with self.subTest(url=url):
                self.assertEqual(self.script_src(url), ["'self'"])

    def test_admin_allows_eval_for_alpine_but_no_inline_script(self) -> None:
        self.client.force_login(self.ticket_admin)
        for url in ("/admin/", reverse("admin:tickets_ticket_change", args=[self.ticket.pk])):
            with self.subTest(url=url):
                self.assertEqual(sorted(self.script_src(url)), ["'self'", "'unsafe-eval'"])


class CountingInput:
    """A wsgi.input that counts the bytes the server actually read."""

    def __init__(self, body: bytes) -> None:
        self.stream = io.BytesIO(body)
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.read_bytes += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self.stream.readline(size)
        self.read_bytes += len(data)
        return data


@override_settings(UPLOAD_MAX_BYTES=1024 * 1024, UPLOAD_MAX_FILES=3, UPLOAD_MAX_REQUEST_BYTES=3 * 1024 * 1024)
class UploadLimitTests(SecurityTestCase):
    """Finding 5: uploads were limited per file only (12 x 4.9 MiB went through in one
    submission), and a 40 MiB file was received in full before being refused."""

    def setUp(self) -> None:
        super().setUp()
        media = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, media, True)
        self.enterContext(override_settings(MEDIA_ROOT=media))

    def submit(self, files: list[SimpleUploadedFile]) -> Any:
        self.client.force_login(self.submitter)
        return self.client.post(
            reverse("ticket_submit", args=[self.tt.pk]), {"title": "Files", "attachments": files}
        )

    def assert_nothing_stored(self) -> None:
        with scopes_disabled():
            self.assertEqual(Ticket.objects.filter(company=self.company).count(), 1)  # the fixture's
            self.assertEqual(FileUpload.objects.filter(company=self.company).count(), 1)

    def test_too_many_files_in_one_request(self) -> None:
        response = self.submit([SimpleUploadedFile(f"{i}.txt", b"x" * 100) for i in range(4)])
        self.assertContains(response, "Too many files", status_code=413)
        self.assertContains(response, "3 files", status_code=413)
        self.assert_nothing_stored()

    @override_settings(UPLOAD_MAX_REQUEST_BYTES=2 * 1024 * 1024)
    def test_too_many_bytes_in_one_request(self) -> None:
        part = b"x" * (900 * 1024)  # each file under the 1 MiB limit; three over 2 MiB
        response = self.submit([SimpleUploadedFile(f"{i}.bin", part) for i in range(3)])
        self.assertContains(response, "larger than allowed", status_code=413)
        self.assert_nothing_stored()
        response = self.submit([SimpleUploadedFile(f"{i}.bin", part) for i in range(2)])
        self.assertEqual(response.status_code, 302)

    def test_within_limits_is_accepted(self) -> None:
        response = self.submit([SimpleUploadedFile(f"{i}.txt", b"ok") for i in range(3)])
        self.assertEqual(response.status_code, 302)

    def raw_post(self, body: bytes, content_type: str) -> tuple[int, CountingInput]:
        """Posts through the full middleware stack with a counted input stream."""
        self.client.force_login(self.submitter)
        counting = CountingInput(body)
        environ = RequestFactory()._base_environ(
            PATH_INFO=reverse("ticket_submit", args=[self.tt.pk]),
            REQUEST_METHOD="POST",
            CONTENT_TYPE=content_type,
            CONTENT_LENGTH=str(len(body)),
            HTTP_COOKIE=f"sessionid={self.client.cookies['sessionid'].value}",
            **{"wsgi.input": counting},
        )
        response = ClientHandler(enforce_csrf_checks=False)(environ)
        return response.status_code, counting

    def test_oversized_file_is_cut_off_while_streaming(self) -> None:
        # 8 MiB announced, over the 3 MiB request limit: refused before reading a byte.
        big = encode_multipart(
            BOUNDARY, {"title": "x", "attachments": SimpleUploadedFile("big.bin", b"x" * (8 << 20))}
        )
        status, counting = self.raw_post(big, MULTIPART_CONTENT)
        self.assertEqual(status, 413)
        self.assertEqual(counting.read_bytes, 0)
        # 2.5 MiB (under the request limit) in one file over the 1 MiB file limit: reading
        # stops soon after the first MiB instead of receiving the whole file.
        one = encode_multipart(
            BOUNDARY, {"title": "x", "attachments": SimpleUploadedFile("one.bin", b"x" * (5 << 19))}
        )
        status, counting = self.raw_post(one, MULTIPART_CONTENT)
        self.assertEqual(status, 413)
        self.assertLess(counting.read_bytes, (1 << 20) + 2 * 65536 + 4096)
        self.assert_nothing_stored()
