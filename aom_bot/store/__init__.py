"""Where follows, subscriptions and leases live: SQLite by default, PostgreSQL for replicas.

::

    store = await open_store("sqlite:///aom-bot.db")   # or "postgresql://bot@db/aom?schema=aom_bot"
    await store.migrate()
    follow, created = await store.start_follow(NewFollow(...))
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aom_bot.errors import ConfigError
from aom_bot.store.base import (
    DEFAULT_MAX_FOLLOW,
    DEFAULT_PROFILE_NAME,
    ActionClaim,
    ActionKind,
    ActionOutcome,
    ActionRecord,
    ActionStore,
    ApprovalDecision,
    ApprovalReason,
    ApprovalRequest,
    ApprovalState,
    AuditEntry,
    CompletionState,
    EndReason,
    Follow,
    FollowState,
    NewAuditEntry,
    NewFollow,
    NewSubscription,
    Store,
    Subscription,
)

__all__ = [
    "DEFAULT_MAX_FOLLOW",
    "DEFAULT_PROFILE_NAME",
    "ActionClaim",
    "ActionKind",
    "ActionOutcome",
    "ActionRecord",
    "ActionStore",
    "ApprovalDecision",
    "ApprovalReason",
    "ApprovalRequest",
    "ApprovalState",
    "AuditEntry",
    "CompletionState",
    "EndReason",
    "Follow",
    "FollowState",
    "NewAuditEntry",
    "NewFollow",
    "NewSubscription",
    "Store",
    "Subscription",
    "open_store",
]

_SQLITE = "sqlite:///"
_SQLITE_HINT = (
    "Use sqlite:///aom-bot.db (relative to the working directory), "
    "sqlite:////var/lib/aom-bot/bot.db (absolute: four slashes) or sqlite:///:memory:."
)
_POSTGRES_SCHEMES = ("postgresql", "postgres")


#: seconds to connect to PostgreSQL: a port that accepts but never answers fails fast
CONNECT_TIMEOUT = 5.0


async def open_store(
    url: str, *, schema: str | None = None, connect_timeout: float = CONNECT_TIMEOUT
) -> Store:
    """Open the store a URL names; call ``migrate()`` before first use.

    ``sqlite:///relative/file.db``, ``sqlite:////absolute/file.db`` and ``sqlite:///:memory:``
    open SQLite (SQLAlchemy's convention). ``postgresql://…`` or ``postgres://…`` open
    PostgreSQL; its tables go into ``schema`` (keyword, or a ``?schema=`` query parameter) if
    given, else the server's default search_path. Anything else is a ``ConfigError``.
    """
    if url.lower().startswith("sqlite:") and not url.startswith(_SQLITE):
        raise ConfigError(
            "A SQLite store URL has three slashes before a relative path and four before an "
            "absolute one (sqlite:// followed by a host is not a file).",
            hint=_SQLITE_HINT,
        )
    if url.startswith(_SQLITE):
        if schema is not None:
            raise ConfigError("A schema can only be chosen for a PostgreSQL store.")
        path = url.removeprefix(_SQLITE)
        if not path:
            raise ConfigError("The SQLite store URL names no file.", hint=_SQLITE_HINT)
        _check_relative_sqlite_path(path)
        from aom_bot.store.sqlite import SqliteStore  # the driver loads only when used

        return await SqliteStore.open(path)

    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in _POSTGRES_SCHEMES:
        dsn, query_schema = _split_schema(url)
        from aom_bot.store.postgres import PostgresStore  # asyncpg is an optional extra

        return await PostgresStore.open(
            dsn, schema=schema or query_schema, connect_timeout=connect_timeout
        )

    shown = f"{scheme!r} URLs" if scheme else "a URL without a scheme"
    raise ConfigError(
        f"The store cannot use {shown}.",
        hint="Set AOM_BOT_DATABASE_URL to sqlite:///path/to/file.db or postgresql://user@host/db.",
    )


def _check_relative_sqlite_path(path: str) -> None:
    """``sqlite:///tmp/x.db`` is ``tmp/x.db`` in the working directory; when that directory is
    missing but the absolute one exists, the user almost certainly meant four slashes."""
    if path == ":memory:" or path.startswith("file:") or Path(path).is_absolute():
        return
    parent = Path(path).parent
    if parent != Path() and not parent.exists() and (Path("/") / parent).is_dir():
        raise ConfigError(
            f"sqlite:///{path} names {path} relative to the working directory, which has no "
            f"{parent}/.",
            hint=f"For the absolute path /{path} write sqlite:////{path} (four slashes).",
        )


def _split_schema(url: str) -> tuple[str, str | None]:
    """Take our own ``schema`` query parameter out of a DSN (asyncpg would reject it)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ConfigError("The PostgreSQL store URL is malformed.") from None
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in query if key == "schema"]
    rest = [(key, value) for key, value in query if key != "schema"]
    dsn = urlunsplit(parts._replace(query=urlencode(rest)))
    return dsn, (schemas[-1] or None) if schemas else None
