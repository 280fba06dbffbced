"""One poll of a watched execution, and what follows from what it shows.

A poll ends follows past their time limit, asks AOM once for all follows of the execution,
marks cards "AOM unreachable" while it cannot answer, announces new failure groups in the
card's thread (once per follow, by store claim), queues card edits, and hands finished
executions over to completion.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, MutableMapping
from datetime import datetime, timedelta
from typing import Any

from aom_bot.aom.accounts import AomAccounts
from aom_bot.aom.models import ExecutionDetail
from aom_bot.clock import Clock
from aom_bot.errors import (
    AomAuthError,
    AomBodyTooLargeError,
    AomError,
    AomNotFoundError,
    SlackDeliveryError,
    SlackMessageGone,
)
from aom_bot.follow import policy
from aom_bot.follow.cards import CardQueue, CardRenderer
from aom_bot.follow.endings import Endings
from aom_bot.follow.posting import CardPoster
from aom_bot.follow.protocols import CardNotifier, MessageLike
from aom_bot.follow.scheduler import PollScheduler
from aom_bot.follow.state import FollowStats, Live, Watch
from aom_bot.render.analysis import analyse, visible_fingerprint
from aom_bot.render.kit import SlackMessage, section
from aom_bot.render.scrub import Scrubber
from aom_bot.store.base import EndReason, Store

__all__ = ["Poller"]

log = logging.getLogger("aom_bot.follow.engine")  # the engine's log events keep their logger

_NOTE_MAX_TIME = "Stopped following after {hours:g} h; press Refresh for the latest state."
_NOTE_NOT_FOUND = "Stopped following: AOM no longer knows this execution."
_NOTE_AUTH = "Stopped following: AOM refused the bot's credentials (ask the bot's operators)."


class Poller:
    """Polls watches for the engine's workers and acts on what changed."""

    def __init__(
        self,
        *,
        accounts: AomAccounts,
        store: Store,
        notifier: CardNotifier,
        clock: Clock,
        stats: FollowStats,
        scrubber: Scrubber,
        max_follow: timedelta,
        watches: MutableMapping[str, Watch],
        renderer: CardRenderer,
        cards: CardQueue,
        scheduler: PollScheduler,
        endings: Endings,
        poster: CardPoster,
        finish: Callable[[Live, ExecutionDetail], None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self._accounts = accounts
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._stats = stats
        self._scrubber = scrubber
        self._max_follow = max_follow
        self._watches = watches
        self._renderer = renderer
        self._cards = cards
        self._scheduler = scheduler
        self._endings = endings
        self._poster = poster
        self._finish = finish
        self._spawn = spawn

    async def get(self, profile: str, workflow_id: str, execution_id: str) -> ExecutionDetail:
        """The execution from the profile's AOM, counted in the stats."""
        polling = self._accounts.get(profile).polling
        self._stats.aom_requests += 1
        return await polling.get_execution(workflow_id, execution_id)

    async def get_if_changed(self, watch: Watch) -> tuple[bytes, ExecutionDetail | None]:
        """The body's digest, and the execution unless the body is the watch's last one."""
        polling = self._accounts.get(watch.profile).polling
        self._stats.aom_requests += 1
        return await polling.get_execution_if_changed(
            watch.workflow_id, watch.execution_id, watch.digest
        )

    async def poll(self, watch: Watch) -> None:
        """Poll ``watch`` once (a worker calls this when it is due)."""
        if watch.done or not watch.follows:
            return
        now = self._clock.now()
        for live in list(watch.follows.values()):
            if now >= live.follow.deadline:
                hours = self._max_follow.total_seconds() / 3600
                await self._endings.end(
                    live, EndReason.MAX_TIME, _NOTE_MAX_TIME.format(hours=hours)
                )
        if not watch.follows:
            return
        if watch.profile not in self._accounts:
            # removed from the configuration: polled again once the profile is back
            log.warning("follow.profile_unknown key=%s profile=%s", watch.key, watch.profile)
            return
        try:
            digest, execution = await self.get_if_changed(watch)
        except AomNotFoundError:
            await self._endings.end_all(watch, EndReason.EXECUTION_NOT_FOUND, _NOTE_NOT_FOUND)
            return
        except AomAuthError:
            await self._endings.end_all(watch, EndReason.AUTH_LOST, _NOTE_AUTH)
            return
        except AomBodyTooLargeError:
            await self._refused(watch, now)
            return
        except AomError as error:
            self._stats.aom_errors += 1
            watch.failures += 1
            log.warning(
                "follow.aom_unreachable key=%s kind=%s failures=%d",
                watch.key,
                type(error).__name__,
                watch.failures,
            )
            await self._mark_unreachable(watch, now)
            self._scheduler.schedule(watch, self._scheduler.interval(watch))
            return
        watch.failures = 0
        if execution is None:
            await self._unchanged(watch)
        else:
            await self._observe(watch, execution, digest)

    async def _unchanged(self, watch: Watch) -> None:
        """The very body of the last poll: nothing to parse, analyse or render. The cards still
        recover from "AOM unreachable" and get their heartbeats; a follow still missing its
        card or its baseline takes the full path, on the execution already kept."""
        self._stats.unchanged_polls += 1
        fingerprint = watch.fingerprint
        if fingerprint is None or any(
            live.follow.message_ts is None or live.shown is None for live in watch.follows.values()
        ):
            kept = watch.last_execution()
            if kept is not None:
                await self._observe(watch, kept, watch.digest)
                return
            watch.digest = None  # cannot happen (a digest is kept with its execution): re-read
            self._scheduler.schedule(watch, self._scheduler.interval(watch))
            return
        now = self._clock.now()
        for live in list(watch.follows.values()):
            if live.unreachable_since is not None:
                live.unreachable_since = None
                live.notice = None
                await self._store.set_unreachable(live.id, None)
            self._cards.want(live, fingerprint, now)
        self._scheduler.schedule(watch, self._scheduler.interval(watch))

    async def _refused(self, watch: Watch, now: datetime) -> None:
        """AOM's answer was too large: back off for minutes, and say so on the card."""
        self._stats.aom_errors += 1
        watch.failures += 1
        delay = policy.refused_interval(watch.failures, poll_max=self._scheduler.poll_max)
        log.warning(
            "follow.aom_body_refused key=%s failures=%d retry_in=%.0f",
            watch.key,
            watch.failures,
            delay,
        )
        notice = policy.refused_notice(now + timedelta(seconds=delay))
        for live in list(watch.follows.values()):
            if live.unreachable_since is None:
                live.unreachable_since = now
                await self._store.set_unreachable(live.id, now)
            live.notice = notice
            if watch.fingerprint is not None:
                self._cards.want(live, watch.fingerprint, now)
        self._scheduler.schedule(watch, delay)

    async def _mark_unreachable(self, watch: Watch, now: datetime) -> None:
        for live in list(watch.follows.values()):
            if live.unreachable_since is None:
                live.unreachable_since = now
                live.notice = policy.unreachable_notice(now)
                await self._store.set_unreachable(live.id, now)
                if watch.fingerprint is not None:
                    self._cards.want(live, watch.fingerprint, now)

    async def _observe(
        self, watch: Watch, execution: ExecutionDetail, digest: bytes | None
    ) -> None:
        now = self._clock.now()
        analysis = analyse(execution)
        fingerprint = visible_fingerprint(execution, analysis)
        watch.remember(execution, fingerprint, digest)
        for live in list(watch.follows.values()):
            if live.unreachable_since is not None:
                live.unreachable_since = None
                live.notice = None
                await self._store.set_unreachable(live.id, None)
            if live.follow.message_ts is None:
                self._post_later(live)  # posting waits for Slack's pace: never in a poll
                continue
            baseline = live.shown is None
            if baseline:
                # never rendered (a follow made elsewhere): what exists now is not "new"
                for group in analysis.groups:
                    live.announced.add(group.signature)
                    await self._store.claim_announcement(live.id, group.signature)
            elif not execution.is_terminal:
                signatures = [g.signature for g in analysis.groups]
                for signature in policy.new_groups(signatures, live.announced):
                    live.announced.add(signature)
                    if await self._store.claim_announcement(live.id, signature):
                        group = next(g for g in analysis.groups if g.signature == signature)
                        text = policy.new_failure_text(group, self._scrubber)
                        self._spawn(self._announce(live, text))
        if execution.is_terminal:
            watch.done = True
            if self._watches.get(watch.key) is watch:
                del self._watches[watch.key]
            for live in list(watch.follows.values()):
                self._finish(live, execution)
            return
        for live in list(watch.follows.values()):
            self._cards.want(live, fingerprint, now)
        self._scheduler.schedule(watch, self._scheduler.interval(watch))

    def _post_later(self, live: Live) -> None:
        """A follow without a card (made elsewhere, or a crash in ``follow()``): post it beside
        the polls; the store's claim makes sure only one engine does."""
        if not self._poster.posting(live.id):
            self._spawn(self._post_card(live))

    async def _post_card(self, live: Live) -> None:
        profile = live.follow.profile
        name = await self._renderer.workflow_name(live.follow.workflow_id, profile=profile)
        rendered: list[ExecutionDetail] = []

        def latest() -> MessageLike:
            current = live.watch.last_execution()
            assert current is not None  # a poll remembered it before asking for the post
            rendered[:] = [current]
            return self._renderer.render(
                current,
                name,
                following=True,
                notice=live.notice,
                profile=profile,
                channel_id=live.follow.channel_id,
            )

        try:
            ts = await self._poster.post(live.follow, latest)
        except SlackDeliveryError as error:
            await self._endings.slack_failed(live, error)
            return
        record = await self._store.get_follow(live.id)
        if ts is None or record is None or live.ended:
            return  # another engine posts it; its ts arrives with the next resync
        live.follow = record
        if not rendered:  # adopted a card found in the channel: show the latest state
            return
        shown = rendered[0]
        analysis = analyse(shown)
        for group in analysis.groups:  # on the card from the start: not "new"
            live.announced.add(group.signature)
            await self._store.claim_announcement(live.id, group.signature)
        live.shown = policy.display_key(visible_fingerprint(shown, analysis), live.notice)
        live.rendered_at = self._clock.now()
        await self._store.record_render(live.id, live.shown, live.rendered_at)

    async def _announce(self, live: Live, text: str) -> None:
        """One "new failure" reply, only under a card Slack says still exists (an edit may be
        minutes away when many cards share Slack's edit budget, so it is checked directly)."""
        ts = live.follow.message_ts
        if ts is None or live.ended:
            return
        try:
            if not await self._notifier.message_exists(live.follow.channel_id, ts):
                raise SlackMessageGone(
                    "The card was deleted.",
                    error="message_not_found",
                    method="conversations.history",
                )
            if live.ended:
                return
            await self._notifier.post(
                live.follow.channel_id,
                SlackMessage(text=text, blocks=[section(text)]),
                thread_ts=ts,
            )
        except SlackDeliveryError as error:
            await self._endings.slack_failed(live, error)
            return
        self._stats.new_group_replies += 1
