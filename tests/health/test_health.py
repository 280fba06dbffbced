"""/healthz: 503 with a reason while a task is dead, the store fails, every AOM profile is
unreachable or the Slack connection is down; 200 again once it recovers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from aom_bot.aom.client import AomClient, RetryPolicy, build_http_client
from aom_bot.bot import aom_unreachable
from aom_bot.clock import ManualClock
from aom_bot.errors import AomNotFoundError, AomTransportError, StoreError
from aom_bot.health import Health
from aom_bot.slack.connection import SlackConnection
from aom_bot.slack.http import build_health_app
from aom_bot.slack.metrics import Metrics
from aom_bot.store import open_store
from aom_bot.store.monitor import StoreMonitor

PROJECT = "0123456789abcdef0123456789abcdef"
WF = "7c2e5a91d04b4f6e9a3b8c1d2e4f5a6b"
EX = "e3000000-0000-4000-8000-000000000003"


async def get(app_health: Health) -> httpx.Response:
    web = build_health_app(metrics=Metrics(), health=app_health.report)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://bot.test"
    ) as http:
        return await http.get("/healthz")


async def test_a_dead_task_is_reported_by_name() -> None:
    health = Health()
    alive = asyncio.create_task(asyncio.Event().wait())
    dead = asyncio.create_task(asyncio.sleep(0))
    health.watch_task("the follow engine", alive)
    health.watch_task("discovery", dead)
    await dead
    response = await get(health)
    alive.cancel()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "reasons": ["discovery stopped"]}


class Stuck:
    """A store whose every call hangs until released (a blackholed connection)."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.released = asyncio.Event()
        self.released.set()
        self.fail = False

    def __getattr__(self, name: str) -> object:
        target = getattr(self.inner, name)

        async def call(*args: object, **kwargs: object) -> object:
            await self.released.wait()
            if self.fail:
                raise StoreError("The SQLite store 'x' failed: database is locked")
            return await target(*args, **kwargs)

        return call


async def test_the_store_failing_or_hanging_is_reported_then_clears(tmp_path: Path) -> None:
    clock = ManualClock()
    real = await open_store(f"sqlite:///{tmp_path / 's.db'}")
    await real.migrate()
    flaky = Stuck(real)
    monitor = StoreMonitor(flaky, clock=clock, window=10, slow_after=5, probe_timeout=0.2)  # type: ignore[arg-type]
    health = Health()
    health.add_check(monitor.problem)
    try:
        assert (await get(health)).status_code == 200

        flaky.fail = True  # writes fail (a lock held elsewhere)
        with pytest.raises(StoreError):
            await monitor.store.active_follows()
        flaky.fail = False
        failing = await get(health)
        assert failing.status_code == 503
        assert failing.json()["reasons"] == ["the store is failing"]
        assert "locked" not in failing.text  # details stay in the log
        clock.advance(11)  # no error for a while: healthy again
        assert (await get(health)).status_code == 200

        flaky.released.clear()  # every call now hangs: the bounded probe finds out
        hung = await get(health)
        assert hung.status_code == 503
        assert hung.json()["reasons"] == ["the store did not answer within 0.2 s"]
        waiting = asyncio.create_task(monitor.store.active_follows())  # the engine's call
        clock.advance(6)
        assert (await get(health)).json()["reasons"] == ["the store has not answered for 6 s"]
        flaky.released.set()
        await waiting
        assert (await get(health)).status_code == 200
    finally:
        await real.aclose()


async def test_every_aom_profile_unreachable_is_reported_then_clears() -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.ConnectError("refused"),
        httpx.Response(404),
        httpx.Response(200, json={"execution_id": EX, "status": "running"}),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    http = build_http_client(base_url="https://aom.example", auth=None,
                             transport=httpx.MockTransport(handler))  # fmt: skip
    health = Health()
    async with AomClient(http, project_id=PROJECT, retry=RetryPolicy(attempts=1)) as aom:
        health.add_check(aom_unreachable([aom.reachability]))
        assert (await get(health)).status_code == 200
        with pytest.raises(AomTransportError):
            await aom.get_execution(WF, EX)
        down = await get(health)
        assert down.status_code == 503
        assert down.json()["reasons"] == ["every AOM profile is unreachable"]
        with pytest.raises(AomNotFoundError):  # an answer, even a 404, means AOM is there
            await aom.get_execution(WF, EX)
        assert (await get(health)).status_code == 200


async def test_the_slack_connection_down_is_reported() -> None:
    class Client:
        connected = False

        async def is_connected(self) -> bool:
            return self.connected

    connection = SlackConnection()
    health = Health()
    health.add_check(connection.problem)
    assert (await get(health)).json()["reasons"] == ["the Slack connection is not open yet"]
    client = Client()
    connection.attach(client)
    assert (await get(health)).json()["reasons"] == ["the Slack connection is down"]
    client.connected = True
    assert (await get(health)).status_code == 200


async def test_metrics_are_served_beside_healthz() -> None:
    web = build_health_app(metrics=Metrics(), health=Health().report)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://bot.test"
    ) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert "# TYPE" in response.text
