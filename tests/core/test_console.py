"""`aom-bot show --follow`: refreshes until the execution ends, riding out AOM hiccups.

It waits on an injected clock, as the follow engine does: here simulated time, so minutes of a
run pass with no real sleeping.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from aom_bot.aom.client import AomClient, RetryPolicy, build_http_client
from aom_bot.aom.models import ExecutionDetail, ExecutionStatus
from aom_bot.aom.names import WorkflowNames
from aom_bot.clock import ManualClock
from aom_bot.config import Settings
from aom_bot.console import AomSession, follow_in_terminal
from aom_bot.render.scrub import Scrubber
from aom_bot.simulator import SCENARIOS, SimulatorCredentials, World, create_simulator_app

FIXTURES = Path(__file__).parent.parent / "fixtures" / "aom"
PROJECT = "0123456789abcdef0123456789abcdef"


def _session(client: AomClient, settings: Settings, out: io.StringIO) -> AomSession:
    return AomSession(
        settings=settings,
        client=client,
        names=WorkflowNames(client),
        scrubber=Scrubber(),
        console=Console(file=out, width=80, height=40, force_terminal=True, color_system=None),
    )


async def _follow_on(
    clock: ManualClock, session: AomSession, wf: str, ex: str, *, limit: float
) -> ExecutionDetail:
    """Run ``show --follow`` while moving simulated time on, until it returns (at most
    ``limit`` simulated seconds)."""
    task = asyncio.create_task(
        follow_in_terminal(session, wf, ex, settings=session.settings, clock=clock)
    )
    while not task.done():
        assert clock.monotonic() < limit, "show --follow did not end"
        await clock.run_for(1.0)
    return task.result()


async def test_follow_refreshes_until_the_end_through_garbled_and_failed_answers() -> None:
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
    # one attempt: the errors reach the view
    client = AomClient(http, project_id=PROJECT, retry=RetryPolicy(attempts=1))
    out = io.StringIO()
    settings = Settings(aom_bot_poll_min_seconds=5, aom_bot_poll_max_seconds=30)
    clock = ManualClock(datetime(2024, 3, 15, 8, 0, tzinfo=UTC))
    try:
        final = await _follow_on(clock, _session(client, settings, out), "wf1", "ex1", limit=600)
    finally:
        await client.aclose()
    assert final.status.value == "fail"
    assert len(seen) == 5  # it kept asking through the 503 and the garbled body, then stopped
    shown = out.getvalue()
    assert "refreshing every 5s · Ctrl-C to stop" in shown
    assert "refreshing every 10s · Ctrl-C to stop" in shown  # backing off after two failures
    assert "AOM unreachable since 08:00 UTC — retrying" in shown  # on the injected clock
    assert "web-03" in shown
    assert json.loads(failed)["execution_id"] in shown


@pytest.mark.timeout(30)
async def test_follow_rides_a_simulated_run_to_its_end_on_simulated_time() -> None:
    """A simulator run of about five minutes is followed to its failed end, paced as configured,
    in no real time: the simulator and the view share one simulated clock (a real sleep would
    hit the timeout long before the run ends)."""
    clock = ManualClock()
    start = clock.now().timestamp()
    world = World(seed=5, clock=lambda: clock.now().timestamp(), speed=0.05)  # ~335 s long
    scenario = SCENARIOS["few-failures"]
    wf = world.add_workflow(scenario.workflow_name, scenario="few-failures")
    ex = world.start_execution(wf)
    app = create_simulator_app(world, credentials=SimulatorCredentials())
    reads: list[tuple[float, str]] = []

    async def note(response: httpx.Response) -> None:
        if response.request.url.path.endswith("/status"):
            await response.aread()
            reads.append((clock.monotonic(), json.loads(response.content)["status"]))

    http = build_http_client(
        base_url="http://aom.sim", auth=None, transport=httpx.ASGITransport(app=app)
    )
    http.event_hooks["response"] = [note]
    client = AomClient(http, project_id=world.project_id, clock=clock.now)
    out = io.StringIO()
    settings = Settings(aom_bot_poll_min_seconds=10, aom_bot_poll_max_seconds=30)
    try:
        final = await _follow_on(clock, _session(client, settings, out), wf, ex, limit=3600)
    finally:
        await client.aclose()

    assert final.status is ExecutionStatus.FAIL
    assert final.execution_id == ex
    shown = out.getvalue()
    shown_delays = {int(n) for n in re.findall(r"refreshing every (\d+)s · Ctrl-C to stop", shown)}
    assert min(shown_delays) == 10  # a young run: the floor
    assert max(shown_delays) > 10  # an older one: slower (5 % of its age)
    assert scenario.workflow_name in shown
    # it asked while the run went on, and stopped at the first answer that it had ended
    times = [at for at, _ in reads]
    states = [status for _, status in reads]
    assert states[-1] == "fail"
    assert "fail" not in states[:-1]
    assert "executing" in states
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(10 <= gap <= 30 * 1.1 for gap in gaps), gaps  # min, max, 10 % jitter
    assert times[-1] > 300  # minutes of the run, simulated
    assert world.now_ms() / 1000 - start == pytest.approx(clock.monotonic())
