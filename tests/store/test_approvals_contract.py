"""Two-person requests on both engines: the requester cannot approve, one decision wins,
and a request nobody approves expires once (issue 13). Time is simulated."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from aom_bot.store import ActionKind, ApprovalReason, ApprovalRequest, ApprovalState, Store

if TYPE_CHECKING:
    from tests.store.conftest import Backend

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TEN_MINUTES = timedelta(minutes=10)


async def ask(
    store: Store, key: str = "ask-1", *, by: str = "UA", at: datetime = T0
) -> tuple[ApprovalRequest, bool]:
    """UA asks to terminate wf-1/ex-1 on prod; it expires ten minutes later."""
    return await store.open_approval(
        key,
        kind=ActionKind.TERMINATE,
        profile="prod",
        workflow_id="wf-1",
        execution_id="ex-1",
        node_id=None,
        requested_by=by,
        user_name="Ada",
        channel_id="C1",
        expires_at=at + TEN_MINUTES,
        now=at,
    )


async def test_a_request_is_opened_once(store: Store) -> None:
    """A repeated first click gets the same request back, unchanged."""
    request, created = await ask(store)
    assert created
    assert (request.state, request.requested_by, request.expires_at) == (
        ApprovalState.REQUESTED,
        "UA",
        T0 + TEN_MINUTES,
    )
    assert request.message_ts is None
    assert request.decided_by is None
    again, created_again = await ask(store, by="UB", at=T0 + timedelta(minutes=1))
    assert not created_again
    assert again == request
    await store.set_approval_message("ask-1", "1700000000.000100")
    shown = await store.get_approval("ask-1")
    assert shown is not None
    assert shown.message_ts == "1700000000.000100"
    assert await store.get_approval("nothing") is None


async def test_the_requester_cannot_approve_but_a_second_person_can_once(store: Store) -> None:
    """Own approval refused (the request stays open); UB approves; UC is too late."""
    await ask(store)
    own = await store.decide_approval("ask-1", approver="UA", now=T0, approve=True)
    assert own.reason is ApprovalReason.OWN_REQUEST
    assert not own.won
    assert own.request is not None
    assert own.request.state is ApprovalState.REQUESTED

    second = await store.decide_approval("ask-1", approver="UB", now=T0, approve=True)
    assert second.reason is ApprovalReason.APPROVED
    assert second.won
    assert second.request is not None
    assert (second.request.state, second.request.decided_by) == (ApprovalState.APPROVED, "UB")
    assert second.request.decided_at == T0

    late = await store.decide_approval("ask-1", approver="UC", now=T0, approve=True)
    assert late.reason is ApprovalReason.ALREADY_DECIDED
    cancel = await store.decide_approval("ask-1", approver="UA", now=T0, approve=False)
    assert cancel.reason is ApprovalReason.ALREADY_DECIDED
    unknown = await store.decide_approval("nothing", approver="UB", now=T0, approve=True)
    assert (unknown.reason, unknown.request) == (ApprovalReason.UNKNOWN, None)


async def test_the_requester_may_cancel(store: Store) -> None:
    """Cancel is open to the requester too; nobody can approve afterwards."""
    await ask(store)
    cancelled = await store.decide_approval("ask-1", approver="UA", now=T0, approve=False)
    assert cancelled.reason is ApprovalReason.CANCELLED
    assert cancelled.won
    assert cancelled.request is not None
    assert cancelled.request.state is ApprovalState.CANCELLED
    after = await store.decide_approval("ask-1", approver="UB", now=T0, approve=True)
    assert after.reason is ApprovalReason.ALREADY_DECIDED


async def test_concurrent_approvals_on_two_replicas_have_one_winner(backend: Backend) -> None:
    """Everyone on the call clicks Approve at once, on two replicas: one approval performs it."""
    one, two = await backend.open(), await backend.open()
    await one.migrate()
    await ask(one)
    approvers = [f"U{n}" for n in range(20)]
    decisions = await asyncio.gather(
        *(
            s.decide_approval("ask-1", approver=u, now=T0, approve=True)
            for s, u in zip(itertools.cycle([one, two]), approvers, strict=False)
        )
    )
    reasons = [d.reason for d in decisions]
    assert reasons.count(ApprovalReason.APPROVED) == 1
    assert set(reasons) == {ApprovalReason.APPROVED, ApprovalReason.ALREADY_DECIDED}
    winner = approvers[reasons.index(ApprovalReason.APPROVED)]
    stored = await two.get_approval("ask-1")
    assert stored is not None
    assert stored.decided_by == winner


async def test_approve_and_cancel_racing_decide_once(backend: Backend) -> None:
    """An Approve and a Cancel at the same moment: exactly one of them takes effect."""
    one, two = await backend.open(), await backend.open()
    await one.migrate()
    await ask(one)
    approve, cancel = await asyncio.gather(
        one.decide_approval("ask-1", approver="UB", now=T0, approve=True),
        two.decide_approval("ask-1", approver="UA", now=T0, approve=False),
    )
    assert [approve.won, cancel.won].count(True) == 1
    stored = await one.get_approval("ask-1")
    assert stored is not None
    assert stored.state is (ApprovalState.APPROVED if approve.won else ApprovalState.CANCELLED)


async def test_a_request_expires_after_its_time_and_takes_no_decision(store: Store) -> None:
    """At ``expires_at`` an approval is refused as expired, and the sweep reports it once."""
    await ask(store)
    await ask(store, "ask-later", at=T0 + timedelta(minutes=5))
    at_expiry = T0 + TEN_MINUTES
    late = await store.decide_approval("ask-1", approver="UB", now=at_expiry, approve=True)
    assert late.reason is ApprovalReason.EXPIRED
    assert not late.won
    late_cancel = await store.decide_approval("ask-1", approver="UA", now=at_expiry, approve=False)
    assert late_cancel.reason is ApprovalReason.EXPIRED

    expired = await store.expire_approvals(at_expiry)
    assert [(r.key, r.state, r.decided_at) for r in expired] == [
        ("ask-1", ApprovalState.EXPIRED, at_expiry)
    ]
    assert await store.expire_approvals(at_expiry) == []
    after = await store.decide_approval("ask-1", approver="UB", now=at_expiry, approve=True)
    assert after.reason is ApprovalReason.EXPIRED
    still_open = await store.get_approval("ask-later")
    assert still_open is not None
    assert still_open.state is ApprovalState.REQUESTED


async def test_replicas_expiring_at_once_report_each_request_once(backend: Backend) -> None:
    """Every replica runs the expiry sweep; each request's message is updated by one."""
    one, two = await backend.open(), await backend.open()
    await one.migrate()
    for n in range(5):
        await ask(one, f"ask-{n}")
    sweeps = await asyncio.gather(
        *(s.expire_approvals(T0 + TEN_MINUTES) for s in [one, two, one, two])
    )
    assert sorted(r.key for sweep in sweeps for r in sweep) == [f"ask-{n}" for n in range(5)]


async def test_requests_survive_a_restart_and_prune(backend: Backend, store: Store) -> None:
    """An open request outlives the replica that opened it, and prune keeps it."""
    request, _ = await ask(store)
    await store.prune(T0 + timedelta(days=3650))
    reopened = await backend.open()
    assert await reopened.get_approval("ask-1") == request
    approved = await reopened.decide_approval("ask-1", approver="UB", now=T0, approve=True)
    assert approved.reason is ApprovalReason.APPROVED
