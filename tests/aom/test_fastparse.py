"""The fast parser builds what the tolerant models build, field for field, quirks included."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from aom_bot.aom.fastparse import (
    HostCache,
    body_digest,
    decode_json,
    execution_from_data,
    execution_from_json,
)
from aom_bot.aom.models import ExecutionDetail
from aom_bot.render.analysis import analyse
from aom_bot.render.report import report_csv

from .helpers import EX, WF, FakeAom, fixture_json, make_client
from .test_parsing_fuzz import JSON

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: every key a host is read from, aliases included, and a stranger
HOST_KEYS = (
    "id", "name", "ip", "availability_zone", "floating_ip_List", "floating_ip_list",
    "floating_ips", "fixed_ip_list", "fixed_ips", "code", "error_msg", "error_message",
    "errorMsg", "log", "exit_code", "start_time", "execute_time", "execute_time_ms", "os_type",
    "agent_state", "instance_status", "vpc_id", "tags",
)  # fmt: skip
#: the quirks AOM sends: numbers as text, epoch ms as int or text, ISO times, odd digits
QUIRKS = st.sampled_from(
    [
        "", " ", "0", "3", "-1", " 12 ", "1e12", "1.5", "1710490200000", "-1710490200000",
        "99999999999999999", "2024-03-15T08:09:10Z", "2024-03-15 08:09:10", "²", "٣", "NaN",
        "fail", 0, 1, -1, 1710490200000, 7_258_118_400_001, 1.5, 1e300, 2**70, True, False,
        None, [], ["10.0.0.1"], ["", "10.0.0.2", 3, None, 4.0], {"k": "v"},
    ]
)  # fmt: skip
VALUES = QUIRKS | st.text(max_size=12) | st.integers() | st.floats(allow_nan=False)
HOSTS = st.dictionaries(st.sampled_from(HOST_KEYS), VALUES, min_size=1, max_size=16)
OUTPUTS = st.dictionaries(
    st.sampled_from(["success", "fail", "in_execution", "not_performed", "skipped", "meta"]),
    st.lists(HOSTS | VALUES, max_size=4) | VALUES,
    max_size=6,
)
NODES = st.fixed_dictionaries(
    {},
    optional={
        "node_id": VALUES,
        "status": st.sampled_from(["fail", "success", "executing", "odd", 3, None]),
        "begin_time": VALUES,
        "end_time": VALUES,
        "output": OUTPUTS | VALUES,
        "buckets": VALUES,
    },
)
EXECUTIONS = st.fixed_dictionaries(
    {},
    optional={
        "execution_id": VALUES,
        "status": st.sampled_from(["fail", "success", "running", None]),
        "begin_time": VALUES,
        "execution_result_list": st.lists(NODES | VALUES, max_size=3) | VALUES,
        "nodes": st.lists(NODES, max_size=2) | VALUES,
        "approve_user_name_list": VALUES,
    },
)


def full(data: object) -> ExecutionDetail | type[ValidationError]:
    try:
        return ExecutionDetail.model_validate(data)
    except ValidationError:
        return ValidationError


def fast(data: object, cache: HostCache | None = None) -> ExecutionDetail | type[ValidationError]:
    try:
        return execution_from_data(data, cache)
    except ValidationError:
        return ValidationError


def assert_same(got: object, want: object) -> None:
    """Equal models, and equal in what a user sees of them: the JSON dump, the card's analysis
    and the CSV report."""
    assert got == want
    if isinstance(got, ExecutionDetail) and isinstance(want, ExecutionDetail):
        assert got.model_dump(mode="json") == want.model_dump(mode="json")
        assert analyse(got) == analyse(want)
        assert report_csv(got) == report_csv(want)


@settings(SETTINGS, max_examples=500)
@given(
    hosts=st.lists(HOSTS, min_size=1, max_size=4),
    bucket=st.sampled_from(["fail", "success", "odd"]),
)
def test_fast_path_agrees_with_the_models_host_by_host(
    hosts: list[dict[str, Any]], bucket: str
) -> None:
    """Every host field, alias and quirk: the hand-built host equals the validated one."""
    data = {"execution_result_list": [{"node_id": "n", "output": {bucket: hosts}}]}
    assert_same(fast(data), full(data))
    assert_same(fast(data, HostCache()), full(data))


@SETTINGS
@given(data=EXECUTIONS)
def test_fast_path_agrees_with_the_models_on_quirky_executions(data: dict[str, Any]) -> None:
    """Hosts full of quirks (aliases, numbers as text, odd times, null buckets) parse the same."""
    assert_same(fast(data), full(data))


@SETTINGS
@given(data=JSON)
def test_fast_path_agrees_with_the_models_on_any_json(data: object) -> None:
    """Whatever JSON value arrives, the fast path builds the model's result or fails as it does."""
    assert_same(fast(data), full(data))


@SETTINGS
@given(first=EXECUTIONS, second=EXECUTIONS)
def test_cached_hosts_never_outlive_a_change(first: dict[str, Any], second: dict[str, Any]):
    """With hosts reused across bodies, each body still parses exactly as on its own."""
    cache = HostCache()
    for data in (first, second, first):
        body = json.dumps(data).encode()
        got = execution_from_json(body, cache)
        assert_same(got, full(json.loads(body)))


