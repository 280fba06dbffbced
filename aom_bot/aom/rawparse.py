"""From a body's bytes to the models without decoding what no one reads or an earlier poll read.

Decoding a 400-host body into Python dicts costs more than everything else the bot does with it,
and most of it is hosts: 21 keys each, of which the models read 16, and which are mostly the hosts
of the last poll. So msgspec decodes the body into typed structs (:class:`_Top`, :class:`_Node`)
that hold each host as :class:`msgspec.Raw` — the host's bytes, scanned but not decoded — and a
host is decoded only when the :class:`~aom_bot.aom.hostbuild.HostCache` has not built it from
the same bytes before. Nodes and the execution are built by hand too, by the models' own rules
(``_node_model``, ``_execution_model``: what their ``model_validate`` makes of the same keys).

The result is the model's, field for field (``tests/aom/test_rawparse.py``); what this path does
not handle in the models' own way it leaves to the dict path (:func:`execution_from_body` returns
None): what msgspec refuses (NaN, a lone surrogate…), bad UTF-8 anywhere, a top level that is
not an object, ``nodes`` instead of ``execution_result_list``. Pure: no I/O.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, TypeVar

import msgspec
from msgspec import UNSET, Raw, UnsetType
from pydantic import BaseModel, ValidationError

from aom_bot.aom.hostbuild import (
    HostCache,
    LeanHost,
    LeanWire,
    host_of_json,
    lean_host,
    lean_host_of_json,
)
from aom_bot.aom.lenient import to_optional_time, to_str, to_str_list
from aom_bot.aom.models import ExecutionDetail, Host, NodeResult, parse_status

__all__ = ["execution_from_body"]

_OBJECT = 0x7B  # "{": a JSON value whose raw bytes start so is an object (Raw has no spaces)
_ARRAY = 0x5B  # "["
_OBJECT_ONLY = {_OBJECT}
_FIRST_BYTE = itemgetter(0)


class _NodeScalars(msgspec.Struct):
    """The keys of a node that the model reads besides its output (absent and null alike)."""

    node_id: Any = None
    status: Any = None
    begin_time: Any = None
    end_time: Any = None
    function_execution_id: Any = None


class _Node(_NodeScalars):
    """A node whose output is the usual shape: an object of lists (or null, or absent)."""

    output: dict[str, list[Raw]] | None = None


class _OddNode(_NodeScalars):
    """Any other node: its output judged key by key, as the model does."""

    output: Raw | UnsetType = UNSET


class _Head(msgspec.Struct):
    """The keys of an execution the model reads besides its nodes."""

    workflow_id: Any = None
    execution_id: Any = None
    status: Any = None
    begin_time: Any = None
    end_time: Any = None
    last_update_time: Any = None
    approvers: Any = None
    approve_user_name_list: Any = UNSET
    project_id: Any = None
    created_by: Any = None
    workflow_edit_time: Any = None
    last_record_id_with_snapshot: Any = None
    nodes: Raw | UnsetType = UNSET


class _Top(_Head):
    execution_result_list: list[_Node] | UnsetType = UNSET


class _OddTop(_Head):
    execution_result_list: list[Raw] | UnsetType = UNSET


class _LeanNode(_NodeScalars):
    """A node whose output is an object of lists of objects, hosts read lean (their four keys
    strings: decoded in C, nothing to coerce)."""

    output: dict[str, list[LeanHost]] | None = None


class _LeanTop(_Head):
    execution_result_list: list[_LeanNode] | UnsetType = UNSET


class _AnyLeanNode(_NodeScalars):
    """:class:`_LeanNode` whose hosts' keys may be of any type (coerced by ``lean_host``)."""

    output: dict[str, list[LeanWire]] | None = None


class _AnyLeanTop(_Head):
    execution_result_list: list[_AnyLeanNode] | UnsetType = UNSET


