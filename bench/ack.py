"""Acknowledgement latency of /aom-exec in HTTP mode, next to a bare Bolt app that only acks.

Three processes besides this driver, all on 127.0.0.1, so that no server shares an event loop
(or much of a GIL) with the load generator:

* ``fakes``: FakeSlack (Web API + response_url) and the AOM simulator under uvicorn;
* ``bot``:   the real app (Bolt in our Starlette app under uvicorn), answering for real:
  AOM fetch, follow-state lookup, rendering and chat.postMessage after each ack;
* ``bare``:  a Bolt app on the same Starlette/uvicorn stack whose handler only acks.

The driver sends rounds of N concurrent signed slash commands (``show WF EX``, each in its own
channel) to one app, then to the other, alternating, and measures send → HTTP response (the ack
Slack waits for) with an httpx client. Goal: bot p50 and p99 at most 1.3 × the bare app's.

    .venv/bin/python bench/ack.py                      # 20 rounds x 50 concurrent
    .venv/bin/python bench/ack.py --rounds 40 --scenario mass-failure
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-signing-secret"  # noqa: S105 - signs local benchmark requests only
CHANNELS = 50


# --- the server roles --------------------------------------------------------------------------


class ServerTimer:
    """ASGI wrapper timing each ``POST /slack/events`` inside the server: from the moment the
    app gets the request to the end of its response. ``POST /__bench/reset`` drops warm-up."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.durations: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/slack/events":
            if scope["type"] == "http" and scope["path"] == "/__bench/reset":
                self.durations.clear()
                await send({"type": "http.response.start", "status": 204, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.durations.append(time.perf_counter() - started)

        await self.app(scope, receive, timed_send)


async def _serve_until_stdin_closes(
    ready: dict[str, Any], timer: ServerTimer | None = None
) -> None:
    print(json.dumps(ready), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # the driver closes our stdin to stop us
    if timer is not None:
        print(json.dumps({"server_seconds": timer.durations}), flush=True)


async def role_fakes(args: argparse.Namespace) -> None:
    """FakeSlack plus the simulator, each on its own port.

    Niced: in production Slack and AOM are remote and cost this machine no CPU; here they
    share it, and must not take it from the driver or the app being measured.
    """
    os.nice(15)
    from aom_bot.simulator import SimulatorCredentials, build_world, create_simulator_app
    from aom_bot.slack.http import start_http
    from tests.fakes.slack_api import FakeSlack

    world = build_world(seed=11, clock=time.time, scenarios=[args.scenario])
    wf = world.workflow_ids()[0]
    ex = world.execution_ids(wf)[1]  # yesterday's finished run
    sim = create_simulator_app(world, credentials=SimulatorCredentials())
    async with FakeSlack() as slack, start_http(sim) as aom:
        channels = [slack.add_channel(f"incident-{i}").id for i in range(CHANNELS)]
        await _serve_until_stdin_closes(
            {
                "slack_base": slack.base_url,
                "slack_origin": slack.origin,
                "aom_base": aom.url,
                "project_id": world.project_id,
                "workflow_id": wf,
                "execution_id": ex,
                "channels": channels,
                "token": slack.bot_token,
            }
        )


async def role_bot(args: argparse.Namespace) -> None:
    """The real aom-bot app in HTTP mode, wired as the bot wires it (``build_bot``)."""
    from aom_bot.aom.client import AomClient, build_http_client
    from aom_bot.clock import SystemClock
    from aom_bot.composition import AomProfile, BotInputs, BotOptions, build_bot
    from aom_bot.slack.http import build_http_app, start_http
    from aom_bot.slack.metrics import Metrics
    from aom_bot.slack.notifier import Rate, SlackLimits
    from aom_bot.slack.webclient import build_web_client
    from aom_bot.store import open_store

    env = json.loads(args.env)
    metrics = Metrics()
    client = build_web_client(env["token"], base_url=env["slack_base"], metrics=metrics)
    fast = Rate(60_000, 200)  # pacing relaxed: all background work runs inside the round
    limits = SlackLimits(update=fast, post=fast, post_per_channel=fast, ephemeral=fast)
    aom_client = AomClient(
        build_http_client(base_url=env["aom_base"], auth=None), project_id=env["project_id"]
    )
    store = await open_store("sqlite:///:memory:")
    await store.migrate()
    options = BotOptions(owner="bench",
                         max_follow=timedelta(hours=1), slack_limits=limits, signing_secret=SECRET)  # fmt: skip
    # the parts this bench has always measured: no subscriptions, every show posts a card
    bot = build_bot(
        BotInputs(
            options=options,
            aom={"default": AomProfile(aom_client, aom_client, region="cn-north-4")},
            store=store,
            clock=SystemClock(),
            bolt_client=client,
            notifier_client=client,
            metrics=metrics,
        ),
        subscriptions=None,
        cards=None,
    )
    try:
        timer = ServerTimer(build_http_app(bot.bolt, metrics=metrics))
        async with start_http(timer) as server:  # type: ignore[arg-type]
            await _serve_until_stdin_closes({"url": server.url}, timer)
    finally:
        await store.aclose()  # its worker thread would keep the process alive
        await client.aclose()
        await aom_client.aclose()


async def role_bare(args: argparse.Namespace) -> None:
    """A Bolt app whose command handler only acks, on the same stack."""
    from slack_bolt.async_app import AsyncApp
    from slack_bolt.context.ack.async_ack import AsyncAck

    from aom_bot.slack.http import build_http_app, start_http
    from aom_bot.slack.metrics import Metrics
    from aom_bot.slack.webclient import build_web_client

    env = json.loads(args.env)
    client = build_web_client(env["token"], base_url=env["slack_base"])
    bolt = AsyncApp(name="bare", signing_secret=SECRET, client=client)

    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    bolt.command("/aom-exec")(only_ack)
    try:
        timer = ServerTimer(build_http_app(bolt, metrics=Metrics()))
        async with start_http(timer) as server:  # type: ignore[arg-type]
            await _serve_until_stdin_closes({"url": server.url}, timer)
    finally:
        await client.aclose()


# --- the driver ----------------------------------------------------------------------------------


def _spawn(role: str, env: dict[str, Any] | None = None, **extra: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:  # fmt: skip
    cmd = [sys.executable, str(Path(__file__)), "--role", role]
    if env is not None:
        cmd += ["--env", json.dumps(env)]
    for key, value in extra.items():
        cmd += [f"--{key}", value]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "AOM_"))}
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=clean
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"{role} process failed to start")
    return proc, json.loads(line)


