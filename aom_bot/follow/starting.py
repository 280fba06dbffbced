"""The start of a follow: its first card (or an earlier one, refreshed) before it is polled.

``follow()`` creates the follow in the store; this part shows its card: posted exactly once
(:mod:`aom_bot.follow.posting`), or an existing message adopted and updated. A run already over
gets its final card as the answer and no completion reply, unless a subscription asked (its
channel is still told). What it then wants done, an ``Adopt`` of the follow, is returned for
the applier; a follow on an execution another replica holds is left to that replica.
"""

from __future__ import annotations

import logging

from aom_bot.aom.models import ExecutionDetail
from aom_bot.clock import Clock
from aom_bot.errors import SlackDeliveryError, SlackMessageGone
from aom_bot.follow.cards import CardRenderer
from aom_bot.follow.decisions import Adopt, Decision
from aom_bot.follow.leases import LeaseBook
from aom_bot.follow.posting import CardPoster
from aom_bot.follow.protocols import CardNotifier
from aom_bot.follow.state import FollowResult, FollowStats, execution_key, final_key
from aom_bot.render.analysis import analyse, visible_fingerprint
from aom_bot.store.base import EndReason, Follow, Store

__all__ = ["Starter"]

log = logging.getLogger("aom_bot.follow.engine")  # the engine's log events keep their logger


class Starter:
    """Shows the first card of a follow just created (or the earlier card of a finished run)."""

    def __init__(
        self,
        *,
        store: Store,
        notifier: CardNotifier,
        clock: Clock,
        owner: str,
        stats: FollowStats,
        renderer: CardRenderer,
        poster: CardPoster,
        leases: LeaseBook,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._owner = owner
        self._stats = stats
        self._renderer = renderer
        self._poster = poster
        self._leases = leases

    async def earlier_card(
        self, channel_id: str, execution: ExecutionDetail, profile: str
    ) -> FollowResult | None:
        """A finished run that already has a card here: refresh that card, post nothing."""
        earlier = await self._store.latest_follow(
            channel_id, execution.workflow_id, execution.execution_id
        )
        if earlier is None or earlier.message_ts is None:
            return None
        name = await self._renderer.workflow_name(execution.workflow_id, profile=profile)
        card = self._renderer.render(
            execution, name, following=False, notice=None, profile=profile, channel_id=channel_id
        )
        try:
            await self._notifier.update(channel_id, earlier.message_ts, card)
        except SlackMessageGone:
            return None  # that card was deleted: a new one is posted
        except SlackDeliveryError as error:
            log.info("follow.refresh_failed follow_id=%s slack_error=%s", earlier.id, error.error)
        return FollowResult(earlier.id, False, earlier.message_ts, True)

    async def set_up(
        self,
        record: Follow,
        execution: ExecutionDetail,
        message_ts: str | None,
        thread_ts: str | None,
    ) -> tuple[FollowResult, list[Decision]]:
        """Show the card of a follow just created; then it is to be polled (or finished).

        Raises ``SlackDeliveryError`` when the card cannot be shown (the follow is ended).
        """
        channel_id = record.channel_id
        finished = execution.is_terminal
        # someone asked about a run that is over: the final card is the answer, there is no
        # completion to tell (a subscription still tells its channel, with its mention)
        answered = finished and record.subscription_id is None
        if answered:
            # the claim keeps every other engine's completion away while the card is posted
            await self._store.claim_completion(record.id, self._owner, self._clock.now())
        card = await self._renderer.card_of(record, execution, following=not finished)
        try:
            if message_ts:
                await self._notifier.update(channel_id, message_ts, card)
            else:
                message_ts = await self._poster.post(record, lambda: card, thread_ts=thread_ts)
        except SlackDeliveryError:
            await self._store.end_follow(record.id, EndReason.CHANNEL_GONE, self._clock.now())
            self._stats.ended[EndReason.CHANNEL_GONE.value] += 1
            raise
        if message_ts is None:  # another engine claimed the post; it adopts this follow
            return FollowResult(record.id, True, None, finished), []
        fingerprint = visible_fingerprint(execution)
        shown = final_key(fingerprint) if finished else fingerprint
        await self._store.record_render(record.id, shown, self._clock.now())
        if answered:
            await self._store.finish_completion(
                record.id, None, EndReason.COMPLETED, self._clock.now()
            )
            self._stats.ended[EndReason.COMPLETED.value] += 1
            return FollowResult(record.id, True, message_ts, True), []
        for group in analyse(execution).groups:  # present at the start: not "new"
            await self._store.claim_announcement(record.id, group.signature)
        record = await self._store.get_follow(record.id) or record
        key = execution_key(record.workflow_id, record.execution_id)
        result = FollowResult(record.id, True, message_ts, finished)
        if not finished and key not in await self._leases.acquire([key]):
            # another replica polls this execution; it adopts this follow at its next resync
            return result, []
        return result, [Adopt(record, execution, fingerprint)]
