"""The follows in memory, and the one place the parts' decisions are carried out.

The applier owns the watches (one per polled execution) and the live follows (one per card),
and the tasks the engine runs: the workers that poll, the senders that edit cards, and the
work beside them (first posts, "new failure" replies, completions). The parts decide
(:mod:`aom_bot.follow.decisions`) and the applier does what they decided, in their order: it
changes the follows in memory, writes what that implies to the store, queues card edits,
schedules polls and starts tasks. A decision is applied in the task that made it, without a
pause before it, so it meets the state its part saw.

Exactly once stays the store's business: an announcement is posted only by whoever wins its
claim, an end is written before its card is touched, and a follow is finished once in this
process (``Live.finishing``) and completed once across processes (the completion claim).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterable, Iterator
from typing import Any, assert_never

from aom_bot.aom.models import ExecutionDetail
from aom_bot.clock import Clock
from aom_bot.errors import StoreError
from aom_bot.follow import policy
from aom_bot.follow.cards import CardQueue
from aom_bot.follow.decisions import (
    Adopt,
    AlreadyShown,
    Announce,
    Completed,
    Decision,
    Drop,
    EditCard,
    EditCards,
    End,
    Failures,
    Freeze,
    PostCard,
    Refresh,
    Remember,
    Reread,
    Schedule,
    Shown,
    Unreachable,
)
from aom_bot.follow.endings import Endings, FinalEdit
from aom_bot.follow.poller import PollDecisions, Poller
from aom_bot.follow.posting import CardPoster
from aom_bot.follow.scheduler import PollScheduler
from aom_bot.follow.state import Live, Watch, execution_key
from aom_bot.render.analysis import visible_fingerprint
from aom_bot.store.base import Follow, Store

__all__ = ["Applier"]

log = logging.getLogger("aom_bot.follow.engine")  # the engine's log events keep their logger

_Work = Coroutine[Any, Any, list[Decision]]


class Applier:
    """Owns the engine's follows in memory and applies the decisions about them."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        poller: Poller,
        decide: PollDecisions,
        cards: CardQueue,
        endings: Endings,
        scheduler: PollScheduler,
        poster: CardPoster,
    ) -> None:
        self._store = store
        self._clock = clock
        self._poller = poller
        self._decide = decide
        self._cards = cards
        self._endings = endings
        self._scheduler = scheduler
        self._poster = poster
        #: the polled executions, by ``execution_key``
        self.watches: dict[str, Watch] = {}
        #: the follows this process keeps current, by follow ID
        self.lives: dict[int, Live] = {}
        self._busy: set[asyncio.Task[Any]] = set()
        self._side: set[asyncio.Task[None]] = set()

    # -- the loops --------------------------------------------------------------------------------

    async def worker(self) -> None:
        """One worker: polls queued watches, one at a time, forever."""
        while True:
            watch = await self._scheduler.next_watch()
            with self.working():
                try:
                    await self.poll(watch)
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # the store, or a bug: poll again later
                    self._scheduler.retry_later(watch, error)

    async def poll(self, watch: Watch) -> None:
        """Poll ``watch`` once: end the follows past their time, ask AOM, act on the answer."""
        if watch.done or not watch.follows:
            return
        now = self._clock.now()
        await self.apply(self._decide.expired(watch, now))
        if not watch.follows:
            return
        answer = await self._poller.fetch(watch)
        if answer is not None:
            await self.apply(self._decide.decide(watch, answer, now))

    async def sender(self) -> None:
        """One sender: edits queued cards, one at a time, forever.

        A store error never ends it: the card is queued again, says the store is failing, and
        the sender backs off until the store answers again.
        """
        while True:
            live, heartbeat = await self._cards.next()
            try:
                with self.working():
                    await self.apply(await self._cards.send(live, heartbeat=heartbeat))
            except StoreError as error:
                await self._cards.store_failed(live, error)
                continue
            except Exception:  # a bug with one card must not stop every card's edits
                log.exception("follow.card_failed follow_id=%s", live.id)
                continue
            self._cards.store_answered()

    # -- applying ---------------------------------------------------------------------------------

    async def apply(self, decisions: Iterable[Decision]) -> None:
        """Carry out ``decisions`` in order (store errors propagate to the loop that asked)."""
        for decision in decisions:
            match decision:
                case End():
                    ended = await self._endings.store_end(decision)
                    self.drop(decision.live.id)  # no more edits, before the note goes on
                    if ended:
                        await self._endings.show_end(decision)
                case Unreachable(live, since, notice):
                    changed = live.unreachable_since != since
                    live.unreachable_since = since
                    live.notice = notice
                    if changed:
                        await self._store.set_unreachable(live.id, since)
                case AlreadyShown(live, signatures):
                    for signature in signatures:
                        live.announced.add(signature)
                        await self._store.claim_announcement(live.id, signature)
                case Announce(live, signature, text):
                    live.announced.add(signature)
                    if await self._store.claim_announcement(live.id, signature):
                        self._spawn(self._then_apply(self._poller.announce(live, text)))
                case Shown(live, fingerprint):
                    live.shown = policy.display_key(fingerprint, live.notice)
                    live.rendered_at = self._clock.now()
                    await self._store.record_render(live.id, live.shown, live.rendered_at)
                case _:
                    self._apply_now(decision)

    def _apply_now(self, decision: Decision) -> None:
        """The decisions that need no store: memory, the card queue, the schedule, tasks."""
        match decision:
            case Adopt():
                self._adopt(decision)
            case Refresh(live, record):
                live.follow = record
            case Drop(follow_id):
                self.drop(follow_id)
            case Freeze(live):
                live.frozen = True
            case Remember(watch, execution, fingerprint, digest, body):
                watch.remember(execution, fingerprint, digest, body)
            case Reread(watch):
                watch.digest = None
            case Failures(watch, count):
                watch.failures = count
            case Schedule(watch, delay):
                scheduler = self._scheduler
                scheduler.schedule(watch, scheduler.interval(watch) if delay is None else delay)
            case EditCard(live, fingerprint):
                self._cards.want(live, fingerprint, self._clock.now())
            case EditCards(watch, fingerprint):
                now = self._clock.now()
                for live in list(watch.follows.values()):
                    self._cards.want(live, fingerprint, now)
            case PostCard(live):
                if not self._poster.posting(live.id):
                    self._spawn(self._then_apply(self._poller.post_card(live)))
            case Completed(watch, execution):
                watch.done = True
                if self.watches.get(watch.key) is watch:
                    del self.watches[watch.key]
                for live in list(watch.follows.values()):
                    self._finish(live, execution)
            case End() | Unreachable() | AlreadyShown() | Announce() | Shown():
                raise AssertionError(f"{type(decision).__name__} is applied with the store")
            case _:
                assert_never(decision)

    # -- the follows in memory ----------------------------------------------------------------------

    def _adopt(self, adopt: Adopt) -> None:
        record, execution = adopt.record, adopt.execution
        watch = self._watch_for(record)
        fresh = not watch.follows
        if execution is not None:
            watch.remember(execution, adopt.fingerprint or visible_fingerprint(execution))
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
        self.lives[record.id] = live
        if execution is not None and execution.is_terminal:
            self._finish(live, execution)
        elif fresh and not watch.queued:
            within, scheduler = adopt.first_poll_within, self._scheduler
            interval = scheduler.interval(watch)  # never later than its regular poll
            delay = interval if within is None else scheduler.spread(min(within, interval))
            scheduler.schedule(watch, delay)

    def _watch_for(self, record: Follow) -> Watch:
        key = execution_key(record.workflow_id, record.execution_id)
        watch = self.watches.get(key)
        if watch is None or watch.done:
            watch = Watch(record.workflow_id, record.execution_id, profile=record.profile)
            self.watches[key] = watch
        return watch

    def drop(self, follow_id: int) -> None:
        """Forget a follow here (its watch too, once it has no follows left)."""
        live = self.lives.pop(follow_id, None)
        self._cards.forget(follow_id)
        if live is None:
            return
        live.ended = True
        watch = live.watch
        watch.follows.pop(follow_id, None)
        if not watch.follows and self.watches.get(watch.key) is watch:
            watch.done = True
            del self.watches[watch.key]

    def _finish(self, live: Live, execution: ExecutionDetail) -> None:
        if live.finishing:
            return
        live.finishing = True
        self._cards.forget(live.id)
        self._spawn(self._complete(live, execution))

    async def _complete(self, live: Live, execution: ExecutionDetail) -> None:
        """The final card edit and the completion reply, each its own task and duty."""
        edit = FinalEdit(done=live.frozen)
        if not live.frozen:
            self._spawn(self._endings.final_edit(live, execution, edit))
        await self.apply(await self._endings.complete(live, execution, edit))

    # -- tasks --------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def working(self) -> Iterator[None]:
        """The current task counts as busy meanwhile (tests settle on simulated time)."""
        task = asyncio.current_task()
        if task is None:
            yield
            return
        self._busy.add(task)
        try:
            yield
        finally:
            self._busy.discard(task)

    def busy_tasks(self) -> set[asyncio.Task[Any]]:
        """Workers and senders at work, and the unfinished tasks beside them."""
        return set(self._busy) | {t for t in self._side if not t.done()}

    async def cancel(self, *tasks: asyncio.Task[Any]) -> None:
        """Cancel ``tasks`` and the work beside the polls (the engine stops); wait for them."""
        everything = (*tasks, *self._side)
        for task in everything:
            task.cancel()
        await asyncio.gather(*everything, return_exceptions=True)
        self._side.clear()

    async def _then_apply(self, work: _Work) -> None:
        await self.apply(await work)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._side.add(task)
        task.add_done_callback(self._side_done)

    def _side_done(self, task: asyncio.Task[None]) -> None:
        self._side.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("follow.task_failed", exc_info=task.exception())
