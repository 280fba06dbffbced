"""Pure analysis of an execution: who failed, how, and where. No Slack, no text layout.

A host can appear in several nodes; it counts once, by its worst state (fail > in_execution >
unknown bucket > not_performed > success), so a host that succeeded in node 1 and waits in node 2
is not yet "succeeded". Failed hosts that fail the same way (same exit code, same error once
numbers, ids, IPs, temp paths and timestamps are masked) form one :class:`ErrorGroup`.

>>> from aom_bot.aom.models import ExecutionDetail
>>> bucket_counts(ExecutionDetail.model_validate({"execution_result_list": []})).total
0
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import repeat
from operator import attrgetter
from typing import NamedTuple

from aom_bot.aom.models import ExecutionDetail, Host, HostBucket, NodeResult
from aom_bot.render.host_errors import (
    host_error,
    log_tail,
    normalise_error,
    own_names_masked,
    signature,
)

# host_error, log_tail and normalise_error are re-exported: callers import them from here.
__all__ = [
    "Analysis",
    "BucketCounts",
    "ErrorGroup",
    "HostResult",
    "analyse",
    "bucket_counts",
    "error_groups",
    "host_error",
    "log_tail",
    "natural_key",
    "node_counts",
    "normalise_error",
    "visible_fingerprint",
]

# Lower rank = worse. Buckets this version does not know rank between running and pending.
_RANK: dict[str, int] = {
    HostBucket.FAIL.value: 0,
    HostBucket.IN_EXECUTION.value: 1,
    HostBucket.NOT_PERFORMED.value: 3,
    HostBucket.SUCCESS.value: 4,
}
_OTHER_RANK = 2
_FAIL = HostBucket.FAIL.value

#: a group is "zonal" when it has this many hosts at least ...
ZONAL_MIN_HOSTS = 3
#: ... and one AZ holds at least this share of them (and more than its share of the fleet)
ZONAL_MIN_SHARE = 0.7


@dataclass(frozen=True, slots=True)
class BucketCounts:
    """Hosts per bucket, each host counted once. ``other`` = buckets this version doesn't know."""

    succeeded: int = 0
    failed: int = 0
    running: int = 0
    not_performed: int = 0
    other: int = 0

    @property
    def total(self) -> int:
        return self.succeeded + self.failed + self.running + self.not_performed + self.other

    @property
    def finished(self) -> int:
        """Hosts with a final outcome (succeeded or failed)."""
        return self.succeeded + self.failed


