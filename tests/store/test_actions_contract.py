"""Acting on executions, one contract on both engines: the audit log, the exactly-once action
ledger and two-person requests (issue 13).

"Two replicas" are two stores opened on the same database (``backend.open()``); "a crash" is a
store closed without finishing what it claimed, and another opened in its place. Time is
simulated (``T0 + offset``).
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest

from aom_bot.store import (
    ActionClaim,
    ActionKind,
    ActionOutcome,
    NewAuditEntry,
    Store,
)

if TYPE_CHECKING:
    from tests.store.conftest import Backend

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def audit_entry(**overrides: object) -> NewAuditEntry:
    """A terminate by U1 in C1 on the prod profile; keywords override any field."""
    values: dict[str, object] = {
        "at": T0,
        "user_id": "U1",
        "user_name": "Ada Lovelace",
        "channel_id": "C1",
        "profile": "prod",
        "action": ActionKind.TERMINATE,
        "workflow_id": "wf-1",
        "execution_id": "ex-1",
        "node_id": None,
        "outcome": ActionOutcome.DONE,
        "aom_request_id": "req-1",
    }
    values.update(overrides)
    return NewAuditEntry(**values)  # type: ignore[arg-type]


async def claim(
    store: Store, key: str = "act-1", *, by: str = "U1", at: datetime = T0
) -> ActionClaim:
    """Claim a terminate of wf-1/ex-1 under ``key``."""
    return await store.claim_action(
        key,
        kind=ActionKind.TERMINATE,
        profile="prod",
        workflow_id="wf-1",
        execution_id="ex-1",
        node_id=None,
        requested_by=by,
        user_name=f"name of {by}",
        channel_id="C1",
        now=at,
    )


# ---- audit log -----------------------------------------------------------------------------


async def test_audit_entries_come_back_newest_first_with_every_field(store: Store) -> None:
    """What was appended is what is read back (times in UTC), newest first."""
    plus_two = timezone(timedelta(hours=2))
    run = audit_entry(
        at=(T0 + 2 * MINUTE).astimezone(plus_two),
        action=ActionKind.RUN,
        execution_id=None,
        result_execution_id="ex-new",
        detail="run again from the card",
    )
    first = await store.append_audit(audit_entry())
    third = await store.append_audit(run)
    second = await store.append_audit(
        audit_entry(at=T0 + MINUTE, outcome=ActionOutcome.DENIED, aom_request_id=None)
    )
    entries = await store.audit_entries()
    assert [e.id for e in entries] == [third.id, second.id, first.id]
    assert entries[0].at == T0 + 2 * MINUTE
    assert entries[0].at.tzinfo == UTC
    assert entries[0].execution_id is None
    assert entries[0].result_execution_id == "ex-new"
    assert entries[0].detail == "run again from the card"
    assert entries[1].outcome is ActionOutcome.DENIED
    assert entries[1].aom_request_id is None
    assert entries[2] == first


async def test_since_and_limit_choose_the_newest_entries(store: Store) -> None:
    """``since`` keeps entries at or after it; ``limit`` keeps the newest."""
    for minute in range(5):
        await store.append_audit(audit_entry(at=T0 + minute * MINUTE, detail=f"m{minute}"))
    since = await store.audit_entries(since=T0 + 3 * MINUTE)
    assert [e.detail for e in since] == ["m4", "m3"]
    assert [e.detail for e in await store.audit_entries(limit=2)] == ["m4", "m3"]
    assert await store.audit_entries(since=T0 + 10 * MINUTE) == []


async def test_entries_at_the_same_moment_keep_their_order(store: Store) -> None:
    """Two clicks in the same microsecond: the later append is listed first."""
    one = await store.append_audit(audit_entry(detail="one"))
    two = await store.append_audit(audit_entry(detail="two"))
    assert [e.id for e in await store.audit_entries()] == [two.id, one.id]


async def test_a_long_detail_is_cut(store: Store) -> None:
    """``detail`` is a reason, not a transcript: it is cut, and the cut is what is stored."""
    stored = await store.append_audit(audit_entry(detail="x" * 5000))
    assert len(stored.detail) <= 500
    assert stored.detail.endswith("…")
    assert (await store.audit_entries())[0].detail == stored.detail


async def test_the_audit_log_is_append_only_and_never_pruned(
    backend: Backend, store: Store
) -> None:
    """The database refuses to change or delete an entry; prune and a restart keep them all."""
    entry = await store.append_audit(audit_entry())
    with pytest.raises(Exception, match="append-only"):
        await backend.execute_raw("UPDATE audit_log SET outcome = 'failed'")
    with pytest.raises(Exception, match="append-only"):
        await backend.execute_raw("DELETE FROM audit_log")
    await store.prune(T0 + timedelta(days=3650))
    reopened = await backend.open()
    await reopened.migrate()
    assert await reopened.audit_entries() == [entry]


# ---- exactly-once ledger -------------------------------------------------------------------


async def test_many_concurrent_claims_on_two_replicas_have_one_winner(backend: Backend) -> None:
    """A double click, a Slack retry and a second replica, all at once: one claim wins."""
    one, two = await backend.open(), await backend.open()
    await one.migrate()
    users = [f"U{n}" for n in range(24)]
    claims = await asyncio.gather(
        *(claim(s, by=u) for s, u in zip(itertools.cycle([one, two]), users, strict=False))
    )
    winners = [c for c in claims if c.won]
    assert len(winners) == 1
    winner = winners[0].action.requested_by
    assert {c.action.requested_by for c in claims} == {winner}  # everyone sees the winner's row
    assert all(c.action.in_flight for c in claims)


async def test_a_claim_returns_the_row_it_made(store: Store) -> None:
    """The winner's row holds what it claimed; later claims of the key lose, even by it."""
    first = await claim(store, by="U7", at=T0)
    assert first.won
    action = first.action
    assert (action.key, action.kind, action.profile) == ("act-1", ActionKind.TERMINATE, "prod")
    assert (action.requested_by, action.user_name, action.channel_id) == ("U7", "name of U7", "C1")
    assert action.claimed_at == T0
    assert action.outcome is None
    assert action.finished_at is None
    again = await claim(store, by="U7", at=T0 + MINUTE)
    assert not again.won
    assert again.action == action
    assert await store.get_action("act-1") == action
    assert await store.get_action("never-claimed") is None


