"""A separate process using the SQLite store, for faults that kill a process (SIGBUS).

``python -m tests.security.store_worker DB``: opens the store, starts a follow, prints
``ready`` and waits for a line on stdin; then writes until the store fails, prints
``store-error: <message>`` (or ``writes-ok``) and exits 0. A fault at open prints
``open-error: <message>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from datetime import UTC, datetime, timedelta

from aom_bot.errors import StoreError
from aom_bot.store import NewFollow, open_store


async def main(path: str) -> None:
    try:
        store = await open_store(f"sqlite:///{path}")
        await store.migrate()
    except StoreError as exc:
        print(f"open-error: {exc.user_message()}", flush=True)
        return
    now = datetime.now(UTC)
    follow, _ = await store.start_follow(
        NewFollow(
            workflow_id="wf",
            execution_id="ex",
            channel_id="C1",
            started_by="U1",
            started_at=now,
            deadline=now + timedelta(hours=1),
        )
    )
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    try:
        for i in range(200):
            await store.record_render(follow.id, f"fp-{i}", now)
            await store.set_unreachable(follow.id, now if i % 2 else None)
    except StoreError as exc:
        print(f"store-error: {exc.user_message()}", flush=True)
    else:
        print("writes-ok", flush=True)
    with contextlib.suppress(StoreError):
        await store.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
