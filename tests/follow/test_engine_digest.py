"""Polls answered with the same body as the last one are not parsed, analysed or rendered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aom_bot.aom.client import AomClient
from aom_bot.aom.models import ExecutionDetail
from aom_bot.aom.reader import Polled
from aom_bot.records import FollowRequest
from tests.follow.harness import Rig, card_text, make_rig

C = "C0GENERAL"
ALICE = "U0ALICE"


class CountingSource:
    """The rig's AomClient, counting the answers that were decoded into an execution."""

    def __init__(self, aom: AomClient) -> None:
        self._aom = aom
        self.parsed = 0
        self.unchanged = 0

    async def get_execution(self, workflow_id: str, execution_id: str) -> ExecutionDetail:
        self.parsed += 1
        return await self._aom.get_execution(workflow_id, execution_id)

    async def get_execution_if_changed(
        self, workflow_id: str, execution_id: str, previous_digest: bytes | None
    ) -> tuple[bytes, ExecutionDetail | None]:
        digest, execution = await self._aom.get_execution_if_changed(
            workflow_id, execution_id, previous_digest
        )
        if execution is None:
            self.unchanged += 1
        else:
            self.parsed += 1
        return digest, execution

    async def poll_execution(
        self, workflow_id: str, execution_id: str, previous_digest: bytes | None
    ) -> Polled:
        polled = await self._aom.poll_execution(workflow_id, execution_id, previous_digest)
        if polled.execution is None:
            self.unchanged += 1
        else:
            self.parsed += 1
        return polled


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with make_rig(tmp_path) as built:
        yield built


async def test_an_unchanged_body_is_not_parsed_and_the_card_not_edited(rig: Rig) -> None:
    """A run waiting for approval answers the same body every poll: one parse, no edits."""
    source = CountingSource(rig.aom)
    engine = rig.engine(source=source)
    await rig.start(engine)
    wf, ex = rig.execution("waiting-approval")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    ts = result.message_ts or ""
    await rig.advance(30)  # the first poll parses (follow() read the body without its digest)
    parsed, updates, polls = source.parsed, rig.updates_of(ts), rig.status_requests(ex)

    await rig.advance(240)  # under the 5-minute heartbeat

    assert rig.status_requests(ex) - polls >= 8  # still polled on schedule
    assert source.parsed == parsed  # ...but nothing decoded
    assert source.unchanged == engine.stats.unchanged_polls >= 8
    assert rig.updates_of(ts) == updates  # no chat.update: the card was not re-rendered
    assert await engine.is_following(C, wf, ex)

    await rig.advance(300)  # the heartbeat still comes, from the execution kept
    assert rig.updates_of(ts) == updates + 1
    assert source.parsed == parsed
    assert "approval" in card_text(rig.card(C, ts)).lower()


async def test_a_changed_body_is_parsed_and_shown(rig: Rig) -> None:
    """A run making progress is parsed on every changed body and reaches its final card."""
    source = CountingSource(rig.aom)
    engine = rig.engine(source=source)
    await rig.start(engine)
    wf, ex = rig.execution("all-success")
    result = await engine.follow(
        FollowRequest(workflow_id=wf, execution_id=ex, channel_id=C, user_id=ALICE)
    )
    ts = result.message_ts or ""

    await rig.advance(600)

    polls = rig.status_requests(ex)
    assert source.parsed + source.unchanged == polls
    assert source.parsed >= 3  # each change parsed, and the last one ended the follow
    assert "success" in card_text(rig.card(C, ts))
    assert not await engine.is_following(C, wf, ex)
    (reply,) = rig.replies(C, ts)
    assert "finished: success" in reply["text"]
