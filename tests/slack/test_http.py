"""HTTP mode: request verification, health, metrics, events, and serving under uvicorn."""

from __future__ import annotations

import json
import time

import httpx
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from aom_bot.slack.help import USAGE
from aom_bot.slack.http import build_http_app, start_http
from aom_bot.slack.metrics import Metrics
from tests.fakes.slack_signing import (
    app_home_opened,
    event_body,
    sign_request,
    slash_command_body,
)
from tests.slack.harness import SECRET, Harness


def _nothing_happened(bot: Harness) -> bool:
    return not bot.slack.calls and bot.requests.total == 0


async def test_wrong_signature_gets_401_and_nothing_else(bot: Harness) -> None:
    """A request signed with another secret is refused before any listener runs."""
    wf = bot.workflow("rotate-logs")
    response = await bot.command(f"show {wf} {bot.failed_yesterday(wf)}", secret="not-the-secret")
    assert response.status_code == 401
    assert _nothing_happened(bot)


async def test_replayed_request_gets_401(bot: Harness) -> None:
    """A correctly signed request older than five minutes is a replay: 401."""
    wf = bot.workflow("rotate-logs")
    old = int(time.time()) - 6 * 60
    response = await bot.command(f"show {wf} {bot.failed_yesterday(wf)}", timestamp=old)
    assert response.status_code == 401
    assert _nothing_happened(bot)


async def test_unsigned_and_garbage_requests_get_401(bot: Harness) -> None:
    """No signature headers, a tampered body, or unparsable bytes: 401, never a 500."""
    body = slash_command_body("help", response_url="http://127.0.0.1:9/x")
    unsigned = await bot.http.post(
        "/slack/events",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert unsigned.status_code == 401
    headers = sign_request(body, SECRET, int(time.time()))
    tampered = await bot.http.post("/slack/events", content=body + "x", headers=headers)
    assert tampered.status_code == 401
    for garbage in (b'{"type": "event_callback", ', b"\xff\xfe payload=%%%"):
        response = await bot.http.post(
            "/slack/events", content=garbage, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 401
    assert _nothing_happened(bot)


async def test_oversized_body_is_refused(bot: Harness) -> None:
    """Bodies far larger than anything Slack sends are refused without parsing."""
    response = await bot.post("text=" + "x" * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert _nothing_happened(bot)


async def test_healthz_reports_the_health_check() -> None:
    """/healthz answers 200 when the health check passes and 503 when it fails or raises."""
    bolt = AsyncApp(
        signing_secret=SECRET,
        client=AsyncWebClient(token="xoxb-unused", base_url="http://127.0.0.1:9/api/"),
    )
    answers = iter([True, False])

    async def health() -> bool:
        try:
            return next(answers)
        except StopIteration:
            raise RuntimeError("store down") from None

    web = build_http_app(bolt, metrics=Metrics(), health=health)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://bot.test"
    ) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/healthz")).status_code == 503
        failing = await http.get("/healthz")
        assert failing.status_code == 503
        assert "store down" not in failing.text


async def test_metrics_count_commands_aom_and_slack_calls(bot: Harness) -> None:
    """/metrics exposes commands, AOM calls with latency, Slack calls and errors."""
    wf = bot.workflow("rotate-logs")
    await bot.command("help")
    bot.slack.fail_next("chat.postMessage", "invalid_blocks")
    await bot.command(f"show {wf} {bot.failed_yesterday(wf)}")
    await bot.hook_post()
    await bot.command(f"show {wf} {bot.failed_yesterday(wf)}")
    await bot.wait_posted()
    await bot.command("show nope")
    text = (await bot.http.get("/metrics")).text
    assert 'aom_bot_commands_total{outcome="ok",subcommand="help"} 1.0' in text
    assert 'aom_bot_commands_total{outcome="usage_error",subcommand="invalid"} 1.0' in text
    assert 'aom_bot_aom_requests_total{operation="get_execution",outcome="ok"} 2.0' in text
    assert 'aom_bot_aom_request_seconds_count{operation="get_execution"} 2.0' in text
    assert (
        'aom_bot_slack_errors_total{error="invalid_blocks",method="chat.postMessage"} 1.0' in text
    )
    assert "aom_bot_active_follows" in text


async def test_url_verification_challenge(bot: Harness) -> None:
    """The Events API handshake (url_verification) echoes the challenge."""
    body = json.dumps({"token": "x", "challenge": "abc123", "type": "url_verification"})
    response = await bot.post(body)
    assert response.status_code == 200
    assert response.json() == {"challenge": "abc123"}


async def test_app_home_shows_the_usage(bot: Harness) -> None:
    """Opening the Home tab publishes a view that explains the command."""
    response = await bot.post(event_body(app_home_opened(bot.slack.alice)))
    assert response.status_code == 200
    await bot.slack.wait_for("views.publish")
    view = bot.slack.home_views[bot.slack.alice]
    assert USAGE in json.dumps(view, ensure_ascii=False).replace("\\n", "\n")


async def test_served_by_uvicorn_on_localhost(bot: Harness) -> None:
    """The same app served by uvicorn on 127.0.0.1 answers a signed command over TCP."""
    async with start_http(bot.web) as server, httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        body = slash_command_body("help", response_url=bot.slack.response_url("C1", "U1"))
        response = await http.post(
            "/slack/events", content=body, headers=sign_request(body, SECRET, int(time.time()))
        )
        assert response.status_code == 200
        assert USAGE in response.json()["blocks"][1]["text"]["text"]
