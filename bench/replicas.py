"""Benchmark: several real replicas (``aom-bot run --mode http``) sharing follows on PostgreSQL.

Every replica gets the same environment (no ``AOM_BOT_REPLICA_ID``: each names itself) and one
fresh schema on the PostgreSQL at ``AOM_BOT_TEST_POSTGRES_DSN`` (default
postgresql://postgres@127.0.0.1:5432/test; the schema is dropped at the end). This process
serves the world: the AOM simulator under uvicorn in a thread, its clock frozen so no run moves
on (cards never change: this measures who polls, not rendering; ``bench/follow.py`` does that),
and FakeSlack. ``--follows`` runs, begun 10-20 minutes ago, are seeded straight into the store
with their cards posted (as after a restart), so the replicas' interval for each is
``--poll-max``. Every AOM status request is time-stamped at the simulator, per execution.

The phases, one after another: the replicas start together and split the follows (time to a
fair spread); ``--minutes`` of steady polling; SIGKILL of the busiest replica (time until its
leases are held by the others, and until each of its executions is polled again); a fresh
replica joins; SIGTERM of the busiest (the same two times, from the signal).

Printed side by side with the goals:

- AOM status requests per execution per polling interval across the cluster, steady and over
  the whole run (each replica polls only what it leases: goal <= 1.0), the smallest gap between
  two polls of one execution, executions left unpolled in the steady window;
- the spread: max / mean follows per replica (goal <= 1.8, i.e. none above 60 % with three);
- takeover after SIGKILL (goal <= lease + interval) and handover after SIGTERM (goal <= one
  interval), each as "leases held by the others" and "polled again";
- peak RSS (``VmHWM``) and CPU seconds of each replica process.

Run: ``.venv/bin/python bench/replicas.py [--follows 3000] [--replicas 3] [--minutes 3]``
(also ``--lease 30 --poll-min 5 --poll-max 30``: the bot's defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aom_bot.aom.models import ExecutionDetail  # noqa: E402
from aom_bot.follow.leases import fair_share  # noqa: E402
from aom_bot.follow.policy import poll_interval  # noqa: E402
from aom_bot.render.analysis import visible_fingerprint  # noqa: E402
from aom_bot.simulator.app import create_simulator_app  # noqa: E402
from aom_bot.simulator.auth import SimulatorCredentials  # noqa: E402
from aom_bot.simulator.faults import classify  # noqa: E402
from aom_bot.simulator.world import World  # noqa: E402
from aom_bot.store import NewFollow, Store, open_store  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402

DSN = os.environ.get("AOM_BOT_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
TICK = 0.25  # how often the store and the request log are looked at while waiting


@dataclass(frozen=True, slots=True)
class Run:
    """One followed execution: ``begin`` in epoch seconds, ``shown`` the card's fingerprint."""

    workflow_id: str
    execution_id: str
    begin: float
    shown: str


