"""How follows end, decided from plain values: what a failed Slack call means for a follow, and
what a completion leaves to do. No store and no Slack: the completion's one attempt is a fake
that answers as the store's claim would.
"""

from __future__ import annotations

from typing import Any, cast

import pytest

from aom_bot.aom.models import ExecutionDetail
from aom_bot.clock import ManualClock
from aom_bot.errors import (
    SlackChannelGone,
    SlackChannelUnreachable,
    SlackDeliveryError,
    SlackMessageGone,
    SlackRejected,
)
from aom_bot.follow.cards import CardRenderer
from aom_bot.follow.completion import CompletionPoster, Outcome
from aom_bot.follow.decisions import Drop, End, Freeze, slack_failure
from aom_bot.follow.endings import Endings, FinalEdit
from aom_bot.follow.state import FollowStats, Live
from aom_bot.store.base import EndReason, Store
from tests.follow.values import finished, record, watch_of

DELETED = SlackMessageGone("gone", error="message_not_found", method="chat.update")
UNEDITABLE = SlackMessageGone("old", error="cant_update_message", method="chat.update")
ARCHIVED = SlackChannelGone("archived", error="is_archived", method="chat.update")


def _live(**fields: Any) -> Live:
    _, (live,) = watch_of(record(7, **fields))
    return live


def test_a_deleted_card_ends_its_follow_quietly() -> None:
    """Nothing is shown on a card that is gone: the end is stored, the card not touched."""
    live = _live()
    assert slack_failure(live, DELETED) == [
        End(live, EndReason.MESSAGE_DELETED, None, update_card=False)
    ]


@pytest.mark.parametrize(
    "error",
    [ARCHIVED, SlackChannelUnreachable("hidden", error="channel_not_found", method="chat.update")],
)
def test_a_channel_out_of_reach_ends_its_follow_quietly(error: SlackDeliveryError) -> None:
    """Archived, or the bot removed: the follow ends as "channel gone"."""
    live = _live()
    assert slack_failure(live, error) == [
        End(live, EndReason.CHANNEL_GONE, None, update_card=False)
    ]


def test_a_card_slack_keeps_but_will_not_edit_is_frozen_once_and_still_followed() -> None:
    """No end: the run is still followed to its completion reply; freezing twice is nothing."""
    live = _live()
    assert slack_failure(live, UNEDITABLE) == [Freeze(live)]
    live.frozen = True
    assert slack_failure(live, UNEDITABLE) == []


@pytest.mark.parametrize(
    "error",
    [
        SlackRejected("invalid_blocks", error="invalid_blocks", method="chat.update"),
        SlackDeliveryError("throttled", error="ratelimited", method="chat.update"),
    ],
)
def test_other_slack_failures_change_nothing_for_the_follow(error: SlackDeliveryError) -> None:
    """A refused payload or a throttled call: logged, the follow goes on as it was."""
    assert slack_failure(_live(), error) == []


class _Completion:
    """The completion's one attempt, answering ``outcome`` or raising ``error``."""

    def __init__(self, outcome: Outcome = Outcome.POSTED, error: Exception | None = None) -> None:
        self.outcome, self.error = outcome, error
        self.attempts = 0

    async def attempt(self, live: Live, execution: ExecutionDetail, **_: Any) -> Outcome:
        self.attempts += 1
        if self.error is not None:
            raise self.error
        return self.outcome


class _Names:
    """The workflow names the renderer would look up in AOM."""

    async def workflow_name(self, workflow_id: str, *, profile: str) -> str | None:
        return "nightly-deploy"


def _endings(completion: _Completion, stats: FollowStats) -> Endings:
    nothing: Any = object()  # the completion decisions ask neither the store nor Slack
    return Endings(
        store=cast(Store, nothing),
        notifier=nothing,
        clock=ManualClock(),
        renderer=cast(CardRenderer, _Names()),
        stats=stats,
        completion=cast(CompletionPoster, completion),
        retry_max=30.0,
    )


async def test_a_completed_follow_is_dropped_and_counted_once() -> None:
    """The reply went out: the follow is dropped here and counted as completed."""
    stats, completion, live = FollowStats(), _Completion(Outcome.POSTED), _live()
    decisions = await _endings(completion, stats).complete(live, finished(), FinalEdit(done=True))
    assert decisions == [Drop(7)]
    assert (stats.completions_posted, stats.ended[EndReason.COMPLETED.value]) == (1, 1)


async def test_a_follow_ended_elsewhere_is_only_dropped() -> None:
    """Unfollowed or completed by another replica meanwhile: dropped, not counted here."""
    stats, completion = FollowStats(), _Completion(Outcome.ENDED)
    decisions = await _endings(completion, stats).complete(
        _live(), finished(), FinalEdit(done=True)
    )
    assert decisions == [Drop(7)]
    assert stats.completions_posted == 0
    assert not stats.ended


async def test_a_card_deleted_during_the_final_edit_gets_no_reply() -> None:
    """Slack said the card is gone: nothing is posted under it, the follow ends quietly."""
    stats, completion, live = FollowStats(), _Completion(), _live()
    edit = FinalEdit(done=True, gone=DELETED)
    decisions = await _endings(completion, stats).complete(live, finished(), edit)
    assert decisions == [End(live, EndReason.MESSAGE_DELETED, None, update_card=False)]
    assert completion.attempts == 0


async def test_a_channel_gone_at_the_reply_ends_the_follow_quietly() -> None:
    """The reply's own call says the channel is archived: no retry, a quiet end."""
    stats, completion, live = FollowStats(), _Completion(error=ARCHIVED), _live()
    decisions = await _endings(completion, stats).complete(live, finished(), FinalEdit(done=True))
    assert decisions == [End(live, EndReason.CHANNEL_GONE, None, update_card=False)]
    assert (completion.attempts, stats.slack_errors) == (1, 1)


async def test_a_stopping_engine_leaves_the_completion_to_the_next_one() -> None:
    """After ``stop()`` no attempt is made and nothing is decided: the claim is left to the
    next engine (this one's or another replica's)."""
    stats, completion = FollowStats(), _Completion()
    endings = _endings(completion, stats)
    endings.stop()
    assert await endings.complete(_live(), finished(), FinalEdit(done=True)) == []
    assert completion.attempts == 0
