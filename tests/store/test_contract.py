"""One contract, two engines: every test here runs against SQLite and PostgreSQL.

Time is simulated: tests pass ``T0 + offset`` wherever the store wants "now", so lease expiry and
stale claims are exercised without sleeping.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest

from aom_bot.errors import StoreError
from aom_bot.store import (
    DEFAULT_PROFILE_NAME,
    CompletionState,
    EndReason,
    FollowState,
    NewFollow,
    NewSubscription,
    Store,
)
from aom_bot.store.migrations import load_migrations

if TYPE_CHECKING:
    from tests.store.conftest import Backend

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=30)
#: the schema version after ``migrate`` (both backends carry the same versions)
LATEST = load_migrations("sqlite")[-1].version


def follow_request(**overrides: object) -> NewFollow:
    """A follow request with sensible defaults; keywords override any field."""
    values: dict[str, object] = {
        "workflow_id": "wf-1",
        "execution_id": "ex-1",
        "channel_id": "C1",
        "started_by": "U1",
        "started_at": T0,
        "deadline": T0 + timedelta(hours=24),
    }
    values.update(overrides)
    return NewFollow(**values)  # type: ignore[arg-type]


def subscription_request(**overrides: object) -> NewSubscription:
    """A subscription request with sensible defaults; keywords override any field."""
    values: dict[str, object] = {
        "channel_id": "C1",
        "workflow_id": "wf-1",
        "workflow_name": "Nightly patching",
        "failures_only": False,
        "mention": None,
        "created_by": "U1",
        "created_at": T0,
    }
    values.update(overrides)
    return NewSubscription(**values)  # type: ignore[arg-type]


# -- follows ----------------------------------------------------------------------------------


async def test_new_follow_is_active_with_nothing_shown_yet(store: Store) -> None:
    """A fresh follow keeps what was asked and starts with no render, claim or announcement."""
    follow, created = await store.start_follow(follow_request(mention="<!subteam^S1>"))
    assert created
    assert follow.is_active
    assert follow.state is FollowState.ACTIVE
    assert (follow.workflow_id, follow.execution_id, follow.channel_id) == ("wf-1", "ex-1", "C1")
    assert follow.started_by == "U1"
    assert follow.started_at == T0
    assert follow.deadline == T0 + timedelta(hours=24)
    assert follow.mention == "<!subteam^S1>"
    assert follow.message_ts is None
    assert follow.fingerprint is None
    assert follow.announced == frozenset()
    assert follow.completion_state is CompletionState.NONE
    assert follow.end_reason is None
    assert follow.ended_at is None
    assert await store.get_follow(follow.id) == follow


async def test_duplicate_follow_returns_the_existing_one(store: Store) -> None:
    """Following the same execution in the same channel again yields the first follow."""
    first, created = await store.start_follow(follow_request(message_ts="111.1"))
    again, created_again = await store.start_follow(
        follow_request(started_by="U2", started_at=T0 + timedelta(minutes=5))
    )
    assert created
    assert not created_again
    assert again == first
    assert again.started_by == "U1"
    assert [f.id for f in await store.active_follows()] == [first.id]


async def test_same_execution_in_another_channel_is_a_separate_follow(store: Store) -> None:
    """Each channel gets its own card for the same execution."""
    in_c1, _ = await store.start_follow(follow_request(channel_id="C1"))
    in_c2, created = await store.start_follow(follow_request(channel_id="C2"))
    assert created
    assert in_c2.id != in_c1.id
    assert {f.channel_id for f in await store.active_follows()} == {"C1", "C2"}


async def test_concurrent_duplicate_follows_from_two_replicas_create_one(
    backend: Backend, store: Store
) -> None:
    """Twenty racing follow requests on two replicas end up sharing exactly one follow."""
    other = await backend.open()
    results = await asyncio.gather(
        *(
            (store if i % 2 else other).start_follow(follow_request(started_by=f"U{i}"))
            for i in range(20)
        )
    )
    assert sum(created for _, created in results) == 1
    assert len({follow.id for follow, _ in results}) == 1


async def test_ended_follow_can_be_followed_again(store: Store) -> None:
    """After a follow ends, following the execution again starts a new follow."""
    first, _ = await store.start_follow(follow_request())
    assert await store.end_follow(first.id, EndReason.STOPPED_BY_USER, T0 + timedelta(minutes=1))
    second, created = await store.start_follow(follow_request())
    assert created
    assert second.id != first.id
    ended = await store.get_follow(first.id)
    assert ended is not None
    assert ended.state is FollowState.ENDED
    assert ended.end_reason is EndReason.STOPPED_BY_USER
    assert ended.ended_at == T0 + timedelta(minutes=1)


async def test_latest_follow_finds_ended_follows_with_a_card_first(store: Store) -> None:
    """An execution's card is found again after its follow ended (a duplicate of a finished
    run); a newer follow that never got a card does not hide it."""
    assert await store.latest_follow("C1", "wf-1", "ex-1") is None
    first, _ = await store.start_follow(follow_request())
    await store.set_message(first.id, "111.1")
    await store.end_follow(first.id, EndReason.COMPLETED, T0)
    found = await store.latest_follow("C1", "wf-1", "ex-1")
    assert found is not None
    assert (found.id, found.message_ts, found.is_active) == (first.id, "111.1", False)
    second, _ = await store.start_follow(follow_request())
    found = await store.latest_follow("C1", "wf-1", "ex-1")
    assert found is not None
    assert found.id == first.id
    await store.set_message(second.id, "222.2")
    found = await store.latest_follow("C1", "wf-1", "ex-1")
    assert found is not None
    assert found.id == second.id
    assert await store.latest_follow("C2", "wf-1", "ex-1") is None
    assert await store.latest_follow("C1", "wf-1", "ex-2") is None


async def test_end_follow_reports_only_the_first_end(store: Store) -> None:
    """Ending twice keeps the first reason and tells the second caller it was already ended."""
    follow, _ = await store.start_follow(follow_request())
    assert await store.end_follow(follow.id, EndReason.MESSAGE_DELETED, T0)
    assert not await store.end_follow(follow.id, EndReason.MAX_TIME, T0 + timedelta(hours=1))
    ended = await store.get_follow(follow.id)
    assert ended is not None
    assert (ended.end_reason, ended.ended_at) == (EndReason.MESSAGE_DELETED, T0)
    assert await store.active_follows() == []


async def test_card_state_round_trips(store: Store) -> None:
    """Message ts, fingerprint, render time and AOM-unreachable time are stored and cleared."""
    follow, _ = await store.start_follow(follow_request())
    await store.set_message(follow.id, "1700000000.000100")
    await store.record_render(follow.id, "fp-abc", T0 + timedelta(seconds=10))
    await store.set_unreachable(follow.id, T0 + timedelta(seconds=20))
    shown = await store.get_follow(follow.id)
    assert shown is not None
    assert shown.message_ts == "1700000000.000100"
    assert shown.fingerprint == "fp-abc"
    assert shown.rendered_at == T0 + timedelta(seconds=10)
    assert shown.unreachable_since == T0 + timedelta(seconds=20)
    await store.set_unreachable(follow.id, None)
    cleared = await store.get_follow(follow.id)
    assert cleared is not None
    assert cleared.unreachable_since is None


async def test_times_in_other_zones_come_back_as_the_same_instant_in_utc(store: Store) -> None:
    """A deadline given in UTC+8 is stored and returned as the same instant, in UTC."""
    beijing = timezone_hours(8)
    follow, _ = await store.start_follow(
        follow_request(deadline=datetime(2025, 3, 2, 20, 0, tzinfo=beijing))
    )
    assert follow.deadline == datetime(2025, 3, 2, 12, 0, tzinfo=UTC)
    assert follow.deadline.utcoffset() == timedelta(0)


async def test_naive_datetimes_are_refused(store: Store) -> None:
    """A naive datetime is ambiguous, so the store refuses it instead of guessing a zone."""
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.start_follow(follow_request(started_at=datetime(2025, 3, 1, 12, 0)))


async def test_unknown_follow_ids_claim_nothing(store: Store) -> None:
    """Claims on a follow that does not exist fail instead of inventing one."""
    assert await store.get_follow(424242) is None
    assert not await store.claim_completion(424242, "replica-a", T0)
    assert not await store.claim_announcement(424242, "sig")
    assert not await store.end_follow(424242, EndReason.COMPLETED, T0)


# -- exactly-once completion ------------------------------------------------------------------


async def test_completion_is_claimed_by_exactly_one_of_many(backend: Backend, store: Store) -> None:
    """Forty concurrent claims from two replicas: one wins, and it is recorded as the owner."""
    follow, _ = await store.start_follow(follow_request())
    other = await backend.open()
    owners = [f"replica-{i}" for i in range(40)]
    wins = await asyncio.gather(
        *(
            (store if i % 2 else other).claim_completion(follow.id, owner, T0)
            for i, owner in enumerate(owners)
        )
    )
    assert sum(wins) == 1
    winner = owners[wins.index(True)]
    claimed = await store.get_follow(follow.id)
    assert claimed is not None
    assert claimed.completion_state is CompletionState.CLAIMED
    assert (claimed.completion_owner, claimed.completion_claimed_at) == (winner, T0)


async def test_finished_completion_ends_the_follow_and_cannot_be_claimed_again(
    store: Store,
) -> None:
    """After the reply is posted the follow is ended, records the reply ts, and stays done."""
    follow, _ = await store.start_follow(follow_request())
    assert await store.claim_completion(follow.id, "a", T0)
    await store.finish_completion(follow.id, "1700.5", EndReason.COMPLETED, T0 + timedelta(1))
    done = await store.get_follow(follow.id)
    assert done is not None
    assert done.completion_state is CompletionState.POSTED
    assert done.completion_ts == "1700.5"
    assert (done.state, done.end_reason) == (FollowState.ENDED, EndReason.COMPLETED)
    assert not await store.claim_completion(follow.id, "b", T0 + timedelta(days=9))
    assert await store.active_follows() == []


async def test_released_claim_can_be_claimed_again_but_only_by_its_owner_release(
    store: Store,
) -> None:
    """A failed post gives the claim back; someone else cannot release it on the owner's behalf."""
    follow, _ = await store.start_follow(follow_request())
    assert await store.claim_completion(follow.id, "a", T0)
    await store.release_completion(follow.id, "b")
    assert not await store.claim_completion(follow.id, "b", T0)
    await store.release_completion(follow.id, "a")
    assert await store.claim_completion(follow.id, "b", T0)


