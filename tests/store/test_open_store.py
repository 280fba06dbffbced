"""``open_store``: which URLs open which backend, and that errors never show a password."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aom_bot.errors import ConfigError, StoreError
from aom_bot.store import open_store
from aom_bot.store._common import redact_dsn
from aom_bot.store.migrations import load_migrations

PASSWORD = "s3cr3t-Pa55"


async def test_sqlite_url_with_absolute_path_creates_the_file(tmp_path: Path) -> None:
    """``sqlite:////abs/path.db`` opens (and creates) that file."""
    path = tmp_path / "nested.db"
    store = await open_store(f"sqlite:///{path}")
    try:
        await store.migrate()
        assert await store.schema_version() == load_migrations("sqlite")[-1].version
    finally:
        await store.aclose()
    assert path.exists()


async def test_sqlite_memory_url_gives_a_working_store() -> None:
    """``sqlite:///:memory:`` is a throwaway store, handy for demos and tests."""
    store = await open_store("sqlite:///:memory:")
    try:
        await store.migrate()
        assert await store.subscribed_workflow_ids() == []
    finally:
        await store.aclose()


async def test_sqlite_file_in_a_missing_directory_is_a_store_error(tmp_path: Path) -> None:
    """A path the bot cannot create says which file and what to check."""
    with pytest.raises(StoreError, match="missing") as caught:
        await open_store(f"sqlite:///{tmp_path}/missing/bot.db")
    assert "directory exists" in caught.value.user_message()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://bot:s3cr3t-Pa55@db/aom", "'mysql' URLs"),
        ("aom-bot.db", "without a scheme"),
        ("sqlite:///", "names no file"),
        ("sqlite://relative.db", "three slashes"),
    ],
)
async def test_unusable_urls_are_config_errors(url: str, says: str) -> None:
    """Unknown schemes and empty paths are refused with a hint and no echo of the password."""
    with pytest.raises(ConfigError, match=says) as caught:
        await open_store(url)
    assert PASSWORD not in caught.value.user_message()
    assert caught.value.hint


async def test_schema_option_is_only_for_postgres(tmp_path: Path) -> None:
    """Asking for a schema on SQLite is a configuration mistake, not silently ignored."""
    with pytest.raises(ConfigError, match="PostgreSQL"):
        await open_store(f"sqlite:///{tmp_path}/x.db", schema="aom")


async def test_unsafe_schema_names_are_refused() -> None:
    """The schema lands in SQL, so anything but a plain identifier is refused before connecting."""
    with pytest.raises(ConfigError, match="not allowed"):
        await open_store("postgresql://bot@127.0.0.1:1/aom", schema='x"; DROP TABLE follows; --')


async def test_unreachable_postgres_error_hides_the_password() -> None:
    """A connection failure names host and database but never the DSN password."""
    url = f"postgresql://bot:{PASSWORD}@127.0.0.1:1/aom?password={PASSWORD}x"
    with pytest.raises(StoreError) as caught:
        await open_store(url)
    shown = f"{caught.value.user_message()} {caught.value!r}"
    assert "127.0.0.1:1" in shown
    assert PASSWORD not in shown
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_redacted_dsn_masks_userinfo_and_query_passwords() -> None:
    """Both places a libpq DSN may carry a password are masked; the rest stays readable."""
    shown = redact_dsn(
        f"postgresql://bot:{PASSWORD}@db:5432/aom?password={PASSWORD}&sslmode=require"
    )
    assert PASSWORD not in shown
    assert shown.startswith("postgresql://bot:***@db:5432/aom?")
    assert "sslmode=require" in shown
    assert redact_dsn("postgresql://bot@db/aom") == "postgresql://bot@db/aom"


@pytest.mark.postgres
async def test_postgres_errors_and_repr_hide_the_password(pg_dsn: str) -> None:
    """With a password in the DSN (trust auth ignores it), repr and query errors never show it."""
    dsn = pg_dsn.replace("postgres@", f"postgres:{PASSWORD}@", 1)
    assert PASSWORD in dsn, "the test DSN must have the user@host form"
    schema = f"t_{uuid.uuid4().hex[:16]}"
    store = await open_store(f"{dsn}?schema={schema}")
    try:
        assert PASSWORD not in repr(store)
        assert schema in repr(store)
        # no migrate: the tables do not exist, so the query fails inside the driver
        with pytest.raises(StoreError) as caught:
            await store.active_follows()
        assert "follows" in str(caught.value)
        assert PASSWORD not in f"{caught.value.user_message()} {caught.value!r}"
    finally:
        await store.aclose()


@pytest.mark.postgres
async def test_schema_query_parameter_keeps_tables_in_that_schema(pg_dsn: str) -> None:
    """``?schema=name`` puts the tables in that schema, which ``migrate`` creates."""
    import asyncpg  # type: ignore[import-untyped]

    dsn = pg_dsn
    schema = f"t_{uuid.uuid4().hex[:16]}"
    store = await open_store(f"{dsn}?schema={schema}")
    try:
        await store.migrate()
        conn = await asyncpg.connect(dsn)
        try:
            tables = await conn.fetchval(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", schema
            )
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        finally:
            await conn.close()
        assert tables >= 8
    finally:
        await store.aclose()


def test_both_backends_ship_the_same_migration_versions() -> None:
    """A version number means the same schema on SQLite and PostgreSQL."""
    sqlite = [(m.version, m.name) for m in load_migrations("sqlite")]
    postgres = [(m.version, m.name) for m in load_migrations("postgres")]
    assert sqlite == postgres
    assert sqlite[0] == (1, "initial")


@pytest.fixture
async def fresh_schema(pg_dsn: str) -> AsyncIterator[str]:
    """A schema name no other test uses; dropped afterwards."""
    import asyncpg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield schema
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.mark.postgres
async def test_postgres_scheme_alias_is_accepted(pg_dsn: str, fresh_schema: str) -> None:
    """``postgres://`` (Heroku-style) works the same as ``postgresql://``: it migrates."""
    url = pg_dsn.replace("postgresql://", "postgres://", 1)
    store = await open_store(url, schema=fresh_schema)
    try:
        assert await store.schema_version() == 0
        await store.migrate()
        assert await store.schema_version() == load_migrations("postgres")[-1].version
    finally:
        await store.aclose()


async def test_three_slashes_before_a_missing_relative_directory_suggest_four(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sqlite:///tmp/x.db`` is ``tmp/x.db`` in the working directory: said, with the fix."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="relative to the working directory") as caught:
        await open_store("sqlite:///tmp/x.db")
    assert "sqlite:////tmp/x.db" in caught.value.user_message()
    (tmp_path / "tmp").mkdir()  # a relative directory that exists is used as given
    store = await open_store("sqlite:///tmp/x.db")
    await store.aclose()
    assert (tmp_path / "tmp" / "x.db").exists()
