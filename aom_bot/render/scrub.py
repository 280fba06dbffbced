"""Remove secrets from AOM text before it leaves the bot (Slack, report files, terminal).

Script logs echo whatever the script did: ``mysql -psecret``, ``curl -H 'Authorization: Bearer …'``,
an AK/SK in an environment dump, a private key that was ``cat``-ed. The built-in patterns catch the
common shapes; operators add their own. A pattern with a group named ``secret`` redacts only that
group (``password=[redacted]`` keeps the key so the log still makes sense), otherwise the whole
match goes.

>>> Scrubber().scrub("mysql -uroot -phunter2 -e 'select 1'")
"mysql -uroot -p[redacted] -e 'select 1'"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aom_bot.errors import ScrubPatternError

__all__ = ["DEFAULT_PATTERNS", "REDACTED", "ScrubPatternError", "Scrubber", "SecretMask"]

REDACTED = "[redacted]"

_VALUE = r"""(?P<secret>"[^"\n]*"|'[^'\n]*'|[^\s,;&"']+)"""
_KEY_WORDS = (
    r"(?:password|passwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|credentials?|auth[_-]?key)"
)


def _is_ak_or_sk(match: re.Match[str]) -> bool:
    """20 upper-case letters and digits (an AK) or 40 mixed-case letters and digits (an SK)."""
    token = match.group(0)
    has_digit = any(c.isdigit() for c in token)
    has_upper = any(c.isupper() for c in token)
    if len(token) == 20:
        return has_digit and has_upper and not any(c.islower() for c in token)
    return has_digit and has_upper and any(c.islower() for c in token)


# (pattern, hints, accept). A rule runs only when the lower-cased text contains one of its hints
# (none = always); ``accept`` vetoes matches a regex alone cannot judge. Patterns start with a
# literal where possible: Python's regex engine then skips ahead fast instead of trying every
# position, which keeps scrubbing a 100 KB log in the low milliseconds.
_DEFAULT_RULES: tuple[tuple[str, tuple[str, ...], Callable[[re.Match[str]], bool] | None], ...] = (
    # PEM private keys, also when the END line was cut off, and a tail that starts mid-key
    (
        r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|\Z)",
        ("private key",),
        None,
    ),
    (r"\A[\s\S]*?-----END[A-Z0-9 ]*PRIVATE KEY-----", ("private key",), None),
    # credentials inside URLs: scheme://user:password@host
    (r"://(?P<secret>[^\s/:@]*:[^\s/@]+)@", ("://",), None),
    # Authorization headers (Bearer, Basic, SDK-HMAC-SHA256 …)
    (
        r"(?i)authorization[ \t]*[:=][ \t]*[\"']?(?P<secret>[^\s\"',]+(?:[ \t]+[^\s\"']+)?)",
        ("authorization",),
        None,
    ),
    (r"(?i)bearer\s+(?P<secret>[a-z0-9\-._~+/]{8,}=*)", ("bearer",), None),
    (
        r"(?i)(?:signature|access|credential)=(?P<secret>[^\s,&\"']{8,})",
        ("signature=", "access=", "credential="),
        None,
    ),
    # key = value / key: value / "key": "value" / --key value
    (
        rf"(?i){_KEY_WORDS}[a-z0-9_.-]*[\"']?[ \t]*[:=][ \t]*{_VALUE}",
        (
            "pass",
            "secret",
            "token",
            "apikey",
            "api_key",
            "api-key",
            "access_key",
            "access-key",
            "accesskey",
            "private_key",
            "private-key",
            "privatekey",
            "credential",
            "auth_key",
            "auth-key",
            "authkey",
        ),
        None,
    ),
    (
        rf"(?i)--(?<!\S--)[a-z0-9_.-]*?{_KEY_WORDS}[a-z0-9_.-]*(?:=|[ \t]+){_VALUE}",
        ("--",),
        None,
    ),
    (rf"[:=](?<=\b[aAsS][kK][:=])[ \t]*{_VALUE}", ("ak", "sk"), None),
    (rf"[:=](?<=\b[aAsS][kK][\"' ][:=])[ \t]*{_VALUE}", ("ak", "sk"), None),
    # mysql-style -pSECRET (glued); common -p… flags of other tools are left alone
    (
        r"-p(?<!\S-p)(?!(?:rint\w*|rune|ath|erm|arents|ort|id|reserve\w*|ackage|rofile)\b)"
        r"(?P<secret>[^\s-]\S*)",
        ("-p",),
        None,
    ),
    # well-known token shapes
    (r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}", (), None),
    (r"xox[abposre]-(?<![A-Za-z0-9]xox.-)[A-Za-z0-9-]{10,}", (), None),
    (r"xapp-(?<![A-Za-z0-9]xapp-)[A-Za-z0-9-]{10,}", (), None),
    (r"gh[pousr]_(?<![A-Za-z0-9]gh._)[A-Za-z0-9]{30,}", (), None),
    (r"MII(?<![A-Za-z0-9+/]MII)[A-Za-z0-9+/=_-]{100,}", (), None),
    (r"A[KS]IA(?<![A-Za-z0-9]A[KS]IA)[A-Z0-9]{16}(?![A-Za-z0-9])", (), None),
    # Huawei-style AK (20 upper-case letters and digits) and SK (40 mixed-case letters, digits)
    (r"(?<![A-Za-z0-9])[A-Za-z0-9]{20}(?:[A-Za-z0-9]{20})?(?![A-Za-z0-9])", (), _is_ak_or_sk),
)

