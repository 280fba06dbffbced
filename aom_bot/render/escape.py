"""Make untrusted text (host names, errors, logs from AOM) inert in Slack mrkdwn and terminals.

Slack parses ``<…>`` into mentions and links and decodes ``&…;`` entities, so ``&``, ``<`` and
``>`` are escaped and nothing else is (Slack's own rule). On top of that, defence in depth:
``@word`` at a word start gets an invisible word joiner (so ``link_names`` can never turn it into
a mention), control characters and bidi overrides are dropped (they can disguise text), and
backticks inside code become a look-alike so a log can never close its own code block.

>>> escape_mrkdwn("<!channel> & <#C123|x>")
'&lt;!channel&gt; &amp; &lt;#C123|x&gt;'
"""

from __future__ import annotations

import re

__all__ = [
    "Mrkdwn",
    "code_block",
    "escape_mrkdwn",
    "inline_code",
    "plain_text_safe",
    "strip_controls",
]


class Mrkdwn(str):
    """mrkdwn the bot wrote itself (e.g. a Slack date tag), already safe: never escaped again.

    Like MarkupSafe's ``Markup``: only bot-authored text is wrapped, never text from AOM.
    """

    __slots__ = ()


#: a backtick look-alike (MODIFIER LETTER GRAVE ACCENT): code spans and fences cannot close on it
BACKTICK_LOOKALIKE = "\u02cb"
_WORD_JOINER = "\u2060"

# C0 controls except TAB and LF, DEL, C1 controls, bidi embeddings/overrides/isolates, BOM.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
# ANSI/VT escape sequences (CSI … final byte, OSC … BEL/ST) before the bare ESC is dropped.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_AT_WORD = re.compile(r"(?<![\w.])@(?=\w)")
_MRKDWN_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_PLAIN_ANGLES = str.maketrans({"<": "\u2039", ">": "\u203a"})


def strip_controls(text: str) -> str:
    """Normalise newlines and drop control/escape characters (terminal and mrkdwn safe)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    return _CONTROLS.sub("", text)


def escape_mrkdwn(text: str) -> str:
    """Escape untrusted text for a mrkdwn text object: no mention, link or entity survives."""
    text = strip_controls(text).translate(_MRKDWN_ENTITIES)
    if "@" in text:
        text = _AT_WORD.sub("@" + _WORD_JOINER, text)
    return text


def _defuse_backticks(text: str) -> str:
    return text.replace("`", BACKTICK_LOOKALIKE)


def inline_code(text: str) -> str:
    """Untrusted text as a one-line mrkdwn code span (formatting characters stay literal)."""
    body = _defuse_backticks(escape_mrkdwn(text)).replace("\n", " ").replace("\t", " ").strip()
    return f"`{body}`" if body else "`(empty)`"


def code_block(text: str) -> str:
    """Untrusted multi-line text as a fenced mrkdwn code block it cannot break out of."""
    body = _defuse_backticks(escape_mrkdwn(text)).strip("\n")
    return f"```\n{body or '(empty)'}\n```"


def plain_text_safe(text: str) -> str:
    """Untrusted text for a ``plain_text`` object: one line, no controls, no angle brackets.

    plain_text is not parsed for mentions, but angle brackets are swapped for look-alikes so no
    client, notification or copy-paste can ever see a ``<!channel>``.
    """
    return strip_controls(text).translate(_PLAIN_ANGLES).replace("\n", " ").replace("\t", " ")
