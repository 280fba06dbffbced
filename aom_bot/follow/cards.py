"""Execution cards: rendering them, and sending the changed ones at Slack's pace.

Cards are edited only when what they show changes: changed cards go into a queue that a few
senders drain at Slack's pace, rendering each card when its turn comes, so a card that changed
several times while waiting is sent once, in its latest state. Cards that only look old get a
heartbeat edit when the queue has nothing better to do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from aom_bot.aom.accounts import AomAccounts
from aom_bot.aom.models import ExecutionDetail
from aom_bot.clock import Clock
from aom_bot.errors import AomError, SlackDeliveryError, StoreError
from aom_bot.follow import policy
from aom_bot.follow.decisions import Decision, Drop, slack_failure
from aom_bot.follow.protocols import CardNotifier, MessageLike
from aom_bot.follow.state import FollowStats, Live
from aom_bot.operations import card_buttons
from aom_bot.profiles import Permission
from aom_bot.render.analysis import visible_fingerprint
from aom_bot.render.card import execution_card
from aom_bot.render.kit import SlackMessage
from aom_bot.render.scrub import Scrubber
from aom_bot.store.base import Follow, Store

__all__ = ["ActionsFor", "CardQueue", "CardRenderer"]

#: (profile, channel) → the action permissions some rule could grant there (buttons to show)
ActionsFor = Callable[[str, str], frozenset[Permission]]

log = logging.getLogger("aom_bot.follow.engine")  # the engine's log events keep their logger


class CardRenderer:
    """Renders execution cards of every profile; looks each workflow's name up once."""

    def __init__(
        self,
        *,
        clock: Clock,
        scrubber: Scrubber,
        accounts: AomAccounts,
        actions_for: ActionsFor | None = None,
    ) -> None:
        self._clock = clock
        self._scrubber = scrubber
        self._accounts = accounts
        self._actions_for = actions_for
        self._names: dict[tuple[str, str], str | None] = {}

    def render(
        self,
        execution: ExecutionDetail,
        workflow_name: str | None,
        following: bool,
        notice: str | None,
        *,
        profile: str,
        channel_id: str | None = None,
    ) -> SlackMessage:
        """The card of ``execution`` (of the AOM profile ``profile``) as of now; in
        ``channel_id`` it offers the actions the channel's policy could allow."""
        account = self._accounts.get(profile) if profile in self._accounts else None
        permitted = (
            self._actions_for(profile, channel_id)
            if self._actions_for is not None and channel_id is not None
            else frozenset()
        )
        return execution_card(
            execution,
            now=self._clock.now(),
            console=account.console_url if account is not None else None,
            workflow_name=workflow_name,
            following=following,
            notice=notice,
            scrubber=self._scrubber,
            profile=profile,
            profile_label=account.label if account is not None else None,
            actions=card_buttons(
                execution, profile=profile, permitted=permitted, workflow_name=workflow_name
            ),
        )

    async def card_of(
        self, follow: Follow, execution: ExecutionDetail, *, following: bool
    ) -> SlackMessage:
        """The card of ``follow`` showing ``execution`` (its name looked up once)."""
        name = await self.workflow_name(follow.workflow_id, profile=follow.profile)
        return self.render(
            execution, name, following, None, profile=follow.profile, channel_id=follow.channel_id
        )

    async def workflow_name(self, workflow_id: str, *, profile: str) -> str | None:
        """The workflow's name, or ``None`` when unknown (a failed lookup is retried later)."""
        if profile not in self._accounts:
            return None
        key = (profile, workflow_id)
        if key not in self._names:
            try:
                self._names[key] = await self._accounts.get(profile).workflow_name(workflow_id)
            except AomError:
                return None
        return self._names[key]


