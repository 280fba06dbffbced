"""Which execution a pasted AOM console link points at: the two IDs it carries.

Used by the Slack command and by the terminal (``aom-bot show LINK``) alike, so it lives with
the AOM layer rather than in either front end. Links arrive as copied from the browser or as
Slack wraps them in a message (``<url>``, ``<url|label>``, ``&amp;`` for ``&``).

>>> parse_execution_link("https://console.example.com/aom/workflow/wf-1/execution/ex-2")
ExecutionRef(workflow_id='wf-1', execution_id='ex-2')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise
from urllib.parse import parse_qsl, unquote, urlsplit

from aom_bot.aom.ids import validate_id

__all__ = ["ExecutionRef", "looks_like_link", "parse_execution_link"]

_SLACK_LINK = re.compile(r"^<(?P<url>[^|>]+)(?:\|[^>]*)?>$")
_WORKFLOW_KEYS = frozenset({"workflow", "workflows", "workflowid"})
_EXECUTION_KEYS = frozenset({"execution", "executions", "executionid"})


@dataclass(frozen=True, slots=True)
class ExecutionRef:
    """A validated (workflow ID, execution ID) pair."""

    workflow_id: str
    execution_id: str


def parse_execution_link(text: str) -> ExecutionRef | None:
    """The workflow and execution IDs a console link carries, or ``None`` if it has not both.

    Accepts ``…/workflow/<wf>/execution/<ex>``, ``…?workflow_id=<wf>&execution_id=<ex>`` and the
    same inside the fragment (single-page consoles), wrapped by Slack as ``<url>``/``<url|label>``
    or not. Raises :class:`InvalidIdError` when an ID is present but malformed.
    """
    match = _SLACK_LINK.match(text.strip())
    url = match.group("url") if match else text.strip()
    # Slack escapes &, < and > in the text it sends.
    url = url.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    if not looks_like_link(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    found: dict[str, str] = {}
    for path, query in (
        (parts.path, parts.query),
        _split_fragment(parts.fragment),
    ):
        _collect_from_path(path, found)
        _collect_from_query(query, found)
    if "workflow" not in found or "execution" not in found:
        return None
    return ExecutionRef(
        validate_id("workflow ID", found["workflow"]),
        validate_id("execution ID", found["execution"]),
    )


def looks_like_link(word: str) -> bool:
    """Whether a word is a web link (bare, or wrapped by Slack as ``<url>``)."""
    word = word.strip("<>").lower()
    return word.startswith(("https://", "http://"))


def _split_fragment(fragment: str) -> tuple[str, str]:
    path, _, query = fragment.partition("?")
    return path, query


def _normalise_key(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def _collect_from_path(path: str, found: dict[str, str]) -> None:
    segments = [unquote(s) for s in path.split("/") if s]
    for key, value in pairwise(segments):
        name = _normalise_key(key)
        if name in _WORKFLOW_KEYS:
            found.setdefault("workflow", value)
        elif name in _EXECUTION_KEYS:
            found.setdefault("execution", value)


def _collect_from_query(query: str, found: dict[str, str]) -> None:
    for key, value in parse_qsl(query, keep_blank_values=False):
        name = _normalise_key(key)
        if name in _WORKFLOW_KEYS:
            found.setdefault("workflow", value)
        elif name in _EXECUTION_KEYS:
            found.setdefault("execution", value)
