"""Logging, configured once: structured lines on stderr, secrets redacted.

Every record passes through :class:`RedactingFilter`, which replaces the configured secret values
(AK/SK, tokens, passwords, signing secret) and anything shaped like a credential with
``[redacted]`` — so even a library that logs a header or a URL cannot leak one.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

__all__ = [
    "RedactingFilter",
    "add_logged_secrets",
    "configure_logging",
    "logged_secrets",
    "redact",
    "redact_as_logged",
]

_REDACTED = "[redacted]"
_CREDENTIAL_SHAPES = re.compile(
    r"(?i)(?:"
    r"(?:authorization|x-auth-token|x-subject-token|x-security-token|x-slack-signature)"
    r"[\"']?\s*[:=]\s*[\"']?[^\s,\"'}]+(?:\s+[^\s,\"'}]+)?"
    r"|xox[abposr]-[A-Za-z0-9-]{6,}"
    r"|xapp-[A-Za-z0-9-]{6,}"
    # "sk" only as a word of its own (sk=, cloud_sdk_sk=): never the end of task=, disk=, risk=
    r"|(?:password|passwd|secret|token|(?<![a-z])sk)[\"']?\s*[:=]\s*[\"']?[^\s,\"'}&]+"
    r"|(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"
    r")"
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace known secret values and credential-shaped substrings in ``text``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, _REDACTED)
    return _CREDENTIAL_SHAPES.sub(_REDACTED, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (after %-formatting) with secrets redacted."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret values this filter masks (longest first)."""
        return self._secrets

    def add(self, secrets: Iterable[str]) -> None:
        """Mask these too (secrets read after start-up: a profile's files, a reload)."""
        self._secrets = tuple(
            sorted({*self._secrets, *(s for s in secrets if s)}, key=len, reverse=True)
        )

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string must not stop the redaction
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact(message, self._secrets)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Keep the traceback for operators, but redacted: format it now.
            record.exc_text = redact(
                logging.Formatter().formatException(record.exc_info), self._secrets
            )
            record.exc_info = None
        return True


def logged_secrets() -> tuple[str, ...]:
    """The secret values :func:`configure_logging` was given (none before it ran): what the
    CLI prints itself is masked with them too, without a second copy of the secrets."""
    for handler in logging.getLogger().handlers:
        for found in handler.filters:
            if isinstance(found, RedactingFilter):
                return found.secrets
    return ()


def add_logged_secrets(secrets: Iterable[str]) -> None:
    """Mask ``secrets`` in every log line from now on (and in :func:`redact_as_logged`)."""
    values = tuple(secrets)
    for handler in logging.getLogger().handlers:
        for found in handler.filters:
            if isinstance(found, RedactingFilter):
                found.add(values)


def redact_as_logged(text: str) -> str:
    """``text`` redacted exactly as the log lines are (the configured secrets included)."""
    return redact(text, logged_secrets())


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        if record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(
    *,
    level: str = "INFO",
    fmt: Literal["auto", "console", "json"] = "auto",
    secrets: Iterable[str] = (),
) -> None:
    """Send logs to stderr (stdout stays clean for machine-readable output), redacted."""
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(secrets))
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # stamina logs each scheduled retry; without this it would pick structlog when installed,
    # whose default printer writes to stdout (reserved for --json output) and skips redaction.
    import stamina.instrumentation

    stamina.instrumentation.set_on_retry_hooks([stamina.instrumentation.LoggingOnRetryHook])
    # Chatty libraries stay at WARNING unless the bot itself is debugging.
    for name in (
        "httpx",
        "httpcore",
        "aiohttp.access",
        "slack_bolt",
        "slack_sdk",
        "uvicorn.access",
    ):
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
