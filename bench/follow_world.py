"""The world side of ``bench/follow.py``: the simulated AOM and FakeSlack, in a process of their own.

The benchmark judges the bot's memory, so everything that only stands in for the outside world
(the simulator's executions and request log, FakeSlack's stored messages and recorded calls)
lives here, in a child process, and answers on 127.0.0.1 like the real services would:

- the simulator under uvicorn (``aom_url``), FakeSlack (``slack_url``) with Slack's tier limits;
- a small control API (``control_url``) the benchmark uses to seed cards, start runs, reset the
  request log and fetch the counters at the end (``POST /ctl/<command>``, JSON in and out).

Time is the parent's: ``elapsed`` is a shared double holding the simulated seconds since the
start, written by the parent's clock whenever it advances, read here by the World's clock (as
epoch seconds) and by FakeSlack's rate limiter. The parent only advances while no request is in
flight; every request that still saw the clock move while it was answered is counted
(``straddled``), so a broken handshake shows up as a number instead of a silent skew.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import resource
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import uvicorn
from aiohttp import web
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aom_bot.aom.models import ExecutionDetail
from aom_bot.follow.discovery import is_failing
from aom_bot.follow.policy import poll_interval
from aom_bot.simulator.app import create_simulator_app
from aom_bot.simulator.auth import SimulatorCredentials
from aom_bot.simulator.faults import Faults, RequestCounter
from aom_bot.simulator.world import World
from tests.fakes.slack_api import FakeSlack

__all__ = ["run_world"]


class SharedTime:
    """Read side of the parent's simulated clock (``value``: seconds since the start)."""

    def __init__(self, elapsed: Any, start_epoch: float) -> None:
        self._elapsed = elapsed
        self._start_epoch = start_epoch

    def monotonic(self) -> float:
        return float(self._elapsed.value)

    def epoch(self) -> float:
        return self._start_epoch + float(self._elapsed.value)


@dataclass(frozen=True, slots=True)
class Seeded:
    workflow_id: str
    execution_id: str
    begin: float  # simulated seconds (the parent's clock.monotonic) when the run began


