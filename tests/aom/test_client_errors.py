"""AomClient: every failure becomes the right AomError, with AOM's code, message and request ID."""

from __future__ import annotations

import logging

import httpx
import pytest

from aom_bot.aom.auth import AkSkAuth
from aom_bot.aom.client import RetryPolicy, error_details, parse_retry_after
from aom_bot.errors import (
    AomApiError,
    AomAuthError,
    AomBadRequestError,
    AomError,
    AomNotFoundError,
    AomResponseError,
    AomServerError,
    AomThrottledError,
    AomTransportError,
)

from .helpers import EX, FIXED_NOW, PROJECT, WF, FakeAom, fixture_json, json_response, make_client

NO_RETRY = RetryPolicy(attempts=1)
ERRORS: dict[str, object] = fixture_json("f5_errors")  # type: ignore[assignment]


async def fetch_error(response: httpx.Response, **kwargs: object) -> AomError:
    fake = FakeAom(response)
    async with make_client(fake, retry=NO_RETRY, **kwargs) as aom:  # type: ignore[arg-type]
        with pytest.raises(AomError) as caught:
            await aom.get_execution(WF, EX)
    return caught.value


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, AomBadRequestError),
        (401, AomAuthError),
        (403, AomAuthError),
        (404, AomNotFoundError),
        (405, AomBadRequestError),
        (409, AomBadRequestError),
        (429, AomThrottledError),
        (500, AomServerError),
        (502, AomServerError),
        (503, AomServerError),
        (504, AomServerError),
    ],
)
async def test_status_maps_to_error_class(status: int, kind: type[AomApiError]) -> None:
    """Each HTTP error status raises its own class, carrying the status and the request ID."""
    error = await fetch_error(httpx.Response(status, headers={"X-Request-Id": "req-42"}))
    assert type(error) is kind
    assert error.status_code == status
    assert error.request_id == "req-42"
    assert f"HTTP {status}" in str(error)
    assert EX in str(error)  # says what it was doing


@pytest.mark.parametrize(
    ("name", "status", "code", "message"),
    [
        ("400_documented", 400, "AOM.31001403", "param error."),
        ("401_documented", 401, "AOM.31009004", "auth failed."),
        ("500_documented", 500, "AOM.31001405", "internal server error."),
        ("400_table_variant", 400, "AOM.31001403", "param error."),
        (
            "401_gateway",
            401,
            "APIGW.0301",
            "Incorrect IAM authentication information: verify aksk signature fail",
        ),
    ],
)
async def test_documented_error_bodies(name: str, status: int, code: str, message: str) -> None:
    """F5: every documented body variant yields AOM's code and message."""
    error = await fetch_error(json_response(ERRORS[name], status))
    assert (error.error_code, error.aom_message) == (code, message)
    assert f"AOM said: {code} {message}" in error.user_message()


async def test_gateway_request_id_from_body_when_header_is_missing() -> None:
    """The gateway's request_id field is used when there is no X-Request-Id header."""
    error = await fetch_error(json_response(ERRORS["401_gateway"], 401))
    assert error.request_id == "0b6b1d2c3e4f5a6b7c8d9e0f1a2b3c4d"


def test_error_details_rules() -> None:
    """Code/message keys in every documented spelling, one nested level, raw text otherwise."""
    assert error_details(b'{"errorCode": "X.1", "errorMsg": "m"}') == ("X.1", "m")
    assert error_details(b'{"code": 7, "message": "m"}') == ("7", "m")
    assert error_details(b'{"error": {"code": 401, "message": "bad password"}}') == (
        "401",
        "bad password",
    )
    assert error_details(b'{"a": {"b": {"error_code": "deep"}}}')[0] is None
    html = b"<html><body><h1>502 Bad Gateway</h1>\n\n</body></html>"
    assert error_details(html) == (None, "<html><body><h1>502 Bad Gateway</h1> </body></html>")
    code, message = error_details(b"x" * 10_000)
    assert code is None
    assert message is not None
    assert len(message) == 300
    assert error_details(b"") == (None, None)
    assert error_details(b"\xff\xfe\x00bad\x1b[31m") == (None, "�� bad [31m")


async def test_html_502_keeps_the_text() -> None:
    """A non-JSON error page becomes a server error whose message is the (short) page text."""
    error = await fetch_error(httpx.Response(502, content=b"<h1>Bad Gateway</h1>"))
    assert isinstance(error, AomServerError)
    assert error.aom_message == "<h1>Bad Gateway</h1>"


async def test_throttled_carries_retry_after() -> None:
    """A 429 exposes Retry-After in seconds, from a number or an HTTP date."""
    error = await fetch_error(httpx.Response(429, headers={"Retry-After": "7"}))
    assert isinstance(error, AomThrottledError)
    assert error.retry_after == 7.0
    error = await fetch_error(
        httpx.Response(429, headers={"Retry-After": "Fri, 15 Mar 2024 08:09:40 GMT"})
    )
    assert isinstance(error, AomThrottledError)
    assert error.retry_after == 30.0


