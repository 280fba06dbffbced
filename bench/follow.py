"""Benchmark: one FollowEngine following many executions on simulated time.

Two processes, so the bot's memory is measured alone. This one runs exactly what the bot runs:
FollowEngine, SlackNotifier, the AomClient (httpx over aiohttp, pooled) and a SQLite store in a
temporary directory. A child process (``bench/follow_world.py``, spawned) serves the world on
127.0.0.1: ``--executions`` runs (5-20 hosts each, mostly succeeding, some failing) on the
simulator under uvicorn, and FakeSlack with Slack's tier limits switched on (chat.update 50/min
per workspace, chat.postMessage 1/s per channel), so any pacing mistake shows up as a 429.
Simulated time is shared through a ``multiprocessing.Value``: this process writes it when its
clock advances, which it does only once no HTTP request is in flight; the child counts every
request that saw the clock move while it was answered (goal: 0). The follows are seeded into
the store with cards already posted (as after a restart: posting 10,000 cards takes Slack ~40
minutes at its posting limit and is not what this measures), then the engine runs for
``--minutes`` of simulated time, advanced in ``--step``-second ticks.

Printed side by side with the goals:

- AOM status requests per execution per poll interval (the policy's interval for the run's
  age), and the smallest gap between two polls of one execution;
- ``chat.update`` calls per visible change: at most one; below one when Slack's per-workspace
  limit is the bottleneck and changes are coalesced (every update carries the latest state);
- Slack 429s received; peak RSS of the bot's process (and its growth while following) next to
  the world process's; CPU seconds per hour of simulated following, the bot's process all told
  and without the bench's clock loop (``Settler``, which runs in this process: its checks timed
  with ``time.thread_time``, its trips round the event loop estimated from an idle loop's). The
  goal (<= 3,600, one core) is judged on the latter; ``--spin`` restores the old 1 ms polling.

Run: ``.venv/bin/python bench/follow.py [--executions 10000] [--minutes 10] [--hosts 400]``
(``--hosts``: hosts per execution, default 5-20 at random; ``--gc-tuned``: the GC tuned once
seeded, as ``aom-bot run`` does after start-up). Also printed: polls answered with an
unchanged body (not parsed), CPU ms per poll, and the official SDK's CPU for one fetch of the
same body (``--sdk-fetches`` times, after the run, clock stopped) with the ratios to it.

Subscriptions mode, ``--workflows 1000``: that many subscribed workflows (every tenth one
failures-only, every fifth one subscribed by a second channel), new runs starting at random
(about one per workflow per ``--run-every`` minutes), the discovery loop (one round every
``--interval`` seconds) posting cards that the follow engine then keeps current. Printed: AOM
list requests per workflow per interval (goal: exactly 1, however many channels subscribe),
cards posted against runs that should have been posted (goal: equal, no duplicate), wall time
of one discovery round, CPU and RSS (both processes).

Run: ``.venv/bin/python bench/follow.py --workflows 1000 [--minutes 10] [--interval 60]``
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from slack_sdk.web.async_client import AsyncWebClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aom_bot.aom.accounts import AomAccounts  # noqa: E402
from aom_bot.aom.auth import AkSkAuth  # noqa: E402
from aom_bot.aom.client import AomClient, RetryPolicy, build_http_client  # noqa: E402
from aom_bot.aom.http import DEFAULT_LIMITS  # noqa: E402
from aom_bot.clock import ManualClock  # noqa: E402
from aom_bot.follow.discovery import SubscriptionDiscovery  # noqa: E402
from aom_bot.follow.engine import EngineOptions, FollowEngine  # noqa: E402
from aom_bot.gc_tuning import tune_gc  # noqa: E402
from aom_bot.render.analysis import visible_fingerprint  # noqa: E402
from aom_bot.slack.notifier import SlackNotifier  # noqa: E402
from aom_bot.store import NewFollow, NewSubscription, open_store  # noqa: E402

POLL_MIN = 5.0
POLL_MAX = 30.0


class Worker(Protocol):
    """What ``settle`` needs of the follow engine and of the discovery loop."""

    @property
    def has_pending_work(self) -> bool: ...

    def busy_tasks(self) -> set[asyncio.Task[Any]]: ...


class SharedClock(ManualClock):
    """Simulated time, published to the world process; knows which tasks sleep on it (and until when).

    ``elapsed`` is a ``multiprocessing.Value('d')`` the world process reads as its clock. It is
    written inside ``advance``, before any woken task runs (they run at the next await), and
    ``settle`` makes sure no request is in flight when ``advance`` is called.
    """

    def __init__(self, elapsed: Any) -> None:
        super().__init__()
        self.elapsed = elapsed
        self.waits: dict[asyncio.Task[Any], float] = {}

    async def sleep(self, seconds: float) -> None:
        task = asyncio.current_task()
        if task is not None and seconds > 0:
            self.waits[task] = self.monotonic() + seconds
        try:
            await super().sleep(seconds)
        finally:
            if task is not None:
                self.waits.pop(task, None)

    def asleep(self, task: asyncio.Task[Any]) -> bool:
        """True while ``task`` waits for a simulated moment that has not come yet."""
        deadline = self.waits.get(task)
        return deadline is not None and deadline > self.monotonic()

    def advance(self, seconds: float) -> None:
        super().advance(seconds)
        self.elapsed.value = self.monotonic()


class InFlight:
    """HTTP requests the bot has sent and has no answer to yet (AOM and Slack).

    ``idle`` is set whenever none is in flight, so ``Settler`` can wait for the answers instead
    of looking every millisecond (a loop that would count as the bot's CPU).
    """

    def __init__(self) -> None:
        self.count = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def started(self) -> None:
        self.count += 1
        self.idle.clear()

    def ended(self) -> None:
        self.count -= 1
        if self.count == 0:
            self.idle.set()

    def transport(self, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        """``inner``, counted (for the AOM client)."""
        return _CountingTransport(inner, self)

    def trace_config(self) -> aiohttp.TraceConfig:
        """Counting hooks for the Slack client's aiohttp session."""
        trace = aiohttp.TraceConfig()

        async def started(*_: object) -> None:
            self.started()

        async def ended(*_: object) -> None:
            self.ended()

        trace.on_request_start.append(started)
        trace.on_request_end.append(ended)
        trace.on_request_exception.append(ended)
        return trace


class _CountingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, inflight: InFlight) -> None:
        self._inner = inner
        self._inflight = inflight

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._inflight.started()
        try:
            return await self._inner.handle_async_request(request)
        finally:
            self._inflight.ended()

    async def aclose(self) -> None:
        await self._inner.aclose()


