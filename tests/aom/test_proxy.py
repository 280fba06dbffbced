"""AOM and IAM go through the proxy the environment names (HTTPS_PROXY, NO_PROXY…), as the
Slack client does; loopback addresses are always reached directly."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from aom_bot.aom.http import proxy_for
from aom_bot.cli import app
from aom_bot.errors import ConfigError

PROJECT = "0123456789abcdef0123456789abcdef"
AOM = "https://aom.cn-north-4.myhuaweicloud.com"
IAM = "https://iam.cn-north-4.myhuaweicloud.com"


def test_https_proxy_is_used_unless_no_proxy_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTPS_PROXY applies to AOM and IAM; NO_PROXY exempts a domain; loopback stays direct."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    assert proxy_for(AOM) == proxy_for(IAM) == "http://proxy.corp:3128"
    assert proxy_for("http://aom.internal") is None  # HTTPS_PROXY is for https:// only
    assert proxy_for("https://127.0.0.1:8443") is None
    assert proxy_for("https://localhost:8443") is None
    monkeypatch.setenv("NO_PROXY", "example.org,.myhuaweicloud.com")
    assert proxy_for(AOM) is None
    assert proxy_for("https://aom.other-cloud.test") == "http://proxy.corp:3128"
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.delenv("NO_PROXY")
    assert proxy_for("https://aom.other-cloud.test") is None


def test_lower_case_and_all_proxy_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """http_proxy / ALL_PROXY work as in curl; a proxy without a scheme is http://."""
    monkeypatch.setenv("http_proxy", "proxy.corp:8080")
    assert proxy_for("http://aom.internal") == "http://proxy.corp:8080"
    monkeypatch.delenv("http_proxy")
    monkeypatch.setenv("ALL_PROXY", "http://all.corp:1")
    assert proxy_for(AOM) == "http://all.corp:1"
    monkeypatch.setenv("ALL_PROXY", "socks5://all.corp:1")
    with pytest.raises(ConfigError, match="not an http:// or https:// proxy"):
        proxy_for(AOM)


class ForwardProxy:
    """A plain HTTP forward proxy on 127.0.0.1 that records each request line and answers 401
    itself (enough to prove the request went through it; nothing is forwarded)."""

    def __init__(self) -> None:
        self.request_lines: list[str] = []
        self.port = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.request_lines.append(head.split(b"\r\n", 1)[0].decode())
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        await reader.readexactly(length)
        body = b'{"error_code": "APIGW.0301", "error_msg": "proxied"}'
        writer.write(
            b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    def __enter__(self) -> ForwardProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def forward_proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy() as proxy:
        yield proxy


def test_the_cli_reaches_aom_through_http_proxy(forward_proxy: ForwardProxy) -> None:
    """With HTTP_PROXY set, `aom-bot workflows` sends its request to the proxy, not to AOM."""
    env = {
        "CLOUD_SDK_AK": "AKEXAMPLE",
        "CLOUD_SDK_SK": "SKEXAMPLE",
        "AOM_PROJECT_ID": PROJECT,
        "AOM_ENDPOINT": "http://aom.behind-the-proxy.test",
        "HTTP_PROXY": f"http://127.0.0.1:{forward_proxy.port}",
    }
    result = CliRunner().invoke(app, ["workflows"], env=env)
    assert result.exit_code == 3, result.output
    assert "proxied" in result.stderr
    [line] = forward_proxy.request_lines
    _method, target, _ = line.split(" ")
    assert target.startswith(f"http://aom.behind-the-proxy.test/v1/{PROJECT}/")


def test_no_proxy_matches_ip_ranges_and_ignores_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    """10.0.0.0/8 in NO_PROXY keeps a private endpoint direct; `host:443` matches the host."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "10.0.0.0/8, aom.private.corp:443")
    assert proxy_for("https://10.1.2.3") is None
    assert proxy_for("https://11.1.2.3") == "http://proxy.corp:3128"
    assert proxy_for("https://aom.private.corp") is None
    assert proxy_for("https://notaom.private.corp") == "http://proxy.corp:3128"