async def test_stale_claim_is_taken_over_only_after_stale_after(store: Store) -> None:
    """A claim whose owner died unposted is taken over once older than ``stale_after``."""
    follow, _ = await store.start_follow(follow_request())
    assert await store.claim_completion(follow.id, "dead", T0)
    stale = timedelta(minutes=5)
    assert not await store.claim_completion(
        follow.id, "b", T0 + timedelta(minutes=4), stale_after=stale
    )
    assert not await store.claim_completion(follow.id, "b", T0 + timedelta(hours=1))
    assert await store.claim_completion(
        follow.id, "b", T0 + timedelta(minutes=6), stale_after=stale
    )
    taken = await store.get_follow(follow.id)
    assert taken is not None
    assert taken.completion_owner == "b"


async def test_card_post_is_claimed_by_exactly_one_and_taken_over_when_stale(
    backend: Backend, store: Store
) -> None:
    """Posting a follow's card: one claimant of many (two replicas); a stale claim is taken
    over; once the card's ts is recorded, or the follow ended, nobody can claim it."""
    follow, _ = await store.start_follow(follow_request())
    other = await backend.open()
    wins = await asyncio.gather(
        *((store if i % 2 else other).claim_card_post(follow.id, f"r{i}", T0, stale_after=TTL)
          for i in range(10))
    )  # fmt: skip
    assert sum(wins) == 1
    claimed = await store.get_follow(follow.id)
    assert claimed is not None
    assert claimed.card_owner == f"r{wins.index(True)}"
    assert claimed.card_claimed_at == T0
    assert not await store.claim_card_post(follow.id, "B", T0 + TTL / 2, stale_after=TTL)
    assert await store.claim_card_post(follow.id, "B", T0 + TTL, stale_after=TTL)
    await store.release_card_post(follow.id, "A")  # not A's any more: kept
    assert not await store.claim_card_post(follow.id, "C", T0 + TTL, stale_after=TTL)
    await store.release_card_post(follow.id, "B")
    assert await store.claim_card_post(follow.id, "C", T0 + TTL, stale_after=TTL)
    await store.set_message(follow.id, "111.1")
    assert not await store.claim_card_post(follow.id, "D", T0 + TTL * 9, stale_after=TTL)
    ended, _ = await store.start_follow(follow_request(execution_id="ex-2"))
    await store.end_follow(ended.id, EndReason.STOPPED_BY_USER, T0)
    assert not await store.claim_card_post(ended.id, "A", T0, stale_after=TTL)


