"""The examples in the render modules' docstrings run and stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "__init__",
    "actions",
    "analysis",
    "card",
    "escape",
    "follow_notices",
    "host_errors",
    "links",
    "message",
    "scrub",
    "wording",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    """Each module's >>> examples produce the output they show."""
    module = importlib.import_module(
        "aom_bot.render" if name == "__init__" else f"aom_bot.render.{name}"
    )
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
