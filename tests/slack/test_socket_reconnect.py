"""Socket Mode start-up and reconnects: a refused token stops at once, a lost connection is
re-opened with bounded back-off, and when that keeps failing the bot stops (exit non-zero)."""

from __future__ import annotations

import asyncio

import pytest

from aom_bot.errors import ConfigError, SlackDeliveryError
from aom_bot.slack.socket import Reconnect, run_socket_mode
from tests.slack.harness import Harness


class RecordedSleep:
    """Simulated time for the reconnect loop: records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)  # let the client's own tasks run; no real waiting


async def test_a_refused_app_token_stops_at_start_without_retrying(bot: Harness) -> None:
    """invalid_auth from apps.connections.open is a configuration error, raised once."""
    sleep = RecordedSleep()
    async with asyncio.timeout(10):
        with pytest.raises(ConfigError, match=r"Slack refused SLACK_APP_TOKEN \(invalid_auth\)"):
            await run_socket_mode(bot.bolt, app_token="xapp-not-this-one", sleep=sleep)
    assert len(bot.slack.calls_to("apps.connections.open")) == 1
    assert sleep.waits == []


async def test_a_lost_connection_is_retried_with_backoff_then_gives_up(bot: Harness) -> None:
    """Slack goes away after the start: a few reconnects, each waiting longer, then an error."""
    sleep = RecordedSleep()
    policy = Reconnect(attempts=4, initial=1.0, maximum=3.0, check_every=5.0)
    task = asyncio.create_task(
        run_socket_mode(bot.bolt, app_token=bot.slack.app_token, policy=policy, sleep=sleep)
    )
    await bot.slack.socket_mode.wait_connected()
    bot.slack.fail_next("apps.connections.open", "internal_error", times=100)
    await bot.slack.socket_mode.close()
    async with asyncio.timeout(20):
        with pytest.raises(SlackDeliveryError, match="4 reconnects failed") as caught:
            await task
    assert "supervisor restarts" in caught.value.user_message()
    backoff = [w for w in sleep.waits if w != policy.check_every]
    assert backoff == [1.0, 2.0, 3.0]  # doubling, capped at the maximum
    assert len(bot.slack.calls_to("apps.connections.open")) == 1 + 4
    assert "internal_error" in caught.value.user_message()


async def test_a_lost_connection_comes_back_when_slack_does(bot: Harness) -> None:
    """One failed reconnect, then Slack answers again: the bot is connected and keeps serving."""
    sleep = RecordedSleep()
    policy = Reconnect(attempts=4, initial=1.0, check_every=5.0)
    task = asyncio.create_task(
        run_socket_mode(bot.bolt, app_token=bot.slack.app_token, policy=policy, sleep=sleep)
    )
    try:
        await bot.slack.socket_mode.wait_connected()
        bot.slack.fail_next("apps.connections.open", "internal_error", times=1)
        await bot.slack.socket_mode.close()
        await bot.slack.socket_mode.wait_connected(count=2, timeout=15)
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert 1.0 in sleep.waits
