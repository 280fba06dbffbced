"""Fixtures for the Slack app tests: a running bot with its fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.slack.harness import Harness, running_bot


@pytest.fixture
async def bot() -> AsyncIterator[Harness]:
    """The bot in HTTP mode, FakeSlack, the AOM simulator and the real follow engine."""
    async with running_bot() as harness:
        yield harness
