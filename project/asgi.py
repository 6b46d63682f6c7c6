"""The ASGI entry point: /mcp goes to the MCP server (api.mcp_server), everything else to
Django. Served by uvicorn, in `make run` and in production (see README)."""

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_application = get_asgi_application()

from starlette.types import ASGIApp, Receive, Scope, Send  # noqa: E402 - after Django is set up

from api.mcp_server import build_asgi  # noqa: E402


def dispatcher(django_app: Any, mcp_app: ASGIApp) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" or (
            scope["type"] == "http" and (scope["path"] == "/mcp" or scope["path"].startswith("/mcp/"))
        ):  # Django has no lifespan; the MCP session manager does
            await mcp_app(scope, receive, send)
        else:
            await django_app(scope, receive, send)

    return app


application = dispatcher(django_application, build_asgi())
