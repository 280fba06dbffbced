"""IAM token authentication: fetch, cache, renew ahead of expiry, refresh once on 401."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta

import httpx
import pytest

from aom_bot.aom.auth import TokenAuth
from aom_bot.aom.client import RetryPolicy, build_http_client
from aom_bot.aom.tokens import AgencyIdentity, IamTokenProvider, PasswordIdentity, StaticToken
from aom_bot.errors import AomAuthError, AomResponseError, AomServerError

from .helpers import EX, FIXED_NOW, PROJECT, WF, FakeAom, json_response, make_client

IAM_URL = "https://iam.cn-north-4.myhuaweicloud.com"
PASSWORD = "pa55-WORD-do-not-leak"
IDENTITY = PasswordIdentity(user="bot", password=PASSWORD, domain="acme", project_id=PROJECT)


class Clock:
    def __init__(self) -> None:
        self.now = FIXED_NOW

    def __call__(self) -> datetime:
        return self.now


class FakeIam:
    """Issues tok-1, tok-2, ... valid for ``lifetime``; yields to the loop to expose races."""

    def __init__(self, clock: Clock, lifetime: timedelta = timedelta(hours=24)) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.requests: list[httpx.Request] = []
        self.failures: list[httpx.Response] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for _ in range(5):
            await asyncio.sleep(0)
        if self.failures:
            return self.failures.pop(0)
        expires = (self.clock() + self.lifetime).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return httpx.Response(
            201,
            headers={"X-Subject-Token": f"tok-{len(self.requests)}"},
            content=json.dumps({"token": {"expires_at": expires, "issued_at": "x"}}).encode(),
        )


def provider_for(
    iam: Callable[[httpx.Request], Coroutine[None, None, httpx.Response]],
    identity: PasswordIdentity | AgencyIdentity = IDENTITY,
    clock: Clock | None = None,
) -> IamTokenProvider:
    http = build_http_client(base_url=IAM_URL, auth=None, transport=httpx.MockTransport(iam))
    return IamTokenProvider(http, identity, clock=clock or Clock())


async def test_password_token_request_shape() -> None:
    """POST /v3/auth/tokens?nocatalog=true with the documented project-scoped password body."""
    clock = Clock()
    iam = FakeIam(clock)
    provider = provider_for(iam, clock=clock)
    assert await provider.token() == "tok-1"
    sent = iam.requests[0]
    assert sent.method == "POST"
    assert str(sent.url) == f"{IAM_URL}/v3/auth/tokens?nocatalog=true"
    assert sent.headers["Content-Type"] == "application/json;charset=utf8"
    assert json.loads(sent.content) == {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "bot", "password": PASSWORD, "domain": {"name": "acme"}}
                },
            },
            "scope": {"project": {"id": PROJECT}},
        }
    }
    await provider.aclose()


async def test_scope_by_region_name() -> None:
    """Without a project ID the token is scoped by the region's project name."""
    clock = Clock()
    iam = FakeIam(clock)
    identity = PasswordIdentity(user="bot", password="p", domain="acme", project_name="cn-north-4")
    await provider_for(iam, identity, clock).token()
    assert json.loads(iam.requests[0].content)["auth"]["scope"] == {
        "project": {"name": "cn-north-4"}
    }


def test_identity_needs_a_scope() -> None:
    """An identity with no project fails when the provider is built, not at the first request."""
    identity = PasswordIdentity(user="bot", password="p", domain="acme")
    with pytest.raises(ValueError, match="project"):
        provider_for(FakeIam(Clock()), identity)


async def test_token_is_cached_until_an_hour_before_expiry() -> None:
    """One IAM call serves every request until less than an hour is left, then one more."""
    clock = Clock()
    iam = FakeIam(clock)
    provider = provider_for(iam, clock=clock)
    assert await provider.token() == "tok-1"
    clock.now += timedelta(hours=22, minutes=59)
    assert await provider.token() == "tok-1"
    clock.now += timedelta(minutes=2)
    assert await provider.token() == "tok-2"
    assert len(iam.requests) == 2


