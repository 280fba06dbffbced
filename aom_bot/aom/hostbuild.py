"""Hosts from AOM's JSON, by the models' own rules, and a cache of the hosts earlier polls built.

:mod:`aom_bot.aom.models` states the tolerant rules once, as pydantic validators; run per field
per host they cost ~15 µs a host. Here msgspec picks a host's keys out in C (:class:`_HostWire`)
and the same coercion functions are applied by hand, the model built without a second
validation: ~2 µs a host, equal field for field (a property test keeps it so).

A followed execution is read again and again, and most of its hosts are the same each time:
hashing a host's JSON bytes and looking them up (:class:`HostCache`) costs a tenth of building
it again. Hosts are frozen, so sharing one between two polls is safe, and successive snapshots
of a follow share their unchanged hosts instead of each holding a copy. Pure data: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
from msgspec import UNSET

from aom_bot.aom.lenient import (
    MAX_EPOCH_MS,
    to_optional_int,
    to_optional_time,
    to_str,
    to_str_list,
)
from aom_bot.aom.models import Host, host_key, host_label

__all__ = [
    "HostCache",
    "LeanHost",
    "LeanWire",
    "cached_host_of_dict",
    "host_of_dict",
    "host_of_json",
    "lean_host",
    "lean_host_of_json",
]

_set = object.__setattr__
_ENCODER = msgspec.json.Encoder()
_new_host = object.__new__
_HOST_FIELDS = frozenset(Host.model_fields)


def _strs(value: object) -> list[str]:
    """``to_str_list``, with a short way for the usual list of non-empty strings."""
    if type(value) is list:
        if len(value) == 1:
            item = value[0]
            if type(item) is str and item:
                return [item]
        elif not value:
            return []
    return to_str_list(value)


def _millis(value: object) -> int | None:
    """``to_optional_int``, with a short way for an int or a plain decimal string."""
    if type(value) is int:
        return value
    if type(value) is str and value.isascii() and value.isdigit():
        return int(value)
    return to_optional_int(value)


class _HostWire(msgspec.Struct):
    """The keys a host is read from, decoded by msgspec in C (other keys are skipped).

    An alias that is not its field's last choice defaults to UNSET, so "the first key present
    wins, even when its value is null" (pydantic's ``AliasChoices``) can be told from "absent";
    for every other key, absent and null read the same.
    """

    id: Any = None
    name: Any = None
    ip: Any = None
    availability_zone: Any = None
    floating_ip_List: Any = UNSET
    floating_ip_list: Any = UNSET
    floating_ips: Any = None
    fixed_ip_list: Any = UNSET
    fixed_ips: Any = None
    code: Any = None
    error_msg: Any = UNSET
    error_message: Any = UNSET
    errorMsg: Any = None
    log: Any = None
    exit_code: Any = None
    start_time: Any = None
    execute_time: Any = UNSET
    execute_time_ms: Any = None
    os_type: Any = None
    agent_state: Any = None
    instance_status: Any = None
    vpc_id: Any = None


_HOST_DECODER = msgspec.json.Decoder(_HostWire)


def _host(w: _HostWire) -> Host:
    """A :class:`Host` from the keys of one bucket object, by the model's own coercions.

    Inlined on purpose (this runs once per new host): a string stays as it is, anything else
    goes through the model's coercion function; aliases follow ``AliasChoices``.
    """
    v = w.id
    id_ = v if type(v) is str else to_str(v)
    v = w.name
    name = v if type(v) is str else to_str(v)
    v = w.ip
    ip = v if type(v) is str else to_str(v)
    v = w.availability_zone
    zone = v if type(v) is str else to_str(v)
    v = w.floating_ip_List
    if v is UNSET:
        v = w.floating_ip_list
        if v is UNSET:
            v = w.floating_ips
    floating = _strs(v)
    v = w.fixed_ip_list
    fixed = _strs(w.fixed_ips if v is UNSET else v)
    v = w.code
    code = v if type(v) is str else to_str(v)
    v = w.error_msg
    if v is UNSET:
        v = w.error_message
        if v is UNSET:
            v = w.errorMsg
    error = v if type(v) is str else to_str(v)
    v = w.log
    log = v if type(v) is str else to_str(v)
    v = w.exit_code
    if type(v) is str and v.isascii() and v.isdigit():
        exit_code: int | None = int(v)
    else:
        exit_code = v if type(v) is int else to_optional_int(v)
    v = w.start_time
    if type(v) is str and v.isascii() and v.isdigit():
        v = int(v)  # what to_optional_time makes of a plain decimal string
    if v is None:
        start = None
    elif type(v) is int and 0 < v <= MAX_EPOCH_MS:
        start = datetime.fromtimestamp(v / 1000, UTC)
    else:
        start = to_optional_time(v)
    v = w.execute_time
    execute = _millis(w.execute_time_ms if v is UNSET else v)
    v = w.os_type
    os_type = v if type(v) is str else to_str(v)
    v = w.agent_state
    agent = v if type(v) is str else to_str(v)
    v = w.instance_status
    instance = v if type(v) is str else to_str(v)
    v = w.vpc_id
    vpc = v if type(v) is str else to_str(v)
    host = _new_host(Host)
    _set(host, "__dict__", {
        "id": id_, "name": name, "ip": ip, "availability_zone": zone, "floating_ips": floating,
        "fixed_ips": fixed, "code": code, "error_msg": error, "log": log, "exit_code": exit_code,
        "start_time": start, "execute_time_ms": execute, "os_type": os_type, "agent_state": agent,
        "instance_status": instance, "vpc_id": vpc,
    })  # fmt: skip
    _set(host, "__pydantic_fields_set__", set(_HOST_FIELDS))
    _set(host, "__pydantic_extra__", None)
    _set(host, "__pydantic_private__", None)
    return host


def host_of_dict(raw: dict[Any, Any]) -> Host:
    """A :class:`Host` from a decoded bucket object (keys other than strings are ignored)."""
    try:
        return _host(msgspec.convert(raw, _HostWire))
    except msgspec.ValidationError:
        return _host(msgspec.convert({k: v for k, v in raw.items() if type(k) is str}, _HostWire))


def cached_host_of_dict(cache: HostCache) -> Callable[[dict[str, Any]], Host]:
    """:func:`host_of_dict` through ``cache`` (for a dict as msgspec decoded it: no NaN)."""

    def build(raw: dict[str, Any]) -> Host:
        return cache.host(_ENCODER.encode(raw), lambda _: host_of_dict(raw))

    return build


def host_of_json(key: bytes) -> Host:
    """The host of one bucket object's JSON bytes (``ValidationError`` for a number beyond a
    double, which the dict path reads)."""
    return _host(_HOST_DECODER.decode(key))


class LeanHost(msgspec.Struct, frozen=True, gc=False):
    """A host that has not failed, as a follow's poll reads it: what counting and grouping read
    (``render.analysis``: its key, its zone for a zonal group) and nothing else.

    Decoded by msgspec in C straight from the body when the four values are strings, as they
    are in every AOM body seen (no Python code per host; ``gc=False``: strings only, so the
    collector never walks it); :func:`lean_host` reads any other value the models' way. The
    card and the reports read whole executions, never a lean one.
    """

    id: str = ""
    name: str = ""
    ip: str = ""
    availability_zone: str = ""

    @property
    def label(self) -> str:
        """As :attr:`Host.label`."""
        return host_label(self.id, self.name, self.ip)

    @property
    def key(self) -> str:
        """As :attr:`Host.key`."""
        return host_key(self.id, self.name, self.ip)


class LeanWire(msgspec.Struct):
    """The keys of a :class:`LeanHost`, any JSON value (a number, null…) accepted."""

    id: Any = None
    name: Any = None
    ip: Any = None
    availability_zone: Any = None


_LEAN_DECODER = msgspec.json.Decoder(LeanWire)


def lean_host(w: LeanWire) -> LeanHost:
    """The :class:`LeanHost` of keys of any type, each read as :func:`host_of_json` reads it."""
    v, n, i, z = w.id, w.name, w.ip, w.availability_zone
    return LeanHost(
        v if type(v) is str else to_str(v),
        n if type(n) is str else to_str(n),
        i if type(i) is str else to_str(i),
        z if type(z) is str else to_str(z),
    )


def lean_host_of_json(key: bytes) -> LeanHost:
    """:func:`lean_host` of one bucket object's JSON bytes."""
    return lean_host(_LEAN_DECODER.decode(key))


