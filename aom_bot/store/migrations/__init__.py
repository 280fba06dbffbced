"""Versioned schema migrations: ``<backend>/NNNN_name.sql``, applied in order by each store.

A migration is never edited once released; a change to the schema is a new file with the next
number. Both backends carry the same versions so one ``schema_migrations`` number means the
same schema everywhere.

Numbers may leave gaps: parallel branches each take a number, and one may land before the
other. A store applies every known version the database lacks, in order, so a database
migrated to 4 before 3 existed still gets 3. A database holding a version this build does
not know came from a newer aom-bot and is refused.

::

    steps = load_migrations("sqlite")   # [Migration(version=1, name="initial", sql=...)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from typing import Literal

__all__ = ["Backend", "Migration", "load_migrations", "unknown_versions"]

Backend = Literal["sqlite", "postgres"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: its version number, a short name, and the SQL script."""

    version: int
    name: str
    sql: str


def load_migrations(backend: Backend) -> list[Migration]:
    """The backend's migrations in version order; a version appears once (gaps are allowed)."""
    folder = files(__name__).joinpath(backend)
    steps: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            steps.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    steps.sort(key=lambda m: m.version)
    versions = [m.version for m in steps]
    if not steps or versions[0] != 1 or len(set(versions)) != len(versions):
        # a packaging mistake, not a runtime condition: fail loudly at startup
        raise RuntimeError(f"{backend} migrations must start at 0001 and use each number once")
    return steps


def unknown_versions(steps: list[Migration], applied: set[int]) -> list[int]:
    """Versions the database holds that this build does not know (a newer aom-bot's)."""
    return sorted(applied - {step.version for step in steps})
