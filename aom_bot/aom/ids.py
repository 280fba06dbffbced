"""Validation of the IDs that end up in AOM request paths.

IDs come from Slack users, buttons and AOM itself, and they are pasted into URL paths. A strict
shape check, done before any request is built, keeps ``../``, ``?``, ``#``, ``%2F``, whitespace
and control characters away from the network; the client percent-encodes segments as well.

>>> validate_id("workflow ID", "7c2e5a91d04b4f6e9a3b8c1d2e4f5a6b")
'7c2e5a91d04b4f6e9a3b8c1d2e4f5a6b'
"""

from __future__ import annotations

import re

from aom_bot.errors import InvalidIdError

__all__ = ["ID_PATTERN", "validate_id", "validate_project_id"]

#: letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def validate_id(kind: str, value: object) -> str:
    """Return ``value`` when it has the shape of an AOM ID, else raise InvalidIdError.

    ``kind`` names the ID for the message ("workflow ID", "execution ID", "node ID").
    """
    if not isinstance(value, str) or ID_PATTERN.fullmatch(value) is None:
        raise InvalidIdError(kind, value if isinstance(value, str) else repr(value))
    return value


def validate_project_id(value: object) -> str:
    """Validate an IAM project ID (32 hex characters in practice; same rule as other IDs)."""
    return validate_id("project ID", value)
