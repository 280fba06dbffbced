"""errors.py's drawn tree is the whole truth: every error aom-bot defines is in it, in place."""

from __future__ import annotations

import importlib
import pkgutil
import re

import aom_bot
from aom_bot import errors
from aom_bot.errors import AomBotError


def drawn_tree(doc: str) -> dict[str, str | None]:
    """``{class name: drawn parent}`` from the box-drawing tree in a docstring: a name's
    parent is the nearest name above it that starts further left."""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        match = re.match(r"^    ([ │├└─]*)([A-Z]\w*)(?:\s|$)", line)
        if match is None:
            continue
        column, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= column:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((column, name))
    return parents


def defined_errors() -> set[type[AomBotError]]:
    """Every ``AomBotError`` subclass defined anywhere in the package."""
    for info in pkgutil.walk_packages(aom_bot.__path__, "aom_bot."):
        if not info.name.endswith(".__main__"):  # that one runs the CLI
            importlib.import_module(info.name)
    found: set[type[AomBotError]] = set()
    todo: list[type[AomBotError]] = [AomBotError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(c for c in cls.__subclasses__() if c.__module__.startswith("aom_bot."))
    return found


def test_every_error_is_drawn_under_its_parent() -> None:
    """A new exception class anywhere in aom_bot must be drawn in errors.py, under its base."""
    tree = drawn_tree(errors.__doc__ or "")
    for cls in defined_errors():
        assert cls.__name__ in tree, f"{cls.__module__}.{cls.__name__} is not drawn in errors.py"
        bases = [b.__name__ for b in cls.__bases__ if issubclass(b, AomBotError)]
        drawn = tree[cls.__name__]
        if cls is AomBotError:
            assert drawn is None
        elif drawn is None:  # a separate root: only the simulator's, whose base is AomBotError
            assert bases == ["AomBotError"], cls
        else:
            assert bases == [drawn], f"{cls.__name__} is drawn under {drawn}, derives from {bases}"


def test_errors_live_in_errors_py_except_the_simulators() -> None:
    """One module defines the bot's errors; the simulator's stay its own (see errors.py)."""
    for cls in defined_errors():
        assert cls.__module__ in ("aom_bot.errors", "aom_bot.simulator.world"), cls


def test_old_homes_still_export_the_moved_errors() -> None:
    """Modules that defined an error before keep exporting it (imports elsewhere still work)."""
    from aom_bot.render.links import ConsoleTemplateError
    from aom_bot.render.scrub import ScrubPatternError
    from aom_bot.slack.grammar import CommandSyntaxError
    from aom_bot.slack.subscriptions import SubscriptionError

    assert ConsoleTemplateError is errors.ConsoleTemplateError
    assert ScrubPatternError is errors.ScrubPatternError
    assert CommandSyntaxError is errors.CommandSyntaxError
    assert SubscriptionError is errors.SubscriptionError


def test_the_tree_reader_sees_misplaced_and_missing_classes() -> None:
    """The reader itself: nesting is read from the drawing, so a wrong drawing fails above."""
    doc = """x

::

    Root
    ├── A                 text
    │   └── B                 text
    └── C
        └── D
    Other                 (elsewhere)
    └── E
"""
    assert drawn_tree(doc) == {
        "Root": None,
        "A": "Root",
        "B": "A",
        "C": "Root",
        "D": "C",
        "Other": None,
        "E": "Other",
    }
