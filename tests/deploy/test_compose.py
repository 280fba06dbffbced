"""deploy/docker-compose.yml: valid for the Compose Specification and wired as the demo needs.

There is no Docker here, so the file is checked against the Compose Specification's JSON schema
(vendored by check-jsonschema, offline), and its services are read as Compose would read them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from aom_bot.simulator.demo import build_demo, environment_lines
from tests.deploy.helpers import (
    COMPOSE_FILE,
    credential_names,
    image_entrypoint,
    option,
    parse_cli,
    setting_names,
    words,
)


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return data


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def _bots() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in _services().items() if name.startswith("bot-")}


def _argv(service: dict[str, Any]) -> list[str]:
    """What the container runs: its entrypoint (the image's unless overridden) and command."""
    entrypoint = words(service["entrypoint"]) if "entrypoint" in service else image_entrypoint()
    return entrypoint + words(service.get("command", []))


def _schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", path],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_compose_file_passes_the_compose_specification_schema() -> None:
    """The file is valid Compose (the schema `docker compose config` enforces)."""
    result = _schema_check(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_same_schema_check_rejects_a_broken_compose_file(tmp_path: Path) -> None:
    """The schema check is real: a misspelt service key fails it."""
    broken = tmp_path / "docker-compose.yml"
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    broken.write_text(text.replace("  postgres:\n    image:", "  postgres:\n    imgae:"))
    assert broken.read_text() != text
    result = _schema_check(broken)
    assert result.returncode != 0
    assert "imgae" in result.stdout + result.stderr


def test_postgresql_the_simulator_and_two_bot_replicas() -> None:
    """The demo's services: one database, one simulator, two replicas of the bot."""
    assert set(_services()) == {"postgres", "simulator", "bot-1", "bot-2"}


def test_both_replicas_share_the_compose_database() -> None:
    """The two replicas use the same PostgreSQL database, the one the postgres service creates."""
    postgres = _services()["postgres"]["environment"]
    urls = {bot["environment"]["AOM_BOT_DATABASE_URL"] for bot in _bots().values()}
    assert len(urls) == 1
    url = urlsplit(urls.pop())
    assert url.scheme == "postgresql"
    assert url.hostname == "postgres"
    assert (url.username, url.password) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
    )
    assert url.path == "/" + postgres["POSTGRES_DB"]


def test_replicas_start_once_the_database_and_simulator_are_healthy() -> None:
    """No replica races the database at start; a killed replica is restarted by Docker."""
    for name, bot in _bots().items():
        assert bot["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert bot["depends_on"]["simulator"]["condition"] == "service_healthy", name
        assert bot["restart"] == "unless-stopped", name
    for name, service in _services().items():
        assert service["healthcheck"]["test"], name


def test_replica_health_checks_ask_healthz_where_the_bot_serves_it() -> None:
    """Each replica runs Socket Mode with /healthz on 8080 (the --health-port default)."""
    for name, bot in _bots().items():
        argv = _argv(bot)
        params = parse_cli(argv)
        assert params["mode"].value == "socket", name
        test = " ".join(bot["healthcheck"]["test"])
        assert "http://127.0.0.1:8080/healthz" in test, name
        assert option(argv, "--health-port") in (None, "8080"), name


def test_the_bots_use_the_simulators_demo_credentials() -> None:
    """The AK/SK, project and endpoint the replicas get are those the simulator serves."""
    simulator = _argv(_services()["simulator"])
    params = parse_cli(simulator)
    demo = build_demo(seed=params["seed"])
    expected = dict(
        line.split("=", 1) for line in environment_lines(demo, f"http://simulator:{params['port']}")
    )
    assert params["host"] == "0.0.0.0"  # noqa: S104 - reachable from the other containers
    for name, bot in _bots().items():
        env = bot["environment"]
        assert {k: env.get(k) for k in expected} == expected, name


def test_slack_tokens_come_from_the_person_never_the_file() -> None:
    """Slack credentials are required from the environment or deploy/.env, never written here."""
    for name, bot in _bots().items():
        env = bot["environment"]
        for key in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
            assert env[key].startswith("${" + key + ":?"), (name, key)
        assert set(env) <= setting_names(), name
        slack = {k for k in env if k.startswith("SLACK_")} & credential_names()
        assert slack == {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"}, name


@pytest.mark.parametrize("port_owner", ["bot-1", "bot-2"])
def test_each_replica_publishes_its_health_port_on_loopback_only(port_owner: str) -> None:
    """A person can look at each replica's /healthz and /metrics; nothing else reaches them."""
    published = _services()[port_owner]["ports"]
    assert len(published) == 1
    host, _, container = str(published[0]).rpartition(":")
    assert host.startswith("127.0.0.1:")
    assert container == "8080"
