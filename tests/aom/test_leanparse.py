"""A follow's poll reads bodies lean; what it reads of them is what the whole models say.

``execution_from_body(..., lean=True)`` builds only the hosts of ``fail`` buckets whole; the
others carry their ID, name, IP and zone. The poll reads the analysis (counts, groups, the
hosts' identities and buckets), the fingerprint and the status of it; the card and the reports
read whole executions — the watch's kept body, read again whole (``Watch.last_execution``).
These tests hold both to ``ExecutionDetail.model_validate(json.loads(body))``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aom_bot.aom.fastparse import HostCache
from aom_bot.aom.http import Reply
from aom_bot.aom.models import ExecutionDetail
from aom_bot.aom.rawparse import execution_from_body
from aom_bot.aom.replies import execution_of
from aom_bot.follow.state import Watch
from aom_bot.render.analysis import analyse, node_counts, visible_fingerprint

from .test_fastparse import EXECUTIONS, HOSTS, VALUES
from .test_rawparse import EXECUTION_FIELDS, LAYOUTS, NODE_FIELDS, assert_card_and_report_agree

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: what the poll reads of a host that has not failed
LEAN_FIELDS = ("id", "name", "ip", "label", "key", "availability_zone")

#: hosts that share IDs and names across buckets and nodes, so the worst state decides
SHARED = st.fixed_dictionaries(
    {"id": st.sampled_from(["", "h1", "h2", "h3"])},
    optional={
        "name": st.sampled_from(["", "web-1", "web-2"]),
        "ip": st.sampled_from(["", "10.0.0.1"]),
        "availability_zone": st.sampled_from(["", "az1", "az2"]),
        "error_msg": st.sampled_from(["", "disk full", "timeout after 30s"]),
        "exit_code": st.sampled_from([0, 1, "2", None]),
        "log": VALUES,
    },
)
#: the usual shape (lists of objects only), read in one pass
CLEAN_NODES = st.fixed_dictionaries(
    {
        "node_id": st.sampled_from(["n1", "n2", ""]),
        "status": st.sampled_from(["executing", "fail", "success"]),
        "output": st.dictionaries(
            st.sampled_from(["success", "fail", "in_execution", "not_performed", "skipped"]),
            st.lists(SHARED | HOSTS, max_size=5),
            max_size=5,
        ),
    }
)
CLEAN = st.fixed_dictionaries(
    {
        "execution_id": st.just("e1"),
        "status": st.sampled_from(["executing", "fail", "success", None]),
        "execution_result_list": st.lists(CLEAN_NODES, max_size=3),
    }
)


def full(body: bytes) -> ExecutionDetail:
    return ExecutionDetail.model_validate(json.loads(body))


def assert_the_poll_reads_the_same(lean: ExecutionDetail, want: ExecutionDetail) -> None:
    """Every field a poll reads: the execution's and nodes', the hosts' identities (failed ones
    whole), the analysis, each node's counts and the fingerprint."""
    for name in EXECUTION_FIELDS:
        assert getattr(lean, name) == getattr(want, name), name
    for node, expected in zip(lean.nodes, want.nodes, strict=True):
        for name in NODE_FIELDS:
            if name != "extra_buckets":  # its hosts are lean too: compared below, by identity
                assert getattr(node, name) == getattr(expected, name), name
        assert list(node.buckets) == list(expected.buckets)
        for bucket, hosts in node.buckets.items():
            others = expected.buckets[bucket]
            if bucket == "fail":
                assert hosts == others
            for host, other in zip(hosts, others, strict=True):
                for name in LEAN_FIELDS:
                    assert getattr(host, name) == getattr(other, name), (bucket, name)
        assert node_counts(node) == node_counts(expected)
    got, expected_analysis = analyse(lean), analyse(want)
    assert got.counts == expected_analysis.counts
    assert got.groups == expected_analysis.groups
    assert got.other_buckets == expected_analysis.other_buckets
    identity = [(r.host.key, r.host.availability_zone, r.bucket, r.node_id, r.node_ids)
                for r in expected_analysis.results]  # fmt: skip
    assert [(r.host.key, r.host.availability_zone, r.bucket, r.node_id, r.node_ids)
            for r in got.results] == identity  # fmt: skip
    assert visible_fingerprint(lean) == visible_fingerprint(want)


def check(data: dict[str, Any], layout: dict[str, Any]) -> None:
    body = json.dumps(data, **layout).encode()
    want = full(body)
    for cache in (None, HostCache()):
        lean = execution_from_body(body, cache, lean=True)
        if lean is not None:  # None: a body the dict path reads whole
            assert_the_poll_reads_the_same(lean, want)
        polled = execution_of(Reply(200, httpx.Headers(), body), "read", cache, lean=True)
        assert_the_poll_reads_the_same(polled, want)
        if polled.is_terminal:  # a finished run: its final card and report read every host
            assert_card_and_report_agree(polled, want)
    watch = Watch("wf", "e1")
    watch.remember(want, visible_fingerprint(want), b"digest", body)
    kept = watch.last_execution()
    assert kept is not None
    assert_card_and_report_agree(kept, want.model_copy(update={
        "workflow_id": want.workflow_id or "wf", "execution_id": want.execution_id or "e1"}))  # fmt: skip


@SETTINGS
@given(data=CLEAN, layout=LAYOUTS)
def test_a_lean_poll_of_the_usual_shape_reads_what_the_models_say(
    data: dict[str, Any], layout: dict[str, Any]
) -> None:
    check(data, layout)


@SETTINGS
@given(data=EXECUTIONS, layout=LAYOUTS)
def test_a_lean_poll_of_any_quirky_body_reads_what_the_models_say(
    data: dict[str, Any], layout: dict[str, Any]
) -> None:
    check(data, layout)


def test_a_running_host_is_lean_and_a_failed_one_whole() -> None:
    """What the lean read leaves out of a host that has not failed (its log, times…)."""
    host = {"id": "h1", "name": "web-1", "log": "still going", "start_time": 1710490200000}
    failed = {**host, "id": "h2", "error_msg": "disk full", "exit_code": 1}
    body = json.dumps({"status": "executing", "execution_result_list": [
        {"node_id": "n", "output": {"in_execution": [host], "fail": [failed]}}]}).encode()  # fmt: skip
    lean = execution_from_body(body, lean=True)
    assert lean is not None
    (running,) = lean.nodes[0].buckets["in_execution"]
    assert (running.id, running.name, running.label, running.key) == ("h1", "web-1", "web-1", "h1")
    assert not hasattr(running, "log")
    assert not hasattr(running, "start_time")
    assert lean.nodes[0].buckets["fail"] == full(body).nodes[0].buckets["fail"]


def test_a_lean_host_whose_keys_are_not_strings_is_read_the_models_way() -> None:
    """Numbers and nulls where strings are expected: coerced as the whole model coerces them."""
    odd = {"id": 12345678901234567890, "name": None, "ip": 10.5, "availability_zone": True}
    body = json.dumps({"status": "executing", "execution_result_list": [
        {"node_id": "n", "output": {"success": [odd, {"id": "h2"}]}}]}).encode()  # fmt: skip
    lean = execution_from_body(body, lean=True)
    assert lean is not None
    want = full(body)
    assert_the_poll_reads_the_same(lean, want)
    first = lean.nodes[0].buckets["success"][0]
    assert (first.id, first.name, first.ip, first.availability_zone) == (
        "12345678901234567890", "", "10.5", "true")  # fmt: skip