class CardQueue:
    """Cards waiting for an edit: changed ones first, heartbeats when nothing changed.

    The senders (:meth:`aom_bot.follow.apply.Applier.sender`) take the next card with
    :meth:`next` and edit it with :meth:`send`, which returns what a failure means.
    """

    def __init__(
        self,
        *,
        store: Store,
        notifier: CardNotifier,
        clock: Clock,
        renderer: CardRenderer,
        stats: FollowStats,
        heartbeat: float,
        retry_max: float = 30.0,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._renderer = renderer
        self._stats = stats
        self._heartbeat = heartbeat
        self._changed: dict[int, Live] = {}
        self._stale: dict[int, Live] = {}
        self._dirty = asyncio.Event()
        self._idle_senders = 0
        self._retry_max = retry_max
        self._store_failures = 0

    @property
    def has_pending_work(self) -> bool:
        """True when queued cards wait for an idle sender."""
        return self._idle_senders > 0 and bool(self._changed or self._stale)

    def want(self, live: Live, fingerprint: str, now: datetime) -> None:
        """``live``'s card should show ``fingerprint``: queue an edit if it needs one."""
        if live.frozen:  # Slack keeps the card but refuses to edit it
            return
        wanted = policy.display_key(fingerprint, _notice(live))
        if wanted != live.wanted and wanted != live.shown:
            self._stats.visible_changes += 1
        live.wanted = wanted
        kind = policy.update_kind(live.shown, wanted, live.rendered_at, now, self._heartbeat)
        if kind is None or live.in_flight:
            return
        if kind is policy.UpdateKind.CHANGE:
            self._stale.pop(live.id, None)
            self._changed[live.id] = live
        elif live.id not in self._changed:
            self._stale[live.id] = live
        self._dirty.set()

    def forget(self, follow_id: int) -> None:
        """No more edits for this follow (ended or finishing)."""
        self._changed.pop(follow_id, None)
        self._stale.pop(follow_id, None)

    async def next(self) -> tuple[Live, bool]:
        """The next card to edit, waiting for one; True with a card that only looks old."""
        while True:
            while not self._changed and not self._stale:
                self._dirty.clear()
                self._idle_senders += 1
                try:
                    await self._dirty.wait()
                finally:
                    self._idle_senders -= 1
            source = self._changed if self._changed else self._stale
            live = source.pop(next(iter(source)))
            if not (live.ended or live.finishing or live.in_flight):
                return live, source is self._stale

    def store_answered(self) -> None:
        """An edit went through with the store answering: no more backing off."""
        self._store_failures = 0

    async def store_failed(self, live: Live, error: StoreError) -> None:
        """Queue the card again, saying so on it, and back off while the store fails (doubling
        up to ``retry_max``); the sender goes on once the store answers again."""
        self._store_failures += 1
        log.warning(
            "follow.store_failed follow_id=%s failures=%d error=%s",
            live.id,
            self._store_failures,
            error,
        )
        if live.store_failing_since is None:
            live.store_failing_since = self._clock.now()
        if not live.ended and not live.finishing:
            self._changed[live.id] = live
            self._dirty.set()
        delay = policy.error_interval(self._store_failures, minimum=1.0, maximum=self._retry_max)
        await self._clock.sleep(delay)

    async def _record_of(self, live: Live) -> tuple[Follow | None, StoreError | None]:
        """The follow as stored, or (the store failing) as remembered with the error: the card
        is still edited (Slack works) saying the store fails; retried from the sender."""
        try:
            return await self._store.get_follow(live.id), None
        except StoreError as error:
            if live.store_failing_since is None:
                live.store_failing_since = self._clock.now()
            return live.follow, error

    async def send(self, live: Live, *, heartbeat: bool) -> list[Decision]:
        """Edit ``live``'s card to its latest state; returns what a failure means for it.

        Raises ``StoreError`` when the store failed (the card was still edited if Slack works).
        """
        execution = live.watch.last_execution()
        ts = live.follow.message_ts
        if execution is None or ts is None or live.frozen:
            return []
        record, store_failed = await self._record_of(live)
        if record is None or not record.is_active:
            return [Drop(live.id)]  # ended by another replica or an unfollow elsewhere
        profile = live.follow.profile
        name = await self._renderer.workflow_name(live.follow.workflow_id, profile=profile)
        live.in_flight = True
        sending: list[str] = []

        def latest() -> MessageLike:
            current = live.watch.last_execution() or execution
            fingerprint = live.watch.fingerprint or visible_fingerprint(current)
            notice = _notice(live)
            sending.append(policy.display_key(fingerprint, notice))
            return self._renderer.render(
                current,
                name,
                following=True,
                notice=notice,
                profile=profile,
                channel_id=live.follow.channel_id,
            )

        try:
            await self._notifier.update(live.follow.channel_id, ts, latest)
        except SlackDeliveryError as error:
            self._stats.slack_errors += 1
            return slack_failure(live, error)
        finally:
            live.in_flight = False
        live.shown = sending[-1] if sending else live.shown
        live.rendered_at = self._clock.now()
        if heartbeat:
            self._stats.heartbeats_sent += 1
        else:
            self._stats.updates_sent += 1
        if store_failed is not None:
            raise store_failed
        if live.shown is not None:
            await self._store.record_render(live.id, live.shown, live.rendered_at)
        recovered = live.store_failing_since is not None
        live.store_failing_since = None  # the store answered: the notice goes at the next edit
        if live.wanted and recovered:
            live.wanted = policy.display_key(live.watch.fingerprint or "", _notice(live))
        if not live.ended and not live.finishing and live.wanted and live.wanted != live.shown:
            self._changed[live.id] = live
            self._dirty.set()
        return []


def _notice(live: Live) -> str | None:
    """The card's notice line(s): AOM unreachable, and the bot's store failing."""
    since = live.store_failing_since
    return policy.card_notice(live.notice, policy.store_notice(since) if since else None)
