"""Fault injection (rates, 429, garbled JSON, drops, HTML 502, latency) and request counting."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from aom_bot.simulator import (
    FaultKind,
    Faults,
    RequestCounter,
    SimulatorCredentials,
    World,
    build_world,
    create_simulator_app,
)

from .conftest import BASE, FakeClock, cms


class Sleeps:
    """A fake sleep that records what it was asked to wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Rig:
    def __init__(self, world: World, faults: Faults, requests: RequestCounter, sleeps: Sleeps,
                 client: httpx.AsyncClient) -> None:  # fmt: skip
        self.world, self.faults, self.requests = world, faults, requests
        self.sleeps, self.client = sleeps, client

    def status_path(self, index: int = 0) -> str:
        wf = self.world.workflow_ids()[index]
        ex = self.world.execution_ids(wf)[0]
        return cms(self.world, f"workflow/{wf}/executions/{ex}/status")


@pytest.fixture
async def rig(clock: FakeClock) -> AsyncIterator[Rig]:
    world = build_world(seed=7, clock=clock)
    faults, requests, sleeps = Faults(), RequestCounter(), Sleeps()
    app = create_simulator_app(world, credentials=SimulatorCredentials(), faults=faults,
                               requests=requests, sleep=sleeps)  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield Rig(world, faults, requests, sleeps, c)


async def statuses(rig: Rig, n: int, path: str | None = None) -> list[int]:
    return [(await rig.client.get(path or rig.status_path())).status_code for _ in range(n)]


async def test_error_rate_is_roughly_honoured_and_reproducible(clock: FakeClock) -> None:
    """{503: 0.3} fails about 30% of requests, in the same order for the same seed."""
    runs = []
    for _ in range(2):
        world = build_world(seed=7, clock=clock)
        app = create_simulator_app(world, credentials=SimulatorCredentials(),
                                   faults=Faults(error_rates={503: 0.3}))  # fmt: skip
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
            wf = world.workflow_ids()[0]
            path = cms(world, f"workflow/{wf}/executions/{world.execution_ids(wf)[0]}/status")
            runs.append([(await c.get(path)).status_code for _ in range(300)])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 503}
    assert 60 <= runs[0].count(503) <= 120


async def test_faults_change_at_runtime(rig: Rig) -> None:
    """A test can switch faults on and off between requests."""
    assert await statuses(rig, 3) == [200, 200, 200]
    rig.faults.error_rates[500] = 1.0
    r = await rig.client.get(rig.status_path())
    assert r.status_code == 500
    assert r.json() == {"error_code": "AOM.31001405", "error_message": "internal server error.",
                        "http_code": "500"}  # fmt: skip
    rig.faults.clear()
    assert await statuses(rig, 2) == [200, 200]


async def test_429_carries_retry_after(rig: Rig) -> None:
    """Throttling answers 429 with Retry-After and the gateway's APIGW.0308 body."""
    rig.faults.error_rates[429] = 1.0
    rig.faults.retry_after_seconds = 7
    r = await rig.client.get(rig.status_path())
    assert r.status_code == 429
    assert r.headers["retry-after"] == "7"
    assert r.json()["error_code"] == "APIGW.0308"


async def test_malformed_json_is_a_200_that_does_not_parse(rig: Rig) -> None:
    """The garbled body is cut short, so a JSON parser fails on it."""
    rig.faults.upcoming.append(FaultKind.MALFORMED_JSON)
    r = await rig.client.get(rig.status_path())
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert int(r.headers["content-length"]) == len(r.content) > 0
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)


async def test_dropped_connection_is_a_transport_error(rig: Rig) -> None:
    """A drop surfaces in httpx as a transport error, not as a response."""
    rig.faults.drop_rate = 1.0
    with pytest.raises(httpx.TransportError):
        await rig.client.get(rig.status_path())
    rig.faults.drop_rate = 0.0
    assert await statuses(rig, 1) == [200]


async def test_html_502_is_not_json(rig: Rig) -> None:
    """The HTML 502 page is what a proxy in front of AOM would send."""
    rig.faults.html_502_rate = 1.0
    r = await rig.client.get(rig.status_path())
    assert r.status_code == 502
    assert r.headers["content-type"].startswith("text/html")
    assert b"502 Bad Gateway" in r.content


async def test_latency_is_awaited_through_the_injected_sleep(rig: Rig) -> None:
    """Added latency goes through the injected sleep, so tests stay instant."""
    rig.faults.latency_seconds = 2.5
    assert await statuses(rig, 2) == [200, 200]
    assert rig.sleeps.calls == [2.5, 2.5]


async def test_upcoming_faults_are_used_in_order_and_can_be_scoped(rig: Rig) -> None:
    """upcoming forces the next faults; path_contains limits them to matching paths."""
    rig.faults.upcoming.extend([503, None, 504])
    rig.faults.path_contains = "/status"
    listing = cms(rig.world, "workflow-list")
    assert (await rig.client.post(listing, json={})).status_code == 200
    assert await statuses(rig, 4) == [503, 200, 504, 200]


async def test_iam_is_never_faulted(rig: Rig) -> None:
    """The token endpoint stays reachable whatever faults are on."""
    rig.faults.error_rates[503] = 1.0
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "u", "password": "p", "domain": {"name": "d"}}}}}}  # fmt: skip
    assert (await rig.client.post("/v3/auth/tokens", json=body)).status_code == 201


async def test_requests_are_counted_per_endpoint_and_execution(rig: Rig, clock: FakeClock) -> None:
    """The counter tells how often each endpoint and each execution was asked, faults included."""
    first, second = rig.status_path(0), rig.status_path(1)
    rig.faults.upcoming.append(503)
    await statuses(rig, 3, first)
    clock.advance(5)
    await statuses(rig, 1, second)
    await rig.client.post(cms(rig.world, "workflow-list"), json={})
    ex_first = first.split("/")[-2]
    assert rig.requests.count("status") == 4
    assert rig.requests.count("status", ex_first) == 3
    assert rig.requests.by_execution[ex_first] == 3
    assert rig.requests.by_endpoint["workflow-list"] == 1
    assert rig.requests.total == 5
    assert [r.at_ms for r in rig.requests.records][-2] - rig.requests.records[0].at_ms == 5000
    rig.requests.reset()
    assert rig.requests.total == 0