async def test_missing_expiry_assumes_the_documented_24_hours() -> None:
    """A body without expires_at is treated as a 24 h token."""

    async def iam(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, headers={"X-Subject-Token": "t"}, content=b"{}")

    clock = Clock()
    provider = provider_for(iam, clock=clock)
    await provider.token()
    clock.now += timedelta(hours=22)
    assert provider._fresh() is not None
    clock.now += timedelta(hours=2)
    assert provider._fresh() is None


async def test_concurrent_callers_share_one_iam_call() -> None:
    """Fifty concurrent requests for a token cause exactly one IAM request (no stampede)."""
    clock = Clock()
    iam = FakeIam(clock)
    provider = provider_for(iam, clock=clock)
    tokens = await asyncio.gather(*(provider.token() for _ in range(50)))
    assert set(tokens) == {"tok-1"}
    assert len(iam.requests) == 1


async def test_short_lived_token_is_not_refetched_in_a_loop() -> None:
    """A token IAM says expires within the hour (skewed clock) is still reused for a while."""
    clock = Clock()
    iam = FakeIam(clock, lifetime=timedelta(minutes=10))
    provider = provider_for(iam, clock=clock)
    for _ in range(5):
        await provider.token()
    assert len(iam.requests) == 1


async def test_aom_401_refreshes_the_token_once() -> None:
    """A 401 from AOM invalidates the token, fetches a new one and resends the request once."""
    clock = Clock()
    iam = FakeIam(clock)
    aom_fake = FakeAom(httpx.Response(401), json_response({"execution_id": EX}))
    async with make_client(aom_fake, auth=TokenAuth(provider_for(iam, clock=clock))) as aom:
        detail = await aom.get_execution(WF, EX)
    assert detail.execution_id == EX
    assert [h["X-Auth-Token"] for h in aom_fake.headers_seen] == ["tok-1", "tok-2"]
    assert len(iam.requests) == 2


async def test_aom_401_twice_surfaces_auth_error() -> None:
    """If the fresh token is refused too, the caller gets AomAuthError after two requests."""
    clock = Clock()
    iam = FakeIam(clock)
    aom_fake = FakeAom(httpx.Response(401))
    async with make_client(aom_fake, auth=TokenAuth(provider_for(iam, clock=clock))) as aom:
        with pytest.raises(AomAuthError):
            await aom.get_execution(WF, EX)
    assert aom_fake.count == 2
    assert len(iam.requests) == 2


async def test_token_auth_sends_no_signature_headers() -> None:
    """Token requests carry X-Auth-Token and Content-Type, and nothing of AK/SK signing."""
    aom_fake = FakeAom(json_response({}))
    async with make_client(aom_fake, auth=TokenAuth(StaticToken("static-tok"))) as aom:
        await aom.get_execution(WF, EX)
    sent = aom_fake.last
    assert sent.headers["X-Auth-Token"] == "static-tok"
    assert sent.headers["Content-Type"] == "application/json"
    assert "Authorization" not in sent.headers
    assert "X-Sdk-Date" not in sent.headers


async def test_static_token_401_is_not_resent() -> None:
    """A fixed token cannot be renewed: one 401 and the caller gets AomAuthError."""
    aom_fake = FakeAom(httpx.Response(401))
    async with make_client(aom_fake, auth=TokenAuth(StaticToken("static-tok"))) as aom:
        with pytest.raises(AomAuthError):
            await aom.get_execution(WF, EX)
    assert aom_fake.count == 1