class Polls:
    """ASGI wrapper: the monotonic time of every status request, per execution."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.at: dict[str, list[float]] = defaultdict(list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            endpoint, _, execution_id = classify(scope["method"], scope["path"])
            if endpoint == "status":
                self.at[execution_id].append(time.monotonic())
        await self.app(scope, receive, send)

    def peak_per_second(self, t0: float, t1: float) -> int:
        """The most status requests the simulator received in one second of [t0, t1]."""
        seconds = Counter(int(t) for ts in self.at.values() for t in ts if t0 <= t <= t1)
        return max(seconds.values(), default=0)

    def first_after(self, execution_id: str, t: float) -> float | None:
        return next((x for x in self.at.get(execution_id, ()) if x > t), None)


def serve_in_thread(app: Any) -> tuple[str, uvicorn.Server]:
    """uvicorn binding its own socket (a handed-in one loses TCP_NODELAY), in a thread."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           access_log=False, lifespan="off", backlog=4096))  # fmt: skip
    threading.Thread(target=server.run, daemon=True, name="aom-simulator").start()
    give_up = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > give_up:
            raise RuntimeError("the simulator did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}", server


def build_world(count: int, frozen: float, rng: random.Random) -> tuple[World, list[Run]]:
    """``count`` runs under way (begun 10-20 min ago, still running), 10 % of workflows failing."""
    world = World(seed=11, clock=lambda: frozen, speed=0.005)
    workflows = [
        world.add_workflow(
            f"wf-{i}",
            scenario="few-failures" if i % 10 == 0 else "all-success",
            host_count=rng.randint(5, 20),
        )
        for i in range(max(1, count // 50))
    ]
    runs: list[Run] = []
    while len(runs) < count:  # a run that is already over would end its follow at once
        begin = frozen - rng.uniform(600, 1200)
        workflow_id = workflows[len(runs) % len(workflows)]
        execution_id = world.add_execution(workflow_id, begin_ms=int(begin * 1000))
        detail = ExecutionDetail.model_validate(world.execution_json(workflow_id, execution_id))
        if not detail.is_terminal:
            runs.append(Run(workflow_id, execution_id, begin, visible_fingerprint(detail)))
    return world, runs


async def seed(store: Store, slack: FakeSlack, runs: list[Run], channels: list[str]) -> None:
    """The follows, cards already posted and rendered (no card edit is due at the first poll)."""
    now = datetime.now(UTC)

    async def one(i: int, run: Run) -> None:
        channel = channels[i % len(channels)]
        ts = slack.workspace.post(slack.channel(channel), {"text": "card"})["ts"]
        follow, _ = await store.start_follow(NewFollow(
            workflow_id=run.workflow_id, execution_id=run.execution_id, channel_id=channel,
            started_by=slack.alice, started_at=now, deadline=now + timedelta(hours=24),
            message_ts=ts, mention=f"<@{slack.alice}>"))  # fmt: skip
        await store.record_render(follow.id, run.shown, now)

    for start in range(0, len(runs), 50):
        await asyncio.gather(*(one(start + i, r) for i, r in enumerate(runs[start : start + 50])))


class Replica:
    """One ``aom-bot run --mode http`` process, its log in a file."""

    def __init__(self, env: dict[str, str], logs: Path, n: int) -> None:
        self.env, self.log, self.n = env, logs / f"replica{n}.log", n
        self.port = free_port()
        self.proc: asyncio.subprocess.Process | None = None
        self.rss_mb = 0.0
        self.cpu_s = 0.0

    async def start(self) -> None:
        with self.log.open("wb") as sink:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "aom_bot", "run", "--mode", "http", "--host", "127.0.0.1",
                "--port", str(self.port), env=self.env, stdout=asyncio.subprocess.DEVNULL,
                stderr=sink)  # fmt: skip

    async def healthy(self) -> None:
        async with httpx.AsyncClient() as client, asyncio.timeout(60):
            while True:
                assert self.proc is not None
                assert self.proc.returncode is None, self.log.read_text()[-3000:]
                with contextlib.suppress(httpx.TransportError):
                    if (
                        await client.get(f"http://127.0.0.1:{self.port}/healthz")
                    ).status_code == 200:
                        return
                await asyncio.sleep(0.1)  # another process getting ready

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def sample(self) -> float:
        """Peak RSS (VmHWM) and CPU seconds so far, read from /proc while the process lives."""
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.rss_mb = int(line.split()[1]) / 1024
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            self.cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return self.cpu_s

    async def end(self, signum: int) -> float:
        """Send ``signum``; seconds until the process exited."""
        assert self.proc is not None
        self.sample()
        sent = time.monotonic()
        self.proc.send_signal(signum)
        async with asyncio.timeout(60):
            await self.proc.wait()
        return time.monotonic() - sent


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def holders(store: Store) -> dict[str, int]:
    """Execution key → pid of the replica whose lease makes it the poller."""
    leases = await store.lease_holders("exec:", datetime.now(UTC))
    return {key: int(owner.split(":")[1]) for key, owner in leases.items()}


async def wait_for(what: Callable[[], Any], timeout: float, label: str) -> float:  # noqa: ASYNC109
    """Seconds until ``await what()`` is true (bounded: the phase fails loudly)."""
    start = time.monotonic()
    while not await what():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{label}: not within {timeout:.0f} s")
        await asyncio.sleep(TICK)  # the state lives in other processes
    return time.monotonic() - start


async def spread_out(store: Store, live: Sequence[Replica], follows: int) -> bool:
    now = await holders(store)
    counts = Counter(now.values())
    cap = fair_share(follows, len(live))
    return (
        len(now) == follows and set(counts) == {r.pid for r in live} and max(counts.values()) <= cap
    )


async def take_over(store: Store, polls: Polls, gone: Replica, live: list[Replica], follows: int,
                    signum: int, limit: float) -> tuple[float, float, float, float]:  # fmt: skip
    """Signal the leaving replica; (exit, leases held by the others, all polled again, half of
    them polled again) in s."""
    before = await holders(store)
    keys = [k for k, pid in before.items() if pid == gone.pid]
    sent = time.monotonic()
    exited = await gone.end(signum)
    live.remove(gone)

    async def moved_off() -> bool:
        now = await holders(store)
        return len(now) == follows and gone.pid not in now.values()

    moved = exited + await wait_for(moved_off, limit, "leases")
    ids = [k.rsplit("/", 1)[1] for k in keys]

    async def all_polled() -> bool:
        return all(polls.first_after(e, sent) is not None for e in ids)

    await wait_for(all_polled, limit, "polled again")
    delays = sorted((polls.first_after(e, sent) or sent) - sent for e in ids)
    return exited, moved, delays[-1], delays[len(delays) // 2]


def poll_stats(polls: Polls, begins: dict[str, float], t0: float, t1: float,
               args: argparse.Namespace) -> tuple[float, float, int]:  # fmt: skip
    """(requests / polls the policy allows, smallest gap, executions unpolled) within [t0, t1]."""
    offset = time.time() - time.monotonic()
    requests = allowed = unpolled = 0
    gap = float("inf")
    for execution_id, begin in begins.items():
        times = [t for t in polls.at.get(execution_id, ()) if t0 <= t <= t1]
        if not times:
            unpolled += 1
            continue
        requests += len(times)
        gap = min([gap, *(b - a for a, b in itertools.pairwise(times))])
        t, here = times[0], 1
        while True:  # polls allowed between the first and the last one (no jitter)
            t += poll_interval(t + offset - begin, minimum=args.poll_min, maximum=args.poll_max)
            if t > times[-1] + 1e-6:
                break
            here += 1
        allowed += here
    return requests / max(allowed, 1), gap, unpolled


def environment(aom_url: str, project: str, slack: FakeSlack, args: argparse.Namespace,
                schema: str, state: Path) -> dict[str, str]:  # fmt: skip
    keep = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "AOM_", "CLOUD_SDK_"))
    }
    return {**keep,
        "AOM_ENDPOINT": aom_url, "AOM_IAM_ENDPOINT": aom_url, "AOM_PROJECT_ID": project,
        "CLOUD_SDK_AK": "bench-ak", "CLOUD_SDK_SK": "bench-sk",
        "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_SIGNING_SECRET": "bench-signing-secret",
        "SLACK_API_URL": slack.base_url, "AOM_BOT_DATABASE_URL": f"{DSN}?schema={schema}",
        "AOM_BOT_STATE_DIR": str(state), "AOM_BOT_LEASE_SECONDS": str(args.lease),
        "AOM_BOT_POLL_MIN_SECONDS": str(args.poll_min), "AOM_BOT_POLL_MAX_SECONDS": str(args.poll_max),
        "AOM_BOT_MAX_FOLLOWS_PER_WORKSPACE": str(max(100, args.follows)),
        "AOM_BOT_LOG_FORMAT": "json", "HOSTNAME": "bench-replica",
        **({"AOM_MAX_REQUESTS_PER_SECOND": str(args.aom_rps)} if args.aom_rps else {}),
    }  # fmt: skip


