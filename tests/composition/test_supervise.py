"""The bot's long-running tasks are supervised: one ending stops the whole bot, loudly."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest

from aom_bot.composition import Bot, TaskEnded, supervise
from aom_bot.errors import ConfigError
from tests.slack.harness import running_bot


class _Discovery:
    """Discovery that ends at once: returning, or raising ``error``."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.stopped = False

    async def run(self) -> None:
        await asyncio.sleep(0)
        if self.error is not None:
            raise self.error

    async def stop(self) -> None:
        self.stopped = True


def _with(bot: Bot, discovery: _Discovery) -> Bot:
    return dataclasses.replace(bot, discovery=discovery)  # type: ignore[arg-type]


async def test_a_task_that_returns_stops_the_bot_with_an_error_and_says_which(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running_bot() as h:
        discovery = _Discovery()
        bot = _with(h.bot, discovery)
        with caplog.at_level(logging.ERROR), pytest.raises(TaskEnded, match="discovery"):
            async with asyncio.timeout(10):
                await supervise(bot, asyncio.Event())
        assert "bot.task_failed part=discovery" in caplog.text
        assert discovery.stopped  # the other loops were stopped, none left running
        report = await bot.health.report()
        assert not report.healthy


async def test_a_failing_task_raises_its_own_error_not_a_group() -> None:
    """The CLI maps the error to its exit code (a refused app token exits 2)."""
    async with running_bot() as h:
        bot = _with(h.bot, _Discovery(ConfigError("Slack refused SLACK_APP_TOKEN.")))
        with pytest.raises(ConfigError, match="refused"):
            async with asyncio.timeout(10):
                await supervise(bot, asyncio.Event())


async def test_a_stop_signal_ends_every_task_without_error() -> None:
    async with running_bot() as h:
        stop = asyncio.Event()
        never: asyncio.Event = asyncio.Event()
        supervised = asyncio.create_task(supervise(h.bot, stop, more={"socket": never.wait()}))
        await asyncio.sleep(0)
        stop.set()
        async with asyncio.timeout(10):
            await supervised  # returns: nothing raised, nothing left running
