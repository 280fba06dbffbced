"""Serving the simulator over real HTTP with uvicorn, on the loopback interface by default.

``serve_simulator`` blocks (the ``aom-bot simulate`` command); ``SimulatorServer`` runs it in a
background thread on a free port, for tests that need a real socket (the official Huawei SDK) and
for running the bot and the simulator in one process.

>>> with SimulatorServer(app) as server:          # doctest: +SKIP
...     httpx.get(server.base_url + "/v1/...")
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn
from starlette.applications import Starlette

__all__ = ["SimulatorServer", "serve_simulator"]


def _config(app: Starlette, host: str, port: int, log_level: str) -> uvicorn.Config:
    # no lifespan: the app keeps no lifespan state, and ASGITransport runs none either
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="off")


def serve_simulator(app: Starlette, host: str = "127.0.0.1", port: int = 8765,
                    log_level: str = "info") -> None:  # fmt: skip
    """Serve ``app`` until interrupted (Ctrl-C); warns when it accepts any credentials."""
    auth = getattr(app.state, "authenticator", None)
    if auth is not None and auth.credentials.is_open:
        logging.getLogger("aom_bot.simulator").warning(
            "simulator.auth.open: no credentials configured, every request is accepted"
        )
    uvicorn.Server(_config(app, host, port, log_level)).run()


class SimulatorServer:
    """uvicorn in a daemon thread, bound before it starts so the port is known (0 = pick one)."""

    def __init__(self, app: Starlette, *, host: str = "127.0.0.1", port: int = 0,
                 log_level: str = "warning", start_timeout: float = 10.0) -> None:  # fmt: skip
        self._app = app
        self._host = host
        self._port = port
        self._log_level = log_level
        self._start_timeout = start_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = port

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        return f"http://{self._host}:{self.port}"

    def start(self) -> None:
        """Bind, start the thread, and wait (bounded) until uvicorn accepts connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        self.port = sock.getsockname()[1]
        server = uvicorn.Server(_config(self._app, self._host, self.port, self._log_level))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                                  name=f"aom-simulator-{self.port}")  # fmt: skip
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + self._start_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the simulator server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=self._start_timeout)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.stop()
