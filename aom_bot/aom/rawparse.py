"""From a body's bytes to the models without decoding what no one reads or an earlier poll read.

Decoding a 400-host body into Python dicts costs more than everything else the bot does with it,
and most of it is hosts: 21 keys each, of which the models read 16, and which are mostly the hosts
of the last poll. So msgspec decodes the body into typed structs (:class:`_Top`, :class:`_Node`)
that hold each host as :class:`msgspec.Raw` — the host's bytes, scanned but not decoded — and a
host is decoded only when the :class:`~aom_bot.aom.hostbuild.HostCache` has not built it from
the same bytes before.

The result is the model's, field for field (``tests/aom/test_rawparse.py``); what this path does
not handle in the models' own way it leaves to the dict path (:func:`execution_from_body` returns
None): what msgspec refuses (NaN, a lone surrogate…), bad UTF-8 anywhere, a top level that is
not an object, ``nodes`` instead of ``execution_result_list``. Pure: no I/O.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import msgspec
from msgspec import UNSET, Raw, UnsetType
from pydantic import ValidationError

from aom_bot.aom.hostbuild import HostCache, host_of_json
from aom_bot.aom.models import ExecutionDetail, NodeResult

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


_TOP = msgspec.json.Decoder(_Top)
_ODD_TOP = msgspec.json.Decoder(_OddTop)
_ODD_NODE = msgspec.json.Decoder(_OddNode)
_OUTPUT = msgspec.json.Decoder(dict[str, Raw])
_ITEMS = msgspec.json.Decoder(list[Raw])
_ANY = msgspec.json.Decoder()
_HEAD_FIELDS = tuple(f for f in _Head.__struct_fields__ if f != "nodes")
_NODE_FIELDS = _NodeScalars.__struct_fields__
_NOTHING: tuple[object, ...] = (
    None,
    {},
    [],
)  # an output that is none of these and holds no host list is kept raw


def _scalars(wire: msgspec.Struct, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: value for name in names if (value := getattr(wire, name)) is not UNSET}


def _bucket(items: list[Raw], cache: HostCache | None) -> tuple[Any, ...] | None:
    """The hosts of a list, or None when it is not a bucket (a non-empty list of no object)."""
    keys = list(map(bytes, items))
    if set(map(_FIRST_BYTE, keys)) - _OBJECT_ONLY:  # not all objects: keep the objects only
        keys = [key for key in keys if key[0] == _OBJECT]
        if not keys:
            return None
    return tuple(cache.hosts(keys) if cache is not None else map(host_of_json, keys))


def _node(wire: _Node, cache: HostCache | None) -> NodeResult:
    node = NodeResult.model_validate(_scalars(wire, _NODE_FIELDS))
    output = wire.output
    if not output:
        return node
    buckets: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    for name, items in output.items():
        hosts = _bucket(items, cache)
        if hosts is None:
            meta[name] = [_ANY.decode(item) for item in items]
        else:
            buckets[name] = hosts
    if buckets:
        return node.model_copy(update={"buckets": buckets, "output_meta": meta})
    return node.model_copy(update={"raw_output": meta})


def _odd_node(raw: Raw, cache: HostCache | None) -> NodeResult:
    wire = _ODD_NODE.decode(raw)
    node = NodeResult.model_validate(_scalars(wire, _NODE_FIELDS))
    output = wire.output
    if output is UNSET:
        return node
    if memoryview(output)[0] != _OBJECT:
        value = _ANY.decode(output)
        return node if value in _NOTHING else node.model_copy(update={"raw_output": value})
    buckets: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    for name, raw_value in _OUTPUT.decode(output).items():
        hosts = None
        if memoryview(raw_value)[0] == _ARRAY:
            hosts = _bucket(_ITEMS.decode(raw_value), cache)
        if hosts is None:
            meta[name] = _ANY.decode(raw_value)
        else:
            buckets[name] = hosts
    if buckets:
        return node.model_copy(update={"buckets": buckets, "output_meta": meta})
    return node.model_copy(update={"raw_output": meta}) if meta else node


def _execution(head: _Head, nodes: tuple[NodeResult, ...] | None) -> ExecutionDetail | None:
    data = _scalars(head, _HEAD_FIELDS)
    if nodes is None:
        if head.nodes is not UNSET:
            return None  # "nodes" instead of "execution_result_list": the dict path's
    else:
        # NodeResult instances are not validated again (pydantic's revalidate_instances="never")
        data["nodes"] = nodes
    return ExecutionDetail.model_validate(data)


def _decoded(body: bytes, cache: HostCache | None) -> ExecutionDetail | None:
    try:
        top = _TOP.decode(body)
    except msgspec.ValidationError:
        odd = _ODD_TOP.decode(body)
        raw_nodes = odd.execution_result_list
        if raw_nodes is UNSET:
            return _execution(odd, None)
        found = [_odd_node(raw, cache) for raw in raw_nodes if memoryview(raw)[0] == _OBJECT]
        return _execution(odd, tuple(found))
    nodes = top.execution_result_list
    return _execution(top, None if nodes is UNSET else tuple([_node(n, cache) for n in nodes]))


def execution_from_body(body: bytes, cache: HostCache | None = None) -> ExecutionDetail | None:
    """The execution in a JSON body, or None when the dict path must read it.

    With a ``cache``, a host whose JSON bytes an earlier body held is reused, not decoded.
    """
    if not body.isascii():
        try:
            body.decode("utf-8")  # msgspec does not check what it skips; json.loads would refuse
        except UnicodeDecodeError:
            return None
    try:
        return _decoded(body, cache)
    except (msgspec.MsgspecError, ValidationError, RecursionError):
        return None
