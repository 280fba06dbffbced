"""Bad input: whatever AOM sends with a 2xx, the client returns a model or raises AomResponseError."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aom_bot.aom.models import ExecutionDetail, Workflow
from aom_bot.errors import AomResponseError

from .helpers import EX, WF, FakeAom, fixture_json, make_client

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["", "0", "-1", "1e400", "2024-03-15T08:09:10Z", "fail", "executing", "NaN"])
)
JSON = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(
        st.sampled_from(
            ["status", "execution_result_list", "output", "fail", "success", "log", "begin_time",
             "elements", "total_elements", "id", "name", "execution_id", "tags", "node_id"]
        ) | st.text(max_size=8),
        children,
        max_size=6,
    ),
    max_leaves=30,
)  # fmt: skip


def run(body: bytes, method: str) -> object:
    """Call one client method against a fake that answers 200 with ``body``."""

    async def go() -> object:
        async with make_client(FakeAom(httpx.Response(200, content=body))) as aom:
            try:
                if method == "get":
                    return await aom.get_execution(WF, EX)
                if method == "list":
                    return await aom.list_executions(WF)
                if method == "workflows":
                    return await aom.list_workflows(limit=20)
                return await aom.execute_workflow(WF)
            except AomResponseError as exc:
                return exc

    return asyncio.run(go())


def check(result: object, method: str) -> None:
    if isinstance(result, AomResponseError):
        return
    if method == "get":
        assert isinstance(result, ExecutionDetail)
    elif method == "list":
        assert isinstance(result, list)
        assert all(isinstance(x, ExecutionDetail) for x in result)
    elif method == "workflows":
        assert isinstance(result, list)
        assert all(isinstance(x, Workflow) for x in result)
    else:
        assert isinstance(result, str)


METHODS = st.sampled_from(["get", "list", "workflows", "execute"])


@SETTINGS
@given(data=JSON, method=METHODS)
def test_arbitrary_json(data: object, method: str) -> None:
    """Arbitrary JSON values parse to the method's model or fail as AomResponseError."""
    check(run(json.dumps(data).encode(), method), method)


@SETTINGS
@given(body=st.binary(max_size=200), method=METHODS)
def test_arbitrary_bytes(body: bytes, method: str) -> None:
    """Arbitrary bytes (not JSON, bad UTF-8) never escape as anything but AomResponseError."""
    check(run(body, method), method)


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """The value with some keys dropped, renamed or given a value of another type."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            action = draw(st.sampled_from(["keep", "keep", "keep", "drop", "rename", "retype"]))
            if action == "drop":
                continue
            if action == "rename":
                out[key + draw(st.sampled_from(["_x", "X", ""])).upper()] = item
            elif action == "retype":
                out[key] = draw(JSON)
            else:
                out[key] = draw(mutated(item))
        return out
    if isinstance(value, list):
        return [draw(mutated(item)) for item in value[:2]]
    return value


F3 = fixture_json("f3_failed")
F1 = fixture_json("f1_running")
F6 = fixture_json("f6_list")


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_documented_payloads_mutated(data: st.DataObject) -> None:
    """F1/F3 (detail) and F6 (list) with fields dropped, renamed and retyped stay readable."""
    detail = data.draw(mutated(data.draw(st.sampled_from([F1, F3]))))
    check(run(json.dumps(detail).encode(), "get"), "get")
    listing = data.draw(mutated(F6))
    check(run(json.dumps(listing).encode(), "list"), "list")
    page = data.draw(
        mutated(
            {
                "elements": [{"id": "a", "name": "n", "status": "success", "tags": {"k": "v"}}],
                "total_elements": 1,
            }
        )
    )
    check(run(json.dumps(page).encode(), "workflows"), "workflows")
