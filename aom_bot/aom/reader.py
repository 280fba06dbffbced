"""What reads AOM, declared once: the follow engine, discovery, the listeners and the workflow
name cache each use part of it; :class:`aom_bot.aom.client.AomClient` is all of it.

Tests pass small fakes; ``slack.deps.MeteredAom`` wraps a reader to time its calls.
"""

from __future__ import annotations

from typing import Protocol

from aom_bot.aom.models import ExecutionDetail, Workflow

__all__ = ["AomReader"]


class AomReader(Protocol):
    """The read side of AOM (raises ``aom_bot.errors.AomError`` subclasses)."""

    async def get_execution(self, workflow_id: str, execution_id: str) -> ExecutionDetail:
        """The execution as AOM reports it now."""
        ...

    async def get_execution_if_changed(
        self, workflow_id: str, execution_id: str, previous_digest: bytes | None
    ) -> tuple[bytes, ExecutionDetail | None]:
        """The body's digest, and the execution unless the body is the one of
        ``previous_digest`` (then ``None``: not decoded). What a poll asks, so an unchanged
        body costs a request and a hash, not a parse."""
        ...

    async def list_executions(self, workflow_id: str) -> list[ExecutionDetail]:
        """Recent executions of one workflow, newest first."""
        ...

    async def list_workflows(
        self, search: str | None = None, *, limit: int | None = None
    ) -> list[Workflow]:
        """Workflows of the project (``search`` filters by name or description)."""
        ...