async def test_a_restarted_owner_takes_its_own_claims_back_at_once(store: Store) -> None:
    """``expire_claims``: the card and completion claims under a name become stale at once,
    others' stay; the claims themselves stay (whoever takes over looks in Slack first)."""
    mine, _ = await store.start_follow(follow_request(execution_id="mine"))
    card, _ = await store.start_follow(follow_request(execution_id="card"))
    theirs, _ = await store.start_follow(follow_request(execution_id="theirs"))
    assert await store.claim_completion(mine.id, "bot-1", T0)
    assert await store.claim_card_post(card.id, "bot-1", T0, stale_after=TTL)
    assert await store.claim_completion(theirs.id, "bot-2", T0)
    hour = timedelta(hours=1)
    assert not await store.claim_completion(mine.id, "bot-1", T0, stale_after=hour)

    assert await store.expire_claims("bot-1") == 2

    kept = await store.get_follow(mine.id)
    assert kept is not None
    assert kept.completion_state is CompletionState.CLAIMED
    assert await store.claim_completion(mine.id, "bot-1", T0, stale_after=hour)
    assert await store.claim_card_post(card.id, "bot-1", T0, stale_after=hour)
    assert not await store.claim_completion(theirs.id, "bot-1", T0, stale_after=hour)
    assert await store.expire_claims("nobody") == 0


async def test_ended_follow_cannot_be_claimed(store: Store) -> None:
    """A follow stopped by a user posts no completion reply."""
    follow, _ = await store.start_follow(follow_request())
    await store.end_follow(follow.id, EndReason.STOPPED_BY_USER, T0)
    assert not await store.claim_completion(follow.id, "a", T0)


# -- new error-group announcements ------------------------------------------------------------