class WorldProcess:
    """Everything the child owns, and the control commands over it."""

    def __init__(self, time_: SharedTime, config: dict[str, Any]) -> None:
        self.time = time_
        self.config = config
        self.rng = random.Random(5)
        self.world = World(seed=11, clock=time_.epoch, speed=float(config["speed"]))
        self.requests = RequestCounter(keep=5_000_000)
        self.slack = FakeSlack(clock=time_.monotonic)
        self.runs: list[Seeded] = []
        self.workflows: list[str] = []
        self.started: list[tuple[str, str]] = []
        self.start_ms = 0
        self.straddled = 0
        self.done = asyncio.Event()
        self._watch_slack()

    # -- the world ------------------------------------------------------------------------------

    def build_follow(self, count: int, hosts: int = 0) -> None:
        """``count`` runs begun over the last 20 minutes, ``hosts`` hosts each (0: 5-20 at
        random), 10 % failing."""
        world, rng = self.world, self.rng
        now_ms = world.now_ms()
        workflows: list[str] = []
        for i in range(max(1, count // 50)):
            scenario = "few-failures" if i % 10 == 0 else "all-success"
            workflows.append(
                world.add_workflow(
                    f"wf-{i}", scenario=scenario, host_count=hosts or rng.randint(5, 20)
                )
            )
        for i in range(count):
            workflow_id = workflows[i % len(workflows)]
            ago = rng.uniform(0, 20 * 60)
            execution_id = world.add_execution(workflow_id, begin_ms=int(now_ms - ago * 1000))
            self.runs.append(Seeded(workflow_id, execution_id, self.time.monotonic() - ago))

    def build_discovery(self, count: int) -> None:
        """``count`` workflows, each with a little history (which must not be posted)."""
        world, rng = self.world, self.rng
        self.workflows = [
            world.add_workflow(
                f"wf-{i}",
                scenario="few-failures" if i % 7 == 0 else "all-success",
                host_count=rng.randint(5, 20),
            )
            for i in range(count)
        ]
        for workflow_id in self.workflows:
            for _ in range(3):
                world.add_execution(
                    workflow_id, begin_ms=world.now_ms() - rng.randint(1, 72) * 3_600_000,
                    history="success",
                )  # fmt: skip

    def info(self, aom_url: str, control_url: str, channels: list[str]) -> dict[str, Any]:
        return {
            "aom_url": aom_url,
            "slack_url": self.slack.base_url,
            "control_url": control_url,
            "bot_token": self.slack.bot_token,
            "alice": self.slack.alice,
            "project_id": self.world.project_id,
            "channels": channels,
            "runs": [[r.workflow_id, r.execution_id] for r in self.runs],
            "workflows": self.workflows,
        }

    # -- control commands -------------------------------------------------------------------------

    def cmd_cards(self, body: dict[str, Any]) -> dict[str, Any]:
        """Post one card per channel given, straight into the workspace (no rate limit)."""
        slack = self.slack
        ts = [
            slack.workspace.post(slack.channel(c), {"text": "card"})["ts"] for c in body["channels"]
        ]
        return {"ts": ts}

    def cmd_reset(self, _: dict[str, Any]) -> dict[str, Any]:
        """Forget the requests so far (seeding); following starts now."""
        self.requests.reset()
        self.start_ms = self.world.now_ms()
        return {}

    def cmd_start_runs(self, body: dict[str, Any]) -> dict[str, Any]:
        """Start a run of each workflow with probability ``chance``."""
        chance = float(body["chance"])
        count = 0
        for workflow_id in self.workflows:
            if self.rng.random() < chance:
                self.started.append((workflow_id, self.world.add_execution(workflow_id)))
                count += 1
        return {"started": count}

    def cmd_stats(self, body: dict[str, Any]) -> dict[str, Any]:
        """The counters the benchmark prints, computed here where the records are."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        stats: dict[str, Any] = {
            "rss_mb": usage.ru_maxrss / 1024,
            "cpu": usage.ru_utime + usage.ru_stime,
            "rate_limited": self.slack.rate_limited_count,
            "updates": sum(1 for c in self.slack.calls_to("chat.update") if c.ok),
            "straddled": self.straddled,
            "status_requests": self.requests.count("status"),
            "list_requests": self.requests.count("list-executions"),
        }
        if self.runs:
            stats.update(self._poll_stats(float(body["poll_min"]), float(body["poll_max"])))
        if "subscribers" in body:
            stats.update(self._card_stats(body["subscribers"]))
        return stats

    def cmd_stop(self, _: dict[str, Any]) -> dict[str, Any]:
        self.done.set()
        return {}

    def _poll_stats(self, poll_min: float, poll_max: float) -> dict[str, Any]:
        per_execution: dict[str, list[int]] = {}
        for record in self.requests.records:
            if record.endpoint == "status":
                per_execution.setdefault(record.execution_id, []).append(record.at_ms)
        allowed = 0
        begin_of = {r.execution_id: r.begin for r in self.runs}
        min_gap = float("inf")
        start = self.start_ms
        for execution_id, times in per_execution.items():
            times.sort()
            gaps = [(b - a) / 1000 for a, b in itertools.pairwise(times)]
            min_gap = min([min_gap, *gaps])
            # polls the policy allows between this run's first and last poll (no jitter)
            first, last = (times[0] - start) / 1000, (times[-1] - start) / 1000
            t, allowed_here = first, 1
            while True:
                t += poll_interval(t - begin_of[execution_id], minimum=poll_min, maximum=poll_max)
                if t > last + 1e-6:
                    break
                allowed_here += 1
            allowed += allowed_here
        return {"allowed": allowed, "min_gap": min_gap}

    def _card_stats(self, subscribers: dict[str, list[list[Any]]]) -> dict[str, Any]:
        expected = 0
        for workflow_id, execution_id in self.started:
            detail = ExecutionDetail.model_validate(
                self.world.execution_json(workflow_id, execution_id)
            )
            for _, failures_only in subscribers[workflow_id]:
                expected += (not failures_only) or is_failing(detail)
        cards = [
            c for c in self.slack.calls_to("chat.postMessage")
            if c.ok and not c.args.get("thread_ts")
        ]  # fmt: skip
        run_ids = {execution_id for _, execution_id in self.started}
        posted = [
            (c.args["channel"], execution_id)
            for c in cards
            for execution_id in run_ids
            if execution_id in str(c.args.get("blocks"))
        ]
        return {
            "runs_started": len(self.started),
            "expected_cards": expected,
            "cards_posted": len(posted),
            "duplicate_cards": len(posted) - len(set(posted)),
        }

    # -- the clock handshake, checked -------------------------------------------------------------

    def watch_asgi(self, app: ASGIApp) -> ASGIApp:
        """Count simulator requests that saw the clock move while they were answered."""

        async def watched(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            seen = self.time.monotonic()

            async def checked(message: Message) -> None:
                if message["type"] == "http.response.start" and self.time.monotonic() != seen:
                    self.straddled += 1
                await send(message)

            await app(scope, receive, checked)

        return watched

    def _watch_slack(self) -> None:
        """The same for FakeSlack's Web API (its route is bound when the server starts)."""
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]] = self.slack._api

        async def watched(request: web.Request) -> web.StreamResponse:
            seen = self.time.monotonic()
            response = await handler(request)
            if self.time.monotonic() != seen:
                self.straddled += 1
            return response

        self.slack._api = watched  # type: ignore[method-assign]


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _control_app(world: WorldProcess) -> web.Application:
    commands: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
        "cards": world.cmd_cards,
        "reset": world.cmd_reset,
        "start_runs": world.cmd_start_runs,
        "stats": world.cmd_stats,
        "stop": world.cmd_stop,
    }

    async def handle(request: web.Request) -> web.StreamResponse:
        command = commands.get(request.match_info["command"])
        if command is None:
            return web.json_response({"error": "unknown command"}, status=404)
        body = await request.json() if request.can_read_body else {}
        return web.json_response(command(body))

    app = web.Application(client_max_size=256 * 1024 * 1024)
    app.router.add_post("/ctl/{command}", handle)
    return app