class Settler:
    """Moves simulated time only once every worker is idle or asleep on the clock and no HTTP
    request is in flight; counts the CPU its own checks spend, which is the bench's, not the bot's.

    Real waiting is only ever for I/O (SQLite's thread, the sockets to the world process), so the
    clock moves only when nothing can still be answered at the old time. While a request is in
    flight it awaits ``InFlight.idle`` (nothing can be quiet before the answers arrive); otherwise
    it looks again every millisecond (a task is running or waits on SQLite's thread). ``spin``:
    look every millisecond in both cases, as the bench did before (main at ``ab689ae``).
    """

    def __init__(
        self, clock: SharedClock, inflight: InFlight, *workers: Worker, spin: bool = False
    ) -> None:
        self._clock = clock
        self._inflight = inflight
        self._workers = workers
        self._spin = spin
        self.cpu = 0.0  # thread CPU seconds spent in the checks themselves
        self.rounds = 0  # looks at the workers (each a trip round the event loop)
        self.waits = 0  # waits for the requests in flight
        self.naps = 0  # 1 ms sleeps

    def _quiet(self) -> bool:
        clock = self._clock
        return self._inflight.count == 0 and all(
            not w.has_pending_work and all(clock.asleep(t) for t in w.busy_tasks())
            for w in self._workers
        )

    async def settle(self, patience: float = 600.0) -> None:
        """Return once the bot is quiet at the current simulated moment."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + patience
        quiet_rounds = 0
        while loop.time() < give_up:
            await asyncio.sleep(0)
            began = time.thread_time()
            self.rounds += 1
            if self._inflight.count and not self._spin:
                self.waits += 1
                quiet_rounds = 0
                self.cpu += time.thread_time() - began
                await asyncio.wait_for(self._inflight.idle.wait(), give_up - loop.time())
                continue
            quiet = self._quiet()
            self.cpu += time.thread_time() - began
            if quiet:
                quiet_rounds += 1
                if quiet_rounds >= 5:
                    return
            else:
                quiet_rounds = 0
                self.naps += 1
                await asyncio.sleep(0.001)  # let threads and sockets deliver
        raise RuntimeError("the bot never settled")


def trips_cpu(settler: Settler, zero: float, nap: float) -> float:
    """What ``settler``'s trips round the event loop cost beyond its checks (an estimate): each
    look follows a zero sleep, each nap and each wait for answers arms a timer and a future."""
    return settler.rounds * zero + (settler.naps + settler.waits) * nap


async def loop_trip_cpu(trips: int = 2000) -> tuple[float, float]:
    """CPU seconds of one trip round an otherwise idle event loop: a zero sleep, a 1 ms one."""
    began = time.process_time()
    for _ in range(trips):
        await asyncio.sleep(0)
    zero = (time.process_time() - began) / trips
    began = time.process_time()
    for _ in range(trips):
        await asyncio.sleep(0.001)
    return zero, (time.process_time() - began) / trips


def _run_world(conn: Any, elapsed: Any, config: dict[str, Any]) -> None:
    """The world process's entry point; imported there, so the bot's process never loads it."""
    from follow_world import run_world

    run_world(conn, elapsed, config)


def _receive(conn: Any, process: Any) -> dict[str, Any]:
    if not conn.poll(300) or not process.is_alive():
        raise RuntimeError("the world process did not start (see its traceback above)")
    info: dict[str, Any] = conn.recv()
    return info


class WorldLink:
    """The child process serving the simulator and FakeSlack (``bench/follow_world.py``)."""

    def __init__(self, context: Any, clock: SharedClock, config: dict[str, Any]) -> None:
        self._receive, send = context.Pipe(duplex=False)
        config = {**config, "start_epoch": clock.now().timestamp()}
        self._send = send
        self._process = context.Process(target=_run_world, args=(send, clock.elapsed, config),
                                        name="bench-world", daemon=True)  # fmt: skip
        self._session: aiohttp.ClientSession | None = None
        self.info: dict[str, Any] = {}

    async def __aenter__(self) -> WorldLink:
        self._process.start()
        self._send.close()
        self.info = await asyncio.to_thread(_receive, self._receive, self._process)
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600))
        return self

    async def __aexit__(self, *_: object) -> None:
        try:
            if self._process.is_alive():
                await self.call("stop")
        finally:
            if self._session is not None:
                await self._session.close()
            await asyncio.to_thread(self._process.join, 60)
            if self._process.is_alive():
                self._process.terminate()

    async def call(self, command: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One control command (see ``follow_world.WorldProcess.cmd_*``)."""
        assert self._session is not None
        url = f"{self.info['control_url']}/ctl/{command}"
        async with self._session.post(url, json=body or {}) as response:
            response.raise_for_status()
            result: dict[str, Any] = await response.json()
            return result


