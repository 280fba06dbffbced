"""The state directory removed, or the store file replaced, under a running bot (item 5).

The store must notice (the file at the path vanished or is another file), say so loudly —
once — and report it as its health problem; a restart on an empty directory says that it
starts with an empty store.
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aom_bot.errors import StoreError
from aom_bot.store import NewFollow, open_store
from aom_bot.store.base import Store

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def _store_with_a_follow(db: Path) -> tuple[Store, int]:
    store = await open_store(f"sqlite:///{db}")
    await store.migrate()
    follow, _ = await store.start_follow(
        NewFollow(
            workflow_id="wf",
            execution_id="ex",
            channel_id="C1",
            started_by="U1",
            started_at=NOW,
            deadline=NOW + timedelta(hours=1),
        )
    )
    return store, follow.id


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_removed_state_directory_is_noticed_loudly_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """rm -rf of the state directory: healthy before, then a problem naming the file, logged
    as one error however often it is asked; a write fails saying why."""
    state = tmp_path / "state"
    state.mkdir()
    store, follow_id = await _store_with_a_follow(state / "bot.db")
    try:
        assert await store.health_problem() is None
        shutil.rmtree(state)
        problem = await store.health_problem()
        assert problem is not None
        assert "was deleted" in problem
        assert str(state / "bot.db") in problem
        assert await store.health_problem() == problem
        assert len([m for m in _errors(caplog) if "was deleted" in m]) == 1
        with pytest.raises(StoreError, match="was deleted"):
            await store.record_render(follow_id, "fp", NOW)
    finally:
        await store.aclose()


async def test_replaced_store_file_is_a_health_problem(tmp_path: Path) -> None:
    """The path now names another file (restored from elsewhere, re-created): a problem."""
    db = tmp_path / "bot.db"
    store, _ = await _store_with_a_follow(db)
    try:
        other = tmp_path / "other.db"
        other.write_bytes(db.read_bytes())
        other.replace(db)
        problem = await store.health_problem()
        assert problem is not None
        assert "replaced" in problem
    finally:
        await store.aclose()


async def test_restart_on_an_empty_state_directory_says_the_store_is_new(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """After the directory is gone, the next start creates an empty store — and says so."""
    state = tmp_path / "state"
    state.mkdir()
    store, _ = await _store_with_a_follow(state / "bot.db")
    await store.aclose()
    caplog.clear()
    reopened = await open_store(f"sqlite:///{state / 'bot.db'}")
    await reopened.aclose()
    assert not [r for r in caplog.records if "new, empty store" in r.getMessage()]
    shutil.rmtree(state)
    state.mkdir()
    fresh = await open_store(f"sqlite:///{state / 'bot.db'}")
    try:
        warned = [r for r in caplog.records if "new, empty store" in r.getMessage()]
        assert len(warned) == 1
        assert warned[0].levelno == logging.WARNING
        assert "state directory removed" in warned[0].getMessage()
    finally:
        await fresh.aclose()


async def test_healthz_of_a_running_bot_fails_once_its_state_directory_is_removed(
    tmp_path: Path,
) -> None:
    """The real `aom-bot run --mode http` process: /healthz 200, then 503 once the state
    directory is removed, and the log says which file is gone."""
    import httpx

    from tests.e2e.test_bot_process import (
        HandClock,
        bot_environment,
        bot_process,
        free_port,
        simulator,
    )
    from tests.fakes.slack_api import FakeSlack

    state = tmp_path / "state"
    state.mkdir()
    with simulator(HandClock()) as (aom_env, _):
        async with FakeSlack() as slack:
            env = bot_environment(aom_env, slack, state / "bot.db")
            port = free_port()
            async with bot_process(env, port) as process, httpx.AsyncClient() as client:
                url = f"http://127.0.0.1:{port}/healthz"
                assert (await client.get(url)).status_code == 200
                shutil.rmtree(state)
                assert (await client.get(url)).status_code == 503
                process.terminate()
                assert process.stderr is not None
                log = (await process.stderr.read()).decode()
                await process.wait()
    assert "was deleted" in log
    assert str(state / "bot.db") in log
