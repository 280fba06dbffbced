"""What reads AOM, declared once: the follow engine, discovery, the listeners and the workflow
name cache each use part of it; :class:`aom_bot.aom.client.AomClient` is all of it.

Tests pass small fakes; ``slack.deps.MeteredAom`` wraps a reader to time its calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aom_bot.aom.models import ExecutionDetail, NodeAction, Workflow

__all__ = ["AomActor", "AomReader", "Polled"]


@dataclass(frozen=True, slots=True)
class Polled:
    """A poll's answer: the body's digest, its bytes (a watch keeps them compressed, cheaper
    than packing the model), and the execution unless the body was the previous one."""

    digest: bytes
    body: bytes
    #: ``None``: the body of ``previous_digest``, not decoded. Lean while the run goes on: only
    #: failed hosts are whole, the others are ``hostbuild.LeanHost`` — what counting and
    #: grouping read (see ``rawparse.execution_from_body``); a finished run is parsed whole.
    execution: ExecutionDetail | None


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

    async def poll_execution(
        self, workflow_id: str, execution_id: str, previous_digest: bytes | None
    ) -> Polled:
        """What the follow engine asks: :meth:`get_execution_if_changed` with the body's
        bytes, and the execution parsed lean while the run goes on."""
        ...

    async def list_executions(self, workflow_id: str) -> list[ExecutionDetail]:
        """Recent executions of one workflow, newest first."""
        ...

    async def list_workflows(
        self, search: str | None = None, *, limit: int | None = None
    ) -> list[Workflow]:
        """Workflows of the project (``search`` filters by name or description)."""
        ...


class AomActor(Protocol):
    """What changes an execution (``AomClient``): each call returns AOM's request ID."""

    async def terminate_execution(self, workflow_id: str, execution_id: str) -> str | None:
        """Stop a running execution."""
        ...

    async def operate_node_with_id(
        self, workflow_id: str, execution_id: str, node_id: str, action: NodeAction
    ) -> tuple[object, str | None]:
        """Restart, skip or continue a node (never retried)."""
        ...

    async def execute_workflow_with_id(self, workflow_id: str) -> tuple[str, str | None]:
        """Start a run; the new execution ID (never retried)."""
        ...