async def test_an_action_finishes_once(store: Store) -> None:
    """The first final outcome stays; a second finish changes nothing and says so."""
    await claim(store)
    assert await store.finish_action("act-1", ActionOutcome.DONE, aom_request_id="req-9", now=T0)
    assert not await store.finish_action("act-1", ActionOutcome.FAILED, now=T0 + MINUTE)
    action = await store.get_action("act-1")
    assert action is not None
    assert (action.outcome, action.aom_request_id, action.finished_at) == (
        ActionOutcome.DONE,
        "req-9",
        T0,
    )
    assert not (await claim(store)).won  # a finished key is never claimed again
    assert not await store.finish_action("no-such-key", ActionOutcome.DONE, now=T0)
    with pytest.raises(ValueError, match="requested"):
        await store.finish_action("act-1", ActionOutcome.REQUESTED, now=T0)


async def test_concurrent_finishes_from_two_replicas_record_one_outcome(backend: Backend) -> None:
    """Two finishes racing: exactly one reports it recorded, and its outcome is the stored one."""
    one, two = await backend.open(), await backend.open()
    await one.migrate()
    await claim(one)
    outcomes = [ActionOutcome.DONE, ActionOutcome.FAILED] * 4
    results = await asyncio.gather(
        *(
            s.finish_action("act-1", o, now=T0)
            for s, o in zip(itertools.cycle([one, two]), outcomes, strict=False)
        )
    )
    assert results.count(True) == 1
    action = await two.get_action("act-1")
    assert action is not None
    assert action.outcome is outcomes[results.index(True)]


