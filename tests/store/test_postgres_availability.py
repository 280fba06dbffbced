"""The PostgreSQL tests skip (outside CI) when the server has no test database, instead of
failing every one of them."""

from __future__ import annotations

import pytest

from tests.store.conftest import postgres_dsn, postgres_unreachable_reason


def test_a_missing_test_database_is_a_reason_to_skip() -> None:
    """A server that answers but has no such database gives a skip reason saying how to fix it."""
    dsn = postgres_dsn()
    if postgres_unreachable_reason(dsn) is not None:
        pytest.skip("needs a reachable PostgreSQL to ask for a missing database")
    base = dsn.rsplit("/", 1)[0]
    reason = postgres_unreachable_reason(f"{base}/no_such_database_for_aom_bot")
    assert reason is not None
    assert "has no database 'no_such_database_for_aom_bot'" in reason
    assert "createdb" in reason
