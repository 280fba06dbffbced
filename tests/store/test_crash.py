"""A replica killed with SIGKILL loses nothing it committed: every open follow resumes."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aom_bot.store import CompletionState

if TYPE_CHECKING:
    from tests.store.conftest import Backend

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

# The child does the work a poller does, then dies without closing anything.
_CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from datetime import UTC, datetime, timedelta
    from aom_bot.store import EndReason, NewFollow, open_store

    T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    async def main(url: str) -> None:
        store = await open_store(url)
        await store.migrate()
        follows = []
        for n in range(3):
            follow, _ = await store.start_follow(NewFollow(
                workflow_id="wf-1", execution_id=f"ex-{n}", channel_id="C1", started_by="U1",
                started_at=T0, deadline=T0 + timedelta(hours=24), message_ts=f"17.{n}"))
            follows.append(follow)
        await store.record_render(follows[0].id, "fp-0", T0)
        await store.claim_announcement(follows[0].id, "disk-full")
        await store.claim_completion(follows[1].id, "replica-a", T0)
        await store.end_follow(follows[2].id, EndReason.COMPLETED, T0)
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(main(sys.argv[1]))
    """
)


async def test_sigkilled_replica_leaves_every_committed_change_behind(
    backend: Backend, tmp_path: Path
) -> None:
    """After SIGKILL, a restarted store resumes the open follows exactly as last written."""
    url = backend.url
    if backend.schema:
        url += ("&" if "?" in url else "?") + f"schema={backend.schema}"
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD, url, cwd=Path(__file__).parents[2]
    )
    assert await asyncio.wait_for(child.wait(), timeout=60) == -signal.SIGKILL

    restarted = await backend.open()
    await restarted.migrate()
    resumed = await restarted.active_follows()
    assert [f.execution_id for f in resumed] == ["ex-0", "ex-1"]
    first, second = resumed
    assert (first.message_ts, first.fingerprint, first.rendered_at) == ("17.0", "fp-0", T0)
    assert first.announced == {"disk-full"}
    assert second.completion_state is CompletionState.CLAIMED
    assert second.completion_owner == "replica-a"
