"""Bucket counting across nodes, error grouping and signatures, zonal blast radius, fingerprint."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aom_bot.aom.models import ExecutionDetail, Host
from aom_bot.render.analysis import (
    analyse,
    bucket_counts,
    error_groups,
    host_error,
    normalise_error,
    visible_fingerprint,
)
from tests.render.factories import execution, host, load_fixture, node


def test_fixture_f3_counts_and_groups() -> None:
    """The documented failed run: 1 success, 5 failures that all fail differently."""
    detail = load_fixture("f3_failed.json")
    counts = bucket_counts(detail)
    assert (counts.succeeded, counts.failed, counts.running, counts.not_performed) == (1, 5, 0, 0)
    assert counts.total == 6
    groups = error_groups(detail)
    assert len(groups) == 5
    errors = {g.representative.name: g.error for g in groups}
    assert errors["web-02"] == "line 1: cd: /opt/app/releases: Not a directory"
    assert errors["web-06"] == "agent is offline"
    assert "No space left on device" in errors["数据库-主节点-01"]
    assert errors["win-iis-01"].startswith("Get-Service : Cannot find any service")


def test_host_in_two_nodes_counts_once_by_its_worst_state() -> None:
    """Succeeded in node 1 but not yet started in node 2 is not 'succeeded'; failed anywhere is failed."""
    a, b, c = host(1), host(2), host(3)
    detail = execution(
        node("n1", success=[a, b], fail=[c]),
        node("n2", not_performed=[a], success=[c], in_execution=[b]),
        status="executing",
        ended=False,
    )
    counts = bucket_counts(detail)
    assert (counts.succeeded, counts.failed, counts.running, counts.not_performed) == (0, 1, 1, 1)
    assert counts.total == 3


def test_unknown_buckets_are_counted_not_lost() -> None:
    """A bucket this version does not know still counts toward the total, never as succeeded."""
    detail = execution(node(success=[host(1)], timeout=[host(2)]))
    counts = bucket_counts(detail)
    assert (counts.succeeded, counts.other, counts.total) == (1, 1, 2)
    assert analyse(detail).other_buckets == ("timeout",)


def test_anonymous_hosts_are_not_merged() -> None:
    """Hosts with no id, name or IP are still counted one by one."""
    nameless = {"log": "x", "exit_code": "1"}
    detail = execution(node(fail=[nameless, nameless, nameless]))
    assert bucket_counts(detail).failed == 3
    assert sum(len(g.hosts) for g in error_groups(detail)) == 3


def test_same_failure_with_different_numbers_ips_ids_and_paths_is_one_group() -> None:
    """Masking turns per-host details into one signature; largest group comes first."""
    fails = [
        host(
            i,
            log=f"2024-03-15T08:1{i}:00Z connect to 10.0.{i}.9:5432 failed "
            f"(req 0x{i:04x}ab, /tmp/run_{i}.sh, id 5f2c{i}e8a-1111-4222-8333-00000000000{i})",
            exit_code="2",
        )
        for i in range(1, 6)
    ] + [host(9, log="permission denied", exit_code="2")]
    groups = error_groups(execution(node(fail=fails)))
    assert [len(g.hosts) for g in groups] == [5, 1]
    assert groups[0].exit_code == 2
    assert "<ip>" in groups[0].normalised
    assert "<time>" in groups[0].normalised


def test_same_error_with_different_exit_codes_are_different_groups() -> None:
    """The exit code is part of the signature."""
    fails = [host(1, log="boom", exit_code="1"), host(2, log="boom", exit_code="3")]
    groups = error_groups(execution(node(fail=fails)))
    assert len(groups) == 2
    assert groups[0].signature != groups[1].signature


def test_host_name_in_its_own_error_does_not_split_groups() -> None:
    """'ssh web-0001 failed' and 'ssh web-0002 failed' fail the same way."""
    fails = [
        host(
            i, log=f"ssh: connect to host web-{i:04d} port 22: Connection refused", exit_code="255"
        )
        for i in range(1, 4)
    ]
    assert len(error_groups(execution(node(fail=fails)))) == 1


def test_signature_is_stable_across_calls() -> None:
    """The follow engine compares signatures between polls."""
    detail = load_fixture("f3_failed.json")
    assert [g.signature for g in error_groups(detail)] == [
        g.signature for g in error_groups(detail)
    ]


def test_hosts_in_a_group_are_sorted_naturally() -> None:
    """web-2 comes before web-10."""
    fails = [host(i, name=f"web-{i}", log="same", exit_code="1") for i in (10, 2, 1)]
    group = error_groups(execution(node(fail=fails)))[0]
    assert [h.name for h in group.hosts] == ["web-1", "web-2", "web-10"]


def test_zonal_blast_radius_is_flagged_when_one_az_dominates() -> None:
    """8 of 9 failures in one AZ of a fleet spread over two AZs is a zonal signal."""
    fails = [host(i, zone="cn-north-4b", log="timeout", exit_code="1") for i in range(8)]
    fails.append(host(8, zone="cn-north-4a", log="timeout", exit_code="1"))
    ok = [host(i, zone="cn-north-4a" if i % 2 else "cn-north-4b", log="ok") for i in range(10, 30)]
    group = error_groups(execution(node(fail=fails, success=ok)))[0]
    assert group.dominant_zone == "cn-north-4b"
    assert group.dominant_zone_hosts == 8


def test_no_zonal_flag_when_the_fleet_has_one_az_or_the_group_is_spread() -> None:
    """Single-AZ fleets and evenly spread failures are not zonal."""
    single = [host(i, zone="z1", log="x", exit_code="1") for i in range(5)]
    assert error_groups(execution(node(fail=single)))[0].dominant_zone is None
    spread = [host(i, zone=f"z{i % 2}", log="x", exit_code="1") for i in range(6)]
    assert error_groups(execution(node(fail=spread)))[0].dominant_zone is None


def test_host_error_prefers_error_msg_then_the_telling_log_line() -> None:
    """error_msg wins; else the last line that reads like an error, skipping shell traces."""
    from aom_bot.aom.models import Host

    assert host_error(Host(error_msg="agent is offline", log="x")) == "agent is offline"
    log = "starting\n+ cp a b\ncp: cannot stat 'a': No such file\n+ echo done\ndone"
    assert host_error(Host(log=log)) == "cp: cannot stat 'a': No such file"
    assert host_error(Host(log="just output")) == "just output"
    assert host_error(Host(exit_code=3)) == "exit code 3"
    assert host_error(Host()) == "no error message"


def test_normalise_error_masks_variable_parts() -> None:
    """Numbers, hex ids, IPs, temp paths and timestamps are masked."""
    out = normalise_error("12:00:01 /tmp/x_1 10.1.2.3 deadbeef42 took 17ms")
    assert out == "<time> <tmp> <ip> <hex> took <n>ms"


def test_fingerprint_ignores_time_but_sees_counts_and_status() -> None:
    """Only changes a person would notice change the fingerprint."""
    base = {"status": "executing", "ended": False}
    one = execution(node(status="executing", in_execution=[host(1), host(2)]), **base)
    later = execution(
        node(status="executing", in_execution=[host(1), host(2)]),
        **base,
        last_update_time=1710490299000,
    )
    progressed = execution(
        node(status="executing", in_execution=[host(1)], success=[host(2)]), **base
    )
    assert visible_fingerprint(one) == visible_fingerprint(later)
    assert visible_fingerprint(one) != visible_fingerprint(progressed)
    done = execution(node(status="success", success=[host(1), host(2)]), status="success")
    assert visible_fingerprint(done) != visible_fingerprint(progressed)


def test_natural_sort_survives_unusual_digits() -> None:
    """Superscripts and other non-decimal 'digits' in names sort without crashing."""
    fails = [host(i, name=n, log="x", exit_code="1") for i, n in enumerate(["²", "web-٣", "web-2"])]
    group = error_groups(execution(node(fail=fails)))[0]
    assert len(group.hosts) == 3


# --- each host once, by its worst state: the rule, against any mix of hosts ------------------

_RANKS = {"fail": 0, "in_execution": 1, "not_performed": 3, "success": 4}
_HOSTS = st.fixed_dictionaries(
    {"id": st.sampled_from(["", "h1", "h2", "h3"]), "name": st.sampled_from(["", "web-1", "web-2"]),
     "ip": st.sampled_from(["", "10.0.0.1"])}
)  # fmt: skip
_OUTPUTS = st.dictionaries(
    st.sampled_from(["fail", "in_execution", "not_performed", "success", "timeout"]),
    st.lists(_HOSTS, min_size=1, max_size=5),
    max_size=4,
)
_EXECUTIONS = st.lists(st.tuples(st.sampled_from(["n1", "n2"]), _OUTPUTS), max_size=3)


def _by_the_rule(detail: ExecutionDetail) -> list[tuple[str, str, str, str, tuple[str, ...]]]:
    """Each distinct host (id, else name and IP; a host with neither is its own) with its worst
    bucket (a tie keeps the first), the node that decided it and every node it was seen in."""
    best: dict[str, tuple[Host, str, str, tuple[str, ...]]] = {}
    for n, each in enumerate(detail.nodes):
        for bucket, hosts in each.buckets.items():
            for i, one in enumerate(hosts):
                key = one.id or (
                    f"{one.name}|{one.ip}" if one.name or one.ip else f"#{n}{bucket}{i}"
                )
                if key not in best:
                    best[key] = (one, bucket, each.node_id, (each.node_id,))
                    continue
                kept, kept_bucket, decided, seen = best[key]
                seen = seen if each.node_id in seen else (*seen, each.node_id)
                if _RANKS.get(bucket, 2) < _RANKS.get(kept_bucket, 2):
                    best[key] = (one, bucket, each.node_id, seen)
                else:
                    best[key] = (kept, kept_bucket, decided, seen)
    return [(h.id, h.name, b, d, s) for h, b, d, s in best.values()]


@settings(max_examples=400, deadline=None)
@given(nodes=_EXECUTIONS)
def test_each_host_counts_once_by_its_worst_state_in_any_mix(
    nodes: list[tuple[str, dict[str, list[dict[str, str]]]]],
) -> None:
    """Repeated ids within a bucket, across buckets and nodes, hosts without ids or names."""
    detail = ExecutionDetail.model_validate(
        {"execution_result_list": [{"node_id": n, "output": out} for n, out in nodes]}
    )
    results = analyse(detail).results
    got = [(r.host.id, r.host.name, r.bucket, r.node_id, r.node_ids) for r in results]
    assert got == _by_the_rule(detail)
