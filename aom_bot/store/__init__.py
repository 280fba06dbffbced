"""Where follows, subscriptions and leases live: SQLite by default, PostgreSQL for replicas.

::

    store = await open_store("sqlite:///aom-bot.db")   # or "postgresql://bot@db/aom?schema=aom_bot"
    await store.migrate()
    follow, created = await store.start_follow(NewFollow(...))
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aom_bot.errors import ConfigError
from aom_bot.store.base import (
    DEFAULT_MAX_FOLLOW,
    CompletionState,
    EndReason,
    Follow,
    FollowState,
    NewFollow,
    NewSubscription,
    Store,
    Subscription,
)

__all__ = [
    "DEFAULT_MAX_FOLLOW",
    "CompletionState",
    "EndReason",
    "Follow",
    "FollowState",
    "NewFollow",
    "NewSubscription",
    "Store",
    "Subscription",
    "open_store",
]

_SQLITE = "sqlite:///"
_POSTGRES_SCHEMES = ("postgresql", "postgres")


async def open_store(url: str, *, schema: str | None = None) -> Store:
    """Open the store a URL names; call ``migrate()`` before first use.

    ``sqlite:///relative/file.db``, ``sqlite:////absolute/file.db`` and ``sqlite:///:memory:``
    open SQLite (SQLAlchemy's convention). ``postgresql://…`` or ``postgres://…`` open
    PostgreSQL; its tables go into ``schema`` (keyword, or a ``?schema=`` query parameter) if
    given, else the server's default search_path. Anything else is a ``ConfigError``.
    """
    if url.startswith(_SQLITE):
        if schema is not None:
            raise ConfigError("A schema can only be chosen for a PostgreSQL store.")
        path = url.removeprefix(_SQLITE)
        if not path:
            raise ConfigError(
                "The SQLite store URL names no file.",
                hint="Use sqlite:///aom-bot.db (relative), sqlite:////var/lib/aom-bot/bot.db "
                "(absolute) or sqlite:///:memory:.",
            )
        from aom_bot.store.sqlite import SqliteStore  # the driver loads only when used

        return await SqliteStore.open(path)

    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in _POSTGRES_SCHEMES:
        dsn, query_schema = _split_schema(url)
        from aom_bot.store.postgres import PostgresStore  # asyncpg is an optional extra

        return await PostgresStore.open(dsn, schema=schema or query_schema)

    shown = f"{scheme!r} URLs" if scheme else "a URL without a scheme"
    raise ConfigError(
        f"The store cannot use {shown}.",
        hint="Set AOM_BOT_DATABASE_URL to sqlite:///path/to/file.db or postgresql://user@host/db.",
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
