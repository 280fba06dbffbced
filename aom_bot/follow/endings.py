"""How follows end: stopped early with a note on the card, or completed with one reply.

An early end (time limit, execution gone, credentials refused, card or channel gone) is written
to the store first, then shown on the card as best effort. A completion is the final card plus
exactly one thread reply (:mod:`aom_bot.follow.completion`), retried until done or hopeless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aom_bot.aom.models import ExecutionDetail
from aom_bot.clock import Clock
from aom_bot.errors import (
    SLACK_GONE,
    SlackDeliveryError,
    SlackMessageGone,
    StoreError,
)
from aom_bot.follow.cards import CardRenderer
from aom_bot.follow.completion import CompletionPoster, Outcome
from aom_bot.follow.protocols import CardNotifier, MessageLike
from aom_bot.follow.state import FollowStats, Live, Watch
from aom_bot.render.kit import SlackMessage, section
from aom_bot.store.base import EndReason, Store

__all__ = ["Endings"]

log = logging.getLogger("aom_bot.follow.engine")  # the engine's log events keep their logger

#: Slack errors after which a card can never be edited again: the follow ends quietly


class Endings:
    """Ends follows in the store and on their cards; completes finished ones."""

    def __init__(
        self,
        *,
        store: Store,
        notifier: CardNotifier,
        clock: Clock,
        renderer: CardRenderer,
        stats: FollowStats,
        completion: CompletionPoster,
        drop: Callable[[int], None],
        stopping: Callable[[], bool],
        retry_max: float,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._renderer = renderer
        self._stats = stats
        self._completion = completion
        self._drop = drop
        self._stopping = stopping
        self._retry_max = retry_max

    async def slack_failed(self, live: Live, error: SlackDeliveryError) -> None:
        """A Slack call for ``live`` failed: end it quietly if its card can never be edited."""
        self._stats.slack_errors += 1
        if isinstance(error, SLACK_GONE):
            reason = (
                EndReason.MESSAGE_DELETED
                if isinstance(error, SlackMessageGone)
                else EndReason.CHANNEL_GONE
            )
            log.info("follow.ended_quietly follow_id=%s slack_error=%s", live.id, error.error)
            await self.end(live, reason, None, update_card=False)
        else:
            log.warning("follow.slack_error follow_id=%s slack_error=%s", live.id, error.error)

    async def end_all(self, watch: Watch, reason: EndReason, note: str) -> None:
        """End every follow of ``watch``."""
        for live in list(watch.follows.values()):
            await self.end(live, reason, note)

    async def end(
        self, live: Live, reason: EndReason, note: str | None, *, update_card: bool = True
    ) -> None:
        """End a follow in the store, then show the note on its card (best effort)."""
        ended = await self._store.end_follow(live.id, reason, self._clock.now())
        self._drop(live.id)
        if not ended:
            return
        self._stats.ended[reason.value] += 1
        log.info("follow.ended follow_id=%s reason=%s", live.id, reason.value)
        ts = live.follow.message_ts
        if not update_card or ts is None:
            return
        execution = live.watch.last_execution()
        name = await self._renderer.workflow_name(live.follow.workflow_id)
        card: MessageLike
        if execution is not None:
            card = self._renderer.render(execution, name, following=False, notice=note)
        else:
            text = note or "Stopped following."
            card = SlackMessage(text=text, blocks=[section(f"⚠️ {text}")])
        try:
            await self._notifier.update(live.follow.channel_id, ts, card)
        except SlackDeliveryError as error:
            self._stats.slack_errors += 1
            log.info("follow.end_card_failed follow_id=%s slack_error=%s", live.id, error.error)

    async def complete(self, live: Live, execution: ExecutionDetail) -> None:
        """Final card, then exactly one completion reply; retried until done or hopeless."""
        attempt = 0
        while not self._stopping():
            try:
                if await self._complete_once(live, execution):
                    return
            except SlackDeliveryError as error:
                if isinstance(error, SLACK_GONE):
                    await self.slack_failed(live, error)
                    return
                self._stats.slack_errors += 1
                log.warning("follow.completion_retry follow_id=%s error=%s", live.id, error.error)
            except StoreError as error:
                log.warning("follow.completion_retry follow_id=%s store_error=%s", live.id, error)
            except Exception:  # a bug must not leave the follow stuck "finishing" until restart
                log.exception("follow.completion_failed follow_id=%s", live.id)
            attempt += 1
            await self._clock.sleep(min(self._retry_max * attempt, 600.0))

    async def _complete_once(self, live: Live, execution: ExecutionDetail) -> bool:
        name = await self._renderer.workflow_name(live.follow.workflow_id)
        outcome = await self._completion.attempt(
            live,
            execution,
            workflow_name=name,
            final_card=lambda: self._renderer.render(execution, name, following=False, notice=None),
        )
        if outcome is Outcome.WAIT:
            return False
        if outcome is Outcome.ENDED:
            self._drop(live.id)
            return True
        if outcome is Outcome.POSTED:
            self._stats.completions_posted += 1
        else:
            self._stats.completions_reconciled += 1
        self._stats.ended[EndReason.COMPLETED.value] += 1
        live.finishing = False
        self._drop(live.id)
        return True
