"""AK/SK-signed requests go straight to the transport, and arrive as httpx's own send made them."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from aom_bot.aom.auth import AkSkAuth, TokenAuth
from aom_bot.aom.client import AomClient, build_http_client
from aom_bot.aom.tokens import StaticToken
from aom_bot.aom.wire import AomHttpClient, new_request, send

from .helpers import BASE_URL, EX, FIXED_NOW, PROJECT, WF, FakeAom, fixture_bytes, make_client

URL = httpx.URL(f"{BASE_URL}/v1/{PROJECT}/cms/workflow/{WF}/executions/{EX}/status")


def signed_client(fake: FakeAom) -> httpx.AsyncClient:
    auth = AkSkAuth(ak="AK", sk="SK", project_id=PROJECT, clock=lambda: FIXED_NOW)
    return build_http_client(base_url=BASE_URL, auth=auth, transport=httpx.MockTransport(fake))


@pytest.mark.parametrize(("method", "content"), [("GET", None), ("POST", b'{"page":0}')])
async def test_a_direct_request_is_the_one_httpx_would_send(
    method: str, content: bytes | None
) -> None:
    """Same URL, headers (names, order, values, signature) and body as ``AsyncClient.send``."""
    fake = FakeAom()
    async with signed_client(fake) as http:
        assert isinstance(http, AomHttpClient)
        await send(http, new_request(http, method, URL, content))
        built = http.build_request(
            method, URL, content=content, headers={"Content-Type": "application/json"}
        )
        await http.send(built)
    direct, usual = fake.requests
    assert (direct.method, direct.url, direct.content) == (usual.method, usual.url, usual.content)
    assert fake.headers_seen[0].raw == fake.headers_seen[1].raw
    assert direct.extensions["timeout"] == usual.extensions["timeout"]


async def test_a_compressed_body_is_decoded() -> None:
    """A gzip-encoded answer (the client asks for gzip) is read decoded, not as raw bytes."""
    body = fixture_bytes("f3_failed")

    def answer(_: httpx.Request) -> httpx.Response:
        stream = httpx.ByteStream(gzip.compress(body))
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=stream)

    async with make_client(
        FakeAom(answer), auth=AkSkAuth(ak="A", sk="S", project_id=PROJECT)
    ) as aom:
        detail = await aom.get_execution(WF, EX)
    assert detail.execution_id == json.loads(body)["execution_id"]
    assert len(detail.nodes[0].hosts("fail")) == 5


async def test_a_closed_client_refuses_as_httpx_does() -> None:
    """After ``aclose`` a direct send fails the way ``AsyncClient.send`` does."""
    http = signed_client(FakeAom())
    await http.aclose()
    with pytest.raises(RuntimeError, match="client has been closed"):
        await send(http, new_request(http, "GET", URL, None))
    with pytest.raises(RuntimeError, match="client has been closed"):
        await http.send(http.build_request("GET", URL))


@pytest.mark.parametrize("auth", [None, TokenAuth(StaticToken("tok-1"))], ids=["none", "token"])
async def test_a_token_or_no_auth_goes_direct_as_httpx_would_send_it(
    auth: httpx.Auth | None,
) -> None:
    """An IAM token's request (and one without auth) goes straight to the transport too, with
    the headers httpx's own send would give it."""
    fake = FakeAom(lambda _: httpx.Response(200, headers={"Set-Cookie": "seen=1"}, content=b"{}"))
    http = build_http_client(base_url=BASE_URL, auth=auth, transport=httpx.MockTransport(fake))
    async with http:
        response = await send(http, new_request(http, "GET", URL, None))
        await response.aread()
        assert not http.cookies  # httpx's send keeps cookies; the direct way has no jar
        await http.send(
            http.build_request("GET", URL, headers={"Content-Type": "application/json"})
        )
        assert http.cookies
    assert response.status_code == 200
    assert fake.headers_seen[0].raw == fake.headers_seen[1].raw
    assert "Authorization" not in fake.headers_seen[0]


async def test_event_hooks_keep_httpx_send() -> None:
    """A client with event hooks (tests install them to watch requests) runs them every time."""
    fake = FakeAom()
    auth = AkSkAuth(ak="AK", sk="SK", project_id=PROJECT, clock=lambda: FIXED_NOW)
    http = build_http_client(base_url=BASE_URL, auth=auth, transport=httpx.MockTransport(fake))
    seen: list[int] = []

    async def hook(response: httpx.Response) -> None:
        seen.append(response.status_code)

    http.event_hooks["response"] = [hook]
    async with http:
        response = await send(http, new_request(http, "GET", URL, None))
        await response.aread()
    assert seen == [200]
    assert fake.last.headers["Authorization"].startswith("SDK-HMAC-SHA256 ")


async def test_any_other_auth_keeps_httpx_send() -> None:
    """An ``httpx.Auth`` the direct way does not know (its flow may be anything) runs as usual."""
    fake = FakeAom()
    auth = httpx.BasicAuth("user", "pass")
    http = build_http_client(base_url=BASE_URL, auth=auth, transport=httpx.MockTransport(fake))
    async with http:
        response = await send(http, new_request(http, "GET", URL, None))
        await response.aread()
    assert fake.last.headers["Authorization"].startswith("Basic ")
    assert response.status_code == 200


async def test_a_compressed_body_through_aiohttp() -> None:
    """The default transport against a real server on 127.0.0.1 that gzips its answer."""
    body = fixture_bytes("f3_failed")
    seen: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request.headers.get("Accept-Encoding", ""))
        response = web.Response(body=body, content_type="application/json")
        response.enable_compression(web.ContentCoding.gzip)
        return response

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        auth = AkSkAuth(ak="A", sk="S", project_id=PROJECT)
        http = build_http_client(base_url=str(server.make_url("")), auth=auth)
        async with AomClient(http, project_id=PROJECT) as aom:
            detail = await aom.get_execution(WF, EX)
    finally:
        await server.close()
    assert "gzip" in seen[0]
    assert len(detail.nodes[0].hosts("fail")) == 5
