"""A hostile gateway on 127.0.0.1: answers every request 401 with the request echoed back.

Real gateways and IAM have been seen doing this (a 401 body quoting the request "for
debugging"): the credentials the bot sent come back in the error text.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        headers = "; ".join(f"{k}={v}" for k, v in self.headers.items())
        extra = self.server.extra  # type: ignore[attr-defined]
        echoed = {
            "error_code": "APIGW.0301",
            "error_msg": f"Incorrect IAM authentication information {extra}: "
            f"request {headers} {body}",
        }
        data = json.dumps(echoed).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return


@contextmanager
def echo_server(extra: str = "") -> Iterator[str]:
    """Serve the echoing gateway; yields its base URL. ``extra`` goes into each message."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.extra = extra  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
