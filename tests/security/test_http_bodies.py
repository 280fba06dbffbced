"""Malformed bodies on POST /slack/events, signed or not (issue 10, item 2).

Through the real HTTP app: a body without a valid signature is refused (401) before anything
parses it; a signed body that is not a Slack payload gets 400. Either way: never a 500, and
one log line, never a traceback.
"""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import quote

import pytest

from tests.fakes.slack_signing import block_actions_body, sign_request
from tests.slack.harness import SECRET, Harness

_DEEP = "[" * 100_000 + "]" * 100_000
_DEEP_OBJECT = '{"type": ' + "[" * 50_000 + "]" * 50_000 + "}"

MALFORMED = {
    "list": "[1,2,3]",
    "number": "42",
    "string": '"x"',
    "null": "null",
    "payload-list": "payload=[]",
    "payload-null": "payload=null",
    "payload-number": "payload=42",
    "payload-deep": "payload=" + quote(_DEEP),
    "deep-json": _DEEP,
    "deep-object": _DEEP_OBJECT,
    "payload-garbage": "payload=%7Bnot json",
}


def _headers(body: str, *, signed: bool, content_type: str | None = None) -> dict[str, str]:
    if signed:
        headers = sign_request(body, SECRET, int(time.time()))
    else:
        headers = {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=00"}
    if content_type or not signed:
        json_like = not body.startswith("payload=")
        headers["Content-Type"] = content_type or (
            "application/json" if json_like else "application/x-www-form-urlencoded"
        )
    return headers


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
@pytest.mark.parametrize("name", list(MALFORMED))
async def test_malformed_body_is_refused_with_one_log_line(
    bot: Harness, caplog: pytest.LogCaptureFixture, name: str, signed: bool
) -> None:
    """401 without a valid signature, 400 with one; no listener runs, no traceback logged."""
    body = MALFORMED[name]
    caplog.set_level(logging.DEBUG)
    response = await bot.http.post(
        "/slack/events", content=body, headers=_headers(body, signed=signed)
    )
    assert response.status_code == (400 if signed else 401), response.text
    assert not bot.slack.calls
    assert bot.requests.total == 0
    records = [
        r for r in caplog.records if r.levelno >= logging.INFO and not r.name.startswith("httpx")
    ]
    assert len(records) <= 1, [r.getMessage() for r in records]
    assert not any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
async def test_no_signature_headers_at_all(bot: Harness, signed: bool) -> None:
    """A body with no Slack headers at all is 401, whatever it holds."""
    body = MALFORMED["payload-list"] if signed else "[1,2,3]"
    response = await bot.http.post("/slack/events", content=body)
    assert response.status_code == 401


@pytest.mark.parametrize("actions", [{"a": 1}, "x", 42, None, [], [1], ["x"]])
async def test_signed_block_actions_whose_actions_are_not_a_list_of_objects_get_400(
    bot: Harness, caplog: pytest.LogCaptureFixture, actions: object
) -> None:
    """A signed block_actions payload with a broken ``actions`` is a bad request, not a 500."""
    good = block_actions_body(
        "aom_exec.refresh", '{"w":"a","e":"b"}', message_ts="1.2", response_url="http://x/y"
    )
    payload = json.loads(_unquote_payload(good))
    payload["actions"] = actions
    body = "payload=" + quote(json.dumps(payload))
    response = await bot.http.post(
        "/slack/events", content=body, headers=_headers(body, signed=True)
    )
    assert response.status_code == 400, response.text
    assert not any(r.exc_info for r in caplog.records)
    assert not bot.slack.calls


def _unquote_payload(body: str) -> str:
    from urllib.parse import parse_qs

    return parse_qs(body)["payload"][0]
