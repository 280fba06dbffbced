"""How the shared store queries reach a database: ``Tx`` and the ``SqlBase`` they build on.

A backend subclasses ``SharedQueries`` (``shared.py``), names its ``Dialect`` and supplies two
ways to run SQL: ``_statement()`` (one statement, in whatever transaction the engine needs) and
``_transaction()`` (several statements that commit together). Both yield a ``Tx`` that takes
``?`` placeholders.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar, Protocol

from aom_bot.store._common import Row
from aom_bot.store.dialect import Dialect

__all__ = ["CARD_KEY", "SqlBase", "Tx"]

#: the WHERE of one (channel, workflow, execution): follows and channel cards share the key
CARD_KEY = "channel_id = ? AND workflow_id = ? AND execution_id = ?"


class Tx(Protocol):
    """Run SQL with ``?`` placeholders on one connection."""

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """The rows a query returns."""
        ...

    async def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; how many rows it inserted, updated or deleted."""
        ...


class SqlBase(ABC):
    """The engine's way to run SQL, and the helpers every shared query uses."""

    _dialect: ClassVar[Dialect]

    @abstractmethod
    def _statement(self) -> AbstractAsyncContextManager[Tx]:
        """A connection for one statement."""

    @abstractmethod
    def _transaction(self) -> AbstractAsyncContextManager[Tx]:
        """A connection whose statements commit together, or not at all."""

    async def _fetch(self, sql: str, *params: Any) -> list[Row]:
        async with self._statement() as tx:
            return await tx.fetch(sql, params)

    async def _changed(self, sql: str, *params: Any) -> bool:
        """Run one statement; True if it changed a row (how claims report who won)."""
        async with self._statement() as tx:
            return await tx.count(sql, params) > 0
