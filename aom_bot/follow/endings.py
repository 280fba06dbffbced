"""How follows end: stopped early with a note on the card, or completed with one reply.

An early end (time limit, execution gone, credentials refused, card or channel gone) is written
to the store first, then shown on the card as best effort. A completion is the final card plus
exactly one thread reply (:mod:`aom_bot.follow.completion`), each its own duty: the reply goes out
once whatever happened to the edit, unless Slack said the card was deleted. What a failed Slack
call means for a follow is :func:`aom_bot.follow.decisions.slack_failure`'s decision.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

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
from aom_bot.follow.decisions import Decision, Drop, End, card_gone, slack_failure
from aom_bot.follow.protocols import CardNotifier, MessageLike
from aom_bot.follow.state import FollowStats, Live, final_key
from aom_bot.render.analysis import visible_fingerprint
from aom_bot.render.kit import SlackMessage, section
from aom_bot.store.base import EndReason, Store

__all__ = ["Endings", "FinalEdit"]

log = logging.getLogger("aom_bot.follow.engine")  # the engine's log events keep their logger

#: how long the completion reply waits for the final card edit (seconds)
FINAL_EDIT_GRACE = 10.0
#: how often the final card edit is tried before the card is left as it is
FINAL_EDIT_ATTEMPTS = 5
_LOOK_EVERY = 0.5


@dataclass(slots=True)
class FinalEdit:
    """How the final card edit went, as far as the completion reply needs to know."""

    done: bool = False
    #: Slack said the card (or its channel) is gone: no reply under it
    gone: SlackDeliveryError | None = None


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
        retry_max: float,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._renderer = renderer
        self._stats = stats
        self._completion = completion
        self._retry_max = retry_max
        self._stopping = False

    def stop(self) -> None:
        """The engine stops: completions in progress give up at their next step."""
        self._stopping = True

    async def store_end(self, end: End) -> bool:
        """Write the end to the store; False when the follow had already ended."""
        return await self._store.end_follow(end.live.id, end.reason, self._clock.now())

    async def show_end(self, end: End) -> None:
        """Count an end the store took, and show its note on the card (best effort)."""
        live, note = end.live, end.note
        self._stats.ended[end.reason.value] += 1
        log.info("follow.ended follow_id=%s reason=%s", live.id, end.reason.value)
        ts = live.follow.message_ts
        if not end.update_card or ts is None:
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

    async def complete(
        self, live: Live, execution: ExecutionDetail, edit: FinalEdit
    ) -> list[Decision]:
        """Exactly one completion reply, beside the final card edit (``final_edit``).

        The reply waits for the final edit only briefly: an edit Slack refuses, or keeps
        throttling, must not hold the reply back. Only a card Slack reports deleted (or a
        channel gone) within that wait means no reply, as nothing is posted under it.
        """
        give_up = self._clock.monotonic() + FINAL_EDIT_GRACE
        while not edit.done and self._clock.monotonic() < give_up and not self._stopping:
            await self._clock.sleep(_LOOK_EVERY)
        if not edit.done:  # Slack is slow with the edit: ask whether the card is still there
            edit.gone = await self._deleted(live)
        if edit.gone is not None:
            self._stats.slack_errors += 1
            return slack_failure(live, edit.gone)
        attempt = 0
        while not self._stopping:
            try:
                if await self._complete_once(live, execution):
                    return [Drop(live.id)]
            except SlackDeliveryError as error:
                self._stats.slack_errors += 1
                if isinstance(error, SLACK_GONE):
                    return slack_failure(live, error)
                log.warning("follow.completion_retry follow_id=%s error=%s", live.id, error.error)
            except StoreError as error:
                log.warning("follow.completion_retry follow_id=%s store_error=%s", live.id, error)
            except Exception:  # a bug must not leave the follow stuck "finishing" until restart
                log.exception("follow.completion_failed follow_id=%s", live.id)
            attempt += 1
            await self._clock.sleep(min(self._retry_max * attempt, 600.0))
        return []

    async def _deleted(self, live: Live) -> SlackDeliveryError | None:
        """Slack's word that the card is gone, when it says so (any doubt: it is there)."""
        ts = live.follow.message_ts
        if ts is None:
            return None
        try:
            if await self._notifier.message_exists(live.follow.channel_id, ts):
                return None
        except SlackDeliveryError as error:
            return error if card_gone(error) else None
        return SlackMessageGone(
            "The card was deleted.", error="message_not_found", method="conversations.history"
        )

    async def final_edit(self, live: Live, execution: ExecutionDetail, edit: FinalEdit) -> None:
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
                    if card_gone(error):
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
                if self._stopping:
                    return
                await self._clock.sleep(min(self._retry_max * attempt, 600.0))
        finally:
            edit.done = True

    async def _complete_once(self, live: Live, execution: ExecutionDetail) -> bool:
        """One try at the reply: True when the follow is done (replied, or ended elsewhere)."""
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
            return True
        if outcome is Outcome.POSTED:
            self._stats.completions_posted += 1
        else:
            self._stats.completions_reconciled += 1
        self._stats.ended[EndReason.COMPLETED.value] += 1
        return True
