"""What a poll means, decided from plain values: a watch and its follows, AOM's answer, now.

No store, Slack or AOM: ``PollDecisions`` returns decisions, and these tests read them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from aom_bot.clock import ManualClock
from aom_bot.errors import (
    AomAuthError,
    AomBodyTooLargeError,
    AomNotFoundError,
    AomTransportError,
)
from aom_bot.follow import policy
from aom_bot.follow.apply import Applier
from aom_bot.follow.cards import CardQueue
from aom_bot.follow.decisions import (
    AlreadyShown,
    Announce,
    Completed,
    EditCard,
    EditCards,
    End,
    Failures,
    PostCard,
    Remember,
    Schedule,
    Unreachable,
)
from aom_bot.follow.poller import Answer, PollDecisions
from aom_bot.follow.state import FollowStats, Live
from aom_bot.render.analysis import analyse, visible_fingerprint
from aom_bot.render.scrub import Scrubber
from aom_bot.store.base import EndReason
from tests.follow.values import T0, finished, record, running, watch_of

DECIDE = PollDecisions(max_follow=timedelta(hours=24), poll_max=30.0, scrubber=Scrubber())
NOW = T0 + timedelta(minutes=3)
DISK = "disk full on /dev/vda"
REFUSED = "connection refused by 10.0.0.1"


def _signature(execution_text: str) -> str:
    return analyse(running(execution_text)).groups[0].signature


def test_a_follow_past_its_time_limit_ends_with_a_note_the_others_go_on() -> None:
    """Only the follow whose deadline has passed ends (time limit), with the hours on its card."""
    watch, (late, on_time) = watch_of(record(1, deadline=NOW), record(2))
    assert DECIDE.expired(watch, NOW) == [
        End(
            late,
            EndReason.MAX_TIME,
            "Stopped following after 24 h; press Refresh for the latest state.",
        )
    ]
    assert DECIDE.expired(watch, NOW - timedelta(seconds=1)) == []
    assert on_time.follow.deadline > NOW


def test_an_execution_aom_no_longer_knows_ends_every_follow_of_it() -> None:
    """Not found ends each card's follow saying so; credentials refused says to ask operators."""
    watch, lives = watch_of(record(1), record(2))
    gone = DECIDE.decide(watch, AomNotFoundError("no such execution"), NOW)
    assert [(d.live, d.reason) for d in gone if isinstance(d, End)] == [
        (live, EndReason.EXECUTION_NOT_FOUND) for live in lives
    ]
    assert len(gone) == 2
    refused = DECIDE.decide(watch, AomAuthError("bad signature"), NOW)
    assert {d.reason for d in refused if isinstance(d, End)} == {EndReason.AUTH_LOST}
    assert all("credentials" in (d.note or "") for d in refused if isinstance(d, End))


def test_aom_unreachable_marks_unmarked_cards_once_and_polls_again_backing_off() -> None:
    """A transport error counts a failure, marks each card not yet marked "unreachable since
    now" (and edits it), leaves a card marked earlier as it is, and polls at the interval."""
    earlier = T0 + timedelta(minutes=1)
    watch, (fresh, marked) = watch_of(
        record(1), record(2, unreachable_since=earlier), seen=running(DISK)
    )
    watch.failures = 2
    decisions = DECIDE.decide(watch, AomTransportError("read timeout"), NOW)
    assert decisions == [
        Failures(watch, 3),
        Unreachable(fresh, NOW, policy.unreachable_notice(NOW)),
        EditCard(fresh, watch.fingerprint or ""),
        Schedule(watch),
    ]
    assert marked.unreachable_since == earlier  # decisions change nothing by themselves
    assert watch.failures == 2


def test_a_card_never_shown_is_marked_but_not_edited_while_aom_is_unreachable() -> None:
    """Before the first successful poll there is nothing to render: the mark waits."""
    watch, (live,) = watch_of(record(1))
    decisions = DECIDE.decide(watch, AomTransportError("connect failed"), NOW)
    assert decisions == [
        Failures(watch, 1),
        Unreachable(live, NOW, policy.unreachable_notice(NOW)),
        Schedule(watch),
    ]


def test_a_body_too_large_backs_off_for_minutes_and_says_when_it_tries_again() -> None:
    """Every card shows when the next try is (a card marked earlier keeps its "since"), and
    the next poll is minutes away, doubling with each refusal."""
    earlier = T0 + timedelta(minutes=1)
    watch, (fresh, marked) = watch_of(
        record(1), record(2, unreachable_since=earlier), seen=running(DISK)
    )
    watch.failures = 1
    delay = policy.refused_interval(2, poll_max=30.0)
    notice = policy.refused_notice(NOW + timedelta(seconds=delay))
    fingerprint = watch.fingerprint or ""
    assert DECIDE.decide(watch, AomBodyTooLargeError("body over 8 MiB"), NOW) == [
        Failures(watch, 2),
        Unreachable(fresh, NOW, notice),
        EditCard(fresh, fingerprint),
        Unreachable(marked, earlier, notice),
        EditCard(marked, fingerprint),
        Schedule(watch, delay),
    ]
    assert delay == 120.0


