"""Pieces both backends share: time normalisation, row → record mapping, DSN redaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from aom_bot.errors import StoreError
from aom_bot.store.base import (
    CompletionState,
    EndReason,
    Follow,
    FollowState,
    Subscription,
)

#: SQL both backends select for a follow, with its announced signatures aggregated separately
FOLLOW_COLUMNS = (
    "id, workflow_id, execution_id, channel_id, message_ts, started_by, started_at, deadline, "
    "subscription_id, mention, state, end_reason, ended_at, fingerprint, rendered_at, "
    "unreachable_since, completion_state, completion_owner, completion_claimed_at, completion_ts, "
    "card_owner, card_claimed_at, profile"
)
SUBSCRIPTION_COLUMNS = (
    "id, channel_id, workflow_id, workflow_name, failures_only, mention, created_by, created_at, "
    "profile"
)

_E = TypeVar("_E", bound=StrEnum)


class Row(Protocol):
    """What sqlite3.Row and asyncpg.Record have in common: lookup by column name or position."""

    def __getitem__(self, key: str | int, /) -> Any: ...


def utc(moment: datetime) -> datetime:
    """The same instant in UTC; naive datetimes are a caller bug and refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("store times must be timezone-aware datetimes (use UTC)")
    return moment.astimezone(UTC)


def stale_cutoff(now: datetime, stale_after: timedelta | None) -> datetime | None:
    """Claims made at or before this instant may be taken over (``None``: never)."""
    return None if stale_after is None else utc(now) - stale_after


def unique_keys(keys: Iterable[str]) -> list[str]:
    """Keys without duplicates, sorted: one statement must not touch a row twice."""
    return sorted(set(keys))


def stored_enum(kind: type[_E], raw: object) -> _E:
    """A stored enum value; one this version does not know is a ``StoreError``."""
    try:
        return kind(str(raw))
    except ValueError:
        raise StoreError(
            f"The store holds a {kind.__name__} value {raw!r} this version does not know.",
            hint="Was the database written by a newer aom-bot? Upgrade this replica.",
        ) from None


def follow_from_row(
    row: Row, announced: Iterable[str], when: Callable[[Any], datetime | None]
) -> Follow:
    """Build a ``Follow``; ``when`` turns the backend's stored time into an aware datetime."""

    def required(column: str) -> datetime:
        value = when(row[column])
        if value is None:
            raise StoreError(f"The store's follow {row['id']} has no {column}.")
        return value

    end_reason = row["end_reason"]
    return Follow(
        id=int(row["id"]),
        workflow_id=row["workflow_id"],
        execution_id=row["execution_id"],
        channel_id=row["channel_id"],
        message_ts=row["message_ts"],
        started_by=row["started_by"],
        started_at=required("started_at"),
        deadline=required("deadline"),
        subscription_id=None if row["subscription_id"] is None else int(row["subscription_id"]),
        mention=row["mention"],
        state=stored_enum(FollowState, row["state"]),
        end_reason=None if end_reason is None else stored_enum(EndReason, end_reason),
        ended_at=when(row["ended_at"]),
        fingerprint=row["fingerprint"],
        rendered_at=when(row["rendered_at"]),
        unreachable_since=when(row["unreachable_since"]),
        announced=frozenset(announced),
        completion_state=stored_enum(CompletionState, row["completion_state"]),
        completion_owner=row["completion_owner"],
        completion_claimed_at=when(row["completion_claimed_at"]),
        completion_ts=row["completion_ts"],
        card_owner=row["card_owner"],
        card_claimed_at=when(row["card_claimed_at"]),
        profile=row["profile"],
    )


def subscription_from_row(row: Row, when: Callable[[Any], datetime | None]) -> Subscription:
    """Build a ``Subscription`` from a row of ``SUBSCRIPTION_COLUMNS``."""
    created_at = when(row["created_at"])
    if created_at is None:
        raise StoreError(f"The store's subscription {row['id']} has no created_at.")
    return Subscription(
        id=int(row["id"]),
        channel_id=row["channel_id"],
        workflow_id=row["workflow_id"],
        workflow_name=row["workflow_name"],
        failures_only=bool(row["failures_only"]),
        mention=row["mention"],
        created_by=row["created_by"],
        created_at=created_at,
        profile=row["profile"],
    )


def newer_schema_error(found: int, known: int) -> StoreError:
    """The refusal a store gives when the database holds migration ``found``, which this
    version (whose newest is ``known``) lacks: a newer aom-bot migrated it."""
    if found > known:
        said = (
            f"The database schema is at version {found}, newer than this aom-bot knows ({known})."
        )
    else:
        said = f"The database schema has migration {found}, which this aom-bot does not have."
    return StoreError(
        said,
        hint="Upgrade aom-bot on this replica; never run an older version against a newer schema.",
    )


def redact_dsn(dsn: str) -> str:
    """The DSN with any password (in the userinfo or ``?password=``) replaced by ``***``."""
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return "<unparseable DSN>"
    if parts.password is not None:
        user = parts.username or ""
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{user}:***@{host}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "password" for key, _ in query):
        masked = [(key, "***" if key == "password" else value) for key, value in query]
        parts = parts._replace(query=urlencode(masked, safe="*"))
    return urlunsplit(parts)


def dsn_secrets(dsn: str) -> list[str]:
    """Every password a DSN carries, to scrub from driver messages."""
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return []
    found = [value for key, value in parse_qsl(parts.query) if key == "password" and value]
    if parts.password:
        found.append(parts.password)
        found.append(unquote(parts.password))
    return found


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of the secrets masked (driver messages may echo them)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