async def test_each_error_group_is_announced_once_per_follow(
    backend: Backend, store: Store
) -> None:
    """Racing announcements of one group: one wins; other groups and follows are independent."""
    follow, _ = await store.start_follow(follow_request())
    other_follow, _ = await store.start_follow(follow_request(channel_id="C2"))
    other = await backend.open()
    wins = await asyncio.gather(
        *((store if i % 2 else other).claim_announcement(follow.id, "disk-full") for i in range(20))
    )
    assert sum(wins) == 1
    assert await store.claim_announcement(follow.id, "timeout")
    assert await store.claim_announcement(other_follow.id, "disk-full")
    shown = await store.get_follow(follow.id)
    assert shown is not None
    assert shown.announced == {"disk-full", "timeout"}


# -- leases -----------------------------------------------------------------------------------


async def test_leases_split_keys_between_replicas(backend: Backend, store: Store) -> None:
    """A key held by one replica is refused to the other until it expires or is released."""
    a, b = store, await backend.open()
    assert await a.acquire_leases("A", ["f1", "f2"], TTL, T0) == {"f1", "f2"}
    assert await b.acquire_leases("B", ["f2", "f3"], TTL, T0 + timedelta(seconds=1)) == {"f3"}
    # expiry is "expires_at <= now": at exactly T0 + TTL the lease is up for grabs
    later = T0 + TTL
    assert await b.acquire_leases("B", ["f1", "f2"], TTL, later) == {"f1", "f2"}
    assert await a.renew_leases("A", ["f1", "f2"], TTL, later) == set()
    assert await a.acquire_leases("A", ["f1"], TTL, later) == set()


async def test_reacquiring_own_lease_renews_it(backend: Backend, store: Store) -> None:
    """Renewing before expiry keeps the lease out of another replica's reach."""
    a, b = store, await backend.open()
    assert await a.acquire_leases("A", ["f1"], TTL, T0) == {"f1"}
    assert await a.acquire_leases("A", ["f1"], TTL, T0 + timedelta(seconds=20)) == {"f1"}
    assert await b.acquire_leases("B", ["f1"], TTL, T0 + timedelta(seconds=40)) == set()
    assert await a.renew_leases("A", ["f1"], TTL, T0 + timedelta(seconds=45)) == {"f1"}
    assert await b.acquire_leases("B", ["f1"], TTL, T0 + timedelta(seconds=70)) == set()
    assert await b.acquire_leases("B", ["f1"], TTL, T0 + timedelta(seconds=75)) == {"f1"}


async def test_released_lease_is_free_at_once_but_not_released_by_others(
    backend: Backend, store: Store
) -> None:
    """Release hands a key over immediately; a non-owner's release does nothing."""
    a, b = store, await backend.open()
    await a.acquire_leases("A", ["f1", "f2"], TTL, T0)
    await b.release_leases("B", ["f1"])
    assert await b.acquire_leases("B", ["f1"], TTL, T0) == set()
    await a.release_leases("A", ["f1"])
    assert await b.acquire_leases("B", ["f1", "f2"], TTL, T0) == {"f1"}


async def test_racing_replicas_never_both_hold_a_lease(backend: Backend, store: Store) -> None:
    """Two replicas grabbing the same expired keys at once split them with no overlap."""
    a, b = store, await backend.open()
    keys = [f"f{i}" for i in range(30)]
    await a.acquire_leases("old", keys, TTL, T0)
    later = T0 + TTL * 2
    held_a, held_b = await asyncio.gather(
        a.acquire_leases("A", keys, TTL, later), b.acquire_leases("B", keys, TTL, later)
    )
    assert held_a | held_b == set(keys)
    assert held_a.isdisjoint(held_b)


async def test_duplicate_and_empty_key_lists_are_fine(store: Store) -> None:
    """Repeated keys count once and an empty request holds nothing."""
    assert await store.acquire_leases("A", ["k", "k"], TTL, T0) == {"k"}
    assert await store.acquire_leases("A", [], TTL, T0) == set()
    assert await store.renew_leases("A", [], TTL, T0) == set()


# -- subscriptions ----------------------------------------------------------------------------


async def test_subscribing_again_updates_options_but_keeps_the_creator(store: Store) -> None:
    """A second subscribe changes name, failures-only and mention; creator and time stay."""
    first, created = await store.subscribe(subscription_request())
    assert created
    second, created_again = await store.subscribe(
        subscription_request(
            workflow_name="Patching v2",
            failures_only=True,
            mention="<@U9>",
            created_by="U2",
            created_at=T0 + timedelta(days=1),
        )
    )
    assert not created_again
    assert second.id == first.id
    assert (second.workflow_name, second.failures_only, second.mention) == (
        "Patching v2",
        True,
        "<@U9>",
    )
    assert (second.created_by, second.created_at) == ("U1", T0)
    assert await store.get_subscription("C1", "wf-1") == second


