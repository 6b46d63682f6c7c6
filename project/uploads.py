"""Upload limits per request, enforced while the body streams in.

`UploadLimitHandler` (first in FILE_UPLOAD_HANDLERS) counts files and bytes as the
multipart parser hands them over and stops the parse the moment a limit is passed: an
announced Content-Length over the request limit is refused before a byte is read, and a
body that lies about its length is cut off as soon as it passes a limit, so a 40 MiB
file is not received in full to be refused afterwards. `UploadLimitMiddleware` parses
multipart bodies up front (before CSRF reads the form) and answers 413 with a clear
page when the handler refused, so no view ever sees half a request.

Settings: UPLOAD_MAX_BYTES (one file), UPLOAD_MAX_FILES (files per request),
UPLOAD_MAX_REQUEST_BYTES (the whole multipart body)."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils.datastructures import MultiValueDict


class UploadTooLarge(RequestDataTooBig):
    """A multipart request over one of the upload limits (message for people)."""


def _limit_message(problem: str) -> str:
    return (
        f"{problem} Limits: {settings.UPLOAD_MAX_FILES} files, "
        f"{filesizeformat(settings.UPLOAD_MAX_BYTES)} per file, "
        f"{filesizeformat(settings.UPLOAD_MAX_REQUEST_BYTES)} in total."
    )


class UploadLimitHandler(FileUploadHandler):
    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.files = 0
        self.total = 0
        self.file_bytes = 0

    def _refuse(self, problem: str) -> None:
        if self.request is not None:
            self.request.upload_refused = _limit_message(problem)  # type: ignore[attr-defined]
        # connection_reset: do not read (drain) the rest of the body.
        raise StopUpload(connection_reset=True)

    def handle_raw_input(
        self, input_data: Any, meta: Any, content_length: int, boundary: Any, encoding: Any = None
    ) -> tuple[QueryDict, MultiValueDict[str, Any]] | None:
        if content_length > settings.UPLOAD_MAX_REQUEST_BYTES:
            # Refused on the announced length: "parsed" as empty, nothing read.
            if self.request is not None:
                self.request.upload_refused = _limit_message("The upload is larger than allowed.")  # type: ignore[attr-defined]
            return QueryDict(), MultiValueDict()
        return None

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.files += 1
        self.file_bytes = 0
        if self.files > settings.UPLOAD_MAX_FILES:
            self._refuse("Too many files in one upload.")

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.total += len(raw_data)
        self.file_bytes += len(raw_data)
        if self.file_bytes > settings.UPLOAD_MAX_BYTES:
            self._refuse(f"'{self.file_name}' is larger than allowed.")
        if self.total > settings.UPLOAD_MAX_REQUEST_BYTES:
            self._refuse("The upload is larger than allowed.")
        return raw_data  # on to the next handler, which stores it

    def file_complete(self, file_size: int) -> None:
        return None


class UploadLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.content_type == "multipart/form-data":
            try:
                request.POST  # noqa: B018  (parse now, through the upload handlers)
            except RequestDataTooBig as exc:
                return self._refused(request, str(exc))
            refused = getattr(request, "upload_refused", None)
            if refused:
                return self._refused(request, refused)
        return self.get_response(request)

    def _refused(self, request: HttpRequest, message: str) -> HttpResponse:
        context = {"status": 413, "title": "The upload is too large", "reason": message}
        response = render(request, "error.html", context, status=413)
        response["Connection"] = "close"  # the rest of the body was not read
        return response
