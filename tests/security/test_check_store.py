"""`aom-bot check` checks the store too (issue 10, item 6): an unreachable PostgreSQL is a
failed check (and exit 2), not a ✓."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from aom_bot.cli import app
from aom_bot.slack.check import run_checks
from tests.fakes.slack_api import FakeSlack
from tests.slack.test_check import _aom, _by_name, _settings

UNREACHABLE = "postgresql://bot:Pg-s3cret-pw@127.0.0.1:1/aom"


async def test_unreachable_postgresql_fails_the_store_check_without_the_password() -> None:
    """Everything else fine, PostgreSQL refused: the store check fails, names the server,
    never shows the password."""
    async with FakeSlack() as slack:
        results = await run_checks(
            _settings(slack, aom_bot_database_url=UNREACHABLE), make_aom=_aom
        )
    store = _by_name(results)["Store"]
    assert not store.ok
    assert "127.0.0.1:1" in store.line()
    assert "Pg-s3cret-pw" not in "\n".join(r.line() for r in results)
    assert [r.name for r in results if not r.ok] == ["Store"]


async def test_reachable_sqlite_store_passes(tmp_path: Path) -> None:
    """An existing SQLite store answers with its schema version; a missing one will be created."""
    async with FakeSlack() as slack:
        fresh = await run_checks(
            _settings(slack, aom_bot_database_url=f"sqlite:///{tmp_path}/new/bot.db"),
            make_aom=_aom,
        )
        assert _by_name(fresh)["Store"].ok
        assert not (tmp_path / "new").exists()  # checking creates nothing
        from aom_bot.store import open_store

        store = await open_store(f"sqlite:///{tmp_path}/bot.db")
        await store.migrate()
        await store.aclose()
        existing = await run_checks(
            _settings(slack, aom_bot_database_url=f"sqlite:///{tmp_path}/bot.db"), make_aom=_aom
        )
    assert _by_name(existing)["Store"].ok
    assert "schema version" in _by_name(existing)["Store"].detail


def test_check_command_exits_2_for_an_unreachable_store() -> None:
    """The CLI: `aom-bot check --simulator` with an unreachable PostgreSQL prints ✗ Store."""
    result = CliRunner().invoke(
        app, ["check", "--simulator"], env={"AOM_BOT_DATABASE_URL": UNREACHABLE}
    )
    assert result.exit_code == 2
    assert "✗ Store" in result.stderr
    assert "Pg-s3cret-pw" not in result.output
