"""Fixtures for the simulator tests: a hand-moved clock, worlds, and clients that sign."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from datetime import UTC, datetime

import httpx
import pytest

from aom_bot.aom.signing import authorization_header, canonical_query, format_sdk_date
from aom_bot.simulator import SimulatorCredentials, World, build_world, create_simulator_app

T0 = 1_710_490_200.0  # 2024-03-15T08:10:00Z
AK = "TESTAK1234567890ABCD"
SK = "testSecretKey0123456789abcdefghijklmnopqr"
BASE = "http://aom.sim"


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SigningAuth(httpx.Auth):
    """Signs each request with aom_bot.aom.signing, like the bot's client does."""

    requires_request_body = True

    def __init__(
        self,
        ak: str,
        sk: str,
        clock: FakeClock,
        *,
        project_id: str | None = None,
        security_token: str | None = None,
    ) -> None:
        self.ak, self.sk, self.clock = ak, sk, clock
        self.project_id, self.security_token = project_id, security_token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-Sdk-Date"] = format_sdk_date(datetime.fromtimestamp(self.clock(), UTC))
        if self.project_id:
            request.headers["X-Project-Id"] = self.project_id
        if self.security_token:
            request.headers["X-Security-Token"] = self.security_token
        signed = {
            k: v
            for k, v in request.headers.items()
            if k.lower()
            in {"host", "content-type", "x-sdk-date", "x-project-id", "x-security-token"}
        }
        request.headers["Authorization"] = authorization_header(
            ak=self.ak,
            sk=self.sk,
            method=request.method,
            path=request.url.path,
            query=[(k, v) for k, v in request.url.params.multi_items()],
            headers=signed,
            body=request.content,
        )
        yield request


def signed_url(path: str, query: list[tuple[str, str]]) -> str:
    """A URL whose query is already in canonical form, so sent and signed forms agree."""
    return path + ("?" + canonical_query(query) if query else "")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def world(clock: FakeClock) -> World:
    return build_world(seed=7, clock=clock)


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    """An open-mode simulator client (no credentials configured)."""
    app = create_simulator_app(world, credentials=SimulatorCredentials())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


def cms(world: World, tail: str) -> str:
    """The path of an automation endpoint in the world's project."""
    return f"/v1/{world.project_id}/cms/{tail}"
