"""A trickling AOM answer: its card says "unreachable" and every other follow keeps its pace."""

from __future__ import annotations

import asyncio
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


class Trickle(httpx.AsyncByteStream):
    """A body that never ends: one byte every 50 ms of real time."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            yield b" "
            await asyncio.sleep(0.05)  # the hostile server's pace


class TricklingFor(httpx.AsyncBaseTransport):
    """The simulator, except that requests about ``execution_id`` trickle forever."""

    def __init__(self, inner: httpx.AsyncBaseTransport, execution_id: str) -> None:
        self._inner = inner
        self.execution_id = execution_id

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.execution_id in request.url.path:
            return httpx.Response(200, stream=Trickle())
        return await self._inner.handle_async_request(request)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with make_rig(tmp_path) as built:
        yield built


async def test_trickling_execution_is_unreachable_and_the_others_keep_their_pace(rig: Rig) -> None:
    channels = []
    for n in range(3):
        channel = f"C0OPS{n}"
        rig.slack.add_channel(f"ops-{n}", id=channel, members=[ALICE])
        channels.append(channel)
    runs = [rig.execution("few-failures", name=f"wf-{n}") for n in range(3)]
    slow = runs[0][1]

    async def no_latency(_: float) -> None:
        return None

    app = create_simulator_app(rig.world, credentials=SimulatorCredentials(),
                               requests=rig.requests, sleep=no_latency)  # fmt: skip
    transport = TricklingFor(httpx.ASGITransport(app=app), slow)
    http = build_http_client(base_url="http://aom.test", auth=None, transport=transport,
                             timeout=httpx.Timeout(0.3))  # fmt: skip  # AOM_TIMEOUT_SECONDS=0.3
    aom = AomClient(http, project_id=rig.world.project_id, retry=RetryPolicy(attempts=2))
    try:
        # one worker only: the slow execution must not hold up the others even then
        engine = rig.engine(source=aom, max_concurrency=1)
        await rig.start(engine)
        cards = []
        for channel, (wf, ex) in zip(channels[1:], runs[1:], strict=True):
            result = await engine.follow(
                FollowRequest(workflow_id=wf, execution_id=ex, channel_id=channel, user_id=ALICE)
            )
            cards.append((channel, ex, result.message_ts or ""))
        # the slow one is already followed (its card was posted before AOM began to trickle)
        transport.execution_id = "none"  # the slow run's first answer comes in full
        wf, ex = runs[0]
        slow_card = await engine.follow(
            FollowRequest(workflow_id=wf, execution_id=ex, channel_id=channels[0], user_id=ALICE)
        )
        transport.execution_id = slow  # from now on AOM trickles its answers

        before = {ex: rig.status_requests(ex) for _, ex, _ in cards}
        await rig.advance(60)

        assert "AOM unreachable" in card_text(rig.card(channels[0], slow_card.message_ts or ""))
        for _, ex, _ in cards:
            # polled every 5 s while young: about 12 polls in 60 s, the slow one notwithstanding
            assert rig.status_requests(ex) - before[ex] >= 10, ex
        for channel, _, ts in cards:
            assert "AOM unreachable" not in card_text(rig.card(channel, ts))
    finally:
        await aom.aclose()
