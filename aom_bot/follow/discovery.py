"""Discovery: post a card for each new execution of a subscribed workflow, then follow it.

Every ``interval`` seconds the loop lists the executions of each subscribed workflow: one AOM
request per workflow however many channels subscribe to it, at most ``max_concurrency`` at
once, an AOM error on one workflow leaving the others alone. Each new execution becomes a card
in every subscribed channel, kept current by the follow engine until the run ends.

What it has dealt with lives in the store, so nothing is posted twice and nothing is missed
across restarts: an execution is marked *seen* once every subscription is done with it, and
every (channel, execution) post goes through ``claim_post``, which is true exactly once however
many replicas or retries race. ``--failures-only`` subscriptions keep a still-running execution
*unseen* (pending) and look at it again each round, from the list payload (it carries full host
results), so its card is posted at the first failed host rather than at the end; a run that
succeeds is then marked seen without a word. History is never replayed: subscribing claims
every execution that already exists for the channel (see ``aom_bot.slack.subscriptions``), and
executions that ended more than ``max_catch_up`` ago are passed over. Replicas split the
workflows between them with store leases.

::

    discovery = SubscriptionDiscovery(source=aom, store=store, notifier=notifier,
                                      follow=engine, clock=SystemClock(), owner="host-1",
                                      interval=settings.aom_bot_discovery_seconds)
    runner = asyncio.create_task(discovery.run())
    ...
    await discovery.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from aom_bot.aom.accounts import AomAccounts
from aom_bot.aom.models import ExecutionDetail
from aom_bot.clock import Clock, sleep_or_wake
from aom_bot.errors import (
    SLACK_GONE,
    AomError,
    SlackDeliveryError,
    StoreError,
    UnknownProfileError,
)
from aom_bot.follow.cards import ActionsFor
from aom_bot.follow.discovery_parts import (
    DiscoveryStats,
    Owed,
    is_failing,
    lease_key,
    subscription_card,
    too_old,
)
from aom_bot.follow.leases import LeaseBook
from aom_bot.follow.protocols import CardNotifier, FollowControl
from aom_bot.records import FollowRequest
from aom_bot.render.kit import SlackMessage
from aom_bot.render.scrub import Scrubber
from aom_bot.store.base import Store, Subscription

__all__ = [
    "DiscoveryStats",
    "SubscriptionDiscovery",
    "is_failing",
    "lease_key",
]

log = logging.getLogger(__name__)


class SubscriptionDiscovery:
    """Polls subscribed workflows and posts their new executions; see the module docstring."""

    def __init__(
        self,
        *,
        accounts: AomAccounts,
        store: Store,
        notifier: CardNotifier,
        follow: FollowControl,
        clock: Clock,
        owner: str,
        interval: float,
        scrubber: Scrubber | None = None,
        max_concurrency: int = 8,
        lease_ttl: timedelta | None = None,
        max_catch_up: timedelta = timedelta(days=7),
        actions_for: ActionsFor | None = None,
    ) -> None:
        self._actions_for = actions_for
        self._accounts = accounts
        self._store = store
        self._notifier = notifier
        self._follow = follow
        self._clock = clock
        self._owner = owner
        self._interval = max(float(interval), 0.05)
        self._scrubber = scrubber or Scrubber()
        self._limit = asyncio.Semaphore(max(1, max_concurrency))
        # a lease outlives a round or two, so a slow round never hands a workflow over
        self._lease_ttl = lease_ttl or timedelta(seconds=max(3 * self._interval, 60.0))
        # each replica polls at most its fair share of the subscribed workflows
        self._leases = LeaseBook(
            store=store, owner=owner, clock=clock, ttl=self._lease_ttl, prefix=lease_key("")
        )
        self._max_catch_up = max_catch_up
        #: (channel, execution) pairs decided this process: no claim asked again
        self._handled: set[tuple[str, str]] = set()
        self._owed: dict[tuple[str, str], Owed] = {}
        self._leased: set[str] = set()
        self._stats = DiscoveryStats()
        self._wake = asyncio.Event()
        #: another replica handed workflows over since the last look (see ``handover_heard``)
        self._handed_over = False
        self._stopping = False
        self._running = False
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None
        #: tasks doing discovery work right now (not waiting for a turn or for each other)
        self._active: set[asyncio.Task[Any]] = set()

    # -- public API ------------------------------------------------------------------------

    @property
    def stats(self) -> DiscoveryStats:
        """Counters since start."""
        return self._stats

    async def run(self) -> None:
        """Poll every ``interval`` seconds until ``stop()``."""
        if self._running:
            raise RuntimeError("SubscriptionDiscovery.run() is already running")
        self._running = True
        self._task = asyncio.current_task()
        try:
            while not self._stopping:
                started = self._clock.monotonic()
                await self.poll_once()
                while not self._stopping:
                    left = self._interval - (self._clock.monotonic() - started)
                    if left <= 0:
                        break
                    await self._wait(left)
                    if self._handed_over:  # woken by another replica's hand-over
                        self._handed_over = False
                        await self._round(only_new=True)
        finally:
            if self._stopping:  # a clean stop hands workflows (and its heartbeat) over at once
                with contextlib.suppress(Exception):
                    await self._leases.release_all()
            self._leased.clear()
            self._running = False
            self._task = None
            self._stopped.set()

    async def stop(self) -> None:
        """End ``run()`` after the round in progress (every store write is atomic)."""
        self._stopping = True
        self._wake.set()
        if self._running:
            await self._stopped.wait()

    def handover_heard(self, prefix: str) -> None:
        """Another replica gave workflows' leases back (``Store.handovers``): take them now
        and poll those once, instead of at the next round (the others wait for the round)."""
        if prefix == self._leases.prefix:
            self._handed_over = True
            self._wake.set()

    async def poll_once(self) -> None:
        """One round: every subscribed workflow whose lease this replica holds, polled once."""
        self._stats.rounds += 1
        await self._round(only_new=False)

    async def _round(self, *, only_new: bool) -> None:
        """Share the leases, then poll what is held (``only_new``: only what was not before)."""
        before = self._leased
        try:
            with self._working():
                workflows = await self._store.subscribed_workflows()
                keys = {lease_key(w, p): (p, w) for p, w in workflows}
                # also lets go of workflows nobody subscribes to any more
                held = await self._leases.share(keys)
        except StoreError as error:
            self._stats.store_errors += 1
            log.warning("discovery.store_error during=leases error=%s", error)
            return
        self._leased = set(held)
        self._stats.workflows = len(held)
        mine = [keys[k] for k in sorted(held - before if only_new else held)]
        polls = [asyncio.create_task(self._poll_guarded(p, w)) for p, w in mine]
        try:
            pending = await asyncio.gather(*polls)
        finally:
            for task in polls:
                task.cancel()
        if not only_new:  # a hand-over's look polls a few: the round's count stands
            self._stats.pending = sum(pending)

    @contextlib.contextmanager
    def _working(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - always inside a task
            yield
            return
        self._active.add(task)
        try:
            yield
        finally:
            self._active.discard(task)

    # -- test support ------------------------------------------------------------------------

    def busy_tasks(self) -> set[asyncio.Task[Any]]:
        """Tasks working right now (tests settle on simulated time with them).

        A poll waiting for its turn is left out: it moves only when a working one finishes.
        """
        return {t for t in self._active if not t.done()}

    @property
    def has_pending_work(self) -> bool:
        """True when the loop was woken and has not picked that up yet."""
        return self._wake.is_set()

    # -- one workflow ------------------------------------------------------------------------

    async def _wait(self, seconds: float) -> None:
        await sleep_or_wake(self._clock, seconds, self._wake)

    async def _poll_guarded(self, profile: str, workflow_id: str) -> int:
        """Poll one workflow; its failures are logged and counted, never spread to others."""
        async with self._limit:
            try:
                with self._working():
                    return await self._poll(profile, workflow_id)
            except UnknownProfileError:
                # removed from the configuration: its subscriptions wait until it is back
                log.warning(
                    "discovery.profile_unknown workflow=%s profile=%s", workflow_id, profile
                )
            except AomError as error:
                self._stats.aom_errors += 1
                log.warning(
                    "discovery.aom_error workflow=%s kind=%s", workflow_id, type(error).__name__
                )
            except StoreError as error:
                self._stats.store_errors += 1
                log.warning("discovery.store_error workflow=%s error=%s", workflow_id, error)
            except Exception:  # a bug in one workflow's round must not stop the loop
                log.exception("discovery.failed workflow=%s", workflow_id)
        return 0

    async def _poll(self, profile: str, workflow_id: str) -> int:
        subscriptions = [
            s
            for s in await self._store.subscriptions_for_workflow(workflow_id)
            if s.profile == profile
        ]
        if not subscriptions:
            return 0
        polling = self._accounts.get(profile).polling
        self._stats.polls += 1
        executions = await polling.list_executions(workflow_id)
        seen = await self._store.seen_executions(workflow_id)
        now = self._clock.now()
        done: list[str] = []
        pending = 0
        # oldest first, so a channel gets its cards in the order the runs started
        for execution in reversed(executions):
            execution_id = execution.execution_id
            if not execution_id or execution_id in seen:
                continue
            if too_old(execution, now, self._max_catch_up):
                done.append(execution_id)
                continue
            finished = True
            for subscription in subscriptions:
                if not await self._consider(subscription, workflow_id, execution):
                    finished = False
            if finished:
                done.append(execution_id)
            else:
                pending += 1
        if done:
            await self._store.mark_seen(workflow_id, done, now)
            self._forget(done)
        return pending

    def _forget(self, execution_ids: Iterable[str]) -> None:
        gone = set(execution_ids)
        self._handled = {k for k in self._handled if k[1] not in gone}

    async def _consider(
        self, subscription: Subscription, workflow_id: str, execution: ExecutionDetail
    ) -> bool:
        """Post the execution to this subscription if it should be; True when done with it."""
        key = (subscription.channel_id, execution.execution_id)
        if key in self._handled:
            return True
        failing = is_failing(execution)
        if subscription.failures_only and not failing:
            return execution.is_terminal  # silent when it ends well; watched while it runs
        owed = self._owed.get(key)
        if owed is None:
            claimed = await self._store.claim_post(
                subscription.channel_id, workflow_id, execution.execution_id, self._clock.now()
            )
            if not claimed:  # posted already (or history when subscribing)
                self._handled.add(key)
                return True
            owed = Owed()
        if await self._deliver(subscription, workflow_id, execution, failing, owed):
            self._owed.pop(key, None)
            self._handled.add(key)
            return True
        self._owed[key] = owed
        return False

    async def _deliver(
        self,
        subscription: Subscription,
        workflow_id: str,
        execution: ExecutionDetail,
        failing: bool,
        owed: Owed,
    ) -> bool:
        """Post and follow; False to try again next round (the claim is already ours)."""
        channel = subscription.channel_id
        mention = subscription.mention
        try:
            if failing and mention and owed.message_ts is None:
                # the first post itself pings, so whoever is named sees the failure at once
                owed.message_ts = await self._notifier.post(
                    channel, self._card(subscription, execution, mention)
                )
            await self._follow.follow(
                FollowRequest(
                    workflow_id=workflow_id,
                    execution_id=execution.execution_id,
                    channel_id=channel,
                    user_id="",
                    message_ts=owed.message_ts,
                    mention=mention or "",
                    subscription_id=subscription.id,
                    profile=subscription.profile,
                )
            )
        except SlackDeliveryError as error:
            gone = isinstance(error, SLACK_GONE)
            self._stats.failed_posts += 1
            log.warning(
                "discovery.post_failed channel=%s workflow=%s slack_error=%s retry=%s",
                channel,
                workflow_id,
                error.error,
                not gone and owed.message_ts is None,
            )
            # a card that exists (or a channel that is gone) is not posted again
            return gone or owed.message_ts is not None
        except AomError as error:
            self._stats.aom_errors += 1
            log.warning(
                "discovery.follow_failed channel=%s workflow=%s kind=%s",
                channel,
                workflow_id,
                type(error).__name__,
            )
            return False
        self._stats.posted += 1
        log.info(
            "discovery.posted channel=%s workflow=%s execution=%s failing=%s",
            channel,
            workflow_id,
            execution.execution_id,
            failing,
        )
        return True

    def _card(
        self, subscription: Subscription, execution: ExecutionDetail, mention: str
    ) -> SlackMessage:
        permitted = (
            self._actions_for(subscription.profile, subscription.channel_id)
            if self._actions_for is not None
            else frozenset()
        )
        return subscription_card(
            subscription,
            execution,
            mention,
            account=self._accounts.get(subscription.profile),
            now=self._clock.now(),
            scrubber=self._scrubber,
            permitted=permitted,
        )
