"""Hand-over wake-ups between replicas on PostgreSQL: ``LISTEN`` / ``NOTIFY``.

A replica that gives leases back on purpose (a clean stop, a surplus shed for a newcomer) says
so on one channel, and the others resync at once instead of at their next resync, a third of
the lease later. It is a hint, nothing more: a notice that is missed (the listening connection
was down) costs that wait and nothing else, so the listener only logs and reconnects.

The channel is database-wide; the payload names the schema, so bots (or tests) in other
schemas of the same database do not wake each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from aom_bot.errors import StoreError

__all__ = ["CHANNEL", "listen", "payload"]

log = logging.getLogger("aom_bot.store")

#: the ``NOTIFY`` channel every replica listens on
CHANNEL = "aom_bot_handover"


def payload(schema: str | None, sender: str, prefix: str) -> str:
    """What a hand-over says: whose schema, who says it, which kind of lease (the key prefix)."""
    return f"{schema or ''}|{sender}|{prefix}"


async def listen(
    connection: Callable[[], AbstractAsyncContextManager[Any]],
    schema: str | None,
    me: str,
    *,
    recheck: float = 10.0,
    retry_max: float = 30.0,
) -> AsyncIterator[str]:
    """The prefixes other replicas of ``schema`` announce, as they come, until cancelled
    (``me``'s own announcements are not heard).

    ``connection`` lends one connection (held while listening). It is checked every
    ``recheck`` seconds, since a connection the server dropped hears nothing and says nothing;
    after any failure (the store's or the driver's) the listener logs it, waits (1 s doubling up
    to ``retry_max``) and listens again: it never takes the bot down.
    """
    heard: asyncio.Queue[str] = asyncio.Queue()

    def on_notice(_conn: object, _pid: int, _channel: str, text: str) -> None:
        parts = text.split("|", 2)
        if len(parts) == 3 and parts[0] == (schema or "") and parts[1] != me:
            heard.put_nowait(parts[2])

    failures = 0
    while True:
        try:
            async with connection() as conn:
                await conn.add_listener(CHANNEL, on_notice)
                if failures:
                    log.info("store.handover_listening again=true")
                failures = 0
                try:
                    while True:
                        prefix = await _next(heard, conn, recheck)
                        if prefix is not None:
                            yield prefix
                finally:  # the pool's reset also unlistens; this only tidies early
                    with contextlib.suppress(Exception):
                        await conn.remove_listener(CHANNEL, on_notice)
        except Exception as error:  # a hint: whatever breaks, listen again later
            failures += 1
            wait = min(retry_max, 2.0 ** (failures - 1))
            # the store's errors are scrubbed of the DSN's secrets; of others only the kind
            shown = error if isinstance(error, StoreError) else type(error).__name__
            log.warning("store.handover_listen_failed retry_in=%.0f error=%s", wait, shown)
            await asyncio.sleep(wait)


async def _next(heard: asyncio.Queue[str], conn: Any, recheck: float) -> str | None:
    """The next prefix heard within ``recheck`` seconds, else ``None`` once the connection
    has proven it is still there (a dead one raises)."""
    try:
        async with asyncio.timeout(recheck):
            return await heard.get()
    except TimeoutError:
        pass
    async with asyncio.timeout(5.0):
        await conn.fetchval("SELECT 1")
    return None