@pytest.mark.parametrize("name", ["f1_running", "f2_success", "f3_failed", "f5_errors"])
def test_documented_payloads(name: str) -> None:
    """The documented payloads parse the same, cached or not."""
    data = fixture_json(name)
    body = json.dumps(data).encode()
    cache = HostCache()
    for _ in range(2):
        assert_same(execution_from_json(body, cache), full(data))


def test_a_changed_host_is_read_again() -> None:
    """A host whose error changed between two polls shows the new error, not the cached one."""
    cache = HostCache()
    host = {"id": "h1", "name": "web-1", "error_msg": "disk full", "exit_code": "1"}
    body = {"execution_id": EX, "execution_result_list": [{"output": {"fail": [host]}}]}
    first = execution_from_json(json.dumps(body).encode(), cache)
    host["error_msg"] = "agent offline"
    second = execution_from_json(json.dumps(body).encode(), cache)
    assert first.nodes[0].hosts("fail")[0].error_msg == "disk full"
    assert second.nodes[0].hosts("fail")[0].error_msg == "agent offline"


def test_cache_stays_bounded_and_keeps_what_is_polled() -> None:
    """Past its byte budget the cache drops what is no longer polled, never what still is;
    a host with a long log is never kept."""
    cache = HostCache(max_bytes=2000, max_host_bytes=200)
    polled = [{"id": f"p{i}", "log": "ok"} for i in range(5)]

    def poll(hosts: list[dict[str, Any]]) -> tuple[Any, ...]:
        data = {"execution_result_list": [{"output": {"success": hosts}}]}
        return execution_from_data(data, cache).nodes[0].hosts("success")

    first = poll(polled)
    for round_ in range(40):  # the same five hosts each poll, and a stream of passing ones
        poll(polled + [{"id": f"x{round_}-{i}", "log": "ok"} for i in range(5)])
        assert cache.key_bytes <= 2 * 2000
    assert len(cache) < 40 * 5
    assert all(a is b for a, b in zip(first, poll(polled), strict=True))
    big = {"id": "big", "log": "x" * 500}
    before = len(cache)
    execution_from_data({"execution_result_list": [{"output": {"fail": [big]}}]}, cache)
    assert len(cache) == before


def test_integers_beyond_64_bits_stay_exact() -> None:
    """An ID or exit code sent as a 100-bit number keeps every digit (orjson would round it)."""
    body = b'{"execution_id": 1000000000000000000000000000001, "execution_result_list": [{"output": {"fail": [{"id": 1000000000000000000000000000003, "exit_code": 100000000000000000000000}]}}]}'
    detail = execution_from_json(body, HostCache())
    host = detail.nodes[0].hosts("fail")[0]
    assert detail.execution_id == "1000000000000000000000000000001"
    assert host.id == "1000000000000000000000000000003"
    assert host.exit_code == 10**23


@pytest.mark.parametrize(
    "body",
    [
        b'{"execution_id": "e1", "huge": 1e999999}',
        b'{"execution_id": "e1", "ratio": NaN, "execution_result_list": '
        b'[{"output": {"fail": [{"name": "db-1", "exit_code": NaN}]}}]}',
        b'{"execution_id": "e1", "note": "\\ud800"}',
    ],
)
def test_what_msgspec_refuses_is_still_read(body: bytes) -> None:
    """A value msgspec cannot decode (infinity, NaN, a lone surrogate) loses nothing."""
    data, by_msgspec = decode_json(body)
    assert not by_msgspec
    assert_same(execution_from_json(body, HostCache()), full(data))
    assert execution_from_json(body).execution_id == "e1"


async def test_client_reads_an_odd_body_through_the_fast_path() -> None:
    """get_execution on a body msgspec refuses still returns its failed host."""
    body = (
        b'{"execution_id": "%s", "workflow_id": "%s", "n": 1e999999, "execution_result_list":'
        b' [{"output": {"fail": [{"name": "db-1", "exit_code": "2"}]}}]}'
        % (EX.encode(), WF.encode())
    )
    async with make_client(FakeAom(httpx.Response(200, content=body))) as aom:
        detail = await aom.get_execution(WF, EX)
    assert [h.name for h in detail.nodes[0].hosts("fail")] == ["db-1"]


def test_body_digest_tells_bodies_apart() -> None:
    """Equal bodies, equal digests; one changed byte, another digest."""
    body = json.dumps(fixture_json("f3_failed")).encode()
    assert body_digest(body) == body_digest(bytes(body))
    assert body_digest(body) != body_digest(body.replace(b"fail", b"faiL", 1))
    assert body_digest(body) != body_digest(body + b" ")
    assert len(body_digest(body)) == 16


async def test_an_unchanged_body_is_not_parsed_again() -> None:
    """get_execution_if_changed: same body, no model; a changed body, the new model."""
    first = {"execution_id": EX, "workflow_id": WF, "status": "executing"}
    second = {**first, "status": "fail"}
    fake = FakeAom(
        httpx.Response(200, content=json.dumps(first).encode()),
        httpx.Response(200, content=json.dumps(first).encode()),
        httpx.Response(200, content=json.dumps(second).encode()),
    )
    async with make_client(fake) as aom:
        digest, detail = await aom.get_execution_if_changed(WF, EX, None)
        assert detail is not None
        assert detail.status.value == "executing"
        same, unchanged = await aom.get_execution_if_changed(WF, EX, digest)
        assert (same, unchanged) == (digest, None)
        other, changed = await aom.get_execution_if_changed(WF, EX, digest)
    assert other != digest
    assert changed is not None
    assert changed.status.value == "fail"