async def test_subscriptions_are_listed_by_channel_workflow_and_distinct_ids(store: Store) -> None:
    """Lists by channel (by name), by workflow (oldest first) and the distinct workflow ids."""
    await store.subscribe(
        subscription_request(channel_id="C1", workflow_id="wf-b", workflow_name="B")
    )
    await store.subscribe(
        subscription_request(channel_id="C1", workflow_id="wf-a", workflow_name="A")
    )
    await store.subscribe(
        subscription_request(
            channel_id="C2", workflow_id="wf-b", workflow_name="B", created_at=T0 + TTL
        )
    )
    assert [s.workflow_id for s in await store.subscriptions_for_channel("C1")] == ["wf-a", "wf-b"]
    assert [s.channel_id for s in await store.subscriptions_for_workflow("wf-b")] == ["C1", "C2"]
    assert await store.subscribed_workflow_ids() == ["wf-a", "wf-b"]
    assert await store.subscriptions_for_channel("C3") == []


async def test_unsubscribe_removes_only_that_subscription(store: Store) -> None:
    """Unsubscribing reports whether there was something to remove and leaves others alone."""
    await store.subscribe(subscription_request(workflow_id="wf-1"))
    await store.subscribe(subscription_request(workflow_id="wf-2"))
    assert await store.unsubscribe("C1", "wf-1")
    assert not await store.unsubscribe("C1", "wf-1")
    assert await store.get_subscription("C1", "wf-1") is None
    assert await store.subscribed_workflow_ids() == ["wf-2"]


async def test_follow_started_by_a_subscription_outlives_its_removal(store: Store) -> None:
    """A follow remembers its subscription and mention; unsubscribing does not kill the follow."""
    sub, _ = await store.subscribe(subscription_request(mention="<@U7>"))
    follow, _ = await store.start_follow(
        follow_request(started_by=None, subscription_id=sub.id, mention=sub.mention)
    )
    assert (follow.subscription_id, follow.mention, follow.started_by) == (sub.id, "<@U7>", None)
    await store.unsubscribe("C1", "wf-1")
    still = await store.get_follow(follow.id)
    assert still is not None
    assert still.is_active
    assert still.subscription_id is None
    assert still.mention == "<@U7>"


async def test_home_tab_lists_what_a_user_started_and_what_is_in_their_channels(
    store: Store,
) -> None:
    """App Home: active follows and subscriptions by the user or in the given channels."""
    mine, _ = await store.start_follow(follow_request(channel_id="C9", started_by="U1"))
    theirs, _ = await store.start_follow(follow_request(channel_id="C2", started_by="U2"))
    elsewhere, _ = await store.start_follow(follow_request(channel_id="C3", started_by="U3"))
    ended, _ = await store.start_follow(
        follow_request(channel_id="C2", execution_id="old", started_by="U1")
    )
    await store.end_follow(ended.id, EndReason.COMPLETED, T0)
    assert [f.id for f in await store.follows_for_home("U1", ["C2"])] == [mine.id, theirs.id]
    assert [f.id for f in await store.follows_for_home("U1")] == [mine.id]
    assert elsewhere.id not in {f.id for f in await store.follows_for_home("U1", ["C2"])}

    await store.subscribe(subscription_request(channel_id="C9", created_by="U1"))
    await store.subscribe(subscription_request(channel_id="C2", created_by="U2"))
    await store.subscribe(subscription_request(channel_id="C3", created_by="U3"))
    home = await store.subscriptions_for_home("U1", ["C2", "C2"])
    assert sorted(s.channel_id for s in home) == ["C2", "C9"]


# -- discovery memory -------------------------------------------------------------------------


async def test_seen_executions_accumulate_per_workflow(store: Store) -> None:
    """Marking seen is idempotent and kept apart per workflow."""
    assert await store.seen_executions("wf-1") == set()
    await store.mark_seen("wf-1", ["e1", "e2"], T0)
    await store.mark_seen("wf-1", ["e2", "e3", "e3"], T0 + TTL)
    await store.mark_seen("wf-2", ["e9"], T0)
    await store.mark_seen("wf-2", [], T0)
    assert await store.seen_executions("wf-1") == {"e1", "e2", "e3"}
    assert await store.seen_executions("wf-2") == {"e9"}


async def test_watermark_only_moves_forward(store: Store) -> None:
    """An older begin time never rewinds the watermark, so old history is not replayed."""
    assert await store.get_watermark("wf-1") is None
    await store.set_watermark("wf-1", T0)
    await store.set_watermark("wf-1", T0 - timedelta(hours=1))
    assert await store.get_watermark("wf-1") == T0
    await store.set_watermark("wf-1", T0 + timedelta(microseconds=1))
    assert await store.get_watermark("wf-1") == T0 + timedelta(microseconds=1)
    assert await store.get_watermark("wf-2") is None


