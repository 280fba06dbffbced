"""Workflow names for display: AOM's execution detail carries only the workflow ID.

One listing of the project's workflows answers every lookup for a while; a miss (a workflow
created since) triggers at most one refresh per ``min_refresh``. Lookups never raise: a card
falls back to showing the ID when AOM cannot say the name.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from aom_bot.aom.models import Workflow
from aom_bot.aom.reader import AomReader
from aom_bot.errors import AomError

__all__ = ["WorkflowNames"]

_log = logging.getLogger("aom_bot.aom")


class WorkflowNames:
    """A cache of workflow ID → name, refreshed from ``list_workflows``."""

    def __init__(
        self,
        lister: AomReader,
        *,
        ttl: float = 600.0,
        min_refresh: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        limit: int = 5000,
    ) -> None:
        self._lister = lister
        self._ttl = ttl
        self._min_refresh = min_refresh
        self._monotonic = monotonic
        self._limit = limit
        self._names: dict[str, str] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    def remember(self, workflows: Sequence[Workflow]) -> None:
        """Learn names from a listing made for another reason."""
        for workflow in workflows:
            if workflow.id and workflow.name:
                self._names[workflow.id] = workflow.name

    async def name(self, workflow_id: str) -> str | None:
        """The workflow's name, or None when unknown."""
        now = self._monotonic()
        known = self._names.get(workflow_id)
        fresh = self._loaded_at is not None and now - self._loaded_at < self._ttl
        if known is not None and fresh:
            return known
        may_refresh = self._loaded_at is None or now - self._loaded_at >= self._min_refresh
        if may_refresh:
            async with self._lock:
                if (
                    self._loaded_at is None
                    or self._monotonic() - self._loaded_at >= self._min_refresh
                ):
                    await self._refresh()
        return self._names.get(workflow_id)

    async def _refresh(self) -> None:
        self._loaded_at = self._monotonic()
        try:
            workflows = await self._lister.list_workflows(None, limit=self._limit)
        except AomError as exc:
            _log.warning("aom.workflow_names.unavailable: %s", exc.message)
            return
        self.remember(workflows)
