"""`aom-bot show --follow`: refreshes until the execution ends, riding out AOM hiccups."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
from rich.console import Console

from aom_bot.aom.client import AomClient, RetryPolicy, build_http_client
from aom_bot.aom.names import WorkflowNames
from aom_bot.config import Settings
from aom_bot.console import AomSession, follow_in_terminal
from aom_bot.render.scrub import Scrubber

FIXTURES = Path(__file__).parent.parent / "fixtures" / "aom"
PROJECT = "0123456789abcdef0123456789abcdef"


async def test_follow_refreshes_until_the_end_through_garbled_and_failed_answers():
    """Running, then a 503 and a malformed body, then failed: the view ends on the final state."""
    running = (FIXTURES / "f1_running.json").read_bytes()
    failed = (FIXTURES / "f3_failed.json").read_bytes()
    answers = [
        httpx.Response(200, content=running),
        httpx.Response(200, content=running),
        httpx.Response(503, json={"error_code": "AOM.31001405", "error_msg": "busy"}),
        httpx.Response(200, content=b"{not json"),
        httpx.Response(200, content=failed),
    ]
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/workflow-list"):
            return httpx.Response(200, json={"elements": [], "total_elements": 0})
        seen.append(request.url.path)
        return answers[min(len(seen) - 1, len(answers) - 1)]

    http = build_http_client(
        base_url="http://aom.test", auth=None, transport=httpx.MockTransport(handler)
    )
    client = AomClient(
        http, project_id=PROJECT, retry=RetryPolicy(attempts=1)
    )  # errors reach the view
    out = io.StringIO()
    settings = Settings(aom_bot_poll_min_seconds=0.05, aom_bot_poll_max_seconds=0.05)
    session = AomSession(
        settings=settings,
        client=client,
        names=WorkflowNames(client),
        scrubber=Scrubber(),
        console=Console(file=out, width=80, force_terminal=False),
    )
    try:
        final = await follow_in_terminal(session, "wf1", "ex1", settings=settings)
    finally:
        await client.aclose()
    assert final.status.value == "fail"
    assert len(seen) >= 5  # it kept asking through the 503 and the garbled body
    shown = out.getvalue()
    assert "web-03" in shown
    assert json.loads(failed)["execution_id"] in shown
