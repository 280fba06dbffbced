"""How follows end: stopped early with a note on the card, or completed with one reply.

An early end (time limit, execution gone, credentials refused, card or channel gone) is written
to the store first, then shown on the card as best effort. A completion is the final card plus
exactly one thread reply (:mod:`aom_bot.follow.completion`), each its own duty: the reply goes out
once whatever happened to the edit, unless Slack said the card was deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aom_bot.aom.models import ExecutionDetail
from aom_bot.clock import Clock
from aom_bot.errors import (
    SLACK_GONE,
    SlackDeliveryError,
    SlackMessageGone,
    SlackRejected,
    StoreError,
)
from aom_bot.follow.cards import CardRenderer
from aom_bot.follow.completion import CompletionPoster, Outcome
from aom_bot.follow.protocols import CardNotifier, MessageLike
from aom_bot.follow.state import FollowStats, Live, Watch, final_key
from aom_bot.render.analysis import visible_fingerprint
from aom_bot.render.kit import SlackMessage, section
from aom_bot.store.base import EndReason, Store

__all__ = ["Endings"]

log = logging.getLogger("aom_bot.follow.engine")  # the engine's log events keep their logger

#: how long the completion reply waits for the final card edit (seconds)
FINAL_EDIT_GRACE = 10.0
#: how often the final card edit is tried before the card is left as it is
FINAL_EDIT_ATTEMPTS = 5
_LOOK_EVERY = 0.5


@dataclass(slots=True)
class _FinalEdit:
    """How the final card edit went, as far as the completion reply needs to know."""

    done: bool = False
    #: Slack said the card (or its channel) is gone: no reply under it
    gone: SlackDeliveryError | None = None


def _card_gone(error: SlackDeliveryError) -> bool:
    """The card was deleted or its channel is out of reach (an uneditable card still exists)."""
    if isinstance(error, SlackMessageGone):
        return error.error == "message_not_found"
    return isinstance(error, SLACK_GONE)


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
        spawn: Callable[[Coroutine[Any, Any, None]], None],
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
        self._spawn = spawn

    async def slack_failed(self, live: Live, error: SlackDeliveryError) -> None:
        """A Slack call for ``live`` failed: end it quietly if its card or channel is gone.

        A card Slack keeps but will not let us edit is only frozen: it gets no more edits, but
        the run is still followed to its one completion reply.
        """
        self._stats.slack_errors += 1
        if isinstance(error, SlackMessageGone) and not _card_gone(error):
            if not live.frozen:
                live.frozen = True
                log.info("follow.card_frozen follow_id=%s slack_error=%s", live.id, error.error)
            return
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
        profile = live.follow.profile
        name = await self._renderer.workflow_name(live.follow.workflow_id, profile=profile)
        card: MessageLike
        if execution is not None:
            card = self._renderer.render(
                execution,
                name,
                following=False,
                notice=note,
                profile=profile,
                channel_id=live.follow.channel_id,
            )
        else:
            text = note or "Stopped following."
            card = SlackMessage(text=text, blocks=[section(f"⚠️ {text}")])
        try:
            await self._notifier.update(live.follow.channel_id, ts, card)
        except SlackDeliveryError as error:
            self._stats.slack_errors += 1
            log.info("follow.end_card_failed follow_id=%s slack_error=%s", live.id, error.error)

    async def complete(self, live: Live, execution: ExecutionDetail) -> None:
        """Final card and exactly one completion reply, each its own duty.

        The reply waits for the final edit only briefly: an edit Slack refuses, or keeps
        throttling, must not hold the reply back. Only a card Slack reports deleted (or a
        channel gone) within that wait means no reply, as nothing is posted under it.
        """
        edit = _FinalEdit(done=live.frozen)
        if not live.frozen:
            self._spawn(self._final_edit(live, execution, edit))
        give_up = self._clock.monotonic() + FINAL_EDIT_GRACE
        while not edit.done and self._clock.monotonic() < give_up and not self._stopping():
            await self._clock.sleep(_LOOK_EVERY)
        if not edit.done:  # Slack is slow with the edit: ask whether the card is still there
            edit.gone = await self._deleted(live)
        if edit.gone is not None:
            await self.slack_failed(live, edit.gone)
            return
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

    async def _deleted(self, live: Live) -> SlackDeliveryError | None:
        """Slack's word that the card is gone, when it says so (any doubt: it is there)."""
        ts = live.follow.message_ts
        if ts is None:
            return None
        try:
            if await self._notifier.message_exists(live.follow.channel_id, ts):
                return None
        except SlackDeliveryError as error:
            return error if _card_gone(error) else None
        return SlackMessageGone(
            "The card was deleted.", error="message_not_found", method="conversations.history"
        )

    async def _final_edit(self, live: Live, execution: ExecutionDetail, edit: _FinalEdit) -> None:
        """Show the final state on the card; retried a few times, never blocking the reply."""
        final = final_key(visible_fingerprint(execution))
        profile = live.follow.profile
        name = await self._renderer.workflow_name(live.follow.workflow_id, profile=profile)
        try:
            for attempt in range(1, FINAL_EDIT_ATTEMPTS + 1):
                try:
                    record = await self._store.get_follow(live.id)
                    # no card yet: the completion posts it, already in its final state
                    if record is None or record.message_ts is None or record.fingerprint == final:
                        return
                    card = self._renderer.render(
                        execution,
                        name,
                        following=False,
                        notice=None,
                        profile=profile,
                        channel_id=live.follow.channel_id,
                    )
                    await self._notifier.update(record.channel_id, record.message_ts, card)
                    await self._store.record_render(live.id, final, self._clock.now())
                    return
                except SlackDeliveryError as error:
                    self._stats.slack_errors += 1
                    if _card_gone(error):
                        edit.gone = error
                        return
                    hopeless = isinstance(error, SlackRejected | SlackMessageGone)
                    log.warning(
                        "follow.final_edit_failed follow_id=%s slack_error=%s retry=%s",
                        live.id,
                        error.error,
                        not hopeless,
                    )
                    if hopeless:  # cannot be edited, or never like this: the reply still goes
                        return
                except StoreError as error:
                    log.warning(
                        "follow.final_edit_failed follow_id=%s store_error=%s", live.id, error
                    )
                if self._stopping():
                    return
                await self._clock.sleep(min(self._retry_max * attempt, 600.0))
        finally:
            edit.done = True

    async def _complete_once(self, live: Live, execution: ExecutionDetail) -> bool:
        profile = live.follow.profile
        name = await self._renderer.workflow_name(live.follow.workflow_id, profile=profile)
        outcome = await self._completion.attempt(
            live,
            execution,
            workflow_name=name,
            final_card=lambda: self._renderer.render(
                execution,
                name,
                following=False,
                notice=None,
                profile=profile,
                channel_id=live.follow.channel_id,
            ),
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
