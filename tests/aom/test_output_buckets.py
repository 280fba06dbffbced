"""A node's output is judged key by key: one odd bucket never hides the others' hosts."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aom_bot.aom.models import ExecutionDetail, NodeResult

KNOWN = ("success", "fail", "in_execution", "not_performed")

#: values a key of ``output`` may hold that are not a list of hosts
ODD_VALUES = st.sampled_from(
    [None, {"count": "1"}, "3", 7, ["a", "b"], [1, 2], True, {"fail": [{"name": "x"}]}]
)


def _hosts(prefix: str, n: int) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}-{i}", "name": f"{prefix}-{i}"} for i in range(n)]


@st.composite
def outputs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, int], set[str]]:
    """An output dict, the host count expected per bucket, and the keys that are metadata."""
    output: dict[str, Any] = {}
    expected: dict[str, int] = {}
    meta: set[str] = set()
    names = [
        *KNOWN,
        *draw(st.lists(st.sampled_from(["skipped", "timeout", "queued"]), unique=True)),
    ]
    for name in names:
        kind = draw(st.sampled_from(["hosts", "empty", "odd", "missing"]))
        if kind == "hosts":
            n = draw(st.integers(1, 3))
            output[name] = _hosts(name, n)
            expected[name] = n
        elif kind == "empty":
            output[name] = []
            expected[name] = 0
        elif kind == "odd":
            output[name] = draw(ODD_VALUES)
            meta.add(name)
    for extra in draw(
        st.lists(st.sampled_from(["future_bucket_meta", "total", "note"]), unique=True)
    ):
        output[extra] = draw(ODD_VALUES)
        meta.add(extra)
    return output, expected, meta


@given(outputs())
def test_each_key_is_judged_on_its_own(case: tuple[dict[str, Any], dict[str, int], set[str]]):
    """Every list of host objects is a bucket whatever its siblings hold; the rest is metadata."""
    output, expected, meta = case
    node = NodeResult.model_validate({"node_id": "n", "status": "fail", "output": output})
    if expected:
        assert {k: len(v) for k, v in node.buckets.items()} == expected
        assert set(node.output_meta) == meta
        assert node.raw_output is None
    else:  # no host list anywhere: not a script node's output, shown raw
        assert node.buckets == {}
        assert node.raw_output == (output or None)


def test_the_issue_payload_keeps_both_failed_hosts():
    """``in_execution: null``, an unknown bucket and a non-list key still leave the failed hosts."""
    detail = ExecutionDetail.model_validate(
        {
            "execution_id": "e1",
            "status": "fail",
            "execution_result_list": [
                {
                    "node_id": "run",
                    "status": "fail",
                    "output": {
                        "success": _hosts("ok", 1),
                        "fail": _hosts("bad", 2),
                        "in_execution": None,
                        "skipped": _hosts("skip", 1),
                        "future_bucket_meta": {"count": "1"},
                    },
                }
            ],
        }
    )
    node = detail.nodes[0]
    assert [h.name for h in node.hosts("fail")] == ["bad-0", "bad-1"]
    assert node.extra_buckets == {"skipped": node.hosts("skipped")}
    assert node.output_meta == {"in_execution": None, "future_bucket_meta": {"count": "1"}}
    dumped = detail.model_dump(mode="json")["nodes"][0]
    assert dumped["output_meta"]["future_bucket_meta"] == {"count": "1"}


def test_a_list_with_a_stray_null_keeps_its_hosts():
    """A bucket holding hosts and a ``null`` is still a bucket: the hosts are not lost."""
    node = NodeResult.model_validate({"output": {"fail": [None, {"name": "db-1"}]}})
    assert [h.name for h in node.hosts("fail")] == ["db-1"]
