"""The SQLite store's files on disk: can they be written, and are they still the ones opened?

Why this matters: SQLite in WAL mode maps the ``-shm`` file into memory, and a mapped file that
turns unwritable (a read-only remount after disk errors, ``chattr +i``) kills the process with
SIGBUS, with no log line. The store therefore uses a rollback journal (no shared memory, no
mmap: an unwritable file is an ``OperationalError``), and checks here before opening that every
file it will write is writable, so a read-only store is one clear error at start-up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SIDE_SUFFIXES",
    "FileIdentity",
    "StoreFileWatch",
    "file_identity",
    "unwritable_reason",
]

#: files SQLite keeps next to the database (journal, and those of WAL mode in older versions)
SIDE_SUFFIXES = ("-journal", "-wal", "-shm")


def unwritable_reason(path: Path) -> str | None:
    """Why the store at ``path`` could not be written, or None when it can (as far as we know).

    ``os.access`` sees permissions, read-only mounts and immutable files, for root too.
    """
    for file in (path, *(Path(f"{path}{suffix}") for suffix in SIDE_SUFFIXES)):
        if file.exists() and not os.access(file, os.W_OK):
            return f"{file} is not writable (read-only filesystem, permissions or immutable)"
    journal = Path(f"{path}-journal")
    directory = path.parent
    if not directory.is_dir():
        return f"the directory {directory} does not exist (check that the directory exists)"
    if not journal.exists() and not os.access(directory, os.W_OK):
        # SQLite creates the journal (and, the first time, the database) in the directory
        return f"the directory {directory} is not writable"
    return None


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """Which file a path names (device and inode): a deleted and re-created file differs."""

    device: int
    inode: int


def file_identity(path: Path) -> FileIdentity | None:
    """The identity of the file at ``path``, or None when there is none."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return FileIdentity(info.st_dev, info.st_ino)


class StoreFileWatch:
    """Notices the database file vanishing or being replaced under a running store.

    SQLite keeps writing to an open file even after ``rm -rf`` of its directory; the next start
    then silently creates an empty store and every follow is lost. ``problem()`` compares the
    file at the path with the one opened, and with what can be written.
    """

    __slots__ = ("_identity", "path")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._identity = file_identity(path)

    def problem(self) -> str | None:
        """What is wrong with the store's file now, in words for the operator; None if fine."""
        now = file_identity(self.path)
        if now is None:
            return (
                f"The SQLite store file {self.path} was deleted while the bot runs: what it "
                "records now is lost at the next restart. Restore the state directory (or "
                "AOM_BOT_DATABASE_URL) from a backup and restart the bot."
            )
        if now != self._identity:
            return (
                f"The SQLite store file {self.path} was replaced by another file while the bot "
                "runs. Restart the bot to use the new file, or put the old one back."
            )
        reason = unwritable_reason(self.path)
        if reason is not None:
            return f"The SQLite store cannot be written: {reason}."
        return None