async def test_run_keeps_the_new_execution_id(store: Store) -> None:
    """Run again has no execution until AOM answers: the new one is kept with the outcome."""
    claimed = await store.claim_action(
        "run-1",
        kind=ActionKind.RUN,
        profile="prod",
        workflow_id="wf-1",
        execution_id=None,
        node_id=None,
        requested_by="U1",
        now=T0,
    )
    assert claimed.won
    assert claimed.action.execution_id is None
    await store.finish_action(
        "run-1", ActionOutcome.DONE, result_execution_id="ex-new", aom_request_id="r", now=T0
    )
    action = await store.get_action("run-1")
    assert action is not None
    assert action.result_execution_id == "ex-new"


async def test_after_a_crash_an_unfinished_action_is_unknown_and_never_retried(
    backend: Backend,
) -> None:
    """A replica claims, then dies before AOM answers: the next one marks the action unknown,
    once, and a retried click with the same key still loses."""
    crashed = await backend.open()
    await crashed.migrate()
    await claim(crashed, "act-old", at=T0)
    await claim(crashed, "act-new", at=T0 + 5 * MINUTE)  # still within its request's time
    await crashed.aclose()

    restarted = await backend.open()
    before = T0 + 2 * MINUTE
    assert [a.key for a in await restarted.unfinished_actions(before)] == ["act-old"]
    marked = await restarted.mark_unknown(before, now=T0 + 6 * MINUTE)
    assert [(a.key, a.outcome) for a in marked] == [("act-old", ActionOutcome.UNKNOWN)]
    assert marked[0].finished_at == T0 + 6 * MINUTE
    assert marked[0].requested_by == "U1"
    assert marked[0].channel_id == "C1"
    assert await restarted.mark_unknown(before, now=T0 + 7 * MINUTE) == []
    assert await restarted.unfinished_actions(before) == []
    retry = await claim(restarted, "act-old", at=T0 + 8 * MINUTE)
    assert not retry.won
    assert retry.action.outcome is ActionOutcome.UNKNOWN
    still = await restarted.get_action("act-new")
    assert still is not None
    assert still.in_flight


async def test_replicas_sweeping_at_once_mark_each_action_once(backend: Backend) -> None:
    """Every replica sweeps as it starts; each stale action is returned to exactly one."""
    one, two = await backend.open(), await backend.open()
    await one.migrate()
    for n in range(6):
        await claim(one, f"act-{n}")
    sweeps = await asyncio.gather(
        *(s.mark_unknown(T0 + MINUTE, now=T0 + MINUTE) for s in [one, two, one, two])
    )
    keys = [a.key for sweep in sweeps for a in sweep]
    assert sorted(keys) == [f"act-{n}" for n in range(6)]


async def test_a_late_answer_replaces_unknown_but_nothing_else(store: Store) -> None:
    """``unknown`` means "we do not know": AOM's real answer, arriving after, is recorded."""
    await claim(store)
    await store.mark_unknown(T0 + MINUTE, now=T0 + MINUTE)
    assert await store.finish_action("act-1", ActionOutcome.DONE, aom_request_id="r", now=T0)
    assert not await store.finish_action("act-1", ActionOutcome.UNKNOWN, now=T0 + MINUTE)
    assert not await store.finish_action("act-1", ActionOutcome.FAILED, now=T0 + MINUTE)
    action = await store.get_action("act-1")
    assert action is not None
    assert action.outcome is ActionOutcome.DONE


async def test_prune_keeps_the_ledger(store: Store) -> None:
    """A pruned ledger would let an old key be claimed again: prune leaves it alone."""
    await claim(store)
    await store.finish_action("act-1", ActionOutcome.DONE, now=T0)
    await store.prune(T0 + timedelta(days=3650))
    assert not (await claim(store, at=T0 + timedelta(days=3651))).won
