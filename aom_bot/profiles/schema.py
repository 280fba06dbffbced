"""The configuration file's shape, validated with pydantic: unknown keys refused, IDs checked.

Error messages name the key path (``profiles.prod.credentials.sk_env``, ``allow[2].users[1]``:
rules and list items are numbered from 1) and what is wrong, never the value found there.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from aom_bot.config import check_project_id, check_region, check_url
from aom_bot.profiles.credentials import CredentialsTable
from aom_bot.profiles.model import ACTIONS, ANY, DEFAULT_PROFILE, Permission
from aom_bot.render.links import validate_console_template

__all__ = ["ConfigFile", "ProfileTable", "RuleTable", "describe_errors"]

_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,31}$")
_USER = re.compile(r"^[UW][A-Z0-9]{2,31}$")
_GROUP = re.compile(r"^S[A-Z0-9]{2,31}$")


def _checker(pattern: re.Pattern[str], what: str, *, wildcard: bool = False) -> AfterValidator:
    def check(value: str) -> str:
        if (wildcard and value == ANY) or pattern.match(value):
            return value
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise ValueError(f"{shown!r} is not {what}")

    return AfterValidator(check)


_NAME = "a profile name (letters, digits, '-' and '_', at most 64)"
ProfileName = Annotated[str, _checker(_PROFILE_NAME, _NAME)]
ProfileRef = Annotated[str, _checker(_PROFILE_NAME, _NAME + ' or "*"', wildcard=True)]
ChannelId = Annotated[str, _checker(_CHANNEL, "a Slack channel ID (C…, G… or D…)")]
ChannelRef = Annotated[
    str, _checker(_CHANNEL, 'a Slack channel ID (C…, G… or D…) or "*"', wildcard=True)
]
UserId = Annotated[str, _checker(_USER, "a Slack user ID (U… or W…)")]
GroupId = Annotated[str, _checker(_GROUP, "a Slack user-group ID (S…)")]


def _url(value: str) -> str:
    return check_url(value, credentials_at="the profile's credentials table")


def _console(value: str) -> str:
    validate_console_template(value)  # its ConsoleTemplateError is a ValueError
    return value


def _action(value: Permission) -> Permission:
    if value not in ACTIONS:
        raise ValueError(f"only actions ({', '.join(sorted(ACTIONS))}) can need two people")
    return value


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProfileTable(_Table):
    """``[profiles.NAME]``."""

    region: Annotated[str, AfterValidator(check_region)]
    project_id: Annotated[str, AfterValidator(check_project_id)]
    endpoint: Annotated[str, AfterValidator(_url)] | None = None
    iam_endpoint: Annotated[str, AfterValidator(_url)] | None = None
    console_url: Annotated[str, AfterValidator(_console)] | None = None
    credentials: CredentialsTable
    two_person: list[Annotated[Permission, AfterValidator(_action)]] = Field(default_factory=list)


class RuleTable(_Table):
    """``[[allow]]``: these actions in these profiles and channels, for these people (all when
    neither users nor groups is given)."""

    profiles: list[ProfileRef] = Field(min_length=1)
    actions: list[Permission] = Field(min_length=1)
    channels: list[ChannelRef] = Field(default_factory=lambda: [ANY], min_length=1)
    users: list[UserId] | None = Field(default=None, min_length=1)
    groups: list[GroupId] | None = Field(default=None, min_length=1)


class ConfigFile(_Table):
    """The whole file."""

    default_profile: ProfileName = DEFAULT_PROFILE
    profiles: dict[ProfileName, ProfileTable] = Field(default_factory=dict)
    channels: dict[ChannelId, ProfileName] = Field(default_factory=dict)
    allow: list[RuleTable] = Field(default_factory=list)


#: the keys each kind of table takes, for "unknown key" messages
_KEYS_AT: dict[tuple[str, ...], type[BaseModel]] = {
    (): ConfigFile,
    ("profiles", "*"): ProfileTable,
    ("profiles", "*", "credentials"): CredentialsTable,
    ("allow", "#"): RuleTable,
}


def key_path(loc: tuple[int | str, ...]) -> str:
    """``("allow", 0, "users", 1)`` → ``allow[1].users[2]``; a mapping's key is marked."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part + 1}]"
        elif part == "[key]":
            text += " (the key)"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


def _known_keys(parent: tuple[int | str, ...]) -> str:
    shape = tuple("#" if isinstance(p, int) else p for p in parent)
    for pattern, model in _KEYS_AT.items():
        if len(pattern) == len(shape) and all(
            a in ("*", b) for a, b in zip(pattern, shape, strict=True)
        ):
            return ", ".join(model.model_fields)
    return ""


def _what(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "missing":
        return "missing (required)"
    if kind == "extra_forbidden":
        known = _known_keys(tuple(error["loc"][:-1]))
        return f"unknown key (expected one of: {known})" if known else "unknown key"
    if kind == "enum":
        return "unknown action; actions are " + ", ".join(p.value for p in Permission)
    named = {
        "string_type": "must be a string",
        "list_type": "must be a list",
        "dict_type": "must be a table",
        "model_type": "must be a table",
        "too_short": "must not be empty",
        "bool_type": "must be true or false",
    }
    if kind in named:
        return named[kind]
    return str(error["msg"]).removeprefix("Value error, ")


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per problem: the key path and what is wrong (no value is ever quoted)."""
    return [
        f"{key_path(tuple(error['loc']))}: {_what(error)}"
        for error in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
