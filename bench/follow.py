"""Benchmark: one FollowEngine following many executions on simulated time.

The world: ``--executions`` runs (5-20 hosts each, mostly succeeding, some failing) on the
simulator, in-process through ``httpx.ASGITransport``; FakeSlack on 127.0.0.1 with Slack's tier
limits switched on (chat.update 50/min per workspace, chat.postMessage 1/s per channel), so
any pacing mistake shows up as a 429; a SQLite store in a temporary directory. The follows are
seeded into the store with cards already posted (as after a restart: posting 10,000 cards
takes Slack ~40 minutes at its posting limit and is not what this measures), then the engine
runs for ``--minutes`` of simulated time, advanced in ``--step``-second ticks.

Printed side by side with the goals:

- AOM status requests per execution per poll interval (the policy's interval for the run's
  age), and the smallest gap between two polls of one execution;
- ``chat.update`` calls per visible change: at most one; below one when Slack's per-workspace
  limit is the bottleneck and changes are coalesced (every update carries the latest state);
- Slack 429s received; peak RSS; CPU seconds per hour of simulated following.

Run: ``.venv/bin/python bench/follow.py [--executions 10000] [--minutes 10]``

Subscriptions mode, ``--workflows 1000``: that many subscribed workflows (every tenth one
failures-only, every fifth one subscribed by a second channel), new runs starting at random
(about one per workflow per ``--run-every`` minutes), the discovery loop (one round every
``--interval`` seconds) posting cards that the follow engine then keeps current. Printed: AOM
list requests per workflow per interval (goal: exactly 1, however many channels subscribe),
cards posted against runs that should have been posted (goal: equal, no duplicate), wall time
of one discovery round, CPU and RSS.

Run: ``.venv/bin/python bench/follow.py --workflows 1000 [--minutes 10] [--interval 60]``
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import resource
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiohttp
import httpx
from slack_sdk.web.async_client import AsyncWebClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aom_bot.aom.client import AomClient, RetryPolicy, build_http_client  # noqa: E402
from aom_bot.aom.models import ExecutionDetail  # noqa: E402
from aom_bot.follow.discovery import SubscriptionDiscovery, is_failing  # noqa: E402
from aom_bot.follow.engine import FollowEngine  # noqa: E402
from aom_bot.follow.policy import poll_interval  # noqa: E402
from aom_bot.render.analysis import visible_fingerprint  # noqa: E402
from aom_bot.simulator.app import create_simulator_app  # noqa: E402
from aom_bot.simulator.auth import SimulatorCredentials  # noqa: E402
from aom_bot.simulator.faults import Faults, RequestCounter  # noqa: E402
from aom_bot.simulator.world import World  # noqa: E402
from aom_bot.slack.notifier import SlackNotifier  # noqa: E402
from aom_bot.store import NewFollow, NewSubscription, open_store  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.follow.harness import TrackingClock, settle  # noqa: E402

POLL_MIN = 5.0
POLL_MAX = 30.0


@dataclass(frozen=True, slots=True)
class Seeded:
    workflow_id: str
    execution_id: str
    begin: float  # simulated seconds (clock.monotonic) when the run began


def build_world(
    clock: TrackingClock, count: int, speed: float, rng: random.Random
) -> tuple[World, list[Seeded]]:
    """``count`` runs begun over the last 20 minutes, 5-20 hosts each, 10 % failing."""
    world = World(seed=11, clock=lambda: clock.now().timestamp(), speed=speed)
    now_ms = world.now_ms()
    runs: list[Seeded] = []
    workflows: list[str] = []
    for i in range(max(1, count // 50)):
        scenario = "few-failures" if i % 10 == 0 else "all-success"
        workflows.append(
            world.add_workflow(f"wf-{i}", scenario=scenario, host_count=rng.randint(5, 20))
        )
    for i in range(count):
        workflow_id = workflows[i % len(workflows)]
        ago = rng.uniform(0, 20 * 60)
        execution_id = world.add_execution(workflow_id, begin_ms=int(now_ms - ago * 1000))
        runs.append(Seeded(workflow_id, execution_id, -ago))
    return world, runs


def current_rss_mb() -> float:
    """Resident set size now (Linux), in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


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
    parser.add_argument("--verbose", action="store_true", help="also print RSS over time")
    parser.add_argument(
        "--workflows", type=int, default=0, help="subscriptions mode: subscribed workflows"
    )
    parser.add_argument("--interval", type=float, default=60.0, help="discovery interval (s)")
    parser.add_argument(
        "--run-every", type=float, default=30.0, help="minutes between runs of one workflow"
    )
    args = parser.parse_args()
    if args.workflows:
        args.speed = args.speed or 0.1
        await discovery_main(args)
        return
    args.speed = args.speed or 0.01

    rng = random.Random(5)
    clock = TrackingClock()
    world, runs = build_world(clock, args.executions, args.speed, rng)
    requests = RequestCounter(keep=5_000_000)

    async def no_latency(_: float) -> None:
        return None

    app = create_simulator_app(world, credentials=SimulatorCredentials(), faults=Faults(),
                               requests=requests, sleep=no_latency)  # fmt: skip
    http = build_http_client(base_url="http://aom.test", auth=None,
                             transport=httpx.ASGITransport(app=app))  # fmt: skip
    aom = AomClient(http, project_id=world.project_id, retry=RetryPolicy(attempts=1))

    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite:///{tmp}/bench.db")
        await store.migrate()
        async with FakeSlack(clock=clock.monotonic) as slack, aiohttp.ClientSession() as session:
            slack.set_rate_limit("chat.update", per_minute=50, burst=3)
            slack.set_rate_limit("chat.postMessage", per_minute=300, burst=10)
            slack.set_channel_rate_limit("chat.postMessage", per_minute=60, burst=1)
            channels = [
                slack.add_channel(f"ops-{i}", id=f"C{i:08d}").id for i in range(args.channels)
            ]

            seed_started = time.perf_counter()
            for i, run in enumerate(runs):
                channel = channels[i % len(channels)]
                execution = await aom.get_execution(run.workflow_id, run.execution_id)
                card = slack.workspace.post(slack.channel(channel), {"text": "card"})
                follow, _ = await store.start_follow(NewFollow(
                    workflow_id=run.workflow_id, execution_id=run.execution_id, channel_id=channel,
                    started_by=slack.alice, started_at=clock.now(),
                    deadline=clock.now() + timedelta(hours=24), message_ts=card["ts"],
                    mention=f"<@{slack.alice}>"))  # fmt: skip
                await store.record_render(follow.id, visible_fingerprint(execution), clock.now())
            seed_seconds = time.perf_counter() - seed_started
            requests.reset()

            client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url, session=session)
            notifier = SlackNotifier(client, clock=clock)
            engine = FollowEngine(
                source=aom, store=store, notifier=notifier, clock=clock, owner="bench",
                poll_min=POLL_MIN, poll_max=POLL_MAX, max_follow=timedelta(hours=24),
                broadcast_failures=True, console_url=None, rng=random.Random(1),
            )  # fmt: skip

            baseline_mb = current_rss_mb()
            cpu_before = time.process_time()
            wall_before = time.perf_counter()
            start = clock.monotonic()
            start_ms = world.now_ms()
            runner = asyncio.create_task(engine.run())
            await settle(clock, engine, patience=600)
            rss_trace: list[float] = []
            while clock.monotonic() - start < args.minutes * 60:
                clock.advance(args.step)
                await settle(clock, engine, patience=600)
                if int(clock.monotonic() - start) % 30 == 0:
                    rss_trace.append(current_rss_mb())
            cpu = time.process_time() - cpu_before
            wall = time.perf_counter() - wall_before
            stats = engine.stats
            await engine.stop()
            await runner
            span = clock.monotonic() - start

            per_execution: dict[str, list[int]] = defaultdict(list)
            for record in requests.records:
                if record.endpoint == "status":
                    per_execution[record.execution_id].append(record.at_ms)
            allowed = 0.0
            begin_of = {r.execution_id: r.begin for r in runs}
            min_gap = float("inf")
            for execution_id, times in per_execution.items():
                times.sort()
                gaps = [(b - a) / 1000 for a, b in itertools.pairwise(times)]
                min_gap = min([min_gap, *gaps])
                # polls the policy allows between this run's first and last poll (no jitter)
                first = (times[0] - start_ms) / 1000
                last = (times[-1] - start_ms) / 1000
                t, allowed_here = first, 1
                while True:
                    t += poll_interval(
                        t - begin_of[execution_id], minimum=POLL_MIN, maximum=POLL_MAX
                    )
                    if t > last + 1e-6:
                        break
                    allowed_here += 1
                allowed += allowed_here
            status_requests = sum(len(t) for t in per_execution.values())
            updates = len([c for c in slack.calls_to("chat.update") if c.ok])
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            hours = span / 3600

        await store.aclose()
    await aom.aclose()

    rows = [
        ("executions followed", f"{args.executions}", ""),
        ("simulated minutes", f"{span / 60:.1f}", ""),
        ("AOM status requests", f"{status_requests}", ""),
        ("requests per execution per interval", f"{status_requests / max(allowed, 1):.3f}", "<= 1"),
        ("smallest gap between polls of one run (s)", f"{min_gap:.1f}", f">= {POLL_MIN:g}"),
        ("visible changes", f"{stats.visible_changes}", ""),
        ("chat.update calls (changes)", f"{stats.updates_sent}", ""),
        ("chat.update calls (heartbeats)", f"{stats.heartbeats_sent}", ""),
        (
            "chat.update calls (final cards, end notes)",
            f"{updates - stats.updates_sent - stats.heartbeats_sent}",
            "",
        ),
        (
            "change updates per visible change",
            f"{stats.updates_sent / max(stats.visible_changes, 1):.3f}",
            "1 while Slack's budget allows; less = coalesced",
        ),
        (
            "chat.update per minute, all kinds",
            f"{updates / (span / 60):.1f}",
            "<= 50 (Slack tier 3)",
        ),
        (
            "new-failure replies / completions",
            f"{stats.new_group_replies} / {stats.completions_posted}",
            "",
        ),
        ("Slack 429s received", f"{slack.rate_limited_count}", "0"),
        ("peak RSS, whole process (MB)", f"{rss_mb:.0f}", "<= 300"),
        (
            "  of which before the engine started (MB)",
            f"{baseline_mb:.0f}",
            "simulator, FakeSlack, store",
        ),
        (
            "  growth while following (MB)",
            f"{rss_mb - baseline_mb:.0f}",
            "engine, plus the simulator's request log",
        ),
        ("CPU seconds (engine run)", f"{cpu:.1f}", ""),
        ("CPU seconds per hour of following", f"{cpu / hours:.0f}", ""),
        ("wall seconds (run) / seeding", f"{wall:.1f} / {seed_seconds:.1f}", ""),
    ]
    if args.verbose:
        print("RSS every 30 simulated seconds (MB):", " ".join(f"{x:.0f}" for x in rss_trace))
    width = max(len(r[0]) for r in rows)
    print(f"{'metric':<{width}}  {'measured':>14}  goal")
    for name, value, goal in rows:
        print(f"{name:<{width}}  {value:>14}  {goal}")


