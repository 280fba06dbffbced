"""What went wrong on one host: the telling error line, and the same error with its details masked.

Two hosts that fail the same way rarely print the same bytes (timestamps, IPs, temp paths,
their own names differ); masking those gives the error's shape, and its :func:`signature`
groups the hosts. Pure: no I/O.

>>> normalise_error("disk full on 10.0.0.7 at 2024-03-15 08:10:00 (pid 4711)")
'disk full on <ip> at <time> (pid <n>)'
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from aom_bot.aom.models import Host

__all__ = [
    "host_error",
    "log_tail",
    "normalise_error",
    "own_names_masked",
    "signature",
]

_ERROR_WORDS = re.compile(
    r"error|fail|fatal|exception|denied|not found|no such|cannot|can't|could not|unable|refused"
    r"|timed? ?out|not a directory|no space|killed|panic|traceback|错误|失败|出错|异常|拒绝|超时",
    re.IGNORECASE,
)
_TRACE_LINE = re.compile(r"^(?:\+|At .+:\d+ char:\d+$|/usr/local/uniagentd/tmp/\S*: >-$)")
_TAIL_CHARS = 4096
_ERROR_MAX = 500


def log_tail(log: str, chars: int) -> tuple[str, bool]:
    """The last ``chars`` of ``log`` starting on a whole line, and whether anything was cut.

    Never starting mid-line matters for scrubbing: half a ``password=…`` line would lose the
    key that tells the scrubber the rest is a secret.
    """
    if len(log) <= chars:
        return log, False
    tail = log[-chars:]
    newline = tail.find("\n")
    return (tail[newline + 1 :] if newline >= 0 else tail), True


def _log_error_line(log: str) -> str:
    """The line of a log most likely to say what went wrong (scanning from the end)."""
    tail = log_tail(log, _TAIL_CHARS)[0].replace("\r\n", "\n").replace("\r", "\n")
    last_plain = ""
    scanned = 0
    for raw_line in reversed(tail.split("\n")):
        line = raw_line.strip()
        if not line or _TRACE_LINE.match(line):
            continue
        if _ERROR_WORDS.search(line):
            return line[:_ERROR_MAX]
        last_plain = last_plain or line
        scanned += 1
        if scanned >= 40:
            break
    return last_plain[:_ERROR_MAX]


def host_error(host: Host) -> str:
    """What went wrong on ``host``: AOM's error message, else the telling log line."""
    message = host.error_msg.strip()
    if message:
        return message[:_ERROR_MAX]
    line = _log_error_line(host.log) if host.log else ""
    if line:
        return line
    if host.exit_code not in (None, 0):
        return f"exit code {host.exit_code}"
    return "no error message"


_MASK_NAMES = {
    "ts": "<time>",
    "uuid": "<id>",
    "ip": "<ip>",
    "tmp": "<tmp>",
    "hex": "<hex>",
    "num": "<n>",
}
_MASKS = re.compile(
    r"(?P<ts>\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b)"
    r"|(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)"
    r"|(?P<ip>\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b|\b(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}\b)"
    r"|(?P<tmp>(?:/tmp|/var/tmp|/dev/shm|/usr/local/uniagentd/tmp|[A-Za-z]:\\\S*?\\te?mp)"
    r"[/\\][^\s:'\"]*)"
    r"|(?P<hex>\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b)"
    r"|(?P<num>\d+)"
)
_SPACES = re.compile(r"\s+")


def _mask(match: re.Match[str]) -> str:
    return _MASK_NAMES[match.lastgroup or "num"]


# A followed card is rendered again on every change, with mostly the same hosts and errors:
# these two pure functions remember their last few thousand answers (bounded, a few MB at most).
@lru_cache(maxsize=4096)
def normalise_error(error: str) -> str:
    """``error`` with the parts that differ between hosts masked: the basis of a signature."""
    return _SPACES.sub(" ", _MASKS.sub(_mask, error)).strip()


def own_names_masked(error: str, host: Host) -> str:
    """``error`` with the host's own name, IP and ID as ``<host>`` (they differ between hosts)."""
    for token in (host.name, host.ip, host.id):
        if len(token) >= 3 and token in error:
            error = error.replace(token, "<host>")
    return error


def signature(exit_code: int | None, normalised: str) -> str:
    """The group key of a failure: its exit code and its masked error, hashed short."""
    material = f"{exit_code}\x00{normalised}".encode()
    return hashlib.sha256(material).hexdigest()[:16]