def test_parse_retry_after_odd_values() -> None:
    """Garbage, negative and infinite Retry-After values never produce a nonsense wait."""
    assert parse_retry_after(None, FIXED_NOW) is None
    assert parse_retry_after("soon", FIXED_NOW) is None
    assert parse_retry_after("-5", FIXED_NOW) == 0.0
    assert parse_retry_after("inf", FIXED_NOW) is None
    assert parse_retry_after("Fri, 15 Mar 2024 08:00:00 GMT", FIXED_NOW) == 0.0


@pytest.mark.parametrize(
    ("exc", "said"),
    [
        (httpx.ConnectError("connection refused"), "Could not reach AOM"),
        (httpx.ReadTimeout("timed out"), "did not answer in time"),
        (httpx.ConnectTimeout("timed out"), "did not answer in time"),
        (httpx.RemoteProtocolError("peer closed connection"), "Could not reach AOM"),
        (httpx.ReadError("reset"), "Could not reach AOM"),
    ],
)
async def test_transport_failures(exc: Exception, said: str) -> None:
    """Connection problems and timeouts become AomTransportError, never a raw httpx error."""
    fake = FakeAom(exc)
    async with make_client(fake, retry=NO_RETRY) as aom:
        with pytest.raises(AomTransportError) as caught:
            await aom.get_execution(WF, EX)
    assert said in str(caught.value)
    assert f"read execution {EX}" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{not json", "json_invalid"),
        (b"[1, 2]", "model_type"),
        (b"null", "model_type"),
        (b'"text"', "model_type"),
        (b"", "json_invalid"),
        (b"[" * 100_000, "json_invalid"),
    ],
)
async def test_malformed_success_bodies(body: bytes, why: str) -> None:
    """A 2xx body that is not an execution object is an AomResponseError naming the problem."""
    error = await fetch_error(httpx.Response(200, content=body, headers={"X-Request-Id": "r9"}))
    assert isinstance(error, AomResponseError)
    assert why in str(error)
    assert error.request_id == "r9"


async def test_redirects_are_not_followed() -> None:
    """A 302 is reported, not followed (a redirect could carry signed requests elsewhere)."""
    fake = FakeAom(httpx.Response(302, headers={"Location": "https://evil.example/"}))
    async with make_client(fake, retry=NO_RETRY) as aom:
        with pytest.raises(AomResponseError, match="redirect"):
            await aom.get_execution(WF, EX)
    assert fake.count == 1


async def test_oversized_body_is_refused() -> None:
    """Bodies above the cap fail with AomResponseError, by Content-Length or while streaming."""
    error = await fetch_error(httpx.Response(200, content=b"x" * 2000), max_body_bytes=1000)
    assert isinstance(error, AomResponseError)
    assert "more than" in str(error)
    streamed = httpx.Response(200, stream=httpx.ByteStream(b"{" + b" " * 5000 + b"}"))
    assert "content-length" not in streamed.headers
    error = await fetch_error(streamed, max_body_bytes=1000)
    assert isinstance(error, AomResponseError)


async def test_large_body_under_the_cap_is_read() -> None:
    """A ~9 MB execution (2,000 hosts with 4 KB logs) is read and parsed under the default cap."""
    host = {"name": "web", "log": "x" * 4096, "exit_code": "1"}
    body = {"execution_id": EX, "status": "fail", "execution_result_list": [
        {"node_id": "run-script", "output": {"fail": [dict(host, name=f"web-{i:04}") for i in range(2000)]}}
    ]}  # fmt: skip
    fake = FakeAom(json_response(body))
    async with make_client(fake, retry=NO_RETRY) as aom:
        detail = await aom.get_execution(WF, EX)
    assert len(detail.nodes[0].hosts("fail")) == 2000


async def test_no_secret_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Neither the exception (str, repr, user message) nor any log record contains the SK."""
    secret = "sk-VERY-SECRET-0123456789"
    auth = AkSkAuth(ak="AKEXAMPLE", sk=secret, project_id=PROJECT, security_token="STS-SECRET")
    fake = FakeAom(json_response(ERRORS["401_gateway"], 401), httpx.ConnectError("refused"))
    caplog.set_level(logging.DEBUG, logger="aom_bot.aom")
    async with make_client(fake, auth=auth, retry=NO_RETRY) as aom:
        errors = []
        for _ in range(2):
            with pytest.raises(AomError) as caught:
                await aom.get_execution(WF, EX)
            errors.append(caught.value)
        texts = [repr(aom)]
    for error in errors:
        texts += [str(error), repr(error), error.user_message()]
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.__dict__) for record in caplog.records]
    assert caplog.records, "the failures were logged"
    for text in texts:
        assert secret not in text
        assert "STS-SECRET" not in text
        assert "Signature=" not in text


async def test_events_are_logged_under_the_aom_logger(caplog: pytest.LogCaptureFixture) -> None:
    """Requests log dotted events with status and request ID, not bodies."""
    caplog.set_level(logging.DEBUG, logger="aom_bot.aom")
    fake = FakeAom(json_response({"status": "fail", "log": "BODY-TEXT"}))
    async with make_client(fake) as aom:
        await aom.get_execution(WF, EX)
    events = [r.__dict__.get("event") for r in caplog.records if r.name == "aom_bot.aom"]
    assert events == ["aom.request.completed"]
    assert all("BODY-TEXT" not in r.getMessage() for r in caplog.records)
