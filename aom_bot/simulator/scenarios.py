"""Named scenarios: who the hosts are and how one run of a workflow unfolds.

A scenario turns a host inventory and a seeded ``random.Random`` into an :class:`ExecutionPlan`:
the nodes, and for every host when it starts, how long it runs, and how it ends (also on a
restart). Times are *scenario* milliseconds after the node starts; the world divides them by its
speed. The plan's types are in ``plans``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from aom_bot.errors import ConfigError
from aom_bot.simulator.plans import (
    AttemptOutcome,
    ExecutionPlan,
    HostRun,
    HostSpec,
    NodeKind,
    NodeSpec,
    Scenario,
    make_inventory,
)
from aom_bot.simulator.texts import (
    ERROR_SIGNATURES,
    HOSTILE_LOGS,
    ErrorSignature,
    success_log,
)

# The plan types are re-exported: callers and tests import them from here.
__all__ = [
    "SCENARIOS",
    "AttemptOutcome",
    "ExecutionPlan",
    "HostRun",
    "HostSpec",
    "NodeKind",
    "NodeSpec",
    "Scenario",
    "get_scenario",
    "history_plan",
    "make_inventory",
]


# -- building blocks -------------------------------------------------------------------------


def _ok(rng: random.Random, host: HostSpec, log: str | None = None) -> AttemptOutcome:
    return AttemptOutcome(ok=True, log=success_log(rng, host.os_type) if log is None else log)


def _fail(sig: ErrorSignature, rng: random.Random, host: HostSpec) -> AttemptOutcome:
    return AttemptOutcome(
        ok=False,
        log=sig.render_log(rng, host.ip),
        exit_code=sig.exit_code,
        code=sig.code,
        error_msg=sig.error_msg,
        agent_offline=sig.agent_offline,
    )


def _fail_log(log: str, exit_code: str = "1") -> AttemptOutcome:
    return AttemptOutcome(ok=False, log=log, exit_code=exit_code)


def _timed(
    hosts: Sequence[HostSpec],
    rng: random.Random,
    outcome: Callable[[int, HostSpec], tuple[AttemptOutcome, AttemptOutcome]],
    *,
    wave: int = 50,
    wave_gap_ms: int = 3000,
    spread_ms: int = 2000,
    duration_ms: tuple[int, int] = (3000, 12000),
) -> tuple[HostRun, ...]:
    """Start hosts in waves (AOM dispatches in batches), each with a random duration."""
    runs = []
    for i, host in enumerate(hosts):
        first, retry = outcome(i, host)
        start = (i // wave) * wave_gap_ms + rng.randint(0, spread_ms)
        runs.append(HostRun(host, start, rng.randint(*duration_ms), first, retry))
    return tuple(runs)


def _all_ok(rng: random.Random) -> Callable[[int, HostSpec], tuple[AttemptOutcome, AttemptOutcome]]:
    def outcome(_: int, host: HostSpec) -> tuple[AttemptOutcome, AttemptOutcome]:
        ok = _ok(rng, host)
        return ok, ok

    return outcome


# -- the scenarios ---------------------------------------------------------------------------


def _all_success(hosts: Sequence[HostSpec], rng: random.Random) -> ExecutionPlan:
    return ExecutionPlan(nodes=(NodeSpec("run-script", hosts=_timed(hosts, rng, _all_ok(rng))),))


def _few_failures(hosts: Sequence[HostSpec], rng: random.Random) -> ExecutionPlan:
    errors = ["not-a-directory", "disk-full", "agent-offline"]
    failing = dict(
        zip(sorted(rng.sample(range(len(hosts)), min(3, len(hosts)))), errors, strict=False)
    )

    def outcome(i: int, host: HostSpec) -> tuple[AttemptOutcome, AttemptOutcome]:
        if i not in failing:
            ok = _ok(rng, host)
            return ok, ok
        first = _fail(ERROR_SIGNATURES[failing[i]], rng, host)
        # a restart fixes the transient disk problem, not a missing directory or a dead agent
        return first, (_ok(rng, host) if failing[i] == "disk-full" else first)

    runs = _timed(hosts, rng, outcome, duration_ms=(2000, 15000))
    return ExecutionPlan(nodes=(NodeSpec("run-script", hosts=runs),))


_HARD_ZONE = "cn-north-4b"
_HARD_ZONE_ERRORS = (("repo-unreachable", 0.6), ("timeout", 0.25), ("agent-offline", 0.15))
_OTHER_ZONE_ERRORS = (("permission-denied", 0.5), ("disk-full", 0.3), ("repo-unreachable", 0.2))


def _pick(rng: random.Random, weighted: Sequence[tuple[str, float]]) -> str:
    return rng.choices([k for k, _ in weighted], weights=[w for _, w in weighted])[0]


def _mass_failure(hosts: Sequence[HostSpec], rng: random.Random) -> ExecutionPlan:
    def outcome(_: int, host: HostSpec) -> tuple[AttemptOutcome, AttemptOutcome]:
        hard = host.availability_zone == _HARD_ZONE
        if rng.random() >= (0.75 if hard else 0.08):
            ok = _ok(rng, host)
            return ok, ok
        key = _pick(rng, _HARD_ZONE_ERRORS if hard else _OTHER_ZONE_ERRORS)
        first = _fail(ERROR_SIGNATURES[key], rng, host)
        return first, (first if key == "agent-offline" else _ok(rng, host))

    runs = _timed(hosts, rng, outcome, wave=100, wave_gap_ms=5000, duration_ms=(4000, 20000))
    return ExecutionPlan(nodes=(NodeSpec("patch-openssl", hosts=runs),))


def _large(hosts: Sequence[HostSpec], rng: random.Random) -> ExecutionPlan:
    n = len(hosts)
    failing = set(rng.sample(range(n), max(1, n * 45 // 2000)))
    specials = rng.sample(range(n), min(n, 10))
    big_logs = set(specials[:5])
    odd_logs = set(specials[5:])
    linux_errors = ("not-a-directory", "repo-unreachable", "agent-offline")

    def outcome(i: int, host: HostSpec) -> tuple[AttemptOutcome, AttemptOutcome]:
        log = HOSTILE_LOGS["yum-4k"] if i in big_logs else None
        log = HOSTILE_LOGS["emoji-cjk"] if i in odd_logs else log
        if i not in failing:
            ok = _ok(rng, host, log)
            return ok, ok
        key = "powershell-service" if host.os_type == "Windows" else rng.choice(linux_errors)
        first = _fail(ERROR_SIGNATURES[key], rng, host)
        if log is not None and not first.agent_offline:
            first = _fail_log(log, first.exit_code)
        return first, _ok(rng, host)

    cut1, cut2 = n // 10, n // 10 + (n * 4) // 10
    batches = (hosts[:cut1], hosts[cut1:cut2], hosts[cut2:])
    nodes = []
    offset = 0
    for number, batch in enumerate(batches, start=1):
        pick = _shifted(outcome, offset)
        runs = _timed(batch, rng, pick, wave=100, wave_gap_ms=2000, duration_ms=(1000, 6000))
        nodes.append(NodeSpec(f"rollout-batch-{number}", hosts=runs, continue_on_failure=True))
        offset += len(batch)
    return ExecutionPlan(nodes=tuple(nodes))


def _shifted(
    outcome: Callable[[int, HostSpec], tuple[AttemptOutcome, AttemptOutcome]], offset: int
) -> Callable[[int, HostSpec], tuple[AttemptOutcome, AttemptOutcome]]:
    return lambda i, host: outcome(i + offset, host)


_LONG_LOG_CASES: tuple[tuple[str, bool, str], ...] = (
    ("yum-4k", False, "1"),
    ("crlf-windows", False, "1"),
    ("emoji-cjk", False, "28"),
    ("slack-markup", False, "2"),
    ("secrets", False, "1"),
    ("ansi-and-tabs", False, "1"),
    ("long-multiline", True, "0"),
)


def _long_logs(hosts: Sequence[HostSpec], rng: random.Random) -> ExecutionPlan:
    def outcome(i: int, host: HostSpec) -> tuple[AttemptOutcome, AttemptOutcome]:
        if i >= len(_LONG_LOG_CASES):
            plain = _ok(rng, host)
            return plain, plain
        key, succeeded, exit_code = _LONG_LOG_CASES[i]
        result = AttemptOutcome(ok=succeeded, log=HOSTILE_LOGS[key], exit_code=exit_code)
        return result, result

    runs = _timed(hosts, rng, outcome, duration_ms=(2000, 8000))
    return ExecutionPlan(nodes=(NodeSpec("collect-diagnostics", hosts=runs),))


def _waiting_approval(hosts: Sequence[HostSpec], rng: random.Random) -> ExecutionPlan:
    approval = NodeSpec("approve-change", kind=NodeKind.APPROVAL, message="waiting for approval")
    migrate = NodeSpec("migrate", hosts=_timed(hosts, rng, _all_ok(rng)))
    return ExecutionPlan(nodes=(approval, migrate), approvers=("ops_admin", "dba_lead"))


def _paused(hosts: Sequence[HostSpec], rng: random.Random) -> ExecutionPlan:
    half = len(hosts) // 2
    return ExecutionPlan(
        nodes=(
            NodeSpec("canary", hosts=_timed(hosts[:half], rng, _all_ok(rng))),
            NodeSpec(
                "check-canary",
                kind=NodeKind.PAUSE,
                message="paused: check the canary dashboards, then continue",
            ),
            NodeSpec("rollout", hosts=_timed(hosts[half:], rng, _all_ok(rng))),
        )
    )


def _terminated(hosts: Sequence[HostSpec], rng: random.Random) -> ExecutionPlan:
    runs = _timed(hosts, rng, _all_ok(rng), wave=5, wave_gap_ms=15000, duration_ms=(15000, 40000))
    return ExecutionPlan(nodes=(NodeSpec("reindex", hosts=runs),), terminate_after_ms=25000)


def _doc_contradiction(hosts: Sequence[HostSpec], rng: random.Random) -> ExecutionPlan:
    def outcome(i: int, host: HostSpec) -> tuple[AttemptOutcome, AttemptOutcome]:
        if i == 0:
            ok = _ok(rng, host)
            return ok, ok
        first = _fail(ERROR_SIGNATURES["not-a-directory"], rng, host)
        return first, first

    node = NodeSpec("run-script", hosts=_timed(hosts, rng, outcome), reported_status="success")
    return ExecutionPlan(nodes=(node,))


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("all-success", "deploy-nginx", "Roll out the nginx config to the web tier.", 5,
                 _all_success),
        Scenario("few-failures", "rotate-logs", "Rotate and compress application logs.", 12,
                 _few_failures, host_prefix="app"),
        Scenario("mass-failure", "patch-openssl", "Patch openssl on every node.", 400,
                 _mass_failure, host_prefix="node",
                 zones=("cn-north-4a", "cn-north-4b", "cn-north-4c")),
        Scenario("large", "fleet-config-push", "Push the agent config to the whole fleet.", 2000,
                 _large, subnet="10.20", zones=("cn-north-4a", "cn-north-4b", "cn-north-4c"),
                 windows_share=0.15),
        Scenario("long-logs", "collect-diagnostics", "Collect diagnostics from odd hosts.", 8,
                 _long_logs, host_prefix="diag", windows_share=0.0,
                 name_overrides={1: "win-iis-01", 2: "数据库-主节点-01"}),
        Scenario("waiting-approval", "db-schema-migration", "Migrate the orders schema (needs "
                 "approval).", 3, _waiting_approval, host_prefix="db"),
        Scenario("paused", "canary-release", "Canary first, pause, then the rest.", 8, _paused,
                 host_prefix="api"),
        Scenario("terminated", "reindex-search", "Rebuild the search index (someone stops it).",
                 20, _terminated, host_prefix="search"),
        Scenario("doc-contradiction", "cleanup-tmp", "Clean /tmp (reports like the doc example).",
                 3, _doc_contradiction),
    )
}  # fmt: skip


def history_plan(hosts: Sequence[HostSpec], rng: random.Random, *, ok: bool) -> ExecutionPlan:
    """A plain one-node run for the finished past executions of a workflow."""
    failing = set() if ok else set(rng.sample(range(len(hosts)), min(2, len(hosts))))
    sig = ERROR_SIGNATURES["not-a-directory"]

    def outcome(i: int, host: HostSpec) -> tuple[AttemptOutcome, AttemptOutcome]:
        first = _fail(sig, rng, host) if i in failing else _ok(rng, host)
        return first, first

    return ExecutionPlan(nodes=(NodeSpec("run-script", hosts=_timed(hosts, rng, outcome)),))


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``; a ConfigError naming the valid ones otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ConfigError(
            f"Unknown simulator scenario {name!r}.", hint="Choose one of: " + ", ".join(SCENARIOS)
        ) from None