def test_a_new_failure_group_is_announced_once_per_follow_and_the_cards_edited() -> None:
    """A group that appeared while the run goes is announced under each card that has not
    announced it; the execution is remembered, the cards edited, the next poll scheduled."""
    before = running(DISK)
    now = running(DISK, REFUSED)
    disk, refused = _signature(DISK), _signature(REFUSED)
    watch, (told, untold) = watch_of(
        record(1, announced=frozenset({disk, refused})),
        record(2, announced=frozenset({disk})),
        seen=before,
    )
    watch.failures = 1
    decisions = DECIDE.decide(watch, Answer(b"digest-now", now), NOW)
    fingerprint = visible_fingerprint(now)
    (announce,) = [d for d in decisions if isinstance(d, Announce)]
    assert announce.live is untold
    assert announce.signature == refused
    assert announce.text.startswith("new failure: 1 host · exit 1")
    assert decisions == [
        Failures(watch, 0),
        Remember(watch, now, fingerprint, b"digest-now"),
        announce,
        EditCards(watch, fingerprint),
        Schedule(watch),
    ]
    assert told.announced == {disk, refused}


def test_a_card_never_rendered_takes_the_groups_it_starts_with_as_known() -> None:
    """A follow made elsewhere (no render yet): what fails now is not "new", so it is claimed
    as shown instead of announced; a follow without a card gets it posted beside the polls."""
    now = running(DISK)
    watch, (baseline, cardless) = watch_of(
        record(1, fingerprint=None), record(2, message_ts=None, fingerprint=None)
    )
    decisions = DECIDE.decide(watch, Answer(b"d", now), NOW)
    assert decisions == [
        Remember(watch, now, visible_fingerprint(now), b"d"),
        AlreadyShown(baseline, (_signature(DISK),)),
        PostCard(cardless),
        EditCards(watch, visible_fingerprint(now)),
        Schedule(watch),
    ]


def test_a_finished_execution_completes_its_follows_and_is_polled_no_more() -> None:
    """No announcement of groups that appear at the very end (the completion reply tells),
    no edit queued and no poll: the watch's follows are finished."""
    done = finished(DISK, REFUSED)
    watch, (live,) = watch_of(
        record(1, announced=frozenset({_signature(DISK)}), unreachable_since=T0),
        seen=running(DISK),
    )
    decisions = DECIDE.decide(watch, Answer(b"d", done), NOW)
    assert decisions == [
        Remember(watch, done, visible_fingerprint(done), b"d"),
        Unreachable(live, None, None),
        Completed(watch, done),
    ]


def test_the_same_body_again_keeps_the_cards_fresh_without_parsing() -> None:
    """An unchanged body: cards recover from "AOM unreachable" and are asked to show what they
    show (the card queue sends heartbeats), and the next poll is scheduled."""
    watch, (marked, fine) = watch_of(record(1, unreachable_since=T0), record(2), seen=running(DISK))
    fingerprint = watch.fingerprint or ""
    assert DECIDE.decide(watch, Answer(b"digest-before", None), NOW) == [
        Unreachable(marked, None, None),
        EditCard(marked, fingerprint),
        EditCard(fine, fingerprint),
        Schedule(watch),
    ]


def test_the_same_body_again_still_gives_a_card_missing_its_baseline_the_full_path() -> None:
    """A follow adopted since the last poll has no baseline: the kept execution is observed
    again, so its groups are claimed as known instead of being announced later."""
    kept = running(DISK)
    watch, (shown, adopted) = watch_of(record(1), record(2, fingerprint=None), seen=kept)
    decisions = DECIDE.decide(watch, Answer(b"digest-before", None), NOW)
    assert decisions[0] == Remember(watch, kept, visible_fingerprint(kept), b"digest-before")
    assert AlreadyShown(adopted, (_signature(DISK),)) in decisions
    assert not any(isinstance(d, AlreadyShown) and d.live is shown for d in decisions)


async def test_edits_for_a_watch_reach_a_follow_that_joined_it_after_the_poll_decided() -> None:
    """``EditCards`` is about the watch's follows when applied: a follow adopted while the
    poll's store writes were under way is edited too (it would wait a whole interval else)."""
    clock, nothing = ManualClock(), cast(Any, object())
    cards = CardQueue(
        store=nothing, notifier=nothing, clock=clock, renderer=nothing, stats=FollowStats(),
        heartbeat=300.0,
    )  # fmt: skip
    applier = Applier(
        store=nothing, clock=clock, poller=nothing, decide=DECIDE, cards=cards, endings=nothing,
        scheduler=nothing, poster=nothing,
    )  # fmt: skip
    now = running(DISK, REFUSED)
    watch, (first,) = watch_of(record(1), seen=running(DISK))
    decisions = [
        d for d in DECIDE.decide(watch, Answer(b"d", now), NOW) if isinstance(d, EditCards)
    ]
    joined = Live(follow=record(2), watch=watch, shown="shown-before", rendered_at=T0)
    watch.follows[2] = joined
    await applier.apply(decisions)
    wanted = policy.display_key(visible_fingerprint(now), None)
    assert (first.wanted, joined.wanted) == (wanted, wanted)
