"""The cap on AOM requests per second: one per AOM profile, on the bot's (simulated) clock."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from aom_bot.aom.client import AomClient, RetryPolicy, build_http_client
from aom_bot.aom.limiter import RequestLimiter
from aom_bot.clock import ManualClock
from aom_bot.config import Settings
from aom_bot.runtime import build_limiter

from .helpers import EX, PROJECT, WF, json_response


async def test_a_profile_never_sends_more_than_its_rate_per_second() -> None:
    """Twenty requests at once at 5/s, from two clients of one profile: 5 per simulated second."""
    clock = ManualClock()
    sent_at: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent_at.append(clock.monotonic())
        return json_response({"execution_id": EX, "status": "running"})

    limiter = RequestLimiter(rate=5, clock=clock)
    http = build_http_client(base_url="https://aom.example", auth=None,
                             transport=httpx.MockTransport(handler))  # fmt: skip
    commands = AomClient(http, project_id=PROJECT, limiter=limiter)
    polling_http = build_http_client(base_url="https://aom.example", auth=None,
                                     transport=httpx.MockTransport(handler))  # fmt: skip
    polling = AomClient(polling_http, project_id=PROJECT, retry=RetryPolicy(attempts=1),
                        limiter=limiter)  # fmt: skip  # the same profile: the same cap
    async with commands, polling:
        calls = [
            asyncio.create_task((commands if n % 2 else polling).get_execution(WF, EX))
            for n in range(20)
        ]
        await clock.run_for(10)
        await asyncio.gather(*calls)
    assert len(sent_at) == 20
    for second in range(4):
        assert sum(1 for t in sent_at if second <= t < second + 1) <= 5, sent_at
    assert 3.8 <= max(sent_at) < 4.0  # and no slower than the rate either


def test_the_setting_has_a_sane_default_and_refuses_nonsense(monkeypatch) -> None:
    monkeypatch.delenv("AOM_MAX_REQUESTS_PER_SECOND", raising=False)
    assert build_limiter(Settings(_env_file=None)).rate == 50  # type: ignore[call-arg]
    monkeypatch.setenv("AOM_MAX_REQUESTS_PER_SECOND", "7.5")
    assert build_limiter(Settings(_env_file=None)).rate == 7.5  # type: ignore[call-arg]
    monkeypatch.setenv("AOM_MAX_REQUESTS_PER_SECOND", "0")
    with pytest.raises(ValueError, match=r"aom_max_requests_per_second|AOM_MAX_REQUESTS"):
        Settings(_env_file=None)  # type: ignore[call-arg]
