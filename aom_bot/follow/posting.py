"""The first post of a follow's card: exactly once, and never in the way of polling.

Posting waits for the channel's pace (~1 message/s) and for Slack's 429s, so it can take
minutes; it therefore runs beside the polls, one post per follow in this process, and the
store's card claim keeps other replicas (and a restarted process) from posting it again. The
card carries Slack message metadata naming the follow: whoever takes over a claim whose owner
died around the post first looks for that card in the channel's history and adopts it.

::

    poster = CardPoster(store=store, notifier=notifier, clock=clock, owner="bot-1", ...)
    ts = await poster.post(follow, lambda: render_card())   # None: someone else posts it
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from aom_bot.clock import Clock
from aom_bot.errors import SlackDeliveryError
from aom_bot.follow import policy
from aom_bot.follow.protocols import CardNotifier, MessageLike
from aom_bot.store.base import Follow, Store

__all__ = ["CardPoster", "maybe_posted"]

log = logging.getLogger("aom_bot.follow.engine")  # the engine's log events keep their logger

#: Slack error codes after which a post may or may not have gone through
_UNSURE_CODES = frozenset({"transport_error", "client_error", "bad_response", "no_ts"})


def maybe_posted(error: SlackDeliveryError) -> bool:
    """True when a failed post may still have reached Slack (look before posting again)."""
    return error.error in _UNSURE_CODES or error.error.startswith("http_")


class CardPoster:
    """Posts each follow's card once: one flight per follow here, a store claim between us."""

    def __init__(
        self,
        *,
        store: Store,
        notifier: CardNotifier,
        clock: Clock,
        owner: str,
        stale_after: timedelta,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._owner = owner
        self._stale_after = stale_after
        self._flights: dict[int, asyncio.Future[str | None]] = {}
        #: follows whose card claim we still hold after a post that may have gone through
        self._unsure: set[int] = set()
        #: tasks doing nothing but wait for another caller's post (tests: that one works)
        self._waiting: set[asyncio.Task[object]] = set()

    def posting(self, follow_id: int) -> bool:
        """True while this process is posting the follow's card."""
        return follow_id in self._flights

    async def post(
        self,
        follow: Follow,
        card: Callable[[], MessageLike],
        *,
        thread_ts: str | None = None,
    ) -> str | None:
        """The card's ``ts``, posting it if nobody has; ``None`` while another engine posts it.

        ``card`` is rendered when Slack's pace lets the post go, so it shows the latest state.
        Raises ``SlackDeliveryError`` when Slack refused (the claim is given back unless the
        post may have gone through).
        """
        while True:
            flight = self._flights.get(follow.id)
            if flight is None:
                break
            waiter = asyncio.current_task()
            if waiter is not None:
                self._waiting.add(waiter)
            try:
                return await asyncio.shield(flight)
            except asyncio.CancelledError:
                if not flight.cancelled():
                    raise  # we were cancelled, not the post
                # the caller posting it was cancelled: post it ourselves
            finally:
                self._waiting.discard(waiter)
        # this caller posts it (in its own task: asleep on the clock while Slack's pace waits)
        flight = asyncio.get_running_loop().create_future()
        self._flights[follow.id] = flight
        try:
            ts = await self._post(follow, card, thread_ts)
        except asyncio.CancelledError:
            flight.cancel()
            raise
        except BaseException as error:
            flight.set_exception(error)
            flight.exception()  # retrieved: whoever waits for it sees it
            raise
        else:
            flight.set_result(ts)
            return ts
        finally:
            del self._flights[follow.id]

    def waiters(self) -> set[asyncio.Task[object]]:
        """Tasks only waiting for another caller's post (tests: settle on simulated time)."""
        return set(self._waiting)

    async def _post(
        self, follow: Follow, card: Callable[[], MessageLike], thread_ts: str | None
    ) -> str | None:
        store = self._store
        record = await store.get_follow(follow.id)
        if record is None or not record.is_active:
            return None
        if record.message_ts is not None:
            return record.message_ts
        if follow.id not in self._unsure:
            taking_over = record.card_owner is not None
            if not await store.claim_card_post(
                follow.id, self._owner, self._clock.now(), stale_after=self._stale_after
            ):
                return None  # another engine is posting it; resync brings its ts here
            if taking_over and await self._adopt_earlier(record):
                return (await store.get_follow(follow.id) or record).message_ts
        elif await self._adopt_earlier(record):
            self._unsure.discard(follow.id)
            return (await store.get_follow(follow.id) or record).message_ts
        try:
            ts = await self._notifier.post(
                record.channel_id,
                card,
                thread_ts=thread_ts,
                metadata=policy.card_metadata(record.id, record.execution_id),
            )
        except SlackDeliveryError as error:
            if maybe_posted(error):
                self._unsure.add(follow.id)  # look in the channel before posting again
            else:
                self._unsure.discard(follow.id)
                await store.release_card_post(follow.id, self._owner)
            raise
        self._unsure.discard(follow.id)
        await store.set_message(follow.id, ts)
        return ts

    async def _adopt_earlier(self, record: Follow) -> bool:
        """A card of this follow already in the channel (posted before a crash): record it."""
        messages = await self._notifier.history(record.channel_id)
        earlier = policy.card_in_history(messages, record.id)
        if earlier is None:
            return False
        log.info("follow.card_reconciled follow_id=%s", record.id)
        await self._store.set_message(record.id, earlier)
        return True
