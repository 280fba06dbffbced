"""Small helpers of the command language shared by its parsers: IDs checked as usage errors,
user text echoed safely."""

from __future__ import annotations

from aom_bot.aom.ids import validate_id
from aom_bot.errors import CommandSyntaxError, InvalidIdError

__all__ = ["shown", "valid"]


def valid(kind: str, value: str) -> str:
    try:
        return validate_id(kind, value)
    except InvalidIdError as exc:
        raise CommandSyntaxError(exc.message, hint=exc.hint) from None


def shown(text: str) -> str:
    """User text echoed back inside backticks: short, and unable to close the code span."""
    text = text.replace("`", "'")
    return text if len(text) <= 40 else text[:37] + "..."