def current_rss_mb() -> float:
    """Resident set size now (Linux), in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    """This process's peak resident set size (``ru_maxrss``), in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def aom_client(info: dict[str, Any], inflight: InFlight) -> AomClient:
    """The bot's AOM client (httpx over aiohttp, pooled) to the world process's simulator,
    signing with AK/SK as a deployment does (and as the SDK's line does)."""
    transport = inflight.transport(AiohttpTransport(limits=DEFAULT_LIMITS))
    auth = AkSkAuth(ak="bench-ak", sk="bench-sk", project_id=info["project_id"])
    http = build_http_client(base_url=info["aom_url"], auth=auth, transport=transport)
    return AomClient(http, project_id=info["project_id"], retry=RetryPolicy(attempts=1))


async def fetch_costs(
    info: dict[str, Any], aom: AomClient, workflow_id: str, execution_id: str, n: int
) -> tuple[float, float, float]:
    """CPU ms per fetch of one execution, in this process, with the world's clock stopped (so
    the same body every time): the official SDK (threads, its own parsing), this client parsing
    it, this client told it is unchanged (request and digest only)."""
    from client import Target, official  # bench/client.py: the SDK as bench/client.py drives it

    target = Target(base_url=info["aom_url"], project_id=info["project_id"],
                    workflow_id=workflow_id, execution_id=execution_id, ak="bench-ak",
                    sk="bench-sk", body_bytes=0)  # fmt: skip
    sdk = await asyncio.to_thread(official, target, n, 1)
    digest, _ = await aom.get_execution_if_changed(workflow_id, execution_id, None)
    cpu = time.process_time()
    for _ in range(n):
        await aom.get_execution(workflow_id, execution_id)
    parsed = time.process_time() - cpu
    cpu = time.process_time()
    for _ in range(n):
        await aom.get_execution_if_changed(workflow_id, execution_id, digest)
    unchanged = time.process_time() - cpu
    return sdk.cpu_s * 1000 / n, parsed * 1000 / n, unchanged * 1000 / n