class HostResult(NamedTuple):
    """One distinct host with its worst bucket and the node record that decided it.

    A named tuple, not a frozen dataclass: one is made per distinct host on every render, and a
    tuple is made in half the time.
    """

    host: Host
    bucket: str
    node_id: str
    node_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ErrorGroup:
    """Failed hosts that failed the same way. ``hosts`` is sorted by name, naturally."""

    signature: str
    exit_code: int | None
    #: the representative host's error (raw AOM text: scrub and escape before showing)
    error: str
    #: the masked form the signature is computed from
    normalised: str
    representative: Host
    hosts: tuple[Host, ...]
    #: the AZ holding most of the group when that looks like a zonal problem, else None
    dominant_zone: str | None
    #: how many of ``hosts`` are in ``dominant_zone`` (0 when there is none)
    dominant_zone_hosts: int
    node_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything the renderers need, computed in one pass."""

    counts: BucketCounts
    results: tuple[HostResult, ...]
    groups: tuple[ErrorGroup, ...]
    #: unknown bucket names seen, for display
    other_buckets: tuple[str, ...]


# --- host identity and sorting -------------------------------------------------------------

_DIGITS = re.compile(r"(\d+)")


@lru_cache(maxsize=8192)
def natural_key(text: str) -> tuple[tuple[int, str], ...]:
    """Sort key putting web-2 before web-10 (numbers compare as numbers)."""
    # split() puts the digit runs at odd indexes; str.isdigit() would also accept "²", which
    # int() refuses, so the position decides, not the characters.
    return tuple(
        (int(part), "") if i % 2 else (-1, part.lower())
        for i, part in enumerate(_DIGITS.split(text))
    )


def _host_sort_key(host: Host) -> tuple[tuple[tuple[int, str], ...], str, str]:
    return natural_key(host.label), host.ip, host.id


def _rank(bucket: str) -> int:
    return _RANK.get(bucket, _OTHER_RANK)


#: ``HostResult(*values)`` without the named tuple's Python-level ``__new__`` (one per host)
_result = partial(tuple.__new__, HostResult)
_id_of = attrgetter("id")


def _worst(execution_nodes: Iterable[NodeResult]) -> dict[str, HostResult]:
    """Distinct hosts (by server id, else name and IP) with the worst state seen for each."""
    best: dict[str, HostResult] = {}
    get = best.get
    for node_index, node in enumerate(execution_nodes):
        node_id = node.node_id
        only_here = (node_id,)  # shared by every host first seen in this node
        for bucket, hosts in node.buckets.items():
            ids = list(map(_id_of, hosts))
            if all(ids) and best.keys().isdisjoint(ids) and len(set(ids)) == len(ids):
                # The usual bucket: every host has an id, none seen before, each once here;
                # what the loop below would do for it, in C (a poll of 400 hosts: a third).
                fields = zip(
                    hosts, repeat(bucket), repeat(node_id), repeat(only_here), strict=False
                )
                best.update(zip(ids, map(_result, fields), strict=True))
                continue
            rank = _RANK.get(bucket, _OTHER_RANK)
            for i, host in enumerate(hosts):
                key = _host_key(host) or f"\x00\x00{node_index}:{bucket}:{i}"
                seen = get(key)
                if seen is None:
                    best[key] = _result((host, bucket, node_id, only_here))
                    continue
                node_ids = seen.node_ids
                if node_id not in node_ids:
                    node_ids = (*node_ids, node_id)
                # Strictly worse replaces: a host failed in two nodes keeps its first failure.
                if rank < _rank(seen.bucket):
                    best[key] = _result((host, bucket, node_id, node_ids))
                elif node_ids is not seen.node_ids:
                    best[key] = _result((seen.host, seen.bucket, seen.node_id, node_ids))
    return best


def _host_key(host: Host) -> str:
    """Who a host is when counting: its id, else its name and IP; ``""`` for a host with
    neither (the caller keys it by its place: anonymous hosts are never merged). "\x00"
    cannot occur in an AOM id, so the three key spaces never collide."""
    if host.id:
        return host.id
    if host.name or host.ip:
        return f"\x00{host.name}|{host.ip}"
    return ""


_bucket_of = attrgetter("bucket")
_zone_of = attrgetter("host.availability_zone")


def _count(results: Iterable[HostResult]) -> tuple[BucketCounts, tuple[str, ...]]:
    return _tally(Counter(map(_bucket_of, results)))


def _tally(tally: Counter[str]) -> tuple[BucketCounts, tuple[str, ...]]:
    known = {b.value for b in HostBucket}
    other_names = tuple(sorted(b for b in tally if b not in known))
    counts = BucketCounts(
        succeeded=tally[HostBucket.SUCCESS.value],
        failed=tally[HostBucket.FAIL.value],
        running=tally[HostBucket.IN_EXECUTION.value],
        not_performed=tally[HostBucket.NOT_PERFORMED.value],
        other=sum(tally[b] for b in other_names),
    )
    return counts, other_names


def node_counts(node: NodeResult) -> BucketCounts:
    """Bucket counts of one node (hosts counted once within the node, by ``_worst``'s keys and
    ranks; only the buckets are kept, as every poll's fingerprint counts every node)."""
    worst: dict[str, str] = {}
    get = worst.get
    for bucket, hosts in node.buckets.items():
        rank = _RANK.get(bucket, _OTHER_RANK)
        for i, host in enumerate(hosts):
            key = _host_key(host) or f"\x00\x00{i}:{bucket}"
            seen = get(key)
            if seen is None or rank < _rank(seen):
                worst[key] = bucket
    return _tally(Counter(worst.values()))[0]


# --- grouping -------------------------------------------------------------------------------


def _dominant_zone(hosts: tuple[Host, ...], fleet: Counter[str], fleet_size: int) -> str | None:
    if len(hosts) < ZONAL_MIN_HOSTS or len(fleet) < 2 or not fleet_size:
        return None
    zone, count = Counter(h.availability_zone for h in hosts).most_common(1)[0]
    if not zone:
        return None
    share = count / len(hosts)
    if share >= ZONAL_MIN_SHARE and share > fleet[zone] / fleet_size:
        return zone
    return None


def _groups(results: tuple[HostResult, ...]) -> tuple[ErrorGroup, ...]:
    normalised_memo: dict[str, str] = {}
    members: dict[tuple[int | None, str], list[HostResult]] = {}
    errors: dict[int, str] = {}
    for result in results:
        if result.bucket != _FAIL:
            continue
        error = host_error(result.host)
        errors[id(result.host)] = error
        masked = own_names_masked(error, result.host)
        normalised = normalised_memo.get(masked)
        if normalised is None:
            normalised = normalised_memo[masked] = normalise_error(masked)
        members.setdefault((result.host.exit_code, normalised), []).append(result)

    fleet: Counter[str] = Counter()
    if any(len(m) >= ZONAL_MIN_HOSTS for m in members.values()):
        fleet.update(map(_zone_of, results))
        fleet.pop("", None)
    fleet_size = sum(fleet.values())
    groups: list[ErrorGroup] = []
    for (exit_code, normalised), group_results in members.items():
        group_results.sort(key=lambda r: _host_sort_key(r.host))
        hosts = tuple(r.host for r in group_results)
        representative = next((h for h in hosts if h.log.strip()), hosts[0])
        zone = _dominant_zone(hosts, fleet, fleet_size)
        node_ids = tuple(dict.fromkeys(r.node_id for r in group_results))
        groups.append(
            ErrorGroup(
                signature=signature(exit_code, normalised),
                exit_code=exit_code,
                error=errors[id(representative)],
                normalised=normalised,
                representative=representative,
                hosts=hosts,
                dominant_zone=zone,
                dominant_zone_hosts=(
                    sum(1 for h in hosts if h.availability_zone == zone) if zone else 0
                ),
                node_ids=node_ids,
            )
        )
    groups.sort(key=lambda g: (-len(g.hosts), _host_sort_key(g.hosts[0]), g.signature))
    return tuple(groups)


def analyse(execution: ExecutionDetail) -> Analysis:
    """Counts, distinct hosts and error groups of ``execution`` in one pass."""
    results = tuple(_worst(execution.nodes).values())
    counts, other_names = _count(results)
    return Analysis(
        counts=counts, results=results, groups=_groups(results), other_buckets=other_names
    )


def bucket_counts(execution: ExecutionDetail) -> BucketCounts:
    """Distinct hosts per bucket, each host by its worst state across nodes."""
    return _count(_worst(execution.nodes).values())[0]


def error_groups(execution: ExecutionDetail) -> list[ErrorGroup]:
    """Failed hosts grouped by error signature, largest group first."""
    return list(analyse(execution).groups)


def visible_fingerprint(execution: ExecutionDetail, analysis: Analysis | None = None) -> str:
    """A stable hash of what the card shows; changes with status, counts, groups, nodes.

    Time is deliberately left out, so a poller can skip ``chat.update`` when nothing a person
    would notice has changed (the "updated HH:MM:SS" line alone does not justify an update).
    """
    analysis = analysis or analyse(execution)
    counts = analysis.counts
    one = counts if len(execution.nodes) == 1 else None  # a single node's counts are these
    material = {
        "status": [execution.status.value, execution.raw_status],
        "counts": [
            counts.succeeded,
            counts.failed,
            counts.running,
            counts.not_performed,
            counts.other,
        ],
        "groups": [[g.signature, len(g.hosts)] for g in analysis.groups],
        "nodes": [
            [n.node_id, n.raw_status, list(_node_tuple(one or node_counts(n)))]
            for n in execution.nodes
        ],
        "approvers": list(execution.approvers),
        "ended": execution.end_time is not None,
    }
    encoded = json.dumps(material, sort_keys=True, ensure_ascii=True).encode()
    return hashlib.sha256(encoded).hexdigest()[:32]


def _node_tuple(counts: BucketCounts) -> tuple[int, int, int, int, int]:
    return (counts.succeeded, counts.failed, counts.running, counts.not_performed, counts.other)
