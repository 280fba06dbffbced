"""The follow engine: keeps execution cards current until the executions end.

One asyncio scheduler drives every follow. Follows of the same execution share one *watch*, so
AOM is asked once per interval however many channels follow it; a fixed pool of workers does
the polling (at most ``max_concurrency`` AOM requests at once). Cards are edited only when what
they show changes, at Slack's pace, in their latest state (:mod:`aom_bot.follow.cards`).

Everything that must survive a restart is in the store, written before it matters: the follow,
its card's ``ts``, what the card shows, announced error groups, and the completion claim. After
a crash a new engine resumes from ``store.active_follows()`` alone; exactly-once replies come
from store claims (and, for the completion, from Slack message metadata when a claim was left
unposted). Several replicas share the work through the store's leases on executions.

This module wires the parts together and runs them. The parts decide from plain values and
return decisions (:mod:`aom_bot.follow.decisions`); the applier (:mod:`aom_bot.follow.apply`)
owns the follows in memory and is the one place that carries decisions out. The parts:
``starting`` (a new follow's first card), ``scheduler`` (when to poll), ``poller`` (one poll
and what it means), ``cards`` (rendering and sending cards), ``endings`` (ending and completing
follows), ``resync`` and ``leases`` (which follows this replica keeps), ``posting`` (each
card's first post, exactly once, beside the polls).

::

    options = EngineOptions(owner="bot-1", poll_min=5, poll_max=30,
                            max_follow=timedelta(hours=24), broadcast_failures=True)
    engine = FollowEngine(accounts=accounts, store=store, notifier=notifier,
                          clock=SystemClock(), options=options)
    runner = asyncio.create_task(engine.run())
    await engine.follow(FollowRequest(workflow_id=wf, execution_id=ex, channel_id="C1", user_id="U1"))
    await engine.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aom_bot.aom.accounts import AomAccounts
from aom_bot.clock import Clock
from aom_bot.errors import AomError, SlackDeliveryError, StoreError
from aom_bot.follow import resync
from aom_bot.follow.apply import Applier
from aom_bot.follow.cards import ActionsFor, CardQueue, CardRenderer
from aom_bot.follow.completion import CompletionPoster
from aom_bot.follow.endings import Endings
from aom_bot.follow.leases import LeaseBook
from aom_bot.follow.poller import PollDecisions, Poller
from aom_bot.follow.posting import CardPoster
from aom_bot.follow.protocols import CardNotifier
from aom_bot.follow.resync import ResyncPace
from aom_bot.follow.scheduler import PollScheduler
from aom_bot.follow.starting import Starter
from aom_bot.follow.state import FollowResult, FollowStats
from aom_bot.records import FollowRequest
from aom_bot.render.scrub import Scrubber
from aom_bot.store.base import EndReason, NewFollow, Store

__all__ = ["EngineOptions", "FollowEngine", "FollowResult", "FollowStats"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineOptions:
    """How the engine follows: its name among the replicas, its pace and its limits."""

    #: this replica's name in the store's claims and leases
    owner: str
    #: the shortest and the longest interval between two polls of an execution (seconds)
    poll_min: float
    poll_max: float
    #: how long an execution is followed at most
    max_follow: timedelta
    #: a failed run's completion reply is also sent to the channel
    broadcast_failures: bool
    scrubber: Scrubber | None = None
    #: a card unchanged this long gets an edit anyway ("updated … ago" stays true)
    heartbeat: timedelta = timedelta(minutes=5)
    rng: random.Random | None = None
    #: AOM requests in flight at most (one per worker)
    max_concurrency: int = 16
    #: tasks editing cards (Slack's pace limits them anyway)
    senders: int = 2
    lease_ttl: timedelta = timedelta(minutes=2)
    resync_every: timedelta = timedelta(seconds=60)
    #: a completion claim (or a first card post's) left this long is taken over
    claim_stale_after: timedelta = timedelta(minutes=2)
    card_claim_stale_after: timedelta = timedelta(minutes=10)
    #: which action buttons a card offers in a channel (None: none)
    actions_for: ActionsFor | None = None


class FollowEngine:
    """Follows executions in Slack channels; see the module docstring."""

    def __init__(
        self,
        *,
        accounts: AomAccounts,
        store: Store,
        notifier: CardNotifier,
        clock: Clock,
        options: EngineOptions,
    ) -> None:
        self._store, self._notifier, self._clock = store, notifier, clock
        self._owner, self._max_follow = options.owner, options.max_follow
        self._max_concurrency = max(1, options.max_concurrency)
        self._sender_count = max(1, options.senders)
        #: follows ``follow()`` is still setting up (card not posted yet): resync leaves them
        self._starting: set[int] = set()
        self._running = False
        #: a resync has placed the stored follows once (the restart's)
        self._resynced = False
        self._stopping = False
        self._stopped = asyncio.Event()
        self._stats = FollowStats()
        self._wire(accounts, options)

    def _wire(self, accounts: AomAccounts, options: EngineOptions) -> None:
        """Make the parts, each given what it needs (none of them calls back into another)."""
        store, notifier, clock, stats = self._store, self._notifier, self._clock, self._stats
        rng = options.rng or random.Random()  # noqa: S311 - jitter, not cryptography
        # leases are renewed at every resync: well within their TTL
        ttl = options.lease_ttl
        every = min(options.resync_every.total_seconds(), ttl.total_seconds() / 3)
        self._pace = ResyncPace(clock=clock, every=every)
        scrubber = options.scrubber or Scrubber()
        poll_min = max(options.poll_min, 0.1)
        self._renderer = renderer = CardRenderer(
            clock=clock, scrubber=scrubber, accounts=accounts, actions_for=options.actions_for
        )
        self._scheduler = scheduler = PollScheduler(
            clock=clock, rng=rng, poll_min=poll_min, poll_max=max(options.poll_max, poll_min)
        )
        self._leases = LeaseBook(store=store, owner=self._owner, clock=clock, ttl=ttl, rng=rng)
        # a first post may wait minutes for the channel's pace: the claim must outlast that
        self._poster = poster = CardPoster(
            store=store, notifier=notifier, clock=clock, owner=self._owner,
            stale_after=options.card_claim_stale_after,
        )  # fmt: skip
        completion = CompletionPoster(
            store=store, notifier=notifier, clock=clock, owner=self._owner, poster=poster,
            broadcast_failures=options.broadcast_failures,
            claim_stale_after=options.claim_stale_after,
        )  # fmt: skip
        self._endings = endings = Endings(
            store=store, notifier=notifier, clock=clock, renderer=renderer, stats=stats,
            completion=completion, retry_max=scheduler.poll_max,
        )  # fmt: skip
        self._cards = cards = CardQueue(
            store=store, notifier=notifier, clock=clock, renderer=renderer, stats=stats,
            heartbeat=options.heartbeat.total_seconds(), retry_max=scheduler.poll_max,
        )  # fmt: skip
        self._poller = poller = Poller(
            accounts=accounts, store=store, notifier=notifier, clock=clock, stats=stats,
            renderer=renderer, poster=poster,
        )  # fmt: skip
        decide = PollDecisions(
            max_follow=options.max_follow, poll_max=scheduler.poll_max, scrubber=scrubber
        )
        self._starter = Starter(
            store=store, notifier=notifier, clock=clock, owner=self._owner, stats=stats,
            renderer=renderer, poster=poster, leases=self._leases,
        )  # fmt: skip
        self._applier = Applier(
            store=store, clock=clock, poller=poller, decide=decide, cards=cards, endings=endings,
            scheduler=scheduler, poster=poster,
        )  # fmt: skip

    # -- public API ------------------------------------------------------------------------

    @property
    def stats(self) -> FollowStats:
        """Counters, with the live gauges filled in."""
        self._stats.active_follows = len(self._applier.lives)
        self._stats.watched_executions = len(self._applier.watches)
        return self._stats

    async def follow(self, request: FollowRequest) -> FollowResult:
        """Post (or adopt) the card and keep it current; a duplicate returns the existing one.

        AOM errors (``AomError``) and Slack errors on the first post (``SlackDeliveryError``)
        propagate so the caller can tell the user; no follow is left behind then.
        """
        workflow_id, execution_id = request.workflow_id, request.execution_id
        channel_id, user_id, mention = request.channel_id, request.user_id, request.mention
        message_ts, subscription_id = request.message_ts, request.subscription_id
        existing = await self._store.find_active_follow(channel_id, workflow_id, execution_id)
        if existing is not None:
            return FollowResult(existing.id, False, existing.message_ts, False)
        execution = await self._poller.get(request.profile, workflow_id, execution_id)
        if execution.is_terminal and message_ts is None and subscription_id is None:
            earlier = await self._starter.earlier_card(channel_id, execution, request.profile)
            if earlier is not None:
                return earlier
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
            profile=request.profile,
            mention=mention if mention is not None else (f"<@{user_id}>" if user_id else None),
        )
        record, created = await self._store.start_follow(new)
        if not created:
            return FollowResult(record.id, False, record.message_ts, False)
        self._starting.add(record.id)  # this process's resync must not adopt it half-made
        try:
            result, decisions = await self._starter.set_up(
                record, execution, message_ts, request.thread_ts
            )
            await self._applier.apply(decisions)
            return result
        finally:
            self._starting.discard(record.id)

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
        live = self._applier.lives.get(record.id)
        execution = live.watch.last_execution() if live else None
        self._applier.drop(record.id)
        if record.message_ts:
            if execution is None:
                with contextlib.suppress(AomError):
                    execution = await self._poller.get(record.profile, workflow_id, execution_id)
            if execution is not None:
                card = await self._renderer.card_of(record, execution, following=False)
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
        self._running = self._scheduler.running = True
        scheduler, applier = self._scheduler, self._applier
        workers = [asyncio.create_task(applier.worker()) for _ in range(self._max_concurrency)]
        senders = [asyncio.create_task(applier.sender()) for _ in range(self._sender_count)]
        for task in (*workers, *senders):
            task.add_done_callback(self._task_ended)
        try:
            with applier.working():
                await self._take_back_claims()
                await self._resync()
            while not self._stopping:
                _raise_if_dead(workers, senders)
                now = self._clock.monotonic()
                if now >= self._pace.next_at:
                    with applier.working():
                        await self._resync()
                    now = self._clock.monotonic()
                if not self._leases.proven():
                    await applier.apply(resync.unproven(applier.lives, applier.watches))
                    self._leases.forget()
                scheduler.release_due(now)
                await scheduler.sleep_until(scheduler.next_due(self._pace.next_at))
        finally:
            await applier.cancel(*workers, *senders)
            if self._stopping:  # a clean stop hands over at once; a crash waits for the TTL
                try:
                    await self._leases.release_all()
                except Exception as error:  # the others take over when the leases lapse
                    log.warning("follow.leases_not_handed_over error=%s", error)
                else:
                    log.info("follow.leases_handed_over")
            self._leases.forget()
            self._running = self._scheduler.running = False
            self._stopped.set()

    async def stop(self) -> None:
        """End ``run()``: polls in flight are abandoned (every store write is atomic)."""
        self._stopping = True
        self._endings.stop()
        self._scheduler.wake.set()
        if self._running:
            await self._stopped.wait()
        else:
            await self._applier.cancel()

    def handover_heard(self, prefix: str) -> None:
        """Another replica gave leases back (``Store.handovers``): if they are executions'
        leases, resync now rather than at the next resync, so its follows are polled again
        within about a second."""
        if prefix == self._leases.prefix:
            self._pace.soon()
            self._scheduler.wake.set()

    # -- test support ------------------------------------------------------------------------

    def busy_tasks(self) -> set[asyncio.Task[Any]]:
        """Tasks of this engine doing something right now (tests: settle on simulated time).

        A task only waiting for another task's card post is left out; the poster counts.
        """
        return self._applier.busy_tasks() - self._poster.waiters()

    def waiting_tasks(self) -> set[asyncio.Task[Any]]:
        """Tasks (also the caller's, e.g. ``follow()``) that wait for this engine's card posts."""
        return self._poster.waiters()

    @property
    def has_pending_work(self) -> bool:
        """True when queued work is waiting for an idle task to pick it up."""
        scheduler = self._scheduler
        return scheduler.wake.is_set() or scheduler.has_pending_work or self._cards.has_pending_work

    # -- resuming ---------------------------------------------------------------------------------

    async def _take_back_claims(self) -> None:
        """Claims under our name are from this process's previous life (a crash, a SIGKILL):
        take them back now instead of waiting until they are stale."""
        try:
            taken = await self._store.expire_claims(self._owner)
        except StoreError as error:  # they become stale by themselves
            log.warning("follow.claims_not_taken_back error=%s", error)
            return
        if taken:
            log.info("follow.claims_taken_back owner=%s count=%d", self._owner, taken)

    async def _resync(self) -> None:
        """Load active follows from the store, take leases, drop follows ended elsewhere; while
        the store fails, keep polling what is in memory and try again soon."""
        pace, applier = self._pace, self._applier
        lives, watches = applier.lives, applier.watches
        pace.started()
        known = set(lives)  # follow() may add lives while the store answers
        try:
            records = await self._store.active_follows()
            await applier.apply(resync.ended_elsewhere(lives, known, records))
            by_key = resync.by_execution(records)
            held = await self._leases.share(set(by_key) | set(watches))
        except StoreError as error:
            pace.failed(error)
            return
        pace.succeeded()
        spread = self._first_polls_within()
        await applier.apply(
            resync.placed(lives, watches, by_key, held, starting=self._starting, spread=spread)
        )

    def _first_polls_within(self) -> float:
        """Over how long the first polls of adopted follows are spread.

        A restart's (the first resync) go within the shortest interval: nobody polled them
        while the process was down. Later ones take over another replica's work in bulk; at
        half the longest interval (each run's own interval at most) they do not arrive as one
        burst on top of this replica's own polls, which would queue behind the request cap and
        stay bunched, interval after interval.
        """
        scheduler = self._scheduler
        if not self._resynced:
            self._resynced = True
            return scheduler.poll_min
        return max(scheduler.poll_min, scheduler.poll_max / 2)

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        """A worker or sender ended: wake the loop so it raises (cancelled ones are stopping)."""
        if not task.cancelled():
            self._scheduler.wake.set()


def _raise_if_dead(*groups: list[asyncio.Task[None]]) -> None:
    """Workers and senders run forever: one that ended takes the engine down, visibly."""
    for tasks in groups:
        for task in tasks:
            if task.done():
                error = None if task.cancelled() else task.exception()
                raise RuntimeError(f"a follow engine task stopped: {error!r}") from error
