"""A body refused at the size cap is not fetched again every poll; the card says why."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from aom_bot.aom.client import AomClient, RetryPolicy, build_http_client
from aom_bot.records import FollowRequest
from aom_bot.simulator.app import create_simulator_app
from aom_bot.simulator.auth import SimulatorCredentials
from tests.follow.harness import Rig, card_text, make_rig

ALICE = "U0ALICE"
C = "C0GENERAL"
BOMB = gzip.compress(b" " * 4_000_000)  # 4 KB on the wire, 4 MB decoded


class BombFor(httpx.AsyncBaseTransport):
    """The simulator, except that answers about ``execution_id`` are gzip bombs."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.execution_id = "none"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.execution_id in request.url.path:
            return httpx.Response(200, content=BOMB, headers={"Content-Encoding": "gzip"})
        return await self._inner.handle_async_request(request)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with make_rig(tmp_path) as built:
        yield built


async def test_a_refused_body_backs_the_execution_off_and_the_card_says_so(rig: Rig) -> None:
    async def no_latency(_: float) -> None:
        return None

    app = create_simulator_app(rig.world, credentials=SimulatorCredentials(),
                               requests=rig.requests, sleep=no_latency)  # fmt: skip
    transport = BombFor(httpx.ASGITransport(app=app))
    http = build_http_client(base_url="http://aom.test", auth=None, transport=transport)
    aom = AomClient(http, project_id=rig.world.project_id, retry=RetryPolicy(attempts=1),
                    max_body_bytes=1_000_000)  # fmt: skip
    sent: list[str] = []
    inner = transport.handle_async_request

    async def counting(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return await inner(request)

    transport.handle_async_request = counting  # type: ignore[method-assign]
    try:
        engine = rig.engine(source=aom)
        await rig.start(engine)
        wf, ex = rig.execution("few-failures")
        result = await engine.follow(
            FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
        )
        transport.execution_id = ex  # from now on every answer about it is a bomb
        sent.clear()

        await rig.advance(600)

        fetches = sum(1 for path in sent if ex in path)
        assert 1 <= fetches <= 5, fetches  # not every 5-30 s: ten minutes cost a handful
        text = card_text(rig.card(C, result.message_ts or ""))
        assert "too large to read" in text
        assert await engine.is_following(C, wf, ex)
    finally:
        await aom.aclose()
