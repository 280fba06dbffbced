"""The bot process tunes its garbage collector once start-up is done."""

from __future__ import annotations

import subprocess
import sys

from aom_bot.gc_tuning import YOUNG_THRESHOLD


def test_tune_gc_freezes_start_up_and_collects_less_often() -> None:
    """After tune_gc the start-up objects are frozen and young collections are rarer."""
    code = (
        "import gc; from aom_bot.gc_tuning import tune_gc; "
        "before = gc.get_threshold(); tune_gc(); "
        "print(before[0], gc.get_threshold()[0], gc.get_freeze_count() > 0, "
        "gc.get_threshold()[1:] == before[1:])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["700", str(YOUNG_THRESHOLD), "True", "True"]