async def test_each_execution_is_posted_once_per_channel(backend: Backend, store: Store) -> None:
    """Racing post claims for one execution and channel: one wins; another channel gets its own."""
    other = await backend.open()
    wins = await asyncio.gather(
        *((store if i % 2 else other).claim_post("C1", "wf-1", "e1", T0) for i in range(20))
    )
    assert sum(wins) == 1
    assert await store.claim_post("C2", "wf-1", "e1", T0)
    assert await store.claim_post("C1", "wf-1", "e2", T0)


# -- channel cards ----------------------------------------------------------------------------

FRESH = timedelta(minutes=10)
POSTING = timedelta(seconds=30)


async def test_one_of_many_identical_requests_posts_the_card(
    backend: Backend, store: Store
) -> None:
    """Racing card claims for one execution and channel (two replicas): exactly one wins, the
    others learn the card once it is recorded; another channel or execution is its own card."""
    other = await backend.open()
    answers = await asyncio.gather(
        *(
            (store if i % 2 else other).claim_card(
                "C1", "wf-1", "e1", T0, fresh_for=FRESH, posting_for=POSTING
            )
            for i in range(20)
        )
    )
    assert sorted(answers, reverse=True) == [(True, None)] + [(False, None)] * 19
    await store.set_card("C1", "wf-1", "e1", "111.1")
    later = T0 + timedelta(minutes=9)
    assert await other.claim_card(
        "C1", "wf-1", "e1", later, fresh_for=FRESH, posting_for=POSTING
    ) == (False, "111.1")
    assert (await store.claim_card("C2", "wf-1", "e1", T0, fresh_for=FRESH, posting_for=POSTING))[0]
    assert (await store.claim_card("C1", "wf-1", "e2", T0, fresh_for=FRESH, posting_for=POSTING))[0]


async def test_an_old_card_or_an_abandoned_claim_is_claimed_afresh(store: Store) -> None:
    """After ``fresh_for`` a new card is posted; an unposted claim is taken over after
    ``posting_for``; a released claim at once, but only if it still is the one released."""
    key = ("C1", "wf-1", "e1")
    assert (await store.claim_card(*key, T0, fresh_for=FRESH, posting_for=POSTING))[0]
    assert not (await store.claim_card(*key, T0 + POSTING / 2, fresh_for=FRESH,
                                       posting_for=POSTING))[0]  # fmt: skip
    assert (await store.claim_card(*key, T0 + POSTING, fresh_for=FRESH, posting_for=POSTING))[0]
    await store.set_card(*key, "111.1")
    at = T0 + POSTING + FRESH
    assert (await store.claim_card(*key, at, fresh_for=FRESH, posting_for=POSTING))[0]
    await store.set_card(*key, "222.2")
    await store.release_card(*key, "111.1")  # not the card any more: kept
    assert await store.claim_card(*key, at, fresh_for=FRESH, posting_for=POSTING) == (
        False,
        "222.2",
    )
    await store.release_card(*key, "222.2")
    assert (await store.claim_card(*key, at, fresh_for=FRESH, posting_for=POSTING))[0]
    await store.release_card(*key, None)
    assert (await store.claim_card(*key, at, fresh_for=FRESH, posting_for=POSTING))[0]


async def test_a_posted_card_is_refreshed_once_per_interval(backend: Backend, store: Store) -> None:
    """Of many identical requests, one per ``every`` refreshes the card; none before it exists."""
    key = ("C1", "wf-1", "e1")
    every = timedelta(seconds=10)
    assert not await store.claim_card_refresh(*key, T0, every=every)
    assert (await store.claim_card(*key, T0, fresh_for=FRESH, posting_for=POSTING))[0]
    assert not await store.claim_card_refresh(*key, T0 + every, every=every)  # not posted yet
    await store.set_card(*key, "111.1")
    assert not await store.claim_card_refresh(*key, T0 + every / 2, every=every)  # just posted
    other = await backend.open()
    wins = await asyncio.gather(
        *((store if i % 2 else other).claim_card_refresh(*key, T0 + every, every=every)
          for i in range(10))
    )  # fmt: skip
    assert sum(wins) == 1
    assert not await store.claim_card_refresh(*key, T0 + every * 1.5, every=every)
    assert await store.claim_card_refresh(*key, T0 + every * 2, every=every)


async def test_prune_forgets_old_history_but_keeps_active_follows(store: Store) -> None:
    """Pruning drops ended follows, seen executions and post claims older than the cutoff."""
    old, _ = await store.start_follow(follow_request(execution_id="old"))
    await store.end_follow(old.id, EndReason.COMPLETED, T0)
    recent, _ = await store.start_follow(follow_request(execution_id="recent"))
    await store.end_follow(recent.id, EndReason.COMPLETED, T0 + timedelta(days=5))
    active, _ = await store.start_follow(follow_request(execution_id="active"))
    await store.mark_seen("wf-1", ["e-old"], T0)
    await store.mark_seen("wf-1", ["e-new"], T0 + timedelta(days=5))
    await store.claim_post("C1", "wf-1", "e-old", T0)
    await store.claim_card("C1", "wf-1", "e-old", T0, fresh_for=FRESH * 1000, posting_for=FRESH)
    await store.set_card("C1", "wf-1", "e-old", "111.1")

    await store.prune(T0 + timedelta(days=1))

    assert await store.get_follow(old.id) is None
    assert await store.get_follow(recent.id) is not None
    assert [f.id for f in await store.active_follows()] == [active.id]
    assert await store.seen_executions("wf-1") == {"e-new"}
    assert await store.claim_post("C1", "wf-1", "e-old", T0 + timedelta(days=2))
    assert await store.claim_card(
        "C1", "wf-1", "e-old", T0 + timedelta(days=2), fresh_for=FRESH * 1000, posting_for=FRESH
    ) == (True, None)


