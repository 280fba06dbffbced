"""One poll of a watched execution, and what follows from what it shows.

A poll ends follows past their time limit, asks AOM once for all follows of the execution,
marks cards "AOM unreachable" while it cannot answer, announces new failure groups in the
card's thread (once per follow, by store claim), queues card edits, and hands finished
executions over to completion. Asking AOM is :meth:`Poller.fetch`; what its answer means is
:class:`PollDecisions`, from plain values to decisions
(:mod:`aom_bot.follow.decisions`) that the applier carries out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

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
from aom_bot.follow.cards import CardRenderer
from aom_bot.follow.decisions import (
    AlreadyShown,
    Announce,
    Completed,
    Decision,
    EditCard,
    EditCards,
    End,
    Failures,
    PostCard,
    Refresh,
    Remember,
    Reread,
    Schedule,
    Shown,
    Unreachable,
    slack_failure,
)
from aom_bot.follow.posting import CardPoster
from aom_bot.follow.protocols import CardNotifier, MessageLike
from aom_bot.follow.state import FollowStats, Live, Watch
from aom_bot.render.analysis import analyse, visible_fingerprint
from aom_bot.render.kit import notice_message
from aom_bot.render.scrub import Scrubber
from aom_bot.store.base import EndReason, Store

__all__ = ["Answer", "PollDecisions", "Poller"]

log = logging.getLogger("aom_bot.follow.engine")  # the engine's log events keep their logger

_NOTE_MAX_TIME = "Stopped following after {hours:g} h; press Refresh for the latest state."
_NOTE_NOT_FOUND = "Stopped following: AOM no longer knows this execution."
_NOTE_AUTH = "Stopped following: AOM refused the bot's credentials (ask the bot's operators)."


@dataclass(frozen=True, slots=True)
class Answer:
    """AOM's answer to a poll: its body's digest, and the execution (``None``: the very body
    of the watch's last poll, not parsed again; else lean, see ``aom.reader.Polled``) with
    the body it was read from."""

    digest: bytes | None
    execution: ExecutionDetail | None
    body: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PollDecisions:
    """What a poll means, from plain values: the watch and its follows, AOM's answer, now."""

    #: how long an execution is followed at most
    max_follow: timedelta
    #: the longest interval between two polls (a refused body backs off beyond it)
    poll_max: float
    scrubber: Scrubber

    def expired(self, watch: Watch, now: datetime) -> list[Decision]:
        """Follows of ``watch`` past their time limit end (before AOM is asked)."""
        hours = self.max_follow.total_seconds() / 3600
        note = _NOTE_MAX_TIME.format(hours=hours)
        return [
            End(live, EndReason.MAX_TIME, note)
            for live in watch.follows.values()
            if now >= live.follow.deadline
        ]

    def decide(self, watch: Watch, answer: Answer | AomError, now: datetime) -> list[Decision]:
        """What AOM's answer (or error) at ``now`` means for ``watch`` and its follows."""
        lives = list(watch.follows.values())
        if isinstance(answer, AomNotFoundError):
            return [End(live, EndReason.EXECUTION_NOT_FOUND, _NOTE_NOT_FOUND) for live in lives]
        if isinstance(answer, AomAuthError):
            return [End(live, EndReason.AUTH_LOST, _NOTE_AUTH) for live in lives]
        if isinstance(answer, AomBodyTooLargeError):
            return self._refused(watch, now)
        if isinstance(answer, AomError):
            failures = watch.failures + 1
            log.warning(
                "follow.aom_unreachable key=%s kind=%s failures=%d",
                watch.key,
                type(answer).__name__,
                failures,
            )
            notice = policy.unreachable_notice(now)
            return [
                Failures(watch, failures),
                *_marked(watch, now, notice, keep=False),
                Schedule(watch),
            ]
        reset: list[Decision] = [Failures(watch, 0)] if watch.failures else []
        if answer.execution is None:
            return reset + self._unchanged(watch)
        return reset + self._observe(watch, answer.execution, answer.digest, answer.body)

    def _unchanged(self, watch: Watch) -> list[Decision]:
        """The very body of the last poll: nothing to parse, analyse or render. The cards still
        recover from "AOM unreachable" and get their heartbeats; a follow still missing its
        card or its baseline takes the full path, on the execution already kept."""
        fingerprint = watch.fingerprint
        if fingerprint is None or any(
            live.follow.message_ts is None or live.shown is None for live in watch.follows.values()
        ):
            kept = watch.last_execution()
            if kept is not None:
                return self._observe(watch, kept, watch.digest)
            return [Reread(watch), Schedule(watch)]  # cannot happen: a digest has its execution
        decisions: list[Decision] = []
        for live in watch.follows.values():
            if live.unreachable_since is not None:
                decisions.append(Unreachable(live, None, None))
            decisions.append(EditCard(live, fingerprint))
        return [*decisions, Schedule(watch)]

    def _refused(self, watch: Watch, now: datetime) -> list[Decision]:
        """AOM's answer was too large: back off for minutes, and say so on the card."""
        failures = watch.failures + 1
        delay = policy.refused_interval(failures, poll_max=self.poll_max)
        log.warning(
            "follow.aom_body_refused key=%s failures=%d retry_in=%.0f",
            watch.key,
            failures,
            delay,
        )
        notice = policy.refused_notice(now + timedelta(seconds=delay))
        return [
            Failures(watch, failures),
            *_marked(watch, now, notice, keep=True),
            Schedule(watch, delay),
        ]

    def _observe(
        self,
        watch: Watch,
        execution: ExecutionDetail,
        digest: bytes | None,
        body: bytes | None = None,
    ) -> list[Decision]:
        """A new body: remember it, announce new failure groups, edit or finish the cards."""
        analysis = analyse(execution)
        fingerprint = visible_fingerprint(execution, analysis)
        signatures = tuple(g.signature for g in analysis.groups)
        decisions: list[Decision] = [Remember(watch, execution, fingerprint, digest, body)]
        for live in watch.follows.values():
            if live.unreachable_since is not None:
                decisions.append(Unreachable(live, None, None))
            if live.follow.message_ts is None:
                decisions.append(PostCard(live))  # waits for Slack's pace: never in a poll
            elif live.shown is None:
                # never rendered (a follow made elsewhere): what exists now is not "new"
                if signatures:
                    decisions.append(AlreadyShown(live, signatures))
            elif not execution.is_terminal:
                for signature in policy.new_groups(signatures, live.announced):
                    group = next(g for g in analysis.groups if g.signature == signature)
                    text = policy.new_failure_text(group, self.scrubber)
                    decisions.append(Announce(live, signature, text))
        if execution.is_terminal:
            return [*decisions, Completed(watch, execution)]
        return [*decisions, EditCards(watch, fingerprint), Schedule(watch)]


class Poller:
    """Asks AOM about watches, and posts what their answers call for beside the polls (a card
    never posted, a "new failure" reply)."""

    def __init__(
        self,
        *,
        accounts: AomAccounts,
        store: Store,
        notifier: CardNotifier,
        clock: Clock,
        stats: FollowStats,
        renderer: CardRenderer,
        poster: CardPoster,
    ) -> None:
        self._accounts = accounts
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._stats = stats
        self._renderer = renderer
        self._poster = poster

    async def get(self, profile: str, workflow_id: str, execution_id: str) -> ExecutionDetail:
        """The execution from the profile's AOM, counted in the stats."""
        polling = self._accounts.get(profile).polling
        self._stats.aom_requests += 1
        return await polling.get_execution(workflow_id, execution_id)

    async def fetch(self, watch: Watch) -> Answer | AomError | None:
        """Ask AOM about ``watch`` once; ``None`` while its profile is not configured."""
        if watch.profile not in self._accounts:
            # removed from the configuration: polled again once the profile is back
            log.warning("follow.profile_unknown key=%s profile=%s", watch.key, watch.profile)
            return None
        polling = self._accounts.get(watch.profile).polling
        self._stats.aom_requests += 1
        try:
            polled = await polling.poll_execution(
                watch.workflow_id, watch.execution_id, watch.digest
            )
        except (AomNotFoundError, AomAuthError) as error:
            return error
        except AomError as error:
            self._stats.aom_errors += 1
            return error
        if polled.execution is None:
            self._stats.unchanged_polls += 1
        return Answer(polled.digest, polled.execution, polled.body)

    # -- beside the polls ---------------------------------------------------------------------

    async def post_card(self, live: Live) -> list[Decision]:
        """Post the card of a follow without one (made elsewhere, or a crash in ``follow()``);
        the store's claim makes sure only one engine does."""
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
            self._stats.slack_errors += 1
            return slack_failure(live, error)
        record = await self._store.get_follow(live.id)
        if ts is None or record is None or live.ended:
            return []  # another engine posts it; its ts arrives with the next resync
        if not rendered:  # adopted a card found in the channel: show the latest state
            return [Refresh(live, record)]
        analysis = analyse(rendered[0])
        signatures = tuple(g.signature for g in analysis.groups)
        shown = visible_fingerprint(rendered[0], analysis)
        # the groups on the card from the start are not "new"
        return [Refresh(live, record), AlreadyShown(live, signatures), Shown(live, shown)]

    async def announce(self, live: Live, text: str) -> list[Decision]:
        """One "new failure" reply, only under a card Slack says still exists (an edit may be
        minutes away when many cards share Slack's edit budget, so it is checked directly)."""
        ts = live.follow.message_ts
        if ts is None or live.ended:
            return []
        try:
            if not await self._notifier.message_exists(live.follow.channel_id, ts):
                raise SlackMessageGone(
                    "The card was deleted.",
                    error="message_not_found",
                    method="conversations.history",
                )
            if live.ended:
                return []
            await self._notifier.post(
                live.follow.channel_id,
                notice_message(text),
                thread_ts=ts,
            )
        except SlackDeliveryError as error:
            self._stats.slack_errors += 1
            return slack_failure(live, error)
        self._stats.new_group_replies += 1
        return []


def _marked(watch: Watch, now: datetime, notice: str, *, keep: bool) -> list[Decision]:
    """Cards say AOM fails since ``now``; ``keep``: every card shows ``notice`` (a card already
    marked keeps its "since"), else only the cards not marked yet. Each is edited if shown."""
    decisions: list[Decision] = []
    for live in watch.follows.values():
        if live.unreachable_since is not None and not keep:
            continue
        decisions.append(Unreachable(live, live.unreachable_since or now, notice))
        if watch.fingerprint is not None:
            decisions.append(EditCard(live, watch.fingerprint))
    return decisions
