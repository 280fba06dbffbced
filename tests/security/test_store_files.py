"""The SQLite store's files turning unwritable (issue 10, item 4), with a real process.

A read-only remount after disk errors is emulated with ``chattr +i`` (immutable: even root
cannot write). In WAL mode the mapped ``-shm`` file then killed the process with SIGBUS and no
log line; now the store reports an error and the process lives on.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

_SIDE = ("-journal", "-wal", "-shm")


def _chattr(flag: str, *paths: Path) -> None:
    subprocess.run(["chattr", flag, *map(str, paths)], check=True, capture_output=True)


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """Make files immutable for the block (skips the test where chattr cannot)."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    try:
        _chattr("+i", *paths)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"chattr +i is not possible here (root on ext4/xfs needed): {exc.stderr!r}")
    try:
        yield
    finally:
        _chattr("-i", *paths)


def _worker(db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.security.store_worker", str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _store_files(db: Path) -> list[Path]:
    return [p for p in (db, *(Path(f"{db}{s}") for s in _SIDE)) if p.exists()]


def test_store_files_turning_unwritable_mid_run_is_an_error_not_a_signal(tmp_path: Path) -> None:
    """Every file of a running store made immutable: the next writes fail with a StoreError
    the process can report; it exits normally (no SIGBUS)."""
    db = tmp_path / "bot.db"
    worker = _worker(db)
    assert worker.stdout is not None
    assert worker.stdin is not None
    assert worker.stdout.readline().strip() == "ready"
    with immutable(*_store_files(db)):
        worker.stdin.write("go\n")
        worker.stdin.flush()
        out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, f"killed by signal {-worker.returncode}: {err[-500:]}"
    assert out.startswith("store-error: "), out + err
    assert "Traceback" not in err


@pytest.mark.parametrize("suffix", ["", "-journal", "-wal", "-shm"])
def test_an_unwritable_store_file_is_one_clear_error_at_open(tmp_path: Path, suffix: str) -> None:
    """A store whose database or side file is unwritable (left by an earlier version's WAL
    mode, say) is refused at open, naming the file; SQLite never maps it."""
    db = tmp_path / "bot.db"
    first = _worker(db)
    assert first.stdout is not None
    assert first.stdout.readline().strip() == "ready"
    first.communicate("go\n", timeout=60)
    target = Path(f"{db}{suffix}")
    target.touch()
    with immutable(target):
        again = _worker(db)
        out, err = again.communicate("go\n", timeout=60)
    assert again.returncode == 0, f"killed by signal {-again.returncode}: {err[-500:]}"
    assert out.startswith("open-error: "), out + err
    assert target.name in out
    assert "not writable" in out