class HostCache:
    """Hosts already built, by the bytes of their JSON object.

    Keyed by the exact bytes AOM sent (or, for data decoded elsewhere, msgspec's encoding of the
    decoded object): equal bytes decode to equal values, so a hit is always the right answer.
    Bounded by ``max_bytes`` of keys, in two generations: when the current one is full it
    becomes the previous one (the older is dropped), and a host found in the previous one moves
    back to the current; so what is polled stays, what is no longer polled goes. A host bigger
    than ``max_host_bytes`` (a long log, which changes while the host runs) is never kept, and
    ``max_host_bytes=0`` keeps nothing.
    """

    def __init__(self, *, max_bytes: int = 8 * 1024 * 1024, max_host_bytes: int = 4096) -> None:
        self._current: dict[bytes, Host] = {}
        self._previous: dict[bytes, Host] = {}
        self._current_bytes = 0
        self._max_bytes = max_bytes
        self._max_host_bytes = max_host_bytes

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    @property
    def key_bytes(self) -> int:
        """Bytes of the keys held (the hosts themselves are shared with the snapshots)."""
        return self._current_bytes + sum(map(len, self._previous))

    def host(self, key: bytes, build: Callable[[bytes], Host] = host_of_json) -> Host:
        """The host of the JSON object ``key``: the one kept, else ``build(key)`` (then kept)."""
        host = self._current.get(key)
        if host is None:
            host = self._previous.pop(key, None)
            if host is None:
                host = build(key)
            self._keep(key, host)
        return host

    def hosts(self, keys: list[bytes]) -> list[Host]:
        """:meth:`host` of each key (one C-level lookup each when all are kept)."""
        found: list[Host | None] = list(map(self._current.get, keys))
        if all(found):  # a Host is always true (and ``None in`` would compare every host)
            return found  # type: ignore[return-value]  # no None in it
        host = self.host
        return [h if h is not None else host(key) for h, key in zip(found, keys, strict=True)]

    def _keep(self, key: bytes, host: Host) -> None:
        size = len(key)
        if size > self._max_host_bytes:
            return
        if self._current_bytes + size > self._max_bytes:
            self._previous, self._current, self._current_bytes = self._current, {}, 0
        self._current[key] = host
        self._current_bytes += size