#: the built-in patterns, in the order they are applied (most specific first)
DEFAULT_PATTERNS: tuple[str, ...] = tuple(pattern for pattern, _, _ in _DEFAULT_RULES)


#: configured secrets shorter than this are not masked: "abc" would blank out ordinary words
MIN_SECRET_LENGTH = 4


class SecretMask:
    """Replaces the bot's own configured secret values wherever they appear: the last line of
    defence behind the patterns, for text that quotes a credential in a shape no pattern knows
    (an error body echoing the request, say). Always on, whatever ``AOM_BOT_SCRUB_SECRETS``.

    >>> SecretMask(["hunter2-pw"]).text("IAM said: bad password hunter2-pw")
    'IAM said: bad password [redacted]'
    """

    __slots__ = ("_regex", "_values")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: frozenset[str] = frozenset()
        self._regex: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Mask these too from now on (secrets read later: a reload's rotated keys)."""
        self._values |= {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        values = sorted(self._values, key=len, reverse=True)
        self._regex = re.compile("|".join(map(re.escape, values))) if values else None

    def __bool__(self) -> bool:
        return self._regex is not None

    def text(self, text: str) -> str:
        """``text`` with every configured secret value replaced by ``[redacted]``."""
        if self._regex is None or not text:
            return text
        return self._regex.sub(REDACTED, text)

    def data(self, value: Any, *, keep: frozenset[str] = frozenset()) -> Any:
        """A copy of JSON-like ``value`` with the secrets masked in every string; the values of
        keys in ``keep`` (e.g. the ``token`` a Web API call must send) are left alone."""
        if self._regex is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: v if k in keep else self.data(v, keep=keep) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.data(v, keep=keep) for v in value)
        return value

    def __repr__(self) -> str:  # never the values
        return f"SecretMask(active={self._regex is not None})"


_Accept = Callable[[re.Match[str]], bool]


# A built-in rule needs one of these, or a text of 15+ characters (the shortest token shape,
# "xoxb-" plus 10): short texts without them — most host names, IPs, zones — skip the built-ins.
_BUILT_IN_TRIGGERS = re.compile(r"[:=]|--|-p|bearer", re.IGNORECASE)
_SHORTEST_TOKEN = 15


@dataclass(frozen=True, slots=True)
class _Rule:
    regex: re.Pattern[str]
    hints: tuple[str, ...]
    accept: _Accept | None
    built_in: bool

    def apply(self, text: str) -> str:
        accept = self.accept

        def replace(match: re.Match[str]) -> str:
            if accept is not None and not accept(match):
                return match.group(0)
            return _redact(match)

        return self.regex.sub(replace, text)


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ScrubPatternError(
            f"Scrub pattern {pattern!r} is not a valid regular expression: {exc}.",
            hint="Fix the pattern in the scrub settings (Python `re` syntax).",
        ) from None


def _redact(match: re.Match[str]) -> str:
    if "secret" in match.re.groupindex and match.group("secret") is not None:
        start, end = match.span("secret")
        whole_start = match.start()
        text = match.group(0)
        return text[: start - whole_start] + REDACTED + text[end - whole_start :]
    return REDACTED


class Scrubber:
    """Replaces secrets with ``[redacted]``; built-in patterns plus ``patterns`` from settings.

    ``enabled=False`` turns scrubbing off (for operators who must see raw logs); the default is
    on. Invalid patterns raise :class:`ScrubPatternError` (a ``ConfigError``) at construction,
    that is at configuration time, never while rendering. ``secrets`` are the bot's own
    configured secret values: they are masked even when scrubbing is off.
    """

    __slots__ = ("_rules", "enabled", "secrets")

    def __init__(
        self,
        patterns: Sequence[str] | None = None,
        *,
        enabled: bool = True,
        include_defaults: bool = True,
        secrets: Iterable[str] = (),
    ) -> None:
        defaults = _DEFAULT_RULES if include_defaults else ()
        rules = [_Rule(_compile(p), hints, accept, True) for p, hints, accept in defaults]
        rules += [_Rule(_compile(p), (), None, False) for p in patterns or () if p]
        self._rules = tuple(rules)
        self.enabled = enabled
        self.secrets = SecretMask(secrets)

    def scrub(self, text: str) -> str:
        """``text`` with every match of every pattern replaced by ``[redacted]``."""
        if not text:
            return text
        text = self.secrets.text(text)
        if not self.enabled:
            return text
        skip_built_ins = len(text) < _SHORTEST_TOKEN and not _BUILT_IN_TRIGGERS.search(text)
        lowered = text.lower()
        for rule in self._rules:
            if rule.built_in and skip_built_ins:
                continue
            if rule.hints and not any(hint in lowered for hint in rule.hints):
                continue
            text = rule.apply(text)
        return text

    def __repr__(self) -> str:
        return f"Scrubber(rules={len(self._rules)}, enabled={self.enabled})"
