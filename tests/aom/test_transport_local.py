"""The default transport (httpx over aiohttp) against real HTTP servers on 127.0.0.1.

These prove what MockTransport cannot: the signature survives the aiohttp transport, a 9 MB body
streams in, an oversized one is cut off, and network failures map to AomTransportError.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator
from urllib.parse import unquote

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from aom_bot.aom import signing
from aom_bot.aom.auth import AkSkAuth
from aom_bot.aom.client import AomClient, NodeAction, RetryPolicy, build_http_client
from aom_bot.errors import AomAuthError, AomResponseError, AomTransportError

from .helpers import EX, FIXED_NOW, PROJECT, WF, fixture_bytes

AK, SK = "AKLOCAL", "sk-local-secret"


def verify(request: web.Request, body: bytes) -> bool:
    """Check the request's signature the way the gateway does, from what arrived on the wire."""
    parsed = signing.parse_authorization(request.headers.get("Authorization", ""))
    if parsed is None or parsed[0] != AK:
        return False
    _, names, sig = parsed
    raw_path, _, raw_query = request.raw_path.partition("?")
    pairs = [
        (unquote(k), unquote(v))
        for k, _, v in (p.partition("=") for p in raw_query.split("&") if p)
    ]
    canonical = signing.canonical_request(
        method=request.method,
        path=raw_path,
        query=pairs,
        headers={name: request.headers.get(name, "") for name in names},
        signed_headers=names,
        body_hash=signing.payload_hash(body, request.headers),
    )
    expected = signing.signature(sk=SK, sdk_date=request.headers["X-Sdk-Date"], request=canonical)
    return hmac.compare_digest(expected, sig)


async def aom_app_handler(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    if not verify(request, body):
        return web.json_response({"error_code": "APIGW.0301", "error_msg": "bad sig"}, status=401)
    if request.path.endswith("/operation"):
        return web.json_response({"result": dict(request.query)})
    if request.path.endswith("/huge"):
        return web.Response(body=b" " * 3_000_000)
    return web.Response(body=fixture_bytes("f3_failed"), content_type="application/json")


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", aom_app_handler)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    try:
        yield srv
    finally:
        await srv.close()


def client_for(base_url: str, **kwargs: object) -> AomClient:
    auth = AkSkAuth(ak=AK, sk=SK, project_id=PROJECT, clock=lambda: FIXED_NOW)
    http = build_http_client(base_url=base_url, auth=auth, **kwargs)  # type: ignore[arg-type]
    return AomClient(http, project_id=PROJECT, retry=RetryPolicy(attempts=2))


async def test_signed_requests_pass_a_verifier_through_aiohttp(server: TestServer) -> None:
    """A signature made by AkSkAuth still verifies after the aiohttp transport has sent it."""
    async with client_for(str(server.make_url(""))) as aom:
        detail = await aom.get_execution(WF, EX)
        result = await aom.operate_node(WF, EX, "run-script", NodeAction.CONTINUE)
    assert len(detail.nodes[0].hosts("fail")) == 5
    assert result == {"action": "continue", "node_id": "run-script"}


async def test_a_wrong_key_is_refused_end_to_end(server: TestServer) -> None:
    """Sanity check of the verifier: a different SK gets a 401, surfaced as AomAuthError."""
    auth = AkSkAuth(ak=AK, sk="wrong", project_id=PROJECT)
    http = build_http_client(base_url=str(server.make_url("")), auth=auth)
    async with AomClient(http, project_id=PROJECT) as aom:
        with pytest.raises(AomAuthError) as caught:
            await aom.get_execution(WF, EX)
    assert caught.value.error_code == "APIGW.0301"


async def test_body_cap_applies_to_a_streamed_body(server: TestServer) -> None:
    """A 3 MB body against a 1 MB cap is refused as AomResponseError."""
    auth = AkSkAuth(ak=AK, sk=SK, project_id=PROJECT)
    http = build_http_client(base_url=str(server.make_url("")), auth=auth)
    async with AomClient(http, project_id=PROJECT, max_body_bytes=1024 * 1024) as aom:
        with pytest.raises(AomResponseError, match="more than 1 MB"):
            await aom._send("GET", aom._url("huge"), action="read a huge thing")


async def test_connection_refused() -> None:
    """Nothing listening on the port: AomTransportError after the policy's attempts."""
    srv = TestServer(web.Application(), host="127.0.0.1")
    await srv.start_server()
    url = str(srv.make_url(""))
    await srv.close()
    async with client_for(url) as aom:
        with pytest.raises(AomTransportError, match="Could not reach AOM"):
            await aom.get_execution(WF, EX)


async def test_read_timeout_and_dropped_connection() -> None:
    """A server that never answers times out; one that hangs up mid-request is a transport error."""
    writers: list[asyncio.StreamWriter] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.readuntil(b"\r\n\r\n")
        if len(writers) > 1:  # second and later connections: hang up at once
            writer.close()
        # otherwise: never answer; the test closes the connection at the end

    raw = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = raw.sockets[0].getsockname()[1]
    timeout = httpx.Timeout(connect=1.0, read=0.2, write=1.0, pool=1.0)
    try:
        async with client_for(f"http://127.0.0.1:{port}", timeout=timeout) as aom:
            with pytest.raises(AomTransportError, match="did not answer in time"):
                await aom.get_execution(WF, EX)
            assert len(writers) == 1  # the request's deadline is spent: not retried
            with pytest.raises(AomTransportError, match="Could not reach AOM") as caught:
                await aom.get_execution(WF, EX)
            assert "ServerDisconnectedError" in str(caught.value)
    finally:
        for writer in writers:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        raw.close()
        await raw.wait_closed()