def print_table(rows: Sequence[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"{'metric':<{width}}  {'measured':>16}  goal")
    for name, value, goal in rows:
        print(f"{name:<{width}}  {value:>16}  {goal}")


async def run(args: argparse.Namespace, logs: Path) -> list[tuple[str, str, str]]:
    frozen = time.time()
    world, runs = build_world(args.follows, frozen, random.Random(5))
    polls = Polls(create_simulator_app(world, credentials=SimulatorCredentials()))
    aom_url, server = serve_in_thread(polls)
    begins = {r.execution_id: r.begin for r in runs}
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    store = await open_store(DSN, schema=schema)
    try:
        async with FakeSlack() as slack:
            channels = [slack.add_channel(f"ops-{i}", id=f"C{i:08d}").id for i in range(20)]
            await store.migrate()
            seeding = time.monotonic()
            await seed(store, slack, runs, channels)
            seeded = time.monotonic() - seeding
            env = environment(aom_url, world.project_id, slack, args, schema, logs)
            out = Results(seeded=seeded)
            await phases(args, env, logs, store, polls, begins, out)
            return table(args, out)
    finally:
        await store.aclose()
        server.should_exit = True
        conn = await asyncpg.connect(DSN)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


@dataclass
class Results:
    """What ``phases`` measured, for the table."""

    seeded: float = 0.0
    spread_s: float = 0.0
    counts: list[int] = field(default_factory=list)
    window: float = 0.0
    steady: tuple[float, float, int] = (0.0, 0.0, 0)
    whole: tuple[float, float, int] = (0.0, 0.0, 0)
    kill: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    joined: float = 0.0
    term: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    peaks: tuple[int, int] = (0, 0)  # status requests in the busiest second: steady, whole run
    cpu_pct: list[float] = field(default_factory=list)
    replicas: list[Replica] = field(default_factory=list)


async def phases(args: argparse.Namespace, env: dict[str, str], logs: Path, store: Store,
                 polls: Polls, begins: dict[str, float], out: Results) -> None:  # fmt: skip
    """Start, steady polling, SIGKILL, a replica joins, SIGTERM: see the module docstring."""
    n, timeout = args.follows, 3 * args.lease + 4 * args.poll_max + 120
    live = [Replica(env, logs, i) for i in range(args.replicas)]
    out.replicas = list(live)
    try:
        started = time.monotonic()
        await asyncio.gather(*(r.start() for r in live))
        await asyncio.gather(*(r.healthy() for r in live))
        await wait_for(lambda: spread_out(store, live, n), timeout, "spread")
        out.spread_s = time.monotonic() - started
        counts = Counter((await holders(store)).values())
        out.counts = sorted(counts.values())
        await asyncio.sleep(args.poll_max * 1.2)  # every execution polled once by its owner
        cpu0 = [r.sample() for r in live]
        t0 = time.monotonic()
        await asyncio.sleep(args.minutes * 60)
        t1 = time.monotonic()
        out.window = t1 - t0
        out.cpu_pct = [100 * (r.sample() - c) / out.window for r, c in zip(live, cpu0, strict=True)]
        out.steady = poll_stats(polls, begins, t0, t1, args)

        busiest = max(live, key=lambda r: counts[r.pid])
        out.kill = await take_over(store, polls, busiest, live, n, signal.SIGKILL, timeout)
        joiner = Replica(env, logs, len(out.replicas))
        out.replicas.append(joiner)
        await joiner.start()
        live.append(joiner)
        out.joined = await wait_for(lambda: spread_out(store, live, n), timeout, "rejoin")
        counts = Counter((await holders(store)).values())
        busiest = max(live, key=lambda r: counts[r.pid])
        out.term = await take_over(store, polls, busiest, live, n, signal.SIGTERM, timeout)
        await asyncio.sleep(args.poll_max * 1.2)
        out.whole = poll_stats(polls, begins, t0, time.monotonic(), args)
        out.peaks = (polls.peak_per_second(t0, t1), polls.peak_per_second(t0, time.monotonic()))
        while live:
            await live.pop().end(signal.SIGTERM)
    finally:
        for r in live:
            if r.proc is not None and r.proc.returncode is None:
                r.proc.kill()
                await r.proc.wait()


def table(args: argparse.Namespace, out: Results) -> list[tuple[str, str, str]]:
    n, lease, interval = args.follows, args.lease, args.poll_max
    errors = sum(r.log.read_text().count('"level": "error"') for r in out.replicas)
    return [
        ("replicas / follows", f"{args.replicas} / {n}", "identical environment, one schema"),
        ("seeding the store (s)", f"{out.seeded:.1f}", "not the bot"),
        ("start -> fair spread (s)", f"{out.spread_s:.1f}",
         f"all leased, none above {fair_share(n, args.replicas)}"),
        ("follows per replica", " / ".join(map(str, out.counts)), ""),
        ("spread: max / mean follows per replica", f"{max(out.counts) * args.replicas / n:.2f}",
         "<= 1.8 (60 % of 3)"),
        ("steady window (s)", f"{out.window:.0f}", f"interval {interval:g} s"),
        ("status requests per execution per interval", f"{out.steady[0]:.3f}", "<= 1.0"),
        ("  over the whole run (kill, join, stop)", f"{out.whole[0]:.3f}", "handovers included"),
        ("smallest gap between polls of one run (s)", f"{out.steady[1]:.1f}",
         f">= {interval:g} (one poller)"),
        ("  over the whole run", f"{out.whole[1]:.1f}", ""),
        ("status requests in the busiest second, steady", f"{out.peaks[0]}",
         f"follows / interval = {n / interval:.0f}"),
        ("  over the whole run", f"{out.peaks[1]}",
         f"each replica at most {args.aom_rps or 50:g}/s (AOM_MAX_REQUESTS_PER_SECOND)"),
        ("executions unpolled in the steady window", f"{out.steady[2]}", "0"),
        ("SIGKILL busiest: leases held by others (s)", f"{out.kill[1]:.1f}",
         f"<= lease + interval = {lease + interval:g}"),
        ("SIGKILL busiest: all its runs polled again (s)", f"{out.kill[2]:.1f}",
         f"<= {lease + interval:g}"),
        ("  half of them polled again (s)", f"{out.kill[3]:.1f}", ""),
        ("a new replica joins: fair spread again (s)", f"{out.joined:.1f}", ""),
        ("SIGTERM busiest: process exited (s)", f"{out.term[0]:.1f}", ""),
        ("SIGTERM busiest: leases held by others (s)", f"{out.term[1]:.1f}",
         f"<= one interval = {interval:g}"),
        ("SIGTERM busiest: all its runs polled again (s)", f"{out.term[2]:.1f}",
         f"<= {interval:g}"),
        ("  half of them polled again (s)", f"{out.term[3]:.1f}", ""),
        ("peak RSS per replica (MB)", " / ".join(f"{r.rss_mb:.0f}" for r in out.replicas),
         "VmHWM; the last one joined late"),
        ("CPU % per replica, steady window", " / ".join(f"{c:.0f}" for c in out.cpu_pct), ""),
        ("errors logged by the replicas", f"{errors}", "0"),
    ]  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--follows", type=int, default=3000)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument(
        "--minutes", type=float, default=3.0, help="steady polling before the failovers"
    )
    parser.add_argument("--lease", type=float, default=30.0, help="AOM_BOT_LEASE_SECONDS")
    parser.add_argument("--poll-min", type=float, default=5.0)
    parser.add_argument("--poll-max", type=float, default=30.0, help="the interval of these runs")
    parser.add_argument(
        "--aom-rps",
        type=float,
        default=0.0,
        help="AOM_MAX_REQUESTS_PER_SECOND of each replica (default: the bot's, 50)",
    )
    parser.add_argument(
        "--keep-logs", action="store_true", help="print where the logs are, keep them"
    )
    args = parser.parse_args()
    if args.replicas < 2:
        parser.error("--replicas must be at least 2 (one is killed)")
    logs = Path(tempfile.mkdtemp(prefix="aom-bot-replicas-"))
    try:
        print_table(await run(args, logs))
    finally:
        if args.keep_logs:
            print(f"logs: {logs}")
        else:
            shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
