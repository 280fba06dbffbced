"""``aom-bot audit``: the audit log from the store, newest first, as a table or JSON."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from aom_bot.cli import app
from aom_bot.store import ActionKind, ActionOutcome, NewAuditEntry, open_store
from aom_bot.store.migrations import load_migrations

runner = CliRunner()

JSON_FIELDS = [
    "at",
    "user_id",
    "user_name",
    "channel_id",
    "profile",
    "action",
    "workflow_id",
    "execution_id",
    "node_id",
    "outcome",
    "aom_request_id",
    "detail",
    "result_execution_id",
]
WF = "7c2e5a91d04b4f6e9a3b8c1d2e4f5a6b"
EX = "e3000000-0000-4000-8000-000000000009"
NOW = datetime.now(UTC).replace(microsecond=0)


def entry(hours_ago: float, **overrides: object) -> NewAuditEntry:
    values: dict[str, object] = {
        "at": NOW - timedelta(hours=hours_ago),
        "user_id": "U012AB",
        "user_name": "Ada Lovelace",
        "channel_id": "C0123456",
        "profile": "prod",
        "action": ActionKind.TERMINATE,
        "workflow_id": WF,
        "execution_id": EX,
        "node_id": None,
        "outcome": ActionOutcome.DONE,
        "aom_request_id": "req-1",
    }
    values.update(overrides)
    return NewAuditEntry(**values)  # type: ignore[arg-type]


#: two days ago a terminate; an hour ago a denied retry; now a run that started a new execution
HISTORY = [
    entry(48),
    entry(
        1,
        user_id="U999",
        user_name="Mallory\x1b[31m",
        action=ActionKind.RETRY,
        node_id="node-2",
        outcome=ActionOutcome.DENIED,
        aom_request_id=None,
        detail="missing permission: retry",
    ),
    entry(
        0,
        action=ActionKind.RUN,
        execution_id=None,
        aom_request_id="req-3",
        result_execution_id="e4000000-0000-4000-8000-000000000001",
    ),
]


@pytest.fixture
def database(tmp_path: Path) -> dict[str, str]:
    """A SQLite store holding ``HISTORY``; the environment that points the CLI at it."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"

    async def write() -> None:
        store = await open_store(url)
        await store.migrate()
        for item in HISTORY:
            await store.append_audit(item)
        await store.aclose()

    asyncio.run(write())
    return {"AOM_BOT_DATABASE_URL": url}


def audit(*args: str, env: dict[str, str]) -> Result:
    return runner.invoke(app, ["audit", *args], env=env, catch_exceptions=False)


def test_json_lists_every_entry_newest_first_with_the_documented_fields(
    database: dict[str, str],
) -> None:
    result = audit("--json", env=database)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [list(row) for row in rows] == [JSON_FIELDS] * 3
    assert [row["action"] for row in rows] == ["run", "retry", "terminate"]
    run, retry, terminate = rows
    assert run["execution_id"] is None
    assert run["result_execution_id"] == "e4000000-0000-4000-8000-000000000001"
    assert retry["outcome"] == "denied"
    assert (retry["node_id"], retry["aom_request_id"]) == ("node-2", None)
    assert retry["detail"] == "missing permission: retry"
    assert terminate["at"] == (NOW - timedelta(hours=48)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (terminate["workflow_id"], terminate["execution_id"]) == (WF, EX)


@pytest.mark.parametrize(
    ("since", "actions"),
    [
        ("24h", ["run", "retry"]),
        ("30m", ["run"]),
        ("7d", ["run", "retry", "terminate"]),
        ((NOW - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"), ["run", "retry"]),
        ((NOW - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S"), ["run", "retry"]),  # UTC
        ((NOW - timedelta(hours=2)).astimezone().isoformat(), ["run", "retry"]),  # local offset
    ],
)
def test_since_keeps_the_recent_entries(
    database: dict[str, str], since: str, actions: list[str]
) -> None:
    result = audit("--since", since, "--json", env=database)
    assert result.exit_code == 0, result.output
    assert [row["action"] for row in json.loads(result.stdout)] == actions


@pytest.mark.parametrize("since", ["5x", "yesterday", "24", "-1h", "2025-13-01"])
def test_a_bad_since_is_a_usage_error_before_the_store_is_opened(
    tmp_path: Path, since: str
) -> None:
    path = tmp_path / "never.db"
    result = audit("--since", since, env={"AOM_BOT_DATABASE_URL": f"sqlite:///{path}"})
    assert result.exit_code == 2
    assert result.stdout == ""
    said = " ".join(result.stderr.split())
    assert f"--since {since!r} is neither a duration (30m, 24h, 7d) nor an ISO time" in said
    assert not path.exists()


def test_the_table_shows_one_line_per_entry_with_the_columns(database: dict[str, str]) -> None:
    result = audit(env={**database, "COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    header, _rule, *lines = result.stdout.splitlines()
    for column in ["Time (UTC)", "User", "Channel", "Profile", "Action", "Workflow",
                   "Execution", "Node", "Outcome", "AOM request ID"]:  # fmt: skip
        assert column in header
    assert len(lines) == 3  # nothing folds, even at 80 columns: one entry, one line
    run, retry, terminate = lines
    assert run.startswith(NOW.strftime("%Y-%m-%d %H:%M:%S"))
    assert "→ e4000000-0000-4000-8000-000000000001" in run
    assert "Ada Lovelace (U012AB)" in terminate
    assert WF in terminate
    assert EX in terminate
    assert "req-1" in terminate
    assert "denied" in retry
    assert "node-2" in retry
    assert "Mallory (U999)" in retry
    assert "\x1b" not in result.stdout  # a name cannot send escapes to the terminal


def test_an_empty_audit_log_says_so(tmp_path: Path) -> None:
    env = {"AOM_BOT_STATE_DIR": str(tmp_path / "state")}
    table = audit(env=env)
    assert table.exit_code == 0, table.output
    assert table.stdout == ""
    assert "no audit entries" in table.stderr
    listed = audit("--json", "--since", "24h", env=env)
    assert listed.exit_code == 0
    assert json.loads(listed.stdout) == []


def test_reading_never_migrates_a_store_older_than_the_audit_log(tmp_path: Path) -> None:
    """A store at schema 2 (before actions) has no audit entries, and stays at 2: auditors
    may read with a role that cannot change the schema."""
    url = f"sqlite:///{tmp_path / 'old.db'}"

    async def old_store() -> int:
        store = await open_store(url)
        try:
            with pytest.MonkeyPatch.context() as patch:
                old = [m for m in load_migrations("sqlite") if m.version <= 2]
                patch.setattr("aom_bot.store.sqlite.load_migrations", lambda _backend: old)
                await store.migrate()
            return await store.schema_version()
        finally:
            await store.aclose()

    assert asyncio.run(old_store()) == 2
    result = audit("--json", env={"AOM_BOT_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []

    async def version() -> int:
        store = await open_store(url)
        try:
            return await store.schema_version()
        finally:
            await store.aclose()

    assert asyncio.run(version()) == 2


def test_a_store_that_never_answers_ends_the_command_with_exit_2(silent_port: int) -> None:
    env = {
        "AOM_BOT_DATABASE_URL": f"postgresql://bot:pw-secret@127.0.0.1:{silent_port}/aom",
        "AOM_BOT_COMMAND_TIMEOUT_SECONDS": "2",
    }
    result = audit(env=env)
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.split())
    assert "did not answer within" in said
    assert "pw-secret" not in result.output