async def test_iam_refusal_is_an_auth_error_without_the_password() -> None:
    """IAM's 401 becomes AomAuthError with IAM's message, and the password appears nowhere."""
    clock = Clock()
    iam = FakeIam(clock)
    iam.failures.append(
        json_response(
            {"error": {"code": 401, "message": "The username or password is wrong."}}, 401
        )
    )
    with pytest.raises(AomAuthError) as caught:
        await provider_for(iam, clock=clock).token()
    error = caught.value
    assert "IAM refused" in str(error)
    assert error.aom_message == "The username or password is wrong."
    for text in (str(error), repr(error), error.user_message()):
        assert PASSWORD not in text
    assert len(iam.requests) == 1


async def test_iam_5xx_is_retried() -> None:
    """IAM's transient failures are retried like AOM's."""
    clock = Clock()
    iam = FakeIam(clock)
    iam.failures += [httpx.Response(503), httpx.Response(502)]
    assert await provider_for(iam, clock=clock).token() == "tok-3"


async def test_iam_5xx_budget() -> None:
    """A failing IAM is given up on after the policy's attempts."""
    clock = Clock()
    iam = FakeIam(clock)
    iam.failures += [httpx.Response(503)] * 10
    http = build_http_client(base_url=IAM_URL, auth=None, transport=httpx.MockTransport(iam))
    provider = IamTokenProvider(http, IDENTITY, clock=clock, retry=RetryPolicy(attempts=2))
    with pytest.raises(AomServerError, match="IAM failed"):
        await provider.token()
    assert len(iam.requests) == 2


async def test_iam_without_subject_token_header() -> None:
    """A 201 without X-Subject-Token is a response error, not an empty token."""

    async def iam(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, content=b"{}")

    with pytest.raises(AomResponseError, match="X-Subject-Token"):
        await provider_for(iam).token()


async def test_agency_token_uses_the_callers_token() -> None:
    """Assume-role sends the delegated user's token and the documented assume_role body."""
    clock = Clock()
    iam = FakeIam(clock)
    identity = AgencyIdentity(
        agency_name="ops-agency",
        domain_name="customer",
        project_id=PROJECT,
        source=StaticToken("user-token"),
    )
    assert await provider_for(iam, identity, clock).token() == "tok-1"
    sent = iam.requests[0]
    assert sent.headers["X-Auth-Token"] == "user-token"
    assert json.loads(sent.content)["auth"] == {
        "identity": {
            "methods": ["assume_role"],
            "assume_role": {"agency_name": "ops-agency", "domain_name": "customer"},
        },
        "scope": {"project": {"id": PROJECT}},
    }


async def test_agency_refreshes_a_refused_caller_token_once() -> None:
    """If IAM refuses the caller's token, a fresh caller token is fetched and tried once."""
    clock = Clock()
    user_iam = FakeIam(clock)
    user_tokens = provider_for(user_iam, clock=clock)
    iam = FakeIam(clock)
    iam.failures.append(httpx.Response(401))
    identity = AgencyIdentity(
        agency_name="a", domain_id="d1", project_id=PROJECT, source=user_tokens
    )
    assert await provider_for(iam, identity, clock).token() == "tok-2"
    assert [r.headers["X-Auth-Token"] for r in iam.requests] == ["tok-1", "tok-2"]


def test_reprs_hide_secrets() -> None:
    """Identities, providers, static tokens and TokenAuth never show a password or token."""
    provider = provider_for(FakeIam(Clock()))
    texts = [repr(IDENTITY), str(IDENTITY), repr(provider), repr(StaticToken("tok-SECRET"))]
    texts.append(repr(TokenAuth(StaticToken("tok-SECRET"))))
    for text in texts:
        assert PASSWORD not in text
        assert "tok-SECRET" not in text


async def test_token_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Issuing a token logs an event with its expiry, never the token itself."""
    caplog.set_level("DEBUG", logger="aom_bot.aom")
    clock = Clock()
    await provider_for(FakeIam(clock), clock=clock).token()
    assert any(r.__dict__.get("event") == "aom.iam.token_issued" for r in caplog.records)
    assert all("tok-1" not in r.getMessage() for r in caplog.records)