def _signed(text: str, channel: str, response_url: str) -> tuple[str, dict[str, str]]:
    from tests.fakes.slack_signing import sign_request, slash_command_body

    body = slash_command_body(text, response_url=response_url, channel_id=channel)
    return body, sign_request(body, SECRET, int(time.time()))


async def _round(
    http: httpx.AsyncClient, url: str, text: str, channels: list[str], hook: str, n: int
) -> list[float]:
    """n concurrent commands; seconds from send to response, each."""
    requests = [_signed(text, channels[i % len(channels)], hook) for i in range(n)]
    start = asyncio.Event()

    async def one(body: str, headers: dict[str, str]) -> float:
        await start.wait()
        t0 = time.perf_counter()
        response = await http.post(url + "/slack/events", content=body, headers=headers)
        elapsed = time.perf_counter() - t0
        if response.status_code != 200:
            raise SystemExit(f"unexpected {response.status_code}: {response.text[:200]}")
        return elapsed

    tasks = [asyncio.create_task(one(b, h)) for b, h in requests]
    await asyncio.sleep(0)
    start.set()
    return list(await asyncio.gather(*tasks))


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def drive(args: argparse.Namespace) -> None:
    fakes, env = _spawn("fakes", scenario=args.scenario)
    bot, bot_info = _spawn("bot", env)
    bare, bare_info = _spawn("bare", env)
    text = f"show {env['workflow_id']} {env['execution_id']}"
    hook = env["slack_origin"] + "/webhook/none"  # never used on the success path
    limits = httpx.Limits(max_connections=args.concurrency * 2, max_keepalive_connections=200)
    samples: dict[str, list[float]] = {"aom-bot": [], "bare ack": []}
    rounds: dict[str, list[list[float]]] = {"aom-bot": [], "bare ack": []}
    targets: dict[str, str] = {"aom-bot": bot_info["url"], "bare ack": bare_info["url"]}
    try:
        async with httpx.AsyncClient(limits=limits, timeout=30) as http:
            for url in targets.values():  # warm-up: auth.test, connections, caches
                for _ in range(3):
                    await _round(http, url, text, env["channels"], hook, args.concurrency)
                    await asyncio.sleep(args.pause)
                await http.post(url + "/__bench/reset")
            for _ in range(args.rounds):
                for name, url in targets.items():
                    latencies = await _round(
                        http, url, text, env["channels"], hook, args.concurrency
                    )
                    samples[name] += latencies
                    rounds[name].append(latencies)
                    await asyncio.sleep(args.pause)  # let the bot's background work finish
    finally:
        for proc in (bot, bare, fakes):
            assert proc.stdin is not None
            proc.stdin.close()
        server: dict[str, list[float]] = {}
        for name, proc in (("aom-bot", bot), ("bare ack", bare), ("fakes", fakes)):
            assert proc.stdout is not None
            out = proc.stdout.read()  # until the process exits and closes it
            proc.wait()
            for line in out.splitlines():
                if line.startswith('{"server_seconds"'):
                    server[name] = json.loads(line)["server_seconds"]
    report(samples, rounds, args)
    if len(server) == 2:
        print("\nthe same requests timed inside each server (ASGI call to end of response):")
        _table(server)