_TOP = msgspec.json.Decoder(_Top)
_LEAN_TOP = msgspec.json.Decoder(_LeanTop)
_ANY_LEAN_TOP = msgspec.json.Decoder(_AnyLeanTop)
_ODD_TOP = msgspec.json.Decoder(_OddTop)
_ODD_NODE = msgspec.json.Decoder(_OddNode)
_OUTPUT = msgspec.json.Decoder(dict[str, Raw])
_ITEMS = msgspec.json.Decoder(list[Raw])
_ANY = msgspec.json.Decoder()
_FAIL = "fail"  # the one bucket whose hosts a lean read builds whole
_set = object.__setattr__
_new = object.__new__
M = TypeVar("M", bound=BaseModel)
_NOTHING: tuple[object, ...] = (
    None,
    {},
    [],
)  # an output that is none of these and holds no host list is kept raw


def _str(value: Any) -> str:
    return value if type(value) is str else to_str(value)


def _built(model: type[M], values: dict[str, Any]) -> M:
    """A model from values already coerced by its rules (in its fields' order), unvalidated."""
    built = _new(model)
    _set(built, "__dict__", values)
    _set(built, "__pydantic_fields_set__", set(values))
    _set(built, "__pydantic_extra__", None)
    _set(built, "__pydantic_private__", None)
    return built


def _node_model(
    wire: _NodeScalars,
    buckets: dict[str, tuple[Host, ...]] | None = None,
    meta: dict[str, Any] | None = None,
    raw_output: Any = None,
) -> NodeResult:
    """What ``NodeResult.model_validate`` makes of the node's keys (``_split_output`` done)."""
    status = wire.status
    return _built(NodeResult, {
        "node_id": _str(wire.node_id), "raw_status": _str(status), "status": parse_status(status),
        "begin_time": to_optional_time(wire.begin_time),
        "end_time": to_optional_time(wire.end_time),
        "function_execution_id": _str(wire.function_execution_id),
        "buckets": buckets or {}, "output_meta": meta or {}, "raw_output": raw_output,
    })  # fmt: skip


def _execution_model(head: _Head, nodes: tuple[NodeResult, ...]) -> ExecutionDetail:
    """What ``ExecutionDetail.model_validate`` makes of the execution's keys (``_normalise``)."""
    status = head.status
    approvers = head.approve_user_name_list
    return _built(ExecutionDetail, {
        "workflow_id": _str(head.workflow_id), "execution_id": _str(head.execution_id),
        "raw_status": _str(status), "status": parse_status(status),
        "begin_time": to_optional_time(head.begin_time),
        "end_time": to_optional_time(head.end_time),
        "last_update_time": to_optional_time(head.last_update_time), "nodes": nodes,
        "approvers": to_str_list(head.approvers if approvers is UNSET else approvers),
        "project_id": _str(head.project_id), "created_by": _str(head.created_by),
        "workflow_edit_time": to_optional_time(head.workflow_edit_time),
        "last_record_id_with_snapshot": _str(head.last_record_id_with_snapshot),
    })  # fmt: skip


def _bucket(items: list[Raw], cache: HostCache | None, lean: bool) -> tuple[Any, ...] | None:
    """The hosts of a list, or None when it is not a bucket (a non-empty list of no object);
    ``lean``: each built by ``lean_host_of_json``, not kept."""
    keys = list(map(bytes, items))
    if set(map(_FIRST_BYTE, keys)) - _OBJECT_ONLY:  # not all objects: keep the objects only
        keys = [key for key in keys if key[0] == _OBJECT]
        if not keys:
            return None
    if lean:
        return tuple(map(lean_host_of_json, keys))
    return tuple(cache.hosts(keys) if cache is not None else map(host_of_json, keys))


def _node(wire: _Node, cache: HostCache | None, lean: bool) -> NodeResult:
    output = wire.output
    if not output:
        return _node_model(wire)
    buckets: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    for name, items in output.items():
        hosts = _bucket(items, cache, lean and name != _FAIL)
        if hosts is None:
            meta[name] = [_ANY.decode(item) for item in items]
        else:
            buckets[name] = hosts
    if buckets:
        return _node_model(wire, buckets, meta)
    return _node_model(wire, raw_output=meta)