# -- profiles (several AOM projects in one bot) -------------------------------------------------


async def test_a_follow_remembers_its_profile_and_a_duplicate_keeps_it(store: Store) -> None:
    """Every read of a follow gives back the profile it was started in; without one it is
    ``default``; a duplicate request from another profile finds the same follow, unchanged."""
    prod, _ = await store.start_follow(follow_request(profile="prod", message_ts="1.1"))
    plain, _ = await store.start_follow(follow_request(channel_id="C2"))
    assert (prod.profile, plain.profile) == ("prod", DEFAULT_PROFILE_NAME)
    assert (await store.get_follow(prod.id)) == prod
    assert await store.find_active_follow("C1", "wf-1", "ex-1") == prod
    assert [(f.channel_id, f.profile) for f in await store.active_follows()] == [
        ("C1", "prod"),
        ("C2", "default"),
    ]
    again, created = await store.start_follow(follow_request(profile="staging"))
    assert (again.id, again.profile, created) == (prod.id, "prod", False)
    await store.end_follow(prod.id, EndReason.COMPLETED, T0 + TTL)
    latest = await store.latest_follow("C1", "wf-1", "ex-1")
    assert latest is not None
    assert (latest.id, latest.profile, latest.is_active) == (prod.id, "prod", False)
    assert [f.profile for f in await store.follows_for_home("U1", ["C2"])] == ["default"]


async def test_a_subscription_remembers_its_profile(store: Store) -> None:
    """Every list of subscriptions gives back each one's profile; subscribing again from
    another profile moves it there (its name was just read from that profile's AOM)."""
    prod, _ = await store.subscribe(subscription_request(profile="prod"))
    plain, _ = await store.subscribe(subscription_request(channel_id="C2"))
    assert (prod.profile, plain.profile) == ("prod", DEFAULT_PROFILE_NAME)
    assert await store.get_subscription("C1", "wf-1") == prod
    assert [s.profile for s in await store.subscriptions_for_channel("C1")] == ["prod"]
    assert [s.profile for s in await store.subscriptions_for_workflow("wf-1")] == [
        "prod",
        "default",
    ]
    assert [s.profile for s in await store.subscriptions_for_home("U1")] == ["prod", "default"]
    moved, created = await store.subscribe(subscription_request(profile="staging"))
    assert (moved.id, moved.profile, created) == (prod.id, "staging", False)
    assert await store.get_subscription("C1", "wf-1") == moved


async def test_subscribed_workflows_are_distinct_profile_and_workflow_pairs(store: Store) -> None:
    """Discovery polls each subscribed workflow once in each profile it is subscribed in."""
    assert await store.subscribed_workflows() == []
    await store.subscribe(subscription_request(channel_id="C1", workflow_id="wf-b", profile="prod"))
    await store.subscribe(subscription_request(channel_id="C2", workflow_id="wf-b", profile="prod"))
    await store.subscribe(
        subscription_request(channel_id="C1", workflow_id="wf-a", profile="staging")
    )
    await store.subscribe(subscription_request(channel_id="C3", workflow_id="wf-c"))
    assert await store.subscribed_workflows() == [
        ("default", "wf-c"),
        ("prod", "wf-b"),
        ("staging", "wf-a"),
    ]
    assert await store.subscribed_workflow_ids() == ["wf-a", "wf-b", "wf-c"]
    await store.unsubscribe("C1", "wf-b")
    assert ("prod", "wf-b") in await store.subscribed_workflows()
    await store.unsubscribe("C2", "wf-b")
    assert await store.subscribed_workflows() == [("default", "wf-c"), ("staging", "wf-a")]


async def test_a_channel_card_records_the_profile_of_its_poster(
    backend: Backend, store: Store
) -> None:
    """The card a plain show posted remembers which profile it shows; the claim is by IDs."""
    key = ("C1", "wf-1", "e1")
    assert (await store.claim_card(*key, T0, fresh_for=FRESH, posting_for=POSTING,
                                   profile="prod"))[0]  # fmt: skip
    assert not (await store.claim_card(*key, T0, fresh_for=FRESH, posting_for=POSTING))[0]
    assert (await store.claim_card("C2", "wf-1", "e1", T0, fresh_for=FRESH,
                                   posting_for=POSTING))[0]  # fmt: skip
    assert await backend.fetch_raw(
        "SELECT channel_id, profile FROM channel_cards ORDER BY channel_id"
    ) == [("C1", "prod"), ("C2", "default")]
    # claimed afresh after the poster gave up: the new winner's profile
    assert (await store.claim_card(*key, T0 + POSTING, fresh_for=FRESH, posting_for=POSTING,
                                   profile="staging"))[0]  # fmt: skip
    assert await backend.fetch_raw("SELECT profile FROM channel_cards WHERE channel_id = 'C1'") == [
        ("staging",)
    ]


