"""Upgrading a database: old data survives, a version missing in the middle (parallel branches
took numbers 3 and 4, and 4 landed first) is applied later, and one this build lacks is refused.

"An older aom-bot" is the store with fewer migrations known (``known``); both engines.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from aom_bot.errors import StoreError
from aom_bot.store import ActionKind, ActionOutcome, NewAuditEntry
from aom_bot.store.migrations import Backend, Migration, load_migrations

if TYPE_CHECKING:
    from tests.store.conftest import Backend as Engine

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LATEST = load_migrations("sqlite")[-1].version

Known = Callable[[list[Migration] | None], None]


@pytest.fixture
def known(monkeypatch: pytest.MonkeyPatch) -> Known:
    """Set the migrations the store knows besides the real 0001 and 0002 (``None``: the real
    ones, all of them, again)."""

    def choose(extra: list[Migration] | None) -> None:
        if extra is None:
            monkeypatch.undo()
            return

        def steps(backend: Backend) -> list[Migration]:
            real = [m for m in load_migrations(backend) if m.version <= 2]
            return sorted([*real, *extra], key=lambda m: m.version)

        for module in ("aom_bot.store.sqlite", "aom_bot.store.postgres"):
            monkeypatch.setattr(f"{module}.load_migrations", steps)

    return choose


def made_up(version: int, table: str) -> Migration:
    return Migration(version, table, f"CREATE TABLE {table} (id INTEGER)")


async def test_upgrading_from_0002_keeps_follows_and_subscriptions(
    backend: Engine, known: Known
) -> None:
    """A database an older aom-bot (schema 2) wrote keeps its follows; actions work after.

    The old rows are written with schema 2's columns, as that version wrote them.
    """
    known([])
    old = await backend.open()
    await old.migrate()
    assert await old.schema_version() == 2
    await backend.execute_raw(
        "INSERT INTO follows (workflow_id, execution_id, channel_id, started_by, started_at,"
        " deadline, message_ts) VALUES ('wf-1', 'ex-1', 'C1', 'U1',"
        " '2025-03-01T12:00:00.000000Z', '2025-03-02T12:00:00.000000Z', '1700000000.000100')"
    )
    await backend.execute_raw(
        "INSERT INTO subscriptions (channel_id, workflow_id, workflow_name, failures_only,"
        " created_by, created_at) VALUES ('C1', 'wf-1', 'Nightly patching', true, 'U1',"
        " '2025-03-01T12:00:00.000000Z')"
    )
    await old.aclose()

    known(None)
    new = await backend.open()
    await new.migrate()
    assert await new.schema_version() == LATEST
    [follow] = await new.active_follows()
    assert (follow.workflow_id, follow.execution_id, follow.channel_id) == ("wf-1", "ex-1", "C1")
    assert (follow.started_at, follow.message_ts) == (T0, "1700000000.000100")
    [subscription] = await new.subscriptions_for_channel("C1")
    assert (subscription.workflow_name, subscription.failures_only) == ("Nightly patching", True)
    entry = await new.append_audit(
        NewAuditEntry(
            at=T0,
            user_id="U1",
            user_name="Ada",
            channel_id="C1",
            profile="prod",
            action=ActionKind.TERMINATE,
            workflow_id="wf-1",
            execution_id="ex-1",
            node_id=None,
            outcome=ActionOutcome.DONE,
        )
    )
    assert await new.audit_entries() == [entry]


async def test_a_version_missing_in_the_middle_is_applied_later(
    backend: Engine, known: Known
) -> None:
    """Migrated to 4 before 3 existed: the next migrate applies 3 and keeps 4's data."""
    four = made_up(4, "gap_four")
    known([four])
    store = await backend.open()
    await store.migrate()
    assert await store.schema_version() == 4
    await backend.execute_raw("INSERT INTO gap_four (id) VALUES (1)")

    known([made_up(3, "gap_three"), four])
    await store.migrate()
    await store.migrate()  # nothing left: a no-op
    assert await store.schema_version() == 4
    await backend.execute_raw("INSERT INTO gap_three (id) VALUES (1)")  # 3 was applied
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        await backend.execute_raw(
            "INSERT INTO schema_migrations (version, name, applied_at)"
            " VALUES (3, 'again', '2030-01-01T00:00:00.000000Z')"
        )


async def test_a_database_holding_a_version_this_build_lacks_is_refused(
    backend: Engine, known: Known
) -> None:
    """A build with 1, 2, 4 meets a database another build took to 3: refused, said plainly."""
    known([made_up(3, "other_three")])
    store = await backend.open()
    await store.migrate()
    known([made_up(4, "gap_four")])
    with pytest.raises(StoreError, match="has migration 3, which this aom-bot does not have"):
        await store.migrate()
