"""The card of 2,000 hosts with ``render.analysis`` of another revision and of this tree, in one run.

Run ``.venv/bin/python bench/render_before_after.py [--before 470b8ef] [--hosts 2000]``. The other
revision's ``aom_bot/render/analysis.py`` (``git show``) is loaded beside the current one and the card
is rendered with each in turn, three pairs: re-renders (the analysis' memories warm, as for a followed
card) and first renders (memories emptied before each render).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import aom_bot.render.message as message
from aom_bot.aom.fastparse import execution_from_json
from aom_bot.render import analysis as current

sys.path.insert(0, str(Path(__file__).parent))
import render as bench


def load_revision(revision: str) -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{revision}:aom_bot/render/analysis.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "analysis_before.py"
    path.write_text(source, "utf-8")
    spec = importlib.util.spec_from_file_location("analysis_before", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["analysis_before"] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="470b8ef", help="revision to compare with")
    parser.add_argument("--hosts", type=int, default=2000)
    args = parser.parse_args()
    before = load_revision(args.before)
    detail = execution_from_json(bench.body(args.hosts))

    def card(module: ModuleType, first: bool = False) -> float:
        message.analyse = module.analyse  # type: ignore[attr-defined]

        def work() -> None:
            if first:
                for memo in ("normalise_error", "natural_key"):
                    clear: Callable[[], None] | None = getattr(
                        getattr(module, memo), "cache_clear", None
                    )
                    if clear:
                        clear()
            message.execution_message(detail, now=bench.NOW)

        return bench.median_ms(work, 50)

    for label, first in (("re-render", False), ("first render", True)):
        for _ in range(3):
            old, new = card(before, first), card(current, first)
            print(
                f"{args.hosts} hosts, {label}: {args.before} {old:.2f} ms, "
                f"this tree {new:.2f} ms ({new / old:.2f}x)"
            )


if __name__ == "__main__":
    main()
