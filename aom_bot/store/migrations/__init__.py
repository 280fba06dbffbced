"""Versioned schema migrations: ``<backend>/NNNN_name.sql``, applied in order by each store.

A migration is never edited once released; a change to the schema is a new file with the next
number. Both backends carry the same versions so one ``schema_migrations`` number means the
same schema everywhere.

::

    steps = load_migrations("sqlite")   # [Migration(version=1, name="initial", sql=...)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from typing import Literal

__all__ = ["Backend", "Migration", "load_migrations"]

Backend = Literal["sqlite", "postgres"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: its version number, a short name, and the SQL script."""

    version: int
    name: str
    sql: str


def load_migrations(backend: Backend) -> list[Migration]:
    """The backend's migrations in version order; versions must run 1, 2, 3… without gaps."""
    folder = files(__name__).joinpath(backend)
    steps: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            steps.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    steps.sort(key=lambda m: m.version)
    expected = list(range(1, len(steps) + 1))
    if [m.version for m in steps] != expected:
        # a packaging mistake, not a runtime condition: fail loudly at startup
        raise RuntimeError(f"{backend} migrations are not numbered 1..{len(steps)} without gaps")
    return steps