async def _serve(conn: Connection, elapsed: Any, config: dict[str, Any]) -> None:
    world = WorldProcess(SharedTime(elapsed, float(config["start_epoch"])), config)
    if config["mode"] == "follow":
        world.build_follow(int(config["count"]), int(config.get("hosts", 0)))
    else:
        world.build_discovery(int(config["count"]))

    async def no_latency(_: float) -> None:
        return None

    app = create_simulator_app(world.world, credentials=SimulatorCredentials(), faults=Faults(),
                               requests=world.requests, sleep=no_latency)  # fmt: skip
    # uvicorn binds itself: sockets handed to it lose TCP_NODELAY (40 ms per keep-alive request)
    server = uvicorn.Server(uvicorn.Config(
        world.watch_asgi(app), host="127.0.0.1", port=0, log_level="warning", access_log=False,
        lifespan="off", backlog=4096))  # fmt: skip
    serving = asyncio.create_task(server.serve())
    control = web.AppRunner(_control_app(world), access_log=None)
    await control.setup()
    control_sock = _bound_socket()
    await web.SockSite(control, control_sock).start()
    async with world.slack as slack:
        slack.set_rate_limit("chat.update", per_minute=50, burst=3)
        slack.set_rate_limit("chat.postMessage", per_minute=300, burst=10)
        slack.set_channel_rate_limit("chat.postMessage", per_minute=60, burst=1)
        channels = [
            slack.add_channel(f"ops-{i}", id=f"C{i:08d}").id for i in range(int(config["channels"]))
        ]
        give_up = time.monotonic() + 30
        while not server.started:
            if serving.done() or time.monotonic() > give_up:
                raise RuntimeError("the simulator server did not start")
            await asyncio.sleep(0.01)
        aom_url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        control_url = f"http://127.0.0.1:{control_sock.getsockname()[1]}"
        conn.send(world.info(aom_url, control_url, channels))
        conn.close()
        await world.done.wait()
        server.should_exit = True
        await serving
    await control.cleanup()


def run_world(conn: Connection, elapsed: Any, config: dict[str, Any]) -> None:
    """The child process's entry point: build the world, serve it until told to stop."""
    asyncio.run(_serve(conn, elapsed, config))
