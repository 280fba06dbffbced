"""Retries: transient failures are retried within the policy's budget; writes that could act twice
are not. stamina's testing mode (conftest) removes the waits, so attempts are counted, not timed."""

from __future__ import annotations

import json

import httpx
import pytest

from aom_bot.aom.client import NodeAction, RetryPolicy
from aom_bot.errors import (
    AomAuthError,
    AomBadRequestError,
    AomNotFoundError,
    AomResponseError,
    AomServerError,
    AomThrottledError,
    AomTransportError,
)

from .helpers import EX, WF, FakeAom, json_response, make_client

OK = json_response({"execution_id": EX, "status": "success"})


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500),
        httpx.Response(502, content=b"<html>bad gateway</html>"),
        httpx.Response(503),
        httpx.Response(504),
        httpx.Response(429),
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("dropped"),
    ],
)
async def test_transient_failures_are_retried(failure: httpx.Response | Exception) -> None:
    """Two transient failures, then success: the caller sees the success after three attempts."""
    fake = FakeAom(failure, failure, OK)
    async with make_client(fake) as aom:
        detail = await aom.get_execution(WF, EX)
    assert detail.execution_id == EX
    assert fake.count == 3


async def test_the_attempt_budget_is_bounded() -> None:
    """A server that keeps failing is tried exactly ``attempts`` times, then the error surfaces."""
    fake = FakeAom(httpx.Response(503, headers={"X-Request-Id": "last"}))
    async with make_client(fake, retry=RetryPolicy(attempts=3)) as aom:
        with pytest.raises(AomServerError) as caught:
            await aom.get_execution(WF, EX)
    assert fake.count == 3
    assert caught.value.request_id == "last"


async def test_default_policy_makes_four_attempts() -> None:
    """Without a policy, reads get the default budget of four attempts."""
    fake = FakeAom(httpx.ReadTimeout("slow"))
    async with make_client(fake) as aom:
        with pytest.raises(AomTransportError):
            await aom.list_executions(WF)
    assert fake.count == RetryPolicy().attempts == 4


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, AomBadRequestError),
        (401, AomAuthError),
        (403, AomAuthError),
        (404, AomNotFoundError),
        (422, AomBadRequestError),
    ],
)
async def test_client_errors_are_not_retried(status: int, kind: type[Exception]) -> None:
    """4xx other than 429 fail at once: repeating the same request cannot help."""
    fake = FakeAom(httpx.Response(status), OK)
    async with make_client(fake) as aom:
        with pytest.raises(kind):
            await aom.get_execution(WF, EX)
    assert fake.count == 1


async def test_malformed_body_is_not_retried() -> None:
    """A 200 with a body that cannot be parsed is reported, not re-fetched."""
    fake = FakeAom(httpx.Response(200, content=b"{oops"), OK)
    async with make_client(fake) as aom:
        with pytest.raises(AomResponseError):
            await aom.get_execution(WF, EX)
    assert fake.count == 1


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(500), httpx.Response(503), httpx.Response(429), httpx.ReadTimeout("slow")],
)
async def test_execute_is_never_retried(failure: httpx.Response | Exception) -> None:
    """Starting a workflow is not idempotent: a 5xx, 429 or timeout raises after one request."""
    fake = FakeAom(failure, json_response({"execution_id": "e-second-run"}))
    async with make_client(fake) as aom:
        with pytest.raises((AomServerError, AomThrottledError, AomTransportError)):
            await aom.execute_workflow(WF)
    assert fake.count == 1


async def test_node_operations_are_not_retried() -> None:
    """Restart/skip could act twice, so a failed operation is sent once."""
    fake = FakeAom(httpx.Response(503), json_response({"result": "ok"}))
    async with make_client(fake) as aom:
        with pytest.raises(AomServerError):
            await aom.operate_node(WF, EX, "run-script", NodeAction.RESTART)
    assert fake.count == 1


async def test_terminate_and_listing_are_retried() -> None:
    """Terminate is idempotent and listing is a read: both ride out a 503."""
    page = json_response({"elements": [{"id": "a"}], "total_elements": 1})
    fake = FakeAom(httpx.Response(503), httpx.Response(200), httpx.Response(503), page)
    async with make_client(fake) as aom:
        await aom.terminate_execution(WF, EX)
        workflows = await aom.list_workflows()
    assert [w.id for w in workflows] == ["a"]
    assert fake.count == 4
    assert json.loads(fake.last.content)["page"] == 0  # the retried page is the same page


def test_delay_for_honours_retry_after_within_the_cap() -> None:
    """The wait handed to stamina is Retry-After (capped), backoff otherwise, or no retry."""
    policy = RetryPolicy(max_retry_after=30.0)
    assert policy.delay_for(AomThrottledError("t", retry_after=7.0)) == 7.0
    assert policy.delay_for(AomThrottledError("t", retry_after=3600.0)) == 30.0
    assert policy.delay_for(AomThrottledError("t")) is True
    assert policy.delay_for(AomServerError("s")) is True
    assert policy.delay_for(AomTransportError("t")) is True
    assert policy.delay_for(AomBadRequestError("b")) is False
    assert policy.delay_for(AomAuthError("a")) is False
    assert policy.delay_for(AomResponseError("r")) is False
    assert policy.delay_for(ValueError("v")) is False


def test_unsupported_protocol_is_not_retried() -> None:
    """A misconfigured endpoint (e.g. ftp://) fails once instead of burning the budget."""
    error = AomTransportError("t")
    error.__cause__ = httpx.UnsupportedProtocol("ftp")
    assert RetryPolicy().delay_for(error) is False


def test_policy_rejects_nonsense() -> None:
    """A policy with no attempts or no time is a programming error, caught at construction."""
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="timeout"):
        RetryPolicy(timeout=0)
