"""The one "it finished" thread reply of a follow, posted exactly once.

Exactly once across retries, restarts and replicas: the store's completion claim decides who
may post; the reply carries Slack message metadata naming the follow, so whoever takes over a
claim that was left behind (its owner died somewhere around the post) first reads the thread
and only posts when no such reply is there. A claim is given back only when Slack certainly
did not post (an error answer), never after a timeout or a broken response.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

from aom_bot.aom.models import ExecutionDetail, Phase
from aom_bot.clock import Clock
from aom_bot.errors import SLACK_GONE, SlackDeliveryError
from aom_bot.follow import policy
from aom_bot.follow.posting import CardPoster, maybe_posted
from aom_bot.follow.protocols import CardNotifier, MessageLike
from aom_bot.follow.state import Live, final_key
from aom_bot.records import Follow
from aom_bot.render.analysis import analyse, visible_fingerprint
from aom_bot.render.kit import notice_message
from aom_bot.store.base import CompletionState, EndReason, Store

__all__ = ["CompletionPoster", "Outcome"]


class Outcome(Enum):
    """How one attempt at completing a follow ended."""

    POSTED = "posted"
    #: an earlier, unrecorded post was found in the thread and recorded
    RECONCILED = "reconciled"
    #: the follow had already ended (unfollowed, completed elsewhere)
    ENDED = "ended"
    #: someone else holds the claim, or it is not stale yet: try again later
    WAIT = "wait"


@dataclass(frozen=True, slots=True, kw_only=True)
class CompletionPoster:
    """The completion reply (and the card, if it was never posted), one follow at a time.

    The final edit of an existing card is not done here: it is its own duty
    (:meth:`aom_bot.follow.endings.Endings.complete`), so a refused edit never holds the reply.
    """

    store: Store
    notifier: CardNotifier
    clock: Clock
    owner: str
    poster: CardPoster
    broadcast_failures: bool
    claim_stale_after: timedelta

    async def attempt(
        self,
        live: Live,
        execution: ExecutionDetail,
        *,
        workflow_name: str | None,
        final_card: Callable[[], MessageLike],
    ) -> Outcome:
        """One try; raises ``SlackDeliveryError``/``StoreError`` when it should be retried."""
        record = await self.store.get_follow(live.id)
        if record is None or not record.is_active:
            return Outcome.ENDED
        live.follow = record
        ts = record.message_ts
        if ts is None:  # never posted (or being posted): one card, however many try
            posted = await self._post_final_card(live, record, execution, final_card)
            if posted is None:
                return Outcome.WAIT
            record, ts = posted
        waiting = await self._claim(live, record, ts)
        if waiting is not None:
            return waiting
        await self._post_reply(live, record, execution, ts, workflow_name)
        return Outcome.POSTED

    async def _post_final_card(
        self,
        live: Live,
        record: Follow,
        execution: ExecutionDetail,
        final_card: Callable[[], MessageLike],
    ) -> tuple[Follow, str] | None:
        """Post the card of a follow that has none, in its final state; None: wait (someone
        else is posting it). Returns the follow as stored now, and the card's ``ts``."""
        used: list[bool] = []

        def final_once() -> MessageLike:
            used.append(True)
            return final_card()

        ts = await self.poster.post(record, final_once)
        if ts is None:
            return None
        if not used:  # a post already in flight put up the following card: finalise it
            try:
                await self.notifier.update(record.channel_id, ts, final_card())
            except SlackDeliveryError as error:
                deleted = error.error == "message_not_found"
                if deleted or (isinstance(error, SLACK_GONE) and error.method != "chat.update"):
                    raise
        final = final_key(visible_fingerprint(execution))
        await self.store.record_render(live.id, final, self.clock.now())
        record = await self.store.get_follow(live.id) or record
        live.follow = record
        return record, ts

    async def _claim(self, live: Live, record: Follow, ts: str) -> Outcome | None:
        """Claim the reply (None: go on and post it), or say why not: someone else holds the
        claim (WAIT), or a claim taken over had already posted (RECONCILED)."""
        store = self.store
        if not live.unsure_claim:
            taking_over = record.completion_state is CompletionState.CLAIMED
            claimed = await store.claim_completion(
                live.id, self.owner, self.clock.now(), stale_after=self.claim_stale_after
            )
            if not claimed:
                return Outcome.WAIT
            live.unsure_claim = taking_over
        if live.unsure_claim:
            thread = await self.notifier.thread_replies(record.channel_id, ts)
            earlier = policy.completion_in_thread(thread, live.id)
            if earlier is not None:
                await store.finish_completion(
                    live.id, earlier, EndReason.COMPLETED, self.clock.now()
                )
                return Outcome.RECONCILED
        return None

    async def _post_reply(
        self,
        live: Live,
        record: Follow,
        execution: ExecutionDetail,
        ts: str,
        workflow_name: str | None,
    ) -> None:
        """Post the claimed reply under the card ``ts`` and record it; a certain failure gives
        the claim back, an uncertain one looks in the thread first next time."""
        failed = execution.status.phase is Phase.FAILED
        analysis = analyse(execution)
        text = policy.completion_text(
            mention=record.mention,
            status=execution.raw_status or execution.status.value,
            failed=failed,
            counts=analysis.counts,
            groups=len(analysis.groups),
            workflow_name=workflow_name,
        )
        try:
            reply_ts = await self.notifier.post(
                record.channel_id,
                notice_message(text),
                thread_ts=ts,
                reply_broadcast=failed and self.broadcast_failures,
                metadata=policy.completion_metadata(live.id, record.execution_id),
            )
        except SlackDeliveryError as error:
            if maybe_posted(error):
                live.unsure_claim = True  # look in the thread before posting again
            else:
                await self.store.release_completion(live.id, self.owner)
            raise
        await self.store.finish_completion(live.id, reply_ts, EndReason.COMPLETED, self.clock.now())
