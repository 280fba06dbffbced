"""Upgrading to profiles (migration 0003) keeps every follow and subscription, on both engines.

The database is built as the release before profiles left it: migrations 0001-0002 only, rows
written with that schema's columns by raw SQL. Then the bot restarts on this version.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from aom_bot.store import DEFAULT_PROFILE_NAME, CompletionState, EndReason, Store
from aom_bot.store.migrations import load_migrations
from tests.store.test_contract import follow_request, subscription_request

if TYPE_CHECKING:
    from tests.store.conftest import Backend

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
#: what the 0002 release wrote: two subscriptions, two active follows (one by hand with a
#: card, one a subscription started, its card claimed), one finished follow, a channel card.
#: Times as both engines take a literal: SQLite's stored text, a timestamptz input.
ROWS_OF_0002 = [
    "INSERT INTO subscriptions (channel_id, workflow_id, workflow_name, failures_only, mention,"
    " created_by, created_at) VALUES ('C1', 'wf-1', 'Nightly patching', FALSE, NULL, 'U1',"
    " '2025-03-01T12:00:00.000000Z')",
    "INSERT INTO subscriptions (channel_id, workflow_id, workflow_name, failures_only, mention,"
    " created_by, created_at) VALUES ('C2', 'wf-2', 'Backups', TRUE, '<@U7>', 'U2',"
    " '2025-03-01T12:05:00.000000Z')",
    "INSERT INTO follows (workflow_id, execution_id, channel_id, message_ts, started_by,"
    " started_at, deadline, fingerprint, rendered_at) VALUES ('wf-1', 'ex-1', 'C1', '111.1',"
    " 'U1', '2025-03-01T12:00:00.000000Z', '2025-03-02T12:00:00.000000Z', 'fp-1',"
    " '2025-03-01T12:05:00.000000Z')",
    "INSERT INTO follows (workflow_id, execution_id, channel_id, started_at, deadline,"
    " subscription_id, mention, card_owner, card_claimed_at) VALUES ('wf-2', 'ex-2', 'C2',"
    " '2025-03-01T12:05:00.000000Z', '2025-03-02T12:00:00.000000Z',"
    " (SELECT id FROM subscriptions WHERE channel_id = 'C2' AND workflow_id = 'wf-2'),"
    " '<@U7>', 'replica-a', '2025-03-01T12:05:00.000000Z')",
    "INSERT INTO follows (workflow_id, execution_id, channel_id, message_ts, started_by,"
    " started_at, deadline, state, end_reason, ended_at, completion_state, completion_ts)"
    " VALUES ('wf-1', 'ex-0', 'C1', '100.1', 'U1', '2025-03-01T12:00:00.000000Z',"
    " '2025-03-02T12:00:00.000000Z', 'ended', 'completed', '2025-03-01T12:05:00.000000Z',"
    " 'posted', '100.2')",
    "INSERT INTO follow_announcements (follow_id, signature)"
    " SELECT id, 'disk-full' FROM follows WHERE execution_id = 'ex-1'",
    "INSERT INTO channel_cards (channel_id, workflow_id, execution_id, message_ts, claimed_at)"
    " VALUES ('C3', 'wf-1', 'ex-9', '333.3', '2025-03-01T12:00:00.000000Z')",
]


async def upgraded(backend: Backend) -> Store:
    """A database left at schema 2 with rows in it, then opened and migrated by this version."""
    old = await backend.open()
    await old.migrate(target=2)
    assert await old.schema_version() == 2
    await old.aclose()
    for statement in ROWS_OF_0002:
        await backend.execute_raw(statement)
    store = await backend.open()
    await store.migrate()
    assert await store.schema_version() == len(load_migrations("sqlite"))
    return store


async def test_every_follow_and_subscription_is_kept_with_the_default_profile(
    backend: Backend,
) -> None:
    """After the upgrade nothing is lost or changed, and every row belongs to ``default``."""
    store = await upgraded(backend)
    by_hand, by_subscription = await store.active_follows()
    assert (by_hand.execution_id, by_hand.message_ts, by_hand.started_by) == ("ex-1", "111.1", "U1")
    assert (by_hand.fingerprint, by_hand.announced) == ("fp-1", frozenset({"disk-full"}))
    assert (by_hand.started_at, by_hand.deadline) == (T0, T0 + timedelta(days=1))
    backups = await store.get_subscription("C2", "wf-2")
    assert backups is not None
    assert (by_subscription.subscription_id, by_subscription.mention) == (backups.id, "<@U7>")
    assert by_subscription.card_owner == "replica-a"
    finished = await store.latest_follow("C1", "wf-1", "ex-0")
    assert finished is not None
    assert (finished.end_reason, finished.completion_state) == (
        EndReason.COMPLETED,
        CompletionState.POSTED,
    )
    subscriptions = await store.subscriptions_for_home("U1", ["C2"])
    assert [(s.workflow_name, s.failures_only, s.mention) for s in subscriptions] == [
        ("Nightly patching", False, None),
        ("Backups", True, "<@U7>"),
    ]
    assert {f.profile for f in (by_hand, by_subscription, finished)} == {DEFAULT_PROFILE_NAME}
    assert {s.profile for s in subscriptions} == {DEFAULT_PROFILE_NAME}
    assert await store.subscribed_workflows() == [("default", "wf-1"), ("default", "wf-2")]
    assert await backend.fetch_raw("SELECT profile FROM channel_cards") == [("default",)]


async def test_upgraded_rows_keep_working(backend: Backend) -> None:
    """Old follows are still claimed, deduplicated and ended; old subscriptions still update;
    the old channel card is still shared; new rows in another profile sit beside them."""
    store = await upgraded(backend)
    by_hand, by_subscription = await store.active_follows()
    assert await store.claim_completion(by_hand.id, "replica-b", T0 + timedelta(minutes=9))
    assert not await store.claim_completion(by_hand.id, "replica-c", T0 + timedelta(minutes=9))
    # the old card claim is stale after a minute: the new replica takes it over
    assert await store.claim_card_post(
        by_subscription.id, "replica-b", T0 + timedelta(minutes=9), stale_after=timedelta(minutes=1)
    )
    again, created = await store.start_follow(
        follow_request(workflow_id="wf-1", execution_id="ex-1", channel_id="C1")
    )
    assert (again.id, created) == (by_hand.id, False)
    assert await store.end_follow(
        by_subscription.id, EndReason.STOPPED_BY_USER, T0 + timedelta(days=1)
    )
    resubscribed, created = await store.subscribe(subscription_request(failures_only=True))
    assert not created
    assert (resubscribed.failures_only, resubscribed.created_by) == (True, "U1")
    assert await store.claim_card(
        "C3", "wf-1", "ex-9", T0, fresh_for=timedelta(minutes=10), posting_for=timedelta(days=1)
    ) == (False, "333.3")
    _, created = await store.start_follow(follow_request(execution_id="ex-3", profile="prod"))
    assert created
    assert [(f.execution_id, f.profile) for f in await store.active_follows()] == [
        ("ex-1", "default"),
        ("ex-3", "prod"),
    ]
    await store.subscribe(subscription_request(channel_id="C4", profile="prod"))
    assert await store.subscribed_workflows() == [
        ("default", "wf-1"),
        ("default", "wf-2"),
        ("prod", "wf-1"),
    ]


async def test_migrate_with_a_target_stops_there_and_continues_later(backend: Backend) -> None:
    """``migrate(target=…)`` (how the tests above build the old schema) stops at that version;
    a plain ``migrate`` later applies the rest."""
    store = await backend.open()
    await store.migrate(target=1)
    assert await store.schema_version() == 1
    await store.migrate(target=2)
    assert await store.schema_version() == 2
    await store.migrate()
    assert await store.schema_version() == len(load_migrations("postgres"))