def report(
    samples: dict[str, list[float]],
    rounds: dict[str, list[list[float]]],
    args: argparse.Namespace,
) -> None:
    print(
        f"/aom-exec ack latency, HTTP mode, {args.concurrency} concurrent commands x "
        f"{args.rounds} rounds, scenario {args.scenario} (ms)"
    )
    print(
        f"{'app':<10} {'n':>6} {'p50':>8} {'p99':>8} {'mean':>8} {'max':>8}"
        f" {'median round p99':>17}"
    )
    stats: dict[str, tuple[float, float]] = {}
    for name, values in samples.items():
        p50, p99 = _pct(values, 0.50) * 1000, _pct(values, 0.99) * 1000
        stats[name] = (p50, p99)
        per_round = statistics.median(_pct(r, 0.99) for r in rounds[name]) * 1000
        print(
            f"{name:<10} {len(values):>6} {p50:>8.2f} {p99:>8.2f} "
            f"{statistics.fmean(values) * 1000:>8.2f} {max(values) * 1000:>8.2f}"
            f" {per_round:>17.2f}"
        )
    bot, bare = stats["aom-bot"], stats["bare ack"]
    print(f"ratio p50 {bot[0] / bare[0]:.2f}  p99 {bot[1] / bare[1]:.2f}  (goal <= 1.30)")


def _table(samples: dict[str, list[float]]) -> None:
    print(f"{'app':<10} {'n':>6} {'p50':>8} {'p99':>8}")
    stats = {}
    for name, values in samples.items():
        stats[name] = (_pct(values, 0.50) * 1000, _pct(values, 0.99) * 1000)
        print(f"{name:<10} {len(values):>6} {stats[name][0]:>8.2f} {stats[name][1]:>8.2f}")
    bot, bare = stats["aom-bot"], stats["bare ack"]
    print(f"ratio p50 {bot[0] / bare[0]:.2f}  p99 {bot[1] / bare[1]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["driver", "fakes", "bot", "bare"], default="driver")
    parser.add_argument("--env", default="{}")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between rounds")
    parser.add_argument("--scenario", default="few-failures")
    args = parser.parse_args()
    roles: dict[str, Callable[[argparse.Namespace], Awaitable[None]]] = {
        "driver": drive,
        "fakes": role_fakes,
        "bot": role_bot,
        "bare": role_bare,
    }
    asyncio.run(roles[args.role](args))


if __name__ == "__main__":
    main()
