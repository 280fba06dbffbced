"""`aom-bot check`: configuration, Slack's auth.test and one AOM request, each explained."""

from __future__ import annotations

import httpx

from aom_bot.aom.client import AomClient, RetryPolicy, build_http_client
from aom_bot.aom.reader import AomReader
from aom_bot.config import Settings
from aom_bot.simulator import SimulatorCredentials, build_world, create_simulator_app
from aom_bot.simulator.faults import Faults
from aom_bot.slack.check import CheckResult, run_checks
from tests.fakes.slack_api import FakeSlack

SIGNING = "s3cr3t-signing-value"


def _settings(slack: FakeSlack, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "slack_bot_token": slack.bot_token,
        "slack_signing_secret": SIGNING,
        "slack_api_url": slack.base_url,
        "cloud_sdk_ak": "AKEXAMPLE",
        "cloud_sdk_sk": "sk-very-secret",
        "aom_project_id": "0123456789abcdef0123456789abcdef",
        "aom_region": "cn-north-4",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def _aom(faults: Faults | None = None) -> AomReader:
    world = build_world(seed=1, clock=lambda: 1_710_000_000.0)
    sim = create_simulator_app(world, credentials=SimulatorCredentials(), faults=faults)
    http = build_http_client(
        base_url="http://aom.test", auth=None, transport=httpx.ASGITransport(app=sim)
    )
    return AomClient(http, project_id=world.project_id, retry=RetryPolicy(attempts=1))


def _by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def _no_secret_in(results: list[CheckResult]) -> bool:
    text = "\n".join(r.line() for r in results)
    return all(s not in text for s in (SIGNING, "sk-very-secret", "xoxb-test", "xapp-test"))


async def test_everything_ok_in_http_mode() -> None:
    """A complete configuration passes every check, including auth.test and the AOM call."""
    async with FakeSlack() as slack:
        results = await run_checks(_settings(slack), make_aom=_aom)
        assert all(r.ok for r in results), [r.line() for r in results]
        checks = _by_name(results)
        assert "Slack signing secret" in checks
        assert checks["Slack auth.test"].detail == (
            f"connected to workspace {slack.identity.team} as @aom-exec."
        )
        assert "AOM request" in checks
        assert slack.calls_to("auth.test")
        assert _no_secret_in(results)


async def test_socket_mode_checks_the_app_token() -> None:
    """With an app token, Socket Mode is checked (apps.connections.open) instead of a secret."""
    async with FakeSlack() as slack:
        settings = _settings(slack, slack_app_token=slack.app_token, slack_signing_secret=None)
        checks = _by_name(await run_checks(settings, make_aom=_aom))
        assert checks["Slack app token"].ok
        assert checks["Slack Socket Mode"].ok
        assert "Slack signing secret" not in checks


async def test_missing_and_wrong_tokens_say_what_to_do() -> None:
    """Missing secret, a user token instead of a bot token: problems with a hint each."""
    async with FakeSlack() as slack:
        checks = _by_name(
            await run_checks(
                _settings(slack, slack_bot_token="xoxp-user", slack_signing_secret=None)
            )
        )
        assert not checks["Slack bot token"].ok
        assert "Bot User OAuth Token" in checks["Slack bot token"].hint
        assert not checks["Slack signing secret"].ok
        assert "Slack auth.test" not in checks  # not called with a token known to be wrong
        assert not slack.calls_to("auth.test")


async def test_refused_token_and_bad_app_token() -> None:
    """A token Slack refuses fails auth.test with its code and a hint; bad xapp is reported."""
    async with FakeSlack() as slack:
        settings = _settings(slack, slack_bot_token="xoxb-revoked", slack_app_token="nope")
        checks = _by_name(await run_checks(settings))
        assert not checks["Slack auth.test"].ok
        assert "invalid_auth" in checks["Slack auth.test"].detail
        assert "SLACK_BOT_TOKEN" in checks["Slack auth.test"].hint
        assert not checks["Slack app token"].ok


async def test_unreachable_slack() -> None:
    """Slack's Web API not reachable: a clear problem, not an exception."""
    async with FakeSlack() as slack:
        settings = _settings(slack, slack_api_url="http://127.0.0.1:9/api")
    checks = _by_name(await run_checks(settings))
    assert not checks["Slack auth.test"].ok
    assert "could not be reached" in checks["Slack auth.test"].detail


async def test_aom_problems_are_reported() -> None:
    """Missing AOM settings and a refused AOM request are failed checks with their hints."""
    async with FakeSlack() as slack:
        checks = _by_name(await run_checks(_settings(slack, cloud_sdk_sk=None), make_aom=_aom))
        assert not checks["AOM credentials"].ok
        assert "CLOUD_SDK_SK" in checks["AOM credentials"].detail
        assert "AOM request" not in checks

        refused = _by_name(
            await run_checks(_settings(slack), make_aom=lambda: _aom(Faults(upcoming=[401])))
        )
        assert not refused["AOM request"].ok
        assert "CLOUD_SDK_AK" in refused["AOM request"].detail
        assert "✗ AOM request" in refused["AOM request"].line()


async def test_bad_console_template() -> None:
    """An unusable AOM_CONSOLE_URL template is reported before any link is rendered."""
    async with FakeSlack() as slack:
        settings = _settings(slack, aom_console_url="https://c.example/{nope}")
        checks = _by_name(await run_checks(settings))
        assert not checks["AOM console links"].ok
        assert "unknown placeholder" in checks["AOM console links"].detail
