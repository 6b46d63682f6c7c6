"""A real uvicorn server on loopback, in a thread, serving project.asgi's dispatcher
(Django plus /mcp), so the SDK's own client talks HTTP to it."""

import socket
import threading
import time

import uvicorn

from api.mcp_server import build_asgi


class LiveAsgiServer:
    def __init__(self) -> None:
        from project.asgi import dispatcher, django_application

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        config = uvicorn.Config(
            dispatcher(django_application, build_asgi()),
            host="127.0.0.1",
            port=self.port,
            lifespan="on",
            log_level="warning",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LiveAsgiServer":
        self.thread.start()
        for _ in range(200):  # bounded wait for startup
            if self.server.started:
                return self
            time.sleep(0.05)
        raise RuntimeError("uvicorn did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