async def discovery_main(args: argparse.Namespace) -> None:
    """Subscriptions mode: see the module docstring."""
    rng = random.Random(5)
    clock = TrackingClock()
    world = World(seed=11, clock=lambda: clock.now().timestamp(), speed=args.speed)
    workflows = [
        world.add_workflow(
            f"wf-{i}",
            scenario="few-failures" if i % 7 == 0 else "all-success",
            host_count=rng.randint(5, 20),
        )
        for i in range(args.workflows)
    ]
    for workflow_id in workflows:  # a little history, which must not be posted
        for _ in range(3):
            world.add_execution(
                workflow_id, begin_ms=world.now_ms() - rng.randint(1, 72) * 3_600_000,
                history="success",
            )  # fmt: skip
    requests = RequestCounter(keep=5_000_000)

    async def no_latency(_: float) -> None:
        return None

    app = create_simulator_app(world, credentials=SimulatorCredentials(), faults=Faults(),
                               requests=requests, sleep=no_latency)  # fmt: skip
    http = build_http_client(base_url="http://aom.test", auth=None,
                             transport=httpx.ASGITransport(app=app))  # fmt: skip
    aom = AomClient(http, project_id=world.project_id, retry=RetryPolicy(attempts=1))

    with tempfile.TemporaryDirectory() as tmp:
        store = await open_store(f"sqlite:///{tmp}/bench.db")
        await store.migrate()
        async with FakeSlack(clock=clock.monotonic) as slack, aiohttp.ClientSession() as session:
            slack.set_rate_limit("chat.update", per_minute=50, burst=3)
            slack.set_rate_limit("chat.postMessage", per_minute=300, burst=10)
            slack.set_channel_rate_limit("chat.postMessage", per_minute=60, burst=1)
            channels = [
                slack.add_channel(f"ops-{i}", id=f"C{i:08d}").id for i in range(args.channels)
            ]
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
                        failures_only=failures_only, mention=None, created_by=slack.alice,
                        created_at=clock.now()))  # fmt: skip
                subscribers[workflow_id] = [(c, failures_only) for c in chosen]
            requests.reset()

            client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url, session=session)
            notifier = SlackNotifier(client, clock=clock)
            engine = FollowEngine(
                source=aom, store=store, notifier=notifier, clock=clock, owner="bench",
                poll_min=POLL_MIN, poll_max=POLL_MAX, max_follow=timedelta(hours=24),
                broadcast_failures=True, console_url=None, rng=random.Random(1),
            )  # fmt: skip
            discovery = SubscriptionDiscovery(
                source=aom, store=store, notifier=notifier, follow=engine, clock=clock,
                owner="bench", interval=args.interval,
            )  # fmt: skip
            baseline_mb = current_rss_mb()
            cpu_before = time.process_time()
            wall_before = time.perf_counter()
            start = clock.monotonic()
            tasks = [asyncio.create_task(engine.run()), asyncio.create_task(discovery.run())]
            await settle(clock, engine, discovery, patience=600)  # type: ignore[arg-type]
            started: list[tuple[str, str]] = []
            round_walls: list[float] = []
            rounds_seen = discovery.stats.rounds
            chance = args.step / (args.run_every * 60)
            while clock.monotonic() - start < args.minutes * 60:
                for workflow_id in workflows:
                    if rng.random() < chance:
                        started.append((workflow_id, world.add_execution(workflow_id)))
                clock.advance(args.step)
                tick = time.perf_counter()
                await settle(clock, engine, discovery, patience=600)  # type: ignore[arg-type]
                if discovery.stats.rounds > rounds_seen:
                    rounds_seen = discovery.stats.rounds
                    round_walls.append(time.perf_counter() - tick)
            # quiet time: no new runs, so every started run can end and be posted
            for _ in range(int(15 * 60 / args.step)):
                clock.advance(args.step)
                await settle(clock, engine, discovery, patience=600)  # type: ignore[arg-type]
            cpu = time.process_time() - cpu_before
            wall = time.perf_counter() - wall_before
            span = clock.monotonic() - start
            await discovery.stop()
            await engine.stop()
            await asyncio.gather(*tasks)

            expected = 0
            for workflow_id, execution_id in started:
                detail = ExecutionDetail.model_validate(
                    world.execution_json(workflow_id, execution_id)
                )
                for _, failures_only in subscribers[workflow_id]:
                    expected += (not failures_only) or is_failing(detail)
            cards = [
                c for c in slack.calls_to("chat.postMessage")
                if c.ok and not c.args.get("thread_ts")
            ]  # fmt: skip
            run_ids = {execution_id for _, execution_id in started}
            posted_pairs = [
                (c.args["channel"], execution_id)
                for c in cards
                for execution_id in run_ids
                if execution_id in str(c.args.get("blocks"))
            ]
            lists = requests.count("list-executions")
            rounds = discovery.stats.rounds
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        await store.aclose()
    await aom.aclose()

    per_interval = lists / max(rounds * len(workflows), 1)
    round_walls.sort()
    rows = [
        ("subscribed workflows", f"{len(workflows)}", ""),
        ("subscriptions (channels x workflows)", f"{sum(map(len, subscribers.values()))}", ""),
        ("simulated minutes (incl. 15 quiet)", f"{span / 60:.1f}", ""),
        ("discovery rounds", f"{rounds}", f"every {args.interval:g} s"),
        ("AOM list requests", f"{lists}", ""),
        ("list requests per workflow per interval", f"{per_interval:.3f}", "1"),
        ("runs started", f"{len(started)}", ""),
        ("cards that should be posted", f"{expected}", ""),
        ("cards posted", f"{len(posted_pairs)}", "= should, none twice"),
        ("duplicate cards", f"{len(posted_pairs) - len(set(posted_pairs))}", "0"),
        ("AOM status requests (follow engine)", f"{requests.count('status')}", ""),
        ("discovery aom errors / failed posts",
         f"{discovery.stats.aom_errors} / {discovery.stats.failed_posts}", "0 / 0"),
        ("Slack 429s received", f"{slack.rate_limited_count}", "0"),
        ("round wall time, median / max (s)",
         f"{round_walls[len(round_walls) // 2]:.2f} / {round_walls[-1]:.2f}"
         if round_walls else "-", f"< {args.interval:g}"),
        ("peak RSS, whole process (MB)", f"{rss_mb:.0f}", ""),
        ("  growth while running (MB)", f"{rss_mb - baseline_mb:.0f}", ""),
        ("CPU seconds / wall seconds", f"{cpu:.1f} / {wall:.1f}", ""),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows)
    print(f"{'metric':<{width}}  {'measured':>14}  goal")
    for name, value, goal in rows:
        print(f"{name:<{width}}  {value:>14}  {goal}")


if __name__ == "__main__":
    asyncio.run(main())
