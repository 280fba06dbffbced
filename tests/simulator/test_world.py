"""The simulated world: executions advance on the injected clock, per scenario, reproducibly."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from aom_bot.errors import ConfigError
from aom_bot.simulator import (
    SCENARIOS,
    NotFoundError,
    RejectedError,
    World,
    build_demo,
    build_world,
    scenario_names,
)

from .conftest import T0, FakeClock

HOST_KEYS = [
    "availability_zone", "code", "error_msg", "floating_ip_List", "charging_mode",
    "current_project", "log", "vpc_id", "ip", "fixed_ip_list", "tags", "start_time",
    "enterprise_project_id", "execute_time", "os_type", "agent_state", "exit_code", "name", "id",
    "instance_status",
]  # fmt: skip
ORDER = {"not_performed": 0, "in_execution": 1, "success": 2, "fail": 2}


def one_run(
    scenario: str, *, speed: float = 1.0, seed: int = 3
) -> tuple[World, FakeClock, str, str]:
    clock = FakeClock()
    world = World(seed=seed, clock=clock, speed=speed)
    wf = world.add_workflow(SCENARIOS[scenario].workflow_name, scenario=scenario)
    return world, clock, wf, world.start_execution(wf)


def hosts_by_bucket(detail: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for node in detail["execution_result_list"]:
        output = node["output"]
        if isinstance(output, dict) and "success" in output:
            for bucket, hosts in output.items():
                out.setdefault(bucket, []).extend(hosts)
    return out


def counts(detail: dict[str, Any]) -> dict[str, int]:
    return {b: len(h) for b, h in hosts_by_bucket(detail).items()}


def run_to_end(
    world: World, clock: FakeClock, wf: str, ex: str, step: float = 1.0, limit: float = 600
) -> dict[str, Any]:
    waited = 0.0
    while waited < limit:
        detail = world.execution_json(wf, ex)
        if detail["status"] in ("success", "fail", "cancel"):
            return detail
        clock.advance(step)
        waited += step
    raise AssertionError(f"still {detail['status']} after {limit}s")


def test_scenario_names_are_the_documented_ones() -> None:
    """Every scenario the brief names exists under its exact kebab-case name."""
    assert scenario_names() == [
        "all-success", "few-failures", "mass-failure", "large", "long-logs", "waiting-approval",
        "paused", "terminated", "doc-contradiction",
    ]  # fmt: skip


def test_all_success_moves_hosts_forward_and_ends_successfully() -> None:
    """Hosts go not_performed -> in_execution -> success, never backwards, and the run ends OK."""
    world, clock, wf, ex = one_run("all-success")
    first = world.execution_json(wf, ex)
    assert first["status"] == "waitExecute"
    assert first["execution_result_list"] == []
    assert "end_time" not in first
    seen_statuses = []
    last_bucket: dict[str, int] = {}
    for _ in range(40):
        detail = world.execution_json(wf, ex)
        seen_statuses.append(detail["status"])
        for bucket, hosts in hosts_by_bucket(detail).items():
            for host in hosts:
                assert ORDER[bucket] >= last_bucket.get(host["id"], 0), host["name"]
                last_bucket[host["id"]] = ORDER[bucket]
        if detail["execution_result_list"]:
            assert sum(counts(detail).values()) == 5
        clock.advance(0.5)
    assert "executing" in seen_statuses
    final = world.execution_json(wf, ex)
    assert final["status"] == "success"
    assert counts(final) == {"success": 5, "fail": 0, "in_execution": 0, "not_performed": 0}
    assert final["end_time"] >= final["begin_time"] == round(T0 * 1000)
    node = final["execution_result_list"][0]
    assert node["status"] == "success"
    assert node["end_time"] == final["end_time"]


def test_running_execution_shows_hosts_in_every_stage() -> None:
    """Mid-run, a large execution has hosts done, running and not yet started at once."""
    world, clock, wf, ex = one_run("mass-failure")
    clock.advance(12)
    c = counts(world.execution_json(wf, ex))
    assert c["in_execution"] > 0
    assert c["not_performed"] > 0
    assert c["success"] + c["fail"] > 0
    assert sum(c.values()) == 400


def test_host_objects_have_every_documented_field_with_aom_types() -> None:
    """Hosts carry all 20 §4.3.1 keys, floating_ip_List with a capital L and numbers as strings."""
    world, clock, wf, ex = one_run("few-failures")
    clock.advance(6)
    running = world.execution_json(wf, ex)
    assert isinstance(running["begin_time"], int)
    assert isinstance(running["last_update_time"], int)
    by_bucket = hosts_by_bucket(running)
    for bucket, hosts in by_bucket.items():
        for host in hosts:
            assert list(host) == HOST_KEYS
            assert all(
                isinstance(host[k], str)
                for k in ("code", "start_time", "exit_code", "execute_time", "charging_mode")
            )
            if bucket == "not_performed":
                assert host["start_time"] == host["exit_code"] == host["execute_time"] == ""
            if bucket == "in_execution":
                # an offline agent never reports a start time (as in fixture F3)
                started = host["start_time"].isdigit() or host["agent_state"] == "OFFLINE"
                assert started
                assert host["exit_code"] == ""
    final = run_to_end(world, clock, wf, ex)
    done = hosts_by_bucket(final)["success"][0]
    assert done["exit_code"] == "0"
    assert int(done["execute_time"]) > 0
    assert int(done["start_time"]) >= final["begin_time"]


def test_few_failures_fails_a_few_hosts_with_different_errors() -> None:
    """Three hosts fail, each with its own error; the node and the run end in fail."""
    world, clock, wf, ex = one_run("few-failures")
    final = run_to_end(world, clock, wf, ex)
    assert final["status"] == "fail"
    failed = hosts_by_bucket(final)["fail"]
    assert len(failed) == 3
    assert len({(h["log"][-30:], h["error_msg"], h["exit_code"]) for h in failed}) == 3
    offline = [h for h in failed if h["agent_state"] == "OFFLINE"]
    assert len(offline) == 1
    assert offline[0]["error_msg"] == "agent is offline"
    assert offline[0]["start_time"] == ""
    assert offline[0]["code"] == "1"


def test_mass_failure_hits_one_zone_hardest_with_few_signatures() -> None:
    """Hundreds of hosts, a handful of error kinds, and cn-north-4b failing far more than others."""
    world, clock, wf, ex = one_run("mass-failure")
    final = run_to_end(world, clock, wf, ex)
    failed = hosts_by_bucket(final)["fail"]
    assert len(failed) >= 100
    kinds = {h["error_msg"] or h["log"].splitlines()[-1][:25] for h in failed}
    assert 3 <= len(kinds) <= 8
    by_zone = Counter(h["availability_zone"] for h in failed)
    worst, worst_count = by_zone.most_common(1)[0]
    assert worst == "cn-north-4b"
    assert all(worst_count > 3 * n for zone, n in by_zone.items() if zone != worst)


def test_large_has_2000_named_hosts_over_several_nodes() -> None:
    """The large run: web-0001…web-2000, 10.20.x.y, both OS types, 4 KB and non-ASCII logs."""
    world, clock, wf, ex = one_run("large")
    final = run_to_end(world, clock, wf, ex, step=5)
    assert len(final["execution_result_list"]) >= 3
    hosts = [h for hs in hosts_by_bucket(final).values() for h in hs]
    names = sorted(h["name"] for h in hosts)
    assert names == [f"web-{i:04d}" for i in range(1, 2001)]
    assert len({h["id"] for h in hosts}) == 2000
    assert all(h["ip"].startswith("10.20.") for h in hosts)
    assert {h["os_type"] for h in hosts} == {"Linux", "Windows"}
    assert any(len(h["log"].encode()) >= 4000 for h in hosts)
    assert any(not h["log"].isascii() for h in hosts)
    assert 0 < len(hosts_by_bucket(final)["fail"]) < 100


def test_long_logs_carry_hostile_text() -> None:
    """Logs with CRLF, emoji, CJK, Slack markup and secret-looking strings are all served."""
    world, clock, wf, ex = one_run("long-logs")
    final = run_to_end(world, clock, wf, ex)
    logs = "\n".join(h["log"] for hs in hosts_by_bucket(final).values() for h in hs)
    for needle in (
        "\r\n",
        "😱",
        "部署失败",
        "```",
        "<!channel>",
        "<@U123>",
        "<https://evil.example|",
        "password=hunter2",
        "AK=HPUA7QXZ2M4KD9WTR3NB",
    ):
        assert needle in logs, needle
    assert max(len(h["log"]) for hs in hosts_by_bucket(final).values() for h in hs) > 20_000


def test_same_seed_and_times_give_identical_json() -> None:
    """Two worlds with one seed, asked at the same moments, answer byte for byte the same."""
    bodies = []
    for _ in range(2):
        clock = FakeClock()
        world = build_world(seed=11, clock=clock)
        out = []
        for step in (0, 3, 9, 30):
            clock.now = T0 + step
            for wf in world.workflow_ids():
                out.append(world.executions_body(wf))
                out.extend(world.execution_body(wf, ex) for ex in world.execution_ids(wf))
        out.append(json.dumps(world.workflow_page(size=100)).encode())
        bodies.append(out)
    assert bodies[0] == bodies[1]
    other = build_world(seed=12, clock=FakeClock())
    assert other.workflow_ids() != build_world(seed=11, clock=FakeClock()).workflow_ids()


def test_speed_multiplier_shortens_the_run() -> None:
    """At speed 10 a run takes a tenth of the clock time."""
    world, clock, wf, ex = one_run("all-success", speed=1)
    slow = run_to_end(world, clock, wf, ex, step=0.1)
    world, clock, wf, ex = one_run("all-success", speed=10)
    fast = run_to_end(world, clock, wf, ex, step=0.01)
    slow_ms = slow["end_time"] - slow["begin_time"]
    fast_ms = fast["end_time"] - fast["begin_time"]
    assert fast_ms == pytest.approx(slow_ms / 10, abs=5)


def test_waiting_approval_waits_until_continued() -> None:
    """The run waits for approval (approvers listed) until continue, then runs to success."""
    world, clock, wf, ex = one_run("waiting-approval")
    clock.advance(60)
    detail = world.execution_json(wf, ex)
    assert detail["status"] == "waitApproval"
    assert detail["approve_user_name_list"] == ["ops_admin", "dba_lead"]
    node = detail["execution_result_list"][0]
    assert node["status"] == "waitApproval"
    with pytest.raises(RejectedError):
        world.operate(wf, ex, "continue", "migrate")
    world.operate(wf, ex, "continue", node["node_id"], by="dba_lead")
    assert run_to_end(world, clock, wf, ex)["status"] == "success"


def test_paused_run_resumes_only_on_continue() -> None:
    """The paused scenario stops at its pause node (status pausing) until continue."""
    world, clock, wf, ex = one_run("paused")
    clock.advance(120)
    detail = world.execution_json(wf, ex)
    assert detail["status"] == "pausing"
    paused_node = detail["execution_result_list"][-1]
    clock.advance(600)
    assert world.execution_json(wf, ex) == detail
    world.operate(wf, ex, "continue", paused_node["node_id"])
    final = run_to_end(world, clock, wf, ex)
    assert final["status"] == "success"
    assert [n["status"] for n in final["execution_result_list"]] == ["success"] * 3
    assert counts(final)["success"] == 8


def test_terminated_scenario_cancels_itself() -> None:
    """The terminated scenario goes canceling then cancel, with unfinished hosts not succeeded."""
    world, clock, wf, ex = one_run("terminated")
    statuses = []
    for _ in range(60):
        statuses.append(world.execution_json(wf, ex)["status"])
        clock.advance(1)
    assert "executing" in statuses
    assert "canceling" in statuses
    assert statuses[-1] == "cancel"
    final = world.execution_json(wf, ex)
    assert final["execution_result_list"][0]["status"] == "cancel"
    c = counts(final)
    assert c["in_execution"] == 0
    assert c["not_performed"] > 0


def test_terminate_stops_a_running_execution() -> None:
    """Terminating a running execution cancels it; terminating a finished one changes nothing."""
    world, clock, wf, ex = one_run("mass-failure")
    clock.advance(10)
    assert world.terminate(wf, ex) is True
    assert world.execution_json(wf, ex)["status"] == "canceling"
    clock.advance(5)
    final = world.execution_json(wf, ex)
    assert final["status"] == "cancel"
    assert counts(final)["in_execution"] == 0
    assert world.terminate(wf, ex) is False
    clock.advance(100)
    assert world.execution_json(wf, ex) == final


def test_restart_reruns_failed_hosts_and_skip_moves_on() -> None:
    """restart re-runs only the failed hosts (the transient one recovers); skip ends the node."""
    world, clock, wf, ex = one_run("few-failures")
    first = run_to_end(world, clock, wf, ex)
    node_id = first["execution_result_list"][0]["node_id"]
    succeeded_before = {h["id"]: h for h in hosts_by_bucket(first)["success"]}
    with pytest.raises(RejectedError):
        world.operate(wf, ex, "restart", "no-such-node")
    world.operate(wf, ex, "restart", node_id)
    assert world.execution_json(wf, ex)["status"] == "executing"
    clock.advance(1)
    assert counts(world.execution_json(wf, ex))["in_execution"] == 3
    second = run_to_end(world, clock, wf, ex)
    assert second["status"] == "fail"
    assert len(hosts_by_bucket(second)["fail"]) == 2
    for host in hosts_by_bucket(second)["success"]:
        if host["id"] in succeeded_before:
            assert host == succeeded_before[host["id"]]
    world.operate(wf, ex, "skip", node_id)
    assert world.execution_json(wf, ex)["status"] == "success"


def test_doc_contradiction_reports_node_success_with_failed_hosts() -> None:
    """As in the doc example: node status success, hosts in fail, execution fail."""
    world, clock, wf, ex = one_run("doc-contradiction")
    final = run_to_end(world, clock, wf, ex)
    assert final["status"] == "fail"
    assert final["execution_result_list"][0]["status"] == "success"
    assert len(hosts_by_bucket(final)["fail"]) >= 1


def test_default_world_has_one_readable_workflow_per_scenario_with_history() -> None:
    """build_world: nine named workflows, each with two finished past runs and a current one."""
    clock = FakeClock()
    world = build_world(seed=1, clock=clock)
    page = world.workflow_page(size=100)
    assert page["total_elements"] == len(SCENARIOS)
    names = [w["name"] for w in page["elements"]]
    assert "deploy-nginx" in names
    assert "canary-release" in names
    wf = world.workflow_id_by_name("rotate-logs")
    runs = json.loads(world.executions_body(wf))
    assert len(runs) == 3
    assert runs[0]["begin_time"] > runs[1]["begin_time"] > runs[2]["begin_time"]
    assert [r["status"] for r in runs[1:]] == ["fail", "success"]
    assert all("created_by" in r and "execution_result_list" in r for r in runs)
    assert page["elements"][0]["workflow_id"] != page["elements"][0]["id"]


def test_unknown_ids_and_scenarios_give_clear_errors() -> None:
    """Unknown workflow/execution raise NotFoundError; unknown scenario or speed ConfigError."""
    world = build_world(seed=1, clock=FakeClock())
    wf = world.workflow_ids()[0]
    with pytest.raises(NotFoundError):
        world.execution_json("nope", "nope")
    with pytest.raises(NotFoundError):
        world.execution_json(wf, "nope")
    other_wf = world.workflow_ids()[1]
    with pytest.raises(NotFoundError):
        world.execution_json(other_wf, world.execution_ids(wf)[0])
    with pytest.raises(ConfigError) as excinfo:
        build_demo("no-such-scenario", 1.0, 0, clock=FakeClock())
    assert "all-success" in excinfo.value.user_message()
    with pytest.raises(ConfigError):
        World(seed=1, clock=FakeClock(), speed=0)


def test_many_workflows_and_executions_are_cheap_to_create() -> None:
    """1,000 workflows and 10,000 executions are created in well under a few seconds."""
    world = World(seed=5, clock=FakeClock())
    started = time.perf_counter()
    workflows = [world.add_workflow(f"wf-{i:04d}", scenario="few-failures") for i in range(1000)]
    for i in range(10_000):
        world.add_execution(workflows[i % 1000])
    assert time.perf_counter() - started < 3.0
    assert world.workflow_page(page=99, size=10)["elements"][-1]["name"] == "wf-0999"


def test_a_2000_host_execution_renders_fast_and_is_cached_per_moment() -> None:
    """Re-reading a large execution at the same moment reuses the rendered body."""
    world, clock, wf, ex = one_run("large")
    clock.advance(30)
    first = world.execution_body(wf, ex)
    assert world.execution_body(wf, ex) is first
    clock.advance(1)
    started = time.perf_counter()
    again = world.execution_body(wf, ex)
    assert time.perf_counter() - started < 0.5
    assert again != first


def test_asking_about_an_earlier_moment_gives_the_earlier_state() -> None:
    """The state is a function of time: going back in time reads the same as it did then."""
    world, clock, wf, ex = one_run("mass-failure")
    clock.advance(8)
    at_8 = world.execution_body(wf, ex)
    clock.advance(30)
    assert world.execution_body(wf, ex) != at_8
    clock.advance(-30)
    assert world.execution_body(wf, ex) == at_8


def test_terminate_while_waiting_for_approval_cancels() -> None:
    """A run stopped at its approval node ends cancelled, with the node cancelled too."""
    world, clock, wf, ex = one_run("waiting-approval")
    clock.advance(10)
    assert world.terminate(wf, ex)
    clock.advance(10)
    final = world.execution_json(wf, ex)
    assert final["status"] == "cancel"
    assert final["execution_result_list"][0]["status"] == "cancel"
    with pytest.raises(RejectedError):
        world.operate(wf, ex, "continue", "approve-change")


def test_restart_is_refused_while_the_node_is_still_running() -> None:
    """restart/skip only apply to a failed node."""
    world, clock, wf, ex = one_run("few-failures")
    clock.advance(5)
    node = world.execution_json(wf, ex)["execution_result_list"][0]["node_id"]
    for action in ("restart", "skip", "continue"):
        with pytest.raises(RejectedError):
            world.operate(wf, ex, action, node)


def test_host_count_can_be_chosen_per_workflow() -> None:
    """Benchmarks size a workflow's inventory; the scenario's behaviour scales with it."""
    world = World(seed=1, clock=FakeClock())
    wf = world.add_workflow("big-rotate", scenario="few-failures", host_count=300)
    ex = world.add_execution(wf)
    clock = world.clock
    assert isinstance(clock, FakeClock)
    final = run_to_end(world, clock, wf, ex, step=5)
    assert sum(counts(final).values()) == 300
    assert counts(final)["fail"] == 3


def test_workflow_list_filters_by_last_run_status_and_sorts() -> None:
    """status filters on the latest run; sort_field/sort_type order the page."""
    clock = FakeClock()
    world = build_world(seed=1, clock=clock)
    clock.advance(300)
    failed = world.workflow_page(status="fail", size=100)
    assert {w["name"] for w in failed["elements"]} == {
        "rotate-logs", "patch-openssl", "fleet-config-push", "collect-diagnostics", "cleanup-tmp"
    }  # fmt: skip
    assert failed["total_elements"] == 5
    wf = world.workflow_id_by_name("cleanup-tmp")
    clock.advance(1)
    world.start_execution(wf)
    newest = world.workflow_page(sort_field="last_execution_start_time", sort_type="DESC")
    assert newest["elements"][0]["name"] == "cleanup-tmp"
    assert newest["elements"][0]["status"] == "waitExecute"
