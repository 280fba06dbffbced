"""What SQLite and PostgreSQL spell differently, so the shared queries are written once.

Shared SQL uses ``?`` placeholders (PostgreSQL's connection numbers them ``$1, $2, …``), the
dialect's ``each`` for "the rows of a key list", ``same`` for NULL-safe equality,
``announced`` for a follow's announced signatures, ``last_id`` for a new row's id and
``lock_rows`` to hold the rows a ``SELECT`` read (no ``RETURNING``: SQLite before 3.35 lacks
it). Times go in through ``time`` and come back through ``read_time``; rows become records
through ``follow`` and ``subscription``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aom_bot.errors import StoreError
from aom_bot.store._common import (
    FOLLOW_COLUMNS,
    Row,
    follow_from_row,
    subscription_from_row,
    utc,
)
from aom_bot.store.base import Follow, Subscription

__all__ = ["POSTGRES", "SQLITE", "Dialect", "numbered"]

_SQLITE_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


@functools.cache
def numbered(sql: str) -> str:
    """``?`` placeholders as ``$1, $2, …`` (our SQL has no ``?`` inside literals)."""
    first, *rest = sql.split("?")
    return first + "".join(f"${number}{part}" for number, part in enumerate(rest, 1))


@dataclass(frozen=True, slots=True)
class Dialect:
    """One engine's spelling of the few things the shared SQL leaves open."""

    #: a table source with one text column ``value``: the rows of a ``keys(...)`` parameter
    each: str
    #: NULL-safe equality (SQLite before 3.39 has no ``IS NOT DISTINCT FROM``)
    same: str
    #: an expression listing a follow's announced signatures (JSON text or an array)
    announced: str
    #: the id the connection's last INSERT generated
    last_id: str
    #: what a ``SELECT`` ends with to lock the rows it read until the transaction ends (SQLite:
    #: nothing; ``BEGIN IMMEDIATE`` already holds the whole database)
    lock_rows: str
    time: Callable[[datetime], Any]
    read_time: Callable[[Any], datetime | None]
    keys: Callable[[list[str]], Any]
    read_announced: Callable[[Any], Iterable[str]]

    def time_or_none(self, moment: datetime | None) -> Any:
        """``time`` that lets ``None`` through."""
        return None if moment is None else self.time(moment)

    @property
    def select_follow(self) -> str:
        """``SELECT`` of one follow with its announced signatures, ready for a ``WHERE``."""
        return f"SELECT {FOLLOW_COLUMNS}, {self.announced} AS announced FROM follows"  # noqa: S608

    def follow(self, row: Row) -> Follow:
        """A row of ``select_follow`` as a ``Follow``."""
        return follow_from_row(row, self.read_announced(row["announced"]), self.read_time)

    def subscription(self, row: Row) -> Subscription:
        """A row of ``SUBSCRIPTION_COLUMNS`` as a ``Subscription``."""
        return subscription_from_row(row, self.read_time)


def sqlite_time(moment: datetime) -> str:
    """UTC text in one fixed width, so ``<`` on the text compares instants."""
    return utc(moment).strftime(_SQLITE_TIME)


def _sqlite_read_time(raw: Any) -> datetime | None:
    if raw is None:
        return None
    try:
        return datetime.strptime(raw, _SQLITE_TIME).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        raise StoreError(f"The SQLite store holds a malformed time {raw!r}.") from None


def _postgres_read_time(raw: Any) -> datetime | None:
    """asyncpg returns aware datetimes for timestamptz; normalise to UTC."""
    return None if raw is None else utc(raw)


SQLITE = Dialect(
    each="json_each(?)",  # JSON1 is built into SQLite
    same="IS",
    announced="(SELECT json_group_array(signature) FROM follow_announcements a"
    " WHERE a.follow_id = follows.id)",
    last_id="last_insert_rowid()",
    lock_rows="",
    time=sqlite_time,
    read_time=_sqlite_read_time,
    keys=json.dumps,
    read_announced=lambda raw: json.loads(raw or "[]"),
)

POSTGRES = Dialect(
    each="unnest(?::text[]) AS k(value)",
    same="IS NOT DISTINCT FROM",
    announced="ARRAY(SELECT signature FROM follow_announcements a WHERE a.follow_id = follows.id)",
    last_id="lastval()",
    lock_rows="FOR UPDATE",
    time=utc,
    read_time=_postgres_read_time,
    keys=lambda keys: keys,
    read_announced=lambda raw: raw or (),
)
