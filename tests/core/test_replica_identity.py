"""Each process names itself uniquely unless ``AOM_BOT_REPLICA_ID`` pins the name."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from aom_bot.bot import replica_owner
from aom_bot.config import Settings

PRINT_OWNER = "from aom_bot.bot import replica_owner; print(replica_owner())"


def test_two_processes_on_one_host_get_different_names() -> None:
    """Same host name, same environment: the two replicas must not share leases."""
    env = {"HOSTNAME": "same-host", "PATH": "/usr/bin:/bin"}
    names = {
        subprocess.run(
            [sys.executable, "-c", PRINT_OWNER], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert len(names) == 2
    assert all(n.startswith("same-host:") for n in names)


def test_one_process_keeps_one_name() -> None:
    """Engine, discovery and claims of one process carry the same owner."""
    assert replica_owner() == replica_owner()


def test_a_pinned_id_is_used_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AOM_BOT_REPLICA_ID", "aom-bot-0")
    assert replica_owner(Settings(_env_file=None)) == "aom-bot-0"  # type: ignore[call-arg]


@pytest.mark.parametrize("bad", ["", "has space", "-leading", "x" * 129])
def test_a_bad_replica_id_is_refused(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("AOM_BOT_REPLICA_ID", bad)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]