def _odd_node(raw: Raw, cache: HostCache | None, lean: bool) -> NodeResult:
    wire = _ODD_NODE.decode(raw)
    output = wire.output
    if output is UNSET:
        return _node_model(wire)
    if memoryview(output)[0] != _OBJECT:
        value = _ANY.decode(output)
        return _node_model(wire, raw_output=None if value in _NOTHING else value)
    buckets: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    for name, raw_value in _OUTPUT.decode(output).items():
        hosts = None
        if memoryview(raw_value)[0] == _ARRAY:
            hosts = _bucket(_ITEMS.decode(raw_value), cache, lean and name != _FAIL)
        if hosts is None:
            meta[name] = _ANY.decode(raw_value)
        else:
            buckets[name] = hosts
    if buckets:
        return _node_model(wire, buckets, meta)
    return _node_model(wire, raw_output=meta or None)


def _execution(head: _Head, nodes: tuple[NodeResult, ...] | None) -> ExecutionDetail | None:
    if nodes is None:
        if head.nodes is not UNSET:
            return None  # "nodes" instead of "execution_result_list": the dict path's
        nodes = ()
    return _execution_model(head, nodes)


def _lean(body: bytes, cache: HostCache | None) -> ExecutionDetail | None:
    """The usual body read lean in one pass (fail buckets whole, from a second scan of the
    body); None when it is not the usual shape (``_decoded`` reads it, host by host)."""
    top: _LeanTop | _AnyLeanTop
    try:
        top = _LEAN_TOP.decode(body)
    except msgspec.ValidationError:
        try:
            top = _ANY_LEAN_TOP.decode(body)
        except msgspec.ValidationError:
            return None
    if top.execution_result_list is UNSET:
        return None
    whole: list[_Node] | None = None
    nodes: list[NodeResult] = []
    strict = type(top) is _LeanTop
    lean_nodes: list[Any] = top.execution_result_list  # of _LeanNode, or of _AnyLeanNode
    for i, wire in enumerate(lean_nodes):
        if not wire.output:
            nodes.append(_node_model(wire))
            continue
        buckets: dict[str, tuple[Any, ...]] = {}  # Host (fail) or LeanHost
        for name, items in wire.output.items():
            if name == _FAIL and items:
                if whole is None:  # every list here holds objects: so does the Raw scan's
                    whole = _TOP.decode(body).execution_result_list  # type: ignore[assignment]
                    assert whole is not None
                raw = whole[i].output
                assert raw is not None
                buckets[name] = _bucket(raw[name], cache, False) or ()
            elif strict:
                buckets[name] = tuple(items)
            else:
                buckets[name] = tuple(map(lean_host, items))
        nodes.append(_node_model(wire, buckets))
    return _execution_model(top, tuple(nodes))


def _decoded(body: bytes, cache: HostCache | None, lean: bool) -> ExecutionDetail | None:
    if lean:
        detail = _lean(body, cache)
        if detail is not None:
            return detail
    try:
        top = _TOP.decode(body)
    except msgspec.ValidationError:
        odd = _ODD_TOP.decode(body)
        raw_nodes = odd.execution_result_list
        if raw_nodes is UNSET:
            return _execution(odd, None)
        found = [_odd_node(raw, cache, lean) for raw in raw_nodes if memoryview(raw)[0] == _OBJECT]
        return _execution(odd, tuple(found))
    nodes = top.execution_result_list
    return _execution(
        top, None if nodes is UNSET else tuple([_node(n, cache, lean) for n in nodes])
    )


def execution_from_body(
    body: bytes, cache: HostCache | None = None, *, lean: bool = False
) -> ExecutionDetail | None:
    """The execution in a JSON body, or None when the dict path must read it.

    With a ``cache``, a host whose JSON bytes an earlier body held is reused, not decoded.
    ``lean`` (a follow's poll): only the hosts of ``fail`` buckets are whole; the others are
    ``hostbuild.LeanHost``: their ID, name, IP and zone — equal for the analysis and the
    fingerprint, not for the card or the reports, which read whole executions.
    """
    if not body.isascii():
        try:
            body.decode("utf-8")  # msgspec does not check what it skips; json.loads would refuse
        except UnicodeDecodeError:
            return None
    try:
        return _decoded(body, cache, lean)
    except (msgspec.MsgspecError, ValidationError, RecursionError):
        return None
