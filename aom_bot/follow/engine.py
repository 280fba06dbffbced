"""The follow engine: keeps execution cards current until the executions end.

One asyncio scheduler drives every follow. Follows of the same execution share one *watch*, so
AOM is asked once per interval however many channels follow it; a fixed pool of workers does
the polling (at most ``max_concurrency`` AOM requests at once). Cards are edited only when what
they show changes: changed cards go into a queue that a few senders drain at Slack's pace,
rendering each card when its turn comes, so a card that changed several times while waiting is
sent once, in its latest state. Cards that only look old get a heartbeat edit when the queue
has nothing better to do.

Everything that must survive a restart is in the store, written before it matters: the follow,
its card's ``ts``, what the card shows, announced error groups, and the completion claim. After
a crash a new engine resumes from ``store.active_follows()`` alone; exactly-once replies come
from store claims (and, for the completion, from Slack message metadata when a claim was left
unposted). Several replicas share the work through the store's leases on executions.

::

    engine = FollowEngine(source=aom, store=store, notifier=notifier, clock=SystemClock(), ...)
    runner = asyncio.create_task(engine.run())
    await engine.follow(workflow_id=wf, execution_id=ex, channel_id="C1", user_id="U1")
    await engine.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from aom_bot.aom.models import ExecutionDetail
from aom_bot.clock import Clock, sleep_or_wake
from aom_bot.errors import (
    AomAuthError,
    AomError,
    AomNotFoundError,
    SlackChannelGone,
    SlackChannelUnreachable,
    SlackDeliveryError,
    SlackMessageGone,
    SlackNotInChannel,
    StoreError,
)
from aom_bot.follow import policy
from aom_bot.follow.completion import CompletionPoster, Outcome
from aom_bot.follow.protocols import CardNotifier, ExecutionSource, MessageLike
from aom_bot.follow.state import (
    FollowResult,
    FollowStats,
    Live,
    Watch,
    execution_key,
    final_key,
)
from aom_bot.render.analysis import analyse, visible_fingerprint
from aom_bot.render.kit import SlackMessage, section
from aom_bot.render.message import execution_message
from aom_bot.render.scrub import Scrubber
from aom_bot.store.base import EndReason, Follow, NewFollow, Store

__all__ = ["FollowEngine", "FollowResult", "FollowStats"]

log = logging.getLogger(__name__)

#: Slack errors after which a card can never be edited again: the follow ends quietly
_GONE = (SlackMessageGone, SlackChannelGone, SlackChannelUnreachable, SlackNotInChannel)

_NOTE_MAX_TIME = "Stopped following after {hours:g} h; press Refresh for the latest state."
_NOTE_NOT_FOUND = "Stopped following: AOM no longer knows this execution."
_NOTE_AUTH = "Stopped following: AOM refused the bot's credentials (ask the bot's operators)."


class FollowEngine:
    """Follows executions in Slack channels; see the module docstring."""

    def __init__(
        self,
        *,
        source: ExecutionSource,
        store: Store,
        notifier: CardNotifier,
        clock: Clock,
        owner: str,
        poll_min: float,
        poll_max: float,
        max_follow: timedelta,
        broadcast_failures: bool,
        console_url: Callable[[str, str], str | None] | None,
        scrubber: Scrubber | None = None,
        heartbeat: timedelta = timedelta(minutes=5),
        rng: random.Random | None = None,
        max_concurrency: int = 16,
        workflow_names: Callable[[str], Awaitable[str | None]] | None = None,
        senders: int = 2,
        lease_ttl: timedelta = timedelta(minutes=2),
        resync_every: timedelta = timedelta(seconds=60),
        claim_stale_after: timedelta = timedelta(minutes=2),
    ) -> None:
        self._source = source
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._owner = owner
        self._poll_min = max(poll_min, 0.1)
        self._poll_max = max(poll_max, self._poll_min)
        self._max_follow = max_follow
        self._broadcast_failures = broadcast_failures
        self._console_url = console_url
        self._scrubber = scrubber or Scrubber()
        self._heartbeat = heartbeat.total_seconds()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._max_concurrency = max(1, max_concurrency)
        self._workflow_names = workflow_names
        self._sender_count = max(1, senders)
        self._lease_ttl = lease_ttl
        self._resync_every = resync_every.total_seconds()
        self._completion = CompletionPoster(
            store=store,
            notifier=notifier,
            clock=clock,
            owner=owner,
            broadcast_failures=broadcast_failures,
            claim_stale_after=claim_stale_after,
        )

        self._watches: dict[str, Watch] = {}
        self._lives: dict[int, Live] = {}
        self._names: dict[str, str | None] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._polls: asyncio.Queue[Watch] = asyncio.Queue()
        self._changed: dict[int, None] = {}
        self._stale: dict[int, None] = {}
        self._dirty = asyncio.Event()
        self._wake = asyncio.Event()
        self._busy: set[asyncio.Task[Any]] = set()
        self._idle_workers = 0
        self._idle_senders = 0
        self._side: set[asyncio.Task[None]] = set()
        self._leased: set[str] = set()
        self._next_resync = 0.0
        #: when the sleeping scheduler wakes by itself; sooner work must wake it
        self._sleep_until = float("-inf")
        self._running = False
        self._stopping = False
        self._stopped = asyncio.Event()
        self._stats = FollowStats()

    # -- public API ------------------------------------------------------------------------

    @property
    def stats(self) -> FollowStats:
        """Counters, with the live gauges filled in."""
        self._stats.active_follows = len(self._lives)
        self._stats.watched_executions = len(self._watches)
        return self._stats

    async def follow(
        self,
        *,
        workflow_id: str,
        execution_id: str,
        channel_id: str,
        user_id: str,
        message_ts: str | None = None,
        thread_ts: str | None = None,
        mention: str | None = None,
        subscription_id: int | None = None,
    ) -> FollowResult:
        """Post (or adopt) the card and keep it current; a duplicate returns the existing one.

        AOM errors (``AomError``) and Slack errors on the first post (``SlackDeliveryError``)
        propagate so the caller can tell the user; no follow is left behind then.
        """
        existing = await self._store.find_active_follow(channel_id, workflow_id, execution_id)
        if existing is not None:
            return FollowResult(existing.id, False, existing.message_ts, False)
        execution = await self._get(workflow_id, execution_id)
        now = self._clock.now()
        new = NewFollow(
            workflow_id=workflow_id,
            execution_id=execution_id,
            channel_id=channel_id,
            started_by=user_id,
            started_at=now,
            deadline=now + self._max_follow,
            message_ts=message_ts,
            subscription_id=subscription_id,
            mention=mention if mention is not None else (f"<@{user_id}>" if user_id else None),
        )
        record, created = await self._store.start_follow(new)
        if not created:
            return FollowResult(record.id, False, record.message_ts, False)
        finished = execution.is_terminal
        name = await self._workflow_name(workflow_id)
        card = self._render(execution, name, following=not finished, notice=None)
        try:
            if message_ts:
                await self._notifier.update(channel_id, message_ts, card)
            else:
                message_ts = await self._notifier.post(channel_id, card, thread_ts=thread_ts)
                await self._store.set_message(record.id, message_ts)
        except SlackDeliveryError:
            await self._store.end_follow(record.id, EndReason.CHANNEL_GONE, self._clock.now())
            self._stats.ended[EndReason.CHANNEL_GONE.value] += 1
            raise
        fingerprint = visible_fingerprint(execution)
        shown = final_key(fingerprint) if finished else fingerprint
        await self._store.record_render(record.id, shown, self._clock.now())
        for group in analyse(execution).groups:  # present at the start: not "new"
            await self._store.claim_announcement(record.id, group.signature)
        record = await self._reload(record.id) or record
        key = execution_key(workflow_id, execution_id)
        if not finished and key not in await self._lease([key]):
            # another replica polls this execution; it adopts this follow at its next resync
            return FollowResult(record.id, True, message_ts, finished)
        watch = self._watch_for(workflow_id, execution_id)
        fresh = not watch.follows
        watch.remember(execution, fingerprint)
        live = self._adopt(record, watch)
        if finished:
            self._finish(live, execution)
        elif fresh and not watch.queued:
            self._schedule(watch, self._interval(watch))
        return FollowResult(record.id, True, message_ts, finished)

    async def unfollow(
        self, *, workflow_id: str, execution_id: str, channel_id: str, user_id: str
    ) -> bool:
        """Stop following in this channel; the card loses its "following" state."""
        record = await self._store.find_active_follow(channel_id, workflow_id, execution_id)
        if record is None:
            return False
        if not await self._store.end_follow(
            record.id, EndReason.STOPPED_BY_USER, self._clock.now()
        ):
            return False
        self._stats.ended[EndReason.STOPPED_BY_USER.value] += 1
        log.info("follow.stopped follow_id=%s by=%s", record.id, user_id)
        live = self._lives.get(record.id)
        execution = live.watch.last_execution() if live else None
        self._drop(record.id)
        if record.message_ts:
            if execution is None:
                with contextlib.suppress(AomError):
                    execution = await self._get(workflow_id, execution_id)
            if execution is not None:
                name = await self._workflow_name(workflow_id)
                card = self._render(execution, name, following=False, notice=None)
                with contextlib.suppress(SlackDeliveryError):
                    await self._notifier.update(channel_id, record.message_ts, card)
        return True

    async def is_following(self, channel_id: str, workflow_id: str, execution_id: str) -> bool:
        """True while an active follow of this execution exists in this channel."""
        found = await self._store.find_active_follow(channel_id, workflow_id, execution_id)
        return found is not None

    async def run(self) -> None:
        """The loop: resume stored follows, then poll until ``stop()``."""
        if self._running:
            raise RuntimeError("FollowEngine.run() is already running")
        self._running = True
        workers = [asyncio.create_task(self._worker()) for _ in range(self._max_concurrency)]
        senders = [asyncio.create_task(self._sender()) for _ in range(self._sender_count)]
        try:
            with self._working():
                await self._resync()
            while not self._stopping:
                now = self._clock.monotonic()
                if now >= self._next_resync:
                    with self._working():
                        await self._resync()
                    now = self._clock.monotonic()
                self._release_due(now)
                wake_at = self._next_resync
                if self._heap:
                    wake_at = min(wake_at, self._heap[0][0])
                self._sleep_until = wake_at
                try:
                    await self._wait(wake_at - self._clock.monotonic())
                finally:
                    self._sleep_until = float("-inf")
        finally:
            for task in (*workers, *senders, *self._side):
                task.cancel()
            await asyncio.gather(*workers, *senders, *self._side, return_exceptions=True)
            self._side.clear()
            if self._stopping:  # a clean stop hands over at once; a crash waits for the TTL
                with contextlib.suppress(Exception):
                    await self._store.release_leases(self._owner, self._leased)
            self._leased.clear()
            self._running = False
            self._stopped.set()

    async def stop(self) -> None:
        """End ``run()``: polls in flight are abandoned (every store write is atomic)."""
        self._stopping = True
        self._wake.set()
        if self._running:
            await self._stopped.wait()
        else:
            for task in self._side:
                task.cancel()
            await asyncio.gather(*self._side, return_exceptions=True)
            self._side.clear()

    # -- test support ------------------------------------------------------------------------

    def busy_tasks(self) -> set[asyncio.Task[Any]]:
        """Tasks of this engine doing something right now (tests: settle on simulated time)."""
        return set(self._busy) | {t for t in self._side if not t.done()}

    @property
    def has_pending_work(self) -> bool:
        """True when queued work is waiting for an idle task to pick it up."""
        polls = self._idle_workers > 0 and not self._polls.empty()
        sends = self._idle_senders > 0 and bool(self._changed or self._stale)
        return self._wake.is_set() or polls or sends

    # -- scheduling ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _working(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is None:
            yield
            return
        self._busy.add(task)
        try:
            yield
        finally:
            self._busy.discard(task)

    async def _wait(self, seconds: float) -> None:
        await sleep_or_wake(self._clock, seconds, self._wake)

    def _schedule(self, watch: Watch, delay: float) -> None:
        watch.due = self._clock.monotonic() + delay
        heapq.heappush(self._heap, (watch.due, next(self._seq), watch.key))
        if watch.due < self._sleep_until or not self._running:
            self._wake.set()

    def _release_due(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            due, _, key = heapq.heappop(self._heap)
            watch = self._watches.get(key)
            if watch is None or watch.done or watch.queued or due != watch.due:
                continue
            watch.queued = True
            self._polls.put_nowait(watch)

    def _interval(self, watch: Watch) -> float:
        if watch.failures:
            base = policy.error_interval(
                watch.failures, minimum=self._poll_min, maximum=self._poll_max
            )
        else:
            base = policy.poll_interval(
                self._elapsed(watch), minimum=self._poll_min, maximum=self._poll_max
            )
        return policy.jittered(base, self._rng)

    def _elapsed(self, watch: Watch) -> float:
        now = self._clock.now()
        begin = watch.begin_time
        if begin is None and watch.follows:
            begin = min(live.follow.started_at for live in watch.follows.values())
        return 0.0 if begin is None else max((now - begin).total_seconds(), 0.0)

    async def _worker(self) -> None:
        while True:
            self._idle_workers += 1
            try:
                watch = await self._polls.get()
            finally:
                self._idle_workers -= 1
            with self._working():
                watch.queued = False
                try:
                    await self._poll(watch)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("follow.poll_failed key=%s", watch.key)
                    if not watch.done and watch.follows:
                        self._schedule(watch, self._poll_max)

    # -- resuming and leases ---------------------------------------------------------------------

    async def _resync(self) -> None:
        """Load active follows from the store, take leases, drop follows ended elsewhere."""
        self._next_resync = self._clock.monotonic() + self._resync_every
        known = set(self._lives)  # follow() may add lives while the store answers
        records = await self._store.active_follows()
        active = {r.id: r for r in records}
        for follow_id in [i for i in known if i in self._lives and i not in active]:
            if not self._lives[follow_id].finishing:
                self._drop(follow_id)
        by_key: dict[str, list[Follow]] = {}
        for record in records:
            by_key.setdefault(execution_key(record.workflow_id, record.execution_id), []).append(
                record
            )
        held = await self._lease(set(by_key) | set(self._watches))
        unused = self._leased - set(by_key) - set(self._watches)
        if unused:
            await self._store.release_leases(self._owner, unused)
            self._leased -= unused
        for key in [k for k in self._watches if k not in held]:
            for follow_id in list(self._watches[key].follows):
                if not self._lives[follow_id].finishing:
                    self._drop(follow_id)
        for key in held:
            for record in by_key.get(key, []):
                if record.id in self._lives:
                    self._lives[record.id].follow = record
                    continue
                watch = self._watch_for(record.workflow_id, record.execution_id)
                fresh = not watch.follows
                self._adopt(record, watch)
                if fresh and not watch.queued:
                    # spread a restart's first polls over the shortest interval
                    self._schedule(watch, self._rng.uniform(0.0, self._poll_min))

    async def _lease(self, keys: Iterable[str]) -> set[str]:
        """Take or renew the leases on ``keys``; returns those this engine now holds."""
        wanted = set(keys)
        if not wanted:
            return set()
        held = set(
            await self._store.acquire_leases(
                self._owner, wanted, self._lease_ttl, self._clock.now()
            )
        )
        lost = (self._leased & wanted) - held
        if lost:
            log.info("follow.leases_lost count=%d", len(lost))
        self._leased = (self._leased - wanted) | held
        return held

    def _watch_for(self, workflow_id: str, execution_id: str) -> Watch:
        key = execution_key(workflow_id, execution_id)
        watch = self._watches.get(key)
        if watch is None or watch.done:
            watch = self._watches[key] = Watch(workflow_id, execution_id)
        return watch

    def _adopt(self, record: Follow, watch: Watch) -> Live:
        live = Live(
            follow=record,
            watch=watch,
            shown=record.fingerprint,
            rendered_at=record.rendered_at,
            unreachable_since=record.unreachable_since,
            announced=set(record.announced),
        )
        if record.unreachable_since is not None:
            live.notice = policy.unreachable_notice(record.unreachable_since)
        watch.follows[record.id] = live
        self._lives[record.id] = live
        return live

    def _drop(self, follow_id: int) -> None:
        live = self._lives.pop(follow_id, None)
        self._changed.pop(follow_id, None)
        self._stale.pop(follow_id, None)
        if live is None:
            return
        live.ended = True
        watch = live.watch
        watch.follows.pop(follow_id, None)
        if not watch.follows and self._watches.get(watch.key) is watch:
            watch.done = True
            del self._watches[watch.key]

    async def _reload(self, follow_id: int) -> Follow | None:
        return await self._store.get_follow(follow_id)

    # -- polling -------------------------------------------------------------------------------

    async def _get(self, workflow_id: str, execution_id: str) -> ExecutionDetail:
        self._stats.aom_requests += 1
        return await self._source.get_execution(workflow_id, execution_id)

    async def _poll(self, watch: Watch) -> None:
        if watch.done or not watch.follows:
            return
        now = self._clock.now()
        for live in list(watch.follows.values()):
            if now >= live.follow.deadline:
                hours = self._max_follow.total_seconds() / 3600
                await self._end(live, EndReason.MAX_TIME, _NOTE_MAX_TIME.format(hours=hours))
        if not watch.follows:
            return
        try:
            execution = await self._get(watch.workflow_id, watch.execution_id)
        except AomNotFoundError:
            await self._end_all(watch, EndReason.EXECUTION_NOT_FOUND, _NOTE_NOT_FOUND)
            return
        except AomAuthError:
            await self._end_all(watch, EndReason.AUTH_LOST, _NOTE_AUTH)
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
            self._schedule(watch, self._interval(watch))
            return
        watch.failures = 0
        await self._observe(watch, execution)

    async def _mark_unreachable(self, watch: Watch, now: datetime) -> None:
        for live in list(watch.follows.values()):
            if live.unreachable_since is None:
                live.unreachable_since = now
                live.notice = policy.unreachable_notice(now)
                await self._store.set_unreachable(live.id, now)
                if watch.fingerprint is not None:
                    self._want(live, watch.fingerprint, now)

    async def _observe(self, watch: Watch, execution: ExecutionDetail) -> None:
        now = self._clock.now()
        analysis = analyse(execution)
        fingerprint = visible_fingerprint(execution, analysis)
        watch.remember(execution, fingerprint)
        for live in list(watch.follows.values()):
            if live.unreachable_since is not None:
                live.unreachable_since = None
                live.notice = None
                await self._store.set_unreachable(live.id, None)
            baseline = live.shown is None
            if live.follow.message_ts is None and not await self._post_card(live, execution):
                continue
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
            self._want(live, fingerprint, now)
        self._schedule(watch, self._interval(watch))

    def _want(self, live: Live, fingerprint: str, now: datetime) -> None:
        wanted = policy.display_key(fingerprint, live.notice)
        if wanted != live.wanted and wanted != live.shown:
            self._stats.visible_changes += 1
        live.wanted = wanted
        kind = policy.update_kind(live.shown, wanted, live.rendered_at, now, self._heartbeat)
        if kind is None or live.in_flight:
            return
        if kind is policy.UpdateKind.CHANGE:
            self._stale.pop(live.id, None)
            self._changed[live.id] = None
        elif live.id not in self._changed:
            self._stale[live.id] = None
        self._dirty.set()

    async def _post_card(self, live: Live, execution: ExecutionDetail) -> bool:
        """A resumed follow whose card was never posted (crash in ``follow()``): post it now."""
        name = await self._workflow_name(live.follow.workflow_id)
        card = self._render(execution, name, following=True, notice=live.notice)
        try:
            ts = await self._notifier.post(live.follow.channel_id, card)
        except SlackDeliveryError as error:
            await self._slack_failed(live, error)
            return False
        await self._store.set_message(live.id, ts)
        record = await self._reload(live.id)
        if record is not None:
            live.follow = record
        live.shown = policy.display_key(visible_fingerprint(execution), live.notice)
        live.rendered_at = self._clock.now()
        await self._store.record_render(live.id, live.shown, live.rendered_at)
        return True

    # -- sending card updates ------------------------------------------------------------------

    async def _sender(self) -> None:
        while True:
            while not self._changed and not self._stale:
                self._dirty.clear()
                self._idle_senders += 1
                try:
                    await self._dirty.wait()
                finally:
                    self._idle_senders -= 1
            source = self._changed if self._changed else self._stale
            follow_id = next(iter(source))
            del source[follow_id]
            live = self._lives.get(follow_id)
            if live is None or live.ended or live.finishing or live.in_flight:
                continue
            with self._working():
                await self._send(live, heartbeat=source is self._stale)

    async def _send(self, live: Live, *, heartbeat: bool) -> None:
        execution = live.watch.last_execution()
        ts = live.follow.message_ts
        if execution is None or ts is None:
            return
        record = await self._reload(live.id)
        if record is None or not record.is_active:
            self._drop(live.id)  # ended by another replica or an unfollow elsewhere
            return
        name = await self._workflow_name(live.follow.workflow_id)
        live.in_flight = True
        sending: list[str] = []

        def latest() -> MessageLike:
            current = live.watch.last_execution() or execution
            fingerprint = live.watch.fingerprint or visible_fingerprint(current)
            sending.append(policy.display_key(fingerprint, live.notice))
            return self._render(current, name, following=True, notice=live.notice)

        try:
            await self._notifier.update(live.follow.channel_id, ts, latest)
        except SlackDeliveryError as error:
            await self._slack_failed(live, error)
            return
        finally:
            live.in_flight = False
        live.shown = sending[-1] if sending else live.shown
        live.rendered_at = self._clock.now()
        if heartbeat:
            self._stats.heartbeats_sent += 1
        else:
            self._stats.updates_sent += 1
        if live.shown is not None:
            await self._store.record_render(live.id, live.shown, live.rendered_at)
        if not live.ended and not live.finishing and live.wanted and live.wanted != live.shown:
            self._changed[live.id] = None
            self._dirty.set()

    async def _slack_failed(self, live: Live, error: SlackDeliveryError) -> None:
        self._stats.slack_errors += 1
        if isinstance(error, _GONE):
            reason = (
                EndReason.MESSAGE_DELETED
                if isinstance(error, SlackMessageGone)
                else EndReason.CHANNEL_GONE
            )
            log.info("follow.ended_quietly follow_id=%s slack_error=%s", live.id, error.error)
            await self._end(live, reason, None, update_card=False)
        else:
            log.warning("follow.slack_error follow_id=%s slack_error=%s", live.id, error.error)

    # -- ending --------------------------------------------------------------------------------

    async def _end_all(self, watch: Watch, reason: EndReason, note: str) -> None:
        for live in list(watch.follows.values()):
            await self._end(live, reason, note)

    async def _end(
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
        name = await self._workflow_name(live.follow.workflow_id)
        card: MessageLike
        if execution is not None:
            card = self._render(execution, name, following=False, notice=note)
        else:
            text = note or "Stopped following."
            card = SlackMessage(text=text, blocks=[section(f"⚠️ {text}")])
        try:
            await self._notifier.update(live.follow.channel_id, ts, card)
        except SlackDeliveryError as error:
            self._stats.slack_errors += 1
            log.info("follow.end_card_failed follow_id=%s slack_error=%s", live.id, error.error)

    def _finish(self, live: Live, execution: ExecutionDetail) -> None:
        if live.finishing:
            return
        live.finishing = True
        self._changed.pop(live.id, None)
        self._stale.pop(live.id, None)
        self._spawn(self._complete(live, execution))

    async def _complete(self, live: Live, execution: ExecutionDetail) -> None:
        """Final card, then exactly one completion reply; retried until done or hopeless."""
        attempt = 0
        while not self._stopping:
            try:
                if await self._complete_once(live, execution):
                    return
            except SlackDeliveryError as error:
                if isinstance(error, _GONE):
                    await self._slack_failed(live, error)
                    return
                self._stats.slack_errors += 1
                log.warning("follow.completion_retry follow_id=%s error=%s", live.id, error.error)
            except StoreError as error:
                log.warning("follow.completion_retry follow_id=%s store_error=%s", live.id, error)
            except Exception:  # a bug must not leave the follow stuck "finishing" until restart
                log.exception("follow.completion_failed follow_id=%s", live.id)
            attempt += 1
            await self._clock.sleep(min(self._poll_max * attempt, 600.0))

    async def _complete_once(self, live: Live, execution: ExecutionDetail) -> bool:
        name = await self._workflow_name(live.follow.workflow_id)
        outcome = await self._completion.attempt(
            live,
            execution,
            workflow_name=name,
            final_card=lambda: self._render(execution, name, following=False, notice=None),
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

    async def _announce(self, live: Live, text: str) -> None:
        ts = live.follow.message_ts
        if ts is None or live.ended:
            return
        try:
            await self._notifier.post(
                live.follow.channel_id,
                SlackMessage(text=text, blocks=[section(text)]),
                thread_ts=ts,
            )
        except SlackDeliveryError as error:
            await self._slack_failed(live, error)
            return
        self._stats.new_group_replies += 1

    # -- helpers ---------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._side.add(task)
        task.add_done_callback(self._side_done)

    def _side_done(self, task: asyncio.Task[None]) -> None:
        self._side.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("follow.task_failed", exc_info=task.exception())

    def _render(
        self,
        execution: ExecutionDetail,
        workflow_name: str | None,
        following: bool,
        notice: str | None,
    ) -> SlackMessage:
        console = None
        if self._console_url is not None and execution.workflow_id:
            console = self._console_url(execution.workflow_id, execution.execution_id)
        return execution_message(
            execution,
            now=self._clock.now(),
            workflow_name=workflow_name,
            following=following,
            console_url=console,
            notice=notice,
            scrubber=self._scrubber,
        )

    async def _workflow_name(self, workflow_id: str) -> str | None:
        if self._workflow_names is None:
            return None
        if workflow_id not in self._names:
            try:
                self._names[workflow_id] = await self._workflow_names(workflow_id)
            except AomError:
                return None
        return self._names[workflow_id]
