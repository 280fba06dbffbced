"""One deadline per AOM request: a body trickling in never holds a caller past it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from aom_bot.aom.client import AomClient, RetryPolicy, build_http_client
from aom_bot.errors import AomTransportError

from .helpers import EX, PROJECT, WF


@pytest.fixture
async def trickling_server() -> AsyncIterator[str]:
    """A real HTTP server on 127.0.0.1 that sends its body one byte every 50 ms, forever."""
    writers: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(b"Content-Length: 1000000\r\n\r\n{")
        try:
            while True:
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.05)  # the server's pace, not a wait for the test's result
        except (ConnectionError, asyncio.CancelledError):
            pass

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for writer in writers:
            writer.close()
        server.close()


async def test_a_trickling_body_ends_at_the_deadline(trickling_server: str) -> None:
    """Each read gets a byte long before the per-read timeout; the whole request still ends."""
    timeout = httpx.Timeout(0.5, connect=0.5)  # AOM_TIMEOUT_SECONDS=0.5
    http = build_http_client(base_url=trickling_server, auth=None, timeout=timeout)
    async with AomClient(http, project_id=PROJECT, retry=RetryPolicy(attempts=3)) as aom:
        async with asyncio.timeout(10):  # only a guard: without the deadline this never ends
            with pytest.raises(AomTransportError, match=r"did not answer in time \(0.5 s\)"):
                await aom.get_execution(WF, EX)


async def test_a_spent_deadline_is_not_retried() -> None:
    """A deadline bounds the request as a whole: no second attempt doubles the wait."""
    calls = 0

    class Trickle(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            while True:
                yield b" "
                await asyncio.sleep(0.05)

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, stream=Trickle())

    http = build_http_client(
        base_url="https://aom.example", auth=None, transport=httpx.MockTransport(handler),
        timeout=httpx.Timeout(0.3),
    )  # fmt: skip
    async with AomClient(http, project_id=PROJECT, retry=RetryPolicy(attempts=4)) as aom:
        async with asyncio.timeout(10):
            with pytest.raises(AomTransportError, match="did not answer in time"):
                await aom.list_executions(WF)
    assert calls == 1