def print_table(rows: Sequence[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"{'metric':<{width}}  {'measured':>14}  goal")
    for name, value, goal in rows:
        print(f"{name:<{width}}  {value:>14}  {goal}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--step", type=float, default=1.0, help="simulated seconds per tick")
    parser.add_argument(
        "--speed",
        type=float,
        default=None,
        help="simulator speed (default 0.01: runs ~25-60 min; 0.1 with --workflows)",
    )
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument(
        "--hosts", type=int, default=0, help="hosts per execution (default: 5-20 at random)"
    )
    parser.add_argument(
        "--sdk-fetches", type=int, default=50, help="fetches timed for the SDK comparison"
    )
    parser.add_argument("--verbose", action="store_true", help="also print RSS over time")
    parser.add_argument(
        "--gc-tuned",
        action="store_true",
        help="tune the GC once seeded, as `aom-bot run` does after start-up (gc_tuning)",
    )
    parser.add_argument(
        "--workflows", type=int, default=0, help="subscriptions mode: subscribed workflows"
    )
    parser.add_argument(
        "--spin",
        action="store_true",
        help="settle by looking every 1 ms even while requests are in flight (the old bench)",
    )
    parser.add_argument("--interval", type=float, default=60.0, help="discovery interval (s)")
    parser.add_argument(
        "--run-every", type=float, default=30.0, help="minutes between runs of one workflow"
    )
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    clock = SharedClock(context.Value("d", 0.0))
    if args.workflows:
        args.speed = args.speed or 0.1
        config = {"mode": "discovery", "count": args.workflows, "speed": args.speed,
                  "channels": args.channels}  # fmt: skip
        async with WorldLink(context, clock, config) as world:
            await discovery_main(args, clock, world)
        return
    args.speed = args.speed or 0.01
    config = {"mode": "follow", "count": args.executions, "speed": args.speed,
              "channels": args.channels, "hosts": args.hosts}  # fmt: skip
    async with WorldLink(context, clock, config) as world:
        await follow_main(args, clock, world)


async def follow_main(args: argparse.Namespace, clock: SharedClock, world: WorldLink) -> None:
    """Following mode: see the module docstring."""
    info = world.info
    inflight = InFlight()
    aom = aom_client(info, inflight)
    runs: list[list[str]] = info["runs"]
    channels: list[str] = info["channels"]
    alice: str = info["alice"]

    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite:///{tmp}/bench.db")
        await store.migrate()
        async with aiohttp.ClientSession(trace_configs=[inflight.trace_config()]) as session:
            seed_started = time.perf_counter()
            assigned = [channels[i % len(channels)] for i in range(len(runs))]
            cards: list[str] = (await world.call("cards", {"channels": assigned}))["ts"]
            for (workflow_id, execution_id), channel, ts in zip(runs, assigned, cards, strict=True):
                execution = await aom.get_execution(workflow_id, execution_id)
                follow, _ = await store.start_follow(NewFollow(
                    workflow_id=workflow_id, execution_id=execution_id, channel_id=channel,
                    started_by=alice, started_at=clock.now(),
                    deadline=clock.now() + timedelta(hours=24), message_ts=ts,
                    mention=f"<@{alice}>"))  # fmt: skip
                await store.record_render(follow.id, visible_fingerprint(execution), clock.now())
            seed_seconds = time.perf_counter() - seed_started
            await world.call("reset")

            client = AsyncWebClient(token=info["bot_token"], base_url=info["slack_url"],
                                    session=session)  # fmt: skip
            notifier = SlackNotifier(client, clock=clock)
            engine = FollowEngine(
                accounts=AomAccounts.single(aom), store=store, notifier=notifier, clock=clock,
                options=EngineOptions(
                    owner="bench", poll_min=POLL_MIN, poll_max=POLL_MAX,
                    max_follow=timedelta(hours=24), broadcast_failures=True, rng=random.Random(1),
                ),
            )  # fmt: skip

            if args.gc_tuned:
                tune_gc()
            zero_trip, nap_trip = await loop_trip_cpu()
            settler = Settler(clock, inflight, engine, spin=args.spin)
            baseline_mb = current_rss_mb()
            cpu_before = time.process_time()
            wall_before = time.perf_counter()
            start = clock.monotonic()
            runner = asyncio.create_task(engine.run())
            await settler.settle()
            rss_trace: list[float] = []
            while clock.monotonic() - start < args.minutes * 60:
                clock.advance(args.step)
                await settler.settle()
                if int(clock.monotonic() - start) % 30 == 0:
                    rss_trace.append(current_rss_mb())
            cpu = time.process_time() - cpu_before
            wall = time.perf_counter() - wall_before
            stats = engine.stats
            await engine.stop()
            await runner
            span = clock.monotonic() - start
            rss_mb = peak_rss_mb()
            counters = await world.call("stats", {"poll_min": POLL_MIN, "poll_max": POLL_MAX})
            sdk_ms, parsed_ms, same_ms = await fetch_costs(info, aom, *runs[0], n=args.sdk_fetches)
        await store.aclose()
    await aom.aclose()

    status_requests = counters["status_requests"]
    allowed = counters["allowed"]
    updates = counters["updates"]
    hours = span / 3600
    trips = trips_cpu(settler, zero_trip, nap_trip)
    bench_cpu = settler.cpu + trips
    bot_cpu = cpu - bench_cpu
    rows = [
        ("executions followed", f"{args.executions}", ""),
        ("simulated minutes", f"{span / 60:.1f}", ""),
        ("AOM status requests", f"{status_requests}", ""),
        ("requests per execution per interval", f"{status_requests / max(allowed, 1):.3f}", "<= 1"),
        ("smallest gap between polls of one run (s)", f"{counters['min_gap']:.1f}",
         f">= {POLL_MIN:g}"),
        ("visible changes", f"{stats.visible_changes}", ""),
        ("chat.update calls (changes)", f"{stats.updates_sent}", ""),
        ("chat.update calls (heartbeats)", f"{stats.heartbeats_sent}", ""),
        ("chat.update calls (final cards, end notes)",
         f"{updates - stats.updates_sent - stats.heartbeats_sent}", ""),
        ("change updates per visible change",
         f"{stats.updates_sent / max(stats.visible_changes, 1):.3f}",
         "1 while Slack's budget allows; less = coalesced"),
        ("chat.update per minute, all kinds", f"{updates / (span / 60):.1f}",
         "<= 50 (Slack tier 3)"),
        ("new-failure replies / completions",
         f"{stats.new_group_replies} / {stats.completions_posted}", ""),
        ("Slack 429s received", f"{counters['rate_limited']}", "0"),
        ("requests answered across a clock advance", f"{counters['straddled']}", "0"),
        ("peak RSS, bot process (MB)", f"{rss_mb:.0f}", "<= 500 (10,000 follows of 400 hosts)"),
        ("  of which before the engine started (MB)", f"{baseline_mb:.0f}",
         "imports, store, clients (after seeding)"),
        ("  growth while following (MB)", f"{rss_mb - baseline_mb:.0f}",
         "engine, notifier, store, HTTP pools"),
        ("  highest sampled RSS while following (MB)", f"{max(rss_trace, default=0):.0f}",
         "every 30 simulated s"),
        ("peak RSS, world process (MB)", f"{counters['rss_mb']:.0f}",
         "simulator + FakeSlack; not the bot"),
        ("CPU seconds (engine run, bot process)", f"{cpu:.1f}", ""),
        ("  the bench's clock loop: checks (measured)", f"{settler.cpu:.1f}",
         f"{settler.rounds} looks, {settler.naps} 1 ms naps, {settler.waits} waits for answers"
         + (" (--spin)" if args.spin else "")),
        ("  the bench's clock loop: loop trips (est.)", f"{trips:.1f}",
         f"{zero_trip * 1e6:.0f} us a look, {nap_trip * 1e6:.0f} us a nap or wait (idle loop)"),
        ("CPU s per hour, bot process (all)", f"{cpu / hours:.0f}", "includes the bench's loop"),
        ("CPU s per hour, without the bench's clock loop", f"{bot_cpu / hours:.0f}",
         "<= 3600: the goal is judged on this"),
        ("CPU ms per poll (bot process, all work)",
         f"{cpu * 1000 / max(status_requests, 1):.2f}", ""),
        ("CPU ms per poll, without the bench's clock loop",
         f"{bot_cpu * 1000 / max(status_requests, 1):.2f}", ""),
        ("hosts per execution", f"{args.hosts or '5-20'}", ""),
        ("GC", "tuned" if args.gc_tuned else "default", "--gc-tuned: as `aom-bot run`"),
        ("polls answered with an unchanged body", f"{stats.unchanged_polls}",
         "not parsed, analysed or rendered"),
        ("SDK fetch of one such body, CPU ms", f"{sdk_ms:.2f}",
         "official SDK, same process, body frozen"),
        ("  bot CPU per poll / SDK fetch",
         f"{bot_cpu * 1000 / max(status_requests, 1) / sdk_ms:.3f}",
         "<= 0.25 while cards change"),
        ("  AomClient fetch, parsed / SDK", f"{parsed_ms / sdk_ms:.3f}", f"{parsed_ms:.2f} ms"),
        ("  AomClient fetch, unchanged / SDK", f"{same_ms / sdk_ms:.3f}",
         f"{same_ms:.2f} ms; <= 0.10"),
        ("CPU seconds, world process (whole life)", f"{counters['cpu']:.1f}", ""),
        ("wall seconds (run) / seeding", f"{wall:.1f} / {seed_seconds:.1f}", ""),
    ]  # fmt: skip
    if args.verbose:
        print("RSS every 30 simulated seconds (MB):", " ".join(f"{x:.0f}" for x in rss_trace))
    print_table(rows)


async def discovery_main(args: argparse.Namespace, clock: SharedClock, world: WorldLink) -> None:
    """Subscriptions mode: see the module docstring."""
    info = world.info
    inflight = InFlight()
    aom = aom_client(info, inflight)
    workflows: list[str] = info["workflows"]
    channels: list[str] = info["channels"]
    alice: str = info["alice"]

    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite:///{tmp}/bench.db")
        await store.migrate()
        async with aiohttp.ClientSession(trace_configs=[inflight.trace_config()]) as session:
            subscribers: dict[str, list[tuple[str, bool]]] = {}
            for i, workflow_id in enumerate(workflows):
                chosen = [channels[i % len(channels)]]
                if i % 5 == 0:
                    chosen.append(channels[(i + 1) % len(channels)])
                failures_only = i % 10 == 0
                history = [e.execution_id for e in await aom.list_executions(workflow_id)]
                await store.mark_seen(workflow_id, history, clock.now())
                for channel in chosen:
                    for execution_id in history:
                        await store.claim_post(channel, workflow_id, execution_id, clock.now())
                    await store.subscribe(NewSubscription(
                        channel_id=channel, workflow_id=workflow_id, workflow_name=f"wf-{i}",
                        failures_only=failures_only, mention=None, created_by=alice,
                        created_at=clock.now()))  # fmt: skip
                subscribers[workflow_id] = [(c, failures_only) for c in chosen]
            await world.call("reset")

            client = AsyncWebClient(token=info["bot_token"], base_url=info["slack_url"],
                                    session=session)  # fmt: skip
            notifier = SlackNotifier(client, clock=clock)
            engine = FollowEngine(
                accounts=AomAccounts.single(aom), store=store, notifier=notifier, clock=clock,
                options=EngineOptions(
                    owner="bench", poll_min=POLL_MIN, poll_max=POLL_MAX,
                    max_follow=timedelta(hours=24), broadcast_failures=True, rng=random.Random(1),
                ),
            )  # fmt: skip
            discovery = SubscriptionDiscovery(
                accounts=AomAccounts.single(aom), store=store, notifier=notifier, follow=engine, clock=clock,
                owner="bench", interval=args.interval,
            )  # fmt: skip
            baseline_mb = current_rss_mb()
            cpu_before = time.process_time()
            wall_before = time.perf_counter()
            start = clock.monotonic()
            tasks = [asyncio.create_task(engine.run()), asyncio.create_task(discovery.run())]
            settler = Settler(clock, inflight, engine, discovery, spin=args.spin)
            await settler.settle()
            round_walls: list[float] = []
            rounds_seen = discovery.stats.rounds
            chance = args.step / (args.run_every * 60)
            while clock.monotonic() - start < args.minutes * 60:
                await world.call("start_runs", {"chance": chance})
                clock.advance(args.step)
                tick = time.perf_counter()
                await settler.settle()
                if discovery.stats.rounds > rounds_seen:
                    rounds_seen = discovery.stats.rounds
                    round_walls.append(time.perf_counter() - tick)
            # quiet time: no new runs, so every started run can end and be posted
            for _ in range(int(15 * 60 / args.step)):
                clock.advance(args.step)
                await settler.settle()
            cpu = time.process_time() - cpu_before
            wall = time.perf_counter() - wall_before
            span = clock.monotonic() - start
            await discovery.stop()
            await engine.stop()
            await asyncio.gather(*tasks)
            rounds = discovery.stats.rounds
            rss_mb = peak_rss_mb()
            counters = await world.call("stats", {"subscribers": subscribers})
        await store.aclose()
    await aom.aclose()

    lists = counters["list_requests"]
    per_interval = lists / max(rounds * len(workflows), 1)
    round_walls.sort()
    rows = [
        ("subscribed workflows", f"{len(workflows)}", ""),
        ("subscriptions (channels x workflows)", f"{sum(map(len, subscribers.values()))}", ""),
        ("simulated minutes (incl. 15 quiet)", f"{span / 60:.1f}", ""),
        ("discovery rounds", f"{rounds}", f"every {args.interval:g} s"),
        ("AOM list requests", f"{lists}", ""),
        ("list requests per workflow per interval", f"{per_interval:.3f}", "1"),
        ("runs started", f"{counters['runs_started']}", ""),
        ("cards that should be posted", f"{counters['expected_cards']}", ""),
        ("cards posted", f"{counters['cards_posted']}", "= should, none twice"),
        ("duplicate cards", f"{counters['duplicate_cards']}", "0"),
        ("AOM status requests (follow engine)", f"{counters['status_requests']}", ""),
        ("discovery aom errors / failed posts",
         f"{discovery.stats.aom_errors} / {discovery.stats.failed_posts}", "0 / 0"),
        ("Slack 429s received", f"{counters['rate_limited']}", "0"),
        ("requests answered across a clock advance", f"{counters['straddled']}", "0"),
        ("round wall time, median / max (s)",
         f"{round_walls[len(round_walls) // 2]:.2f} / {round_walls[-1]:.2f}"
         if round_walls else "-", f"< {args.interval:g}"),
        ("peak RSS, bot process (MB)", f"{rss_mb:.0f}", ""),
        ("  growth while running (MB)", f"{rss_mb - baseline_mb:.0f}", ""),
        ("peak RSS, world process (MB)", f"{counters['rss_mb']:.0f}",
         "simulator + FakeSlack; not the bot"),
        ("CPU seconds / wall seconds (bot process)", f"{cpu:.1f} / {wall:.1f}", ""),
        ("CPU seconds, world process (whole life)", f"{counters['cpu']:.1f}", ""),
    ]  # fmt: skip
    print_table(rows)


if __name__ == "__main__":
    asyncio.run(main())
