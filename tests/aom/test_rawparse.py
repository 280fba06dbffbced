"""Bodies read from their bytes build what the tolerant models build from the decoded JSON.

The raw path (``aom.rawparse``) decodes a host only when the cache has not built one from the same
bytes; these tests hold it to ``ExecutionDetail.model_validate(json.loads(body))`` on every field
the card (``render.analysis``, the message) and the report (``render.report``) read, on the whole
model, and on the analysis and the CSV, whatever the body's layout, and across polls.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aom_bot.aom.fastparse import HostCache, execution_from_json
from aom_bot.aom.models import ExecutionDetail, Host, NodeResult
from aom_bot.aom.rawparse import execution_from_body
from aom_bot.render.analysis import analyse
from aom_bot.render.report import report_csv, report_text

from .helpers import FIXED_NOW as NOW
from .helpers import fixture_json
from .test_fastparse import EXECUTIONS, HOSTS, VALUES

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: what the card and the report read of an execution, a node and a host
EXECUTION_FIELDS = (
    "workflow_id",
    "execution_id",
    "status",
    "raw_status",
    "begin_time",
    "end_time",
    "last_update_time",
    "approvers",
    "created_by",
    "is_terminal",
)
NODE_FIELDS = (
    "node_id",
    "status",
    "raw_status",
    "begin_time",
    "end_time",
    "raw_output",
    "output_meta",
    "extra_buckets",
)
HOST_FIELDS = ("id", "name", "ip", "label", "key", "availability_zone", "floating_ips",
               "fixed_ips", "os_type", "agent_state", "exit_code", "code", "error_msg",
               "execute_time_ms", "start_time", "log")  # fmt: skip

#: layouts a server may use for the same JSON
LAYOUTS = st.sampled_from(
    [
        {},
        {"separators": (",", ":")},
        {"indent": 2},
        {"ensure_ascii": False},
        {"indent": "\t", "separators": (" ,", " : ")},
    ]
)


def full(body: bytes) -> ExecutionDetail:
    return ExecutionDetail.model_validate(json.loads(body))


def assert_card_and_report_agree(got: ExecutionDetail, want: ExecutionDetail) -> None:
    """Field by field (a readable failure), then the whole model, the analysis and the report."""
    for name in EXECUTION_FIELDS:
        assert getattr(got, name) == getattr(want, name), name
    assert len(got.nodes) == len(want.nodes)
    for node, expected in zip(got.nodes, want.nodes, strict=True):
        assert type(node) is NodeResult
        for name in NODE_FIELDS:
            assert getattr(node, name) == getattr(expected, name), name
        assert list(node.buckets) == list(expected.buckets)
        for bucket, hosts in node.buckets.items():
            assert len(hosts) == len(expected.buckets[bucket])
            for host, other in zip(hosts, expected.buckets[bucket], strict=True):
                assert type(host) is Host
                for name in HOST_FIELDS:
                    assert getattr(host, name) == getattr(other, name), (bucket, name)
    assert got == want
    assert got.model_dump(mode="json") == want.model_dump(mode="json")
    assert analyse(got) == analyse(want)
    assert report_csv(got) == report_csv(want)
    assert report_text(got, now=NOW) == report_text(want, now=NOW)


@SETTINGS
@given(data=EXECUTIONS, layout=LAYOUTS)
def test_the_raw_path_agrees_with_the_models(data: dict[str, Any], layout: dict[str, Any]):
    """Quirky executions in any layout: the same model from the bytes as from the JSON."""
    body = json.dumps(data, **layout).encode()
    want = full(body)
    for cache in (None, HostCache()):
        got = execution_from_body(body, cache)
        if got is not None:  # None: a body the dict path reads (checked in test_fastparse)
            assert_card_and_report_agree(got, want)
        assert_card_and_report_agree(execution_from_json(body, cache), want)


@settings(SETTINGS, max_examples=200)
@given(polls=st.lists(st.lists(HOSTS, max_size=5), min_size=2, max_size=4), layout=LAYOUTS)
def test_hosts_reused_across_polls_are_the_right_ones(
    polls: list[list[dict[str, Any]]], layout: dict[str, Any]
) -> None:
    """Polls whose hosts come and go, some byte for byte the same: each reads as on its own."""
    cache = HostCache()
    for hosts in polls + polls[:1]:
        data = {"execution_result_list": [{"node_id": "n", "status": "executing",
                "output": {"fail": hosts[:2], "success": hosts[2:], "in_execution": []}}]}  # fmt: skip
        body = json.dumps(data, **layout).encode()
        if b"Infinity" not in body and b"NaN" not in body:  # what msgspec refuses
            assert execution_from_body(body, cache) is not None
        assert_card_and_report_agree(execution_from_json(body, cache), full(body))


@SETTINGS
@given(output=st.dictionaries(st.sampled_from(["fail", "success", "skipped", "meta"]),
                              st.lists(HOSTS | VALUES, max_size=3) | VALUES, max_size=4))  # fmt: skip
def test_odd_outputs_are_judged_key_by_key(output: dict[str, Any]) -> None:
    """Null buckets, counters, lists of strings beside host lists: as the models judge them."""
    body = json.dumps({"execution_result_list": [{"node_id": "n", "output": output}]}).encode()
    if b"Infinity" not in body and b"NaN" not in body:  # what msgspec refuses
        assert execution_from_body(body, HostCache()) is not None
    assert_card_and_report_agree(execution_from_json(body, HostCache()), full(body))


@pytest.mark.parametrize(
    "body",
    [
        b'{"status": "fail", "status": "success", "execution_result_list": [{"output": '
        b'{"fail": [{"name": "a", "name": "b", "error_msg": null, "error_message": "x"}]}}]}',
        b'  {"execution_result_list": [1, "x", null, {"node_id": "n", "output": {"fail": '
        b'[1, {"id": "h"}, "s"], "success": ["a"], "in_execution": null}}]}  ',
        b'{"execution_result_list": [{"output": []}, {"output": {}}, {"output": "text"}, '
        b'{"output": {"approved": false}}, {"output": 0}]}',
        b'{"nodes": [{"node_id": "n", "output": {"fail": [{"id": "h"}]}}]}',
        b'{"execution_result_list": [], "nodes": [{"node_id": "ignored"}]}',
        b'{"approvers": ["a"], "execution_result_list": null}',
        b'{"approvers": ["a"], "approve_user_name_list": null}',
        b'{"execution_id": 100000000000000000000000000001, "execution_result_list": [{"output":'
        b' {"fail": [{"id": 3, "exit_code": 100000000000000000000000, "floating_ip_List": "1"}]}}]}',
        b'{"execution_result_list": [{"output": {"fail": [{"name": "db", "tags": [1e999]}]}}]}',
        '{"execution_id": "e1", "note": "日本語", "execution_result_list": [{"output": {"fail": '
        '[{"name": "网站-1", "log": "失败"}]}}]}'.encode(),
    ],
)
def test_odd_bodies(body: bytes) -> None:
    """Duplicate keys, non-objects in lists, odd outputs, ``nodes``, huge numbers, UTF-8."""
    for cache in (None, HostCache(), HostCache()):
        assert_card_and_report_agree(execution_from_json(body, cache), full(body))


@pytest.mark.parametrize(
    "body",
    [
        b'{"execution_id": "e1", "skipped": "\xff\xfe"}',  # bad UTF-8 where nothing is decoded
        b'{"execution_id": "e1", "ratio": NaN}',
        b'{"execution_id": "e1", "note": "\\ud800"}',
        b'{"execution_result_list": [{"output": {"fail": [{"exit_code": 1e999}]}}]}',
        b"[1, 2]",
        b"{",
    ],
)
def test_what_the_raw_path_leaves_to_the_dict_path(body: bytes) -> None:
    """Bodies the models read some other way (or refuse) are not read from the bytes."""
    assert execution_from_body(body, HostCache()) is None


def test_bad_utf8_is_refused_as_before() -> None:
    """A body that is not UTF-8 is an error on both paths, even where no field is read."""
    with pytest.raises(UnicodeDecodeError):
        execution_from_json(b'{"execution_id": "e1", "skipped": "\xff"}', HostCache())


@pytest.mark.parametrize("name", ["f1_running", "f2_success", "f3_failed", "f5_errors"])
def test_documented_payloads(name: str) -> None:
    """The documented payloads read from their bytes, twice (the second time from the cache)."""
    body = json.dumps(fixture_json(name), indent=1).encode()
    cache = HostCache(max_host_bytes=1 << 20)  # f3's long logs too
    first = execution_from_body(body, cache)
    second = execution_from_body(body, cache)
    assert first is not None
    assert second is not None
    assert_card_and_report_agree(first, full(body))
    assert_card_and_report_agree(second, full(body))
    pairs = zip(first.iter_hosts(), second.iter_hosts(), strict=True)
    assert all(a[2] is b[2] for a, b in pairs)  # reused, not rebuilt


def test_a_host_is_rebuilt_when_one_byte_changed() -> None:
    """The cache keys hosts by their bytes: a changed error is read anew, the others reused."""
    cache = HostCache()
    hosts = [{"id": f"h{i}", "error_msg": "disk full"} for i in range(3)]

    def poll() -> tuple[Host, ...]:
        body = json.dumps({"execution_result_list": [{"output": {"fail": hosts}}]}).encode()
        detail = execution_from_body(body, cache)
        assert detail is not None
        return detail.nodes[0].hosts("fail")

    first = poll()
    hosts[1]["error_msg"] = "agent offline"
    second = poll()
    assert [h.error_msg for h in second] == ["disk full", "agent offline", "disk full"]
    assert second[0] is first[0]
    assert second[2] is first[2]
    assert second[1] is not first[1]
