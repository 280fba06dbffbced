"""Each public type or class is declared once in aom_bot: no twins meaning two things.

``StaticToken`` (a setting vs. a token source) and ``Clock`` (a callable vs. the protocol) were
such twins; a reader importing one could not tell which they got.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import aom_bot

PACKAGE = Path(aom_bot.__file__).parent

#: twins left for later, each with its reason (none today: add one only with a reason)
KNOWN_TWINS: set[str] = set()


def type_names(root: Path) -> dict[str, list[str]]:
    """Capitalised names (classes, aliases, type variables) bound at module level, by module."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(root.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            else:
                continue
            for name in names:
                if name[:1].isupper() and not name.isupper():  # not CONSTANTS, not T
                    found[name].append(str(path.relative_to(root)))
    return found


def twins(root: Path) -> dict[str, list[str]]:
    return {name: where for name, where in type_names(root).items() if len(where) > 1}


def test_no_type_is_declared_twice() -> None:
    """A new class or alias must not reuse a name another module declares."""
    assert set(twins(PACKAGE)) <= KNOWN_TWINS, twins(PACKAGE)


def test_the_checker_finds_a_twin(tmp_path: Path) -> None:
    """A synthetic tree with one twin (class vs. alias) is caught; constants are not twins."""
    (tmp_path / "a.py").write_text("class Clock:\n    pass\nLIMIT = 1\n")
    (tmp_path / "b.py").write_text("from x import y\nClock = int\nLIMIT = 2\n")
    assert twins(tmp_path) == {"Clock": ["a.py", "b.py"]}