# -- restarts and schema ----------------------------------------------------------------------


async def test_everything_survives_close_and_reopen(backend: Backend, store: Store) -> None:
    """After a restart, open follows resume with their profile, claims, announcements and card
    state; subscriptions keep their profile."""
    follow, _ = await store.start_follow(follow_request(message_ts="1.2", profile="prod"))
    await store.record_render(follow.id, "fp", T0)
    await store.claim_announcement(follow.id, "disk-full")
    await store.claim_completion(follow.id, "A", T0)
    await store.subscribe(subscription_request(profile="prod"))
    await store.mark_seen("wf-1", ["e1"], T0)
    await store.set_watermark("wf-1", T0)
    await store.acquire_leases("A", ["f1"], TTL, T0)
    before = await store.get_follow(follow.id)
    await store.aclose()

    reopened = await backend.open()
    await reopened.migrate()
    assert await reopened.active_follows() == [before]
    assert before is not None
    assert before.profile == "prod"
    assert [(s.workflow_id, s.profile) for s in await reopened.subscriptions_for_channel("C1")] == [
        ("wf-1", "prod")
    ]
    assert await reopened.subscribed_workflows() == [("prod", "wf-1")]
    assert await reopened.seen_executions("wf-1") == {"e1"}
    assert await reopened.get_watermark("wf-1") == T0
    assert await reopened.acquire_leases("B", ["f1"], TTL, T0) == set()
    assert not await reopened.claim_completion(follow.id, "B", T0)


async def test_migrate_twice_is_a_no_op(backend: Backend, store: Store) -> None:
    """Re-running migrations (another replica starting) keeps the version and the data."""
    follow, _ = await store.start_follow(follow_request())
    assert await store.schema_version() == LATEST
    await store.migrate()
    await (await backend.open()).migrate()
    assert await store.schema_version() == LATEST
    assert [f.id for f in await store.active_follows()] == [follow.id]


async def test_replicas_migrating_at_once_do_not_collide(backend: Backend) -> None:
    """Several replicas starting together on an empty database all migrate successfully."""
    stores = [await backend.open() for _ in range(4)]
    await asyncio.gather(*(s.migrate() for s in stores))
    assert {await s.schema_version() for s in stores} == {LATEST}


async def test_empty_database_has_schema_version_zero(backend: Backend) -> None:
    """Before ``migrate`` the database reports version 0."""
    fresh = await backend.open()
    assert await fresh.schema_version() == 0


async def test_a_newer_schema_is_refused(backend: Backend, store: Store) -> None:
    """A database migrated by a newer aom-bot makes this version stop with a clear error."""
    await backend.execute_raw(
        "INSERT INTO schema_migrations (version, name, applied_at)"
        " VALUES (99, 'from_the_future', '2030-01-01T00:00:00.000000Z')"
    )
    with pytest.raises(
        StoreError, match=rf"version 99, newer than this aom-bot knows \({LATEST}\)"
    ):
        await store.migrate()


async def test_closed_store_raises_store_error(backend: Backend) -> None:
    """Using a store after ``aclose`` is a ``StoreError``, and closing twice is harmless."""
    closed = await backend.open()
    await closed.migrate()
    await closed.aclose()
    await closed.aclose()
    with pytest.raises(StoreError):
        await closed.active_follows()


def timezone_hours(hours: int) -> timezone:
    """A fixed-offset time zone."""
    return timezone(timedelta(hours=hours))


async def test_active_follows_are_counted_per_user_and_in_all(store: Store) -> None:
    """Follow limits: all active follows count for the workspace; a user's count is what they
    started by hand (not ended ones, not a subscription's)."""
    sub, _ = await store.subscribe(subscription_request(channel_id="C5"))
    await store.start_follow(follow_request(channel_id="C1", started_by="U1"))
    await store.start_follow(follow_request(channel_id="C2", started_by="U1"))
    await store.start_follow(follow_request(channel_id="C3", started_by="U2"))
    await store.start_follow(
        follow_request(channel_id="C5", started_by="U1", subscription_id=sub.id)
    )
    ended, _ = await store.start_follow(follow_request(channel_id="C4", started_by="U1"))
    await store.end_follow(ended.id, EndReason.STOPPED_BY_USER, T0)
    assert await store.count_active_follows() == 4
    assert await store.count_active_follows(started_by="U1") == 2
    assert await store.count_active_follows(started_by="U2") == 1
    assert await store.count_active_follows(started_by="U9") == 0
