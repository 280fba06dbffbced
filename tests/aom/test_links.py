"""Console links live in the AOM layer: the terminal and Slack read them the same way."""

from __future__ import annotations

import doctest

from aom_bot.aom import links
from aom_bot.slack import grammar


def test_docstring_examples() -> None:
    """The module's >>> examples hold."""
    result = doctest.testmod(links)
    assert result.attempted > 0
    assert result.failed == 0


def test_the_slack_grammar_reads_links_with_the_aom_layer_function() -> None:
    """One parser, re-exported by the grammar (no second copy to drift apart)."""
    assert grammar.parse_execution_link is links.parse_execution_link
    assert grammar.ExecutionRef is links.ExecutionRef
