"""A profile's ``credentials`` table: four forms, and secrets only ever by reference.

The file names an environment variable (``sk_env = "PROD_SK"``) or a file
(``sk_file = "/run/secrets/sk"``) that holds each secret; a secret written into the file itself
is refused, and no message here ever repeats a value found under ``credentials``. Secret files
and variables are read each time the configuration is loaded, so a reload picks up a rotation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, SecretStr, model_validator

from aom_bot.config import (
    AkSkCredentials,
    AomAuthSettings,
    IamAgencyCredentials,
    IamPasswordCredentials,
    StaticTokenCredentials,
)

__all__ = ["CREDENTIAL_KEYS", "CredentialsTable", "inline_secret_problems", "resolve_credentials"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
#: a secret file larger than this is not a key or a token
_MAX_SECRET_FILE = 64 * 1024
#: where each inline secret should be referenced from instead
_INSTEAD = {
    "ak": 'ak_env = "NAME" (an environment variable) or ak_file = "/path" (a file)',
    "sk": 'sk_env = "NAME" (an environment variable) or sk_file = "/path" (a file)',
    "security_token": 'security_token_env = "NAME" (an environment variable)',
    "token": 'token_env = "NAME" (an environment variable)',
    "password": 'iam_password_env = "NAME" (an environment variable)',
}
_SECRET_WORDS = ("security_token", "token", "password", "secret", "ak", "sk")
_FORMS_TEXT = (
    "{ak_env, sk_env[, security_token_env]}, {token_env}, {ak_file, sk_file}, or "
    "{iam_user_env, iam_password_env, iam_domain[, agency_domain, agency_name]}"
)


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError("must be the name of an environment variable (letters, digits and _)")
    return value


def _secret_path(value: str) -> str:
    if "\x00" in value or "\n" in value or not Path(value).is_absolute():
        raise ValueError("must be the absolute path of a file that holds the secret")
    return value


def _plain(value: str) -> str:
    if not value.strip() or len(value) > 255:
        raise ValueError("must be a non-empty name (at most 255 characters)")
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]
SecretPath = Annotated[str, AfterValidator(_secret_path)]
PlainName = Annotated[str, AfterValidator(_plain)]


@dataclass(frozen=True)
class _Form:
    required: frozenset[str]
    optional: frozenset[str] = frozenset()

    @property
    def keys(self) -> frozenset[str]:
        return self.required | self.optional


_AKSK_ENV = _Form(frozenset({"ak_env", "sk_env"}), frozenset({"security_token_env"}))
_TOKEN_ENV = _Form(frozenset({"token_env"}))
_FILES = _Form(frozenset({"ak_file", "sk_file"}))
_IAM = _Form(
    frozenset({"iam_user_env", "iam_password_env", "iam_domain"}),
    frozenset({"agency_domain", "agency_name"}),
)
_FORMS = (_AKSK_ENV, _TOKEN_ENV, _FILES, _IAM)
#: every key a credentials table may have
CREDENTIAL_KEYS: frozenset[str] = frozenset().union(*(form.keys for form in _FORMS))


def _form_problem(given: frozenset[str]) -> str | None:
    """What is wrong with this set of keys, or None when it is exactly one form."""
    if not given:
        return f"no credentials given; use one of {_FORMS_TEXT}"
    candidates = [form for form in _FORMS if given & form.keys]
    if len(candidates) > 1:
        return f"mixes several ways of authenticating; use exactly one of {_FORMS_TEXT}"
    form = candidates[0]
    missing = sorted(form.required - given)
    if missing:
        return f"{', '.join(missing)} missing (needed with {', '.join(sorted(given))})"
    agency = given & _IAM.optional
    if agency and agency != _IAM.optional:
        return "agency_domain and agency_name must be given together"
    return None


class CredentialsTable(BaseModel):
    """``credentials = {...}`` as written: references only (checked: exactly one form)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ak_env: EnvName | None = None
    sk_env: EnvName | None = None
    security_token_env: EnvName | None = None
    token_env: EnvName | None = None
    ak_file: SecretPath | None = None
    sk_file: SecretPath | None = None
    iam_user_env: EnvName | None = None
    iam_password_env: EnvName | None = None
    iam_domain: PlainName | None = None
    agency_domain: PlainName | None = None
    agency_name: PlainName | None = None

    @model_validator(mode="after")
    def _one_form(self) -> CredentialsTable:
        problem = _form_problem(self.given)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def given(self) -> frozenset[str]:
        """The keys that are set."""
        return frozenset(key for key in CREDENTIAL_KEYS if getattr(self, key) is not None)


def _secret_word(key: str, *, loose: bool) -> str | None:
    """The secret word ``key`` ends in (``sk``, ``iam_password``…); ``loose``: also without a
    ``_`` before it (``mysk``), as under ``credentials`` where anything unknown is suspect."""
    lowered = key.lower()
    for word in _SECRET_WORDS:
        if lowered == word or lowered.endswith("_" + word) or (loose and lowered.endswith(word)):
            return word
    return None


def _instead(key: str) -> str:
    word = _secret_word(key, loose=True)
    if word in _INSTEAD:
        return _INSTEAD[word]
    return 'an environment variable (sk_env = "NAME") or a file (sk_file = "/path")'


def inline_secret_problems(
    table: dict[str, object], path: str, *, known: frozenset[str]
) -> list[str]:
    """Problems for keys of ``table`` that may hold a secret inline (a secret-like name, or any
    key not in ``known``); such keys are removed from ``table`` so that nothing later looks at
    (or quotes) their values."""
    problems: list[str] = []
    in_credentials = path.endswith(".credentials")
    for key in list(table):
        if key in known:
            continue
        shown = key if len(key) <= 40 else key[:37] + "..."
        if _secret_word(key, loose=in_credentials) is not None:
            # "KEY is" rather than "KEY:": log redaction would take "sk: …" for a secret
            problems.append(
                f"{path}.{shown} is a secret written into the file, which is refused (its value "
                f"is not shown); reference it instead: {_instead(key)}"
            )
        elif in_credentials:
            problems.append(
                f"{path}.{shown}: unknown credentials key (its value is not shown, in case it is "
                f"a secret); credentials reference secrets by environment variable or file: "
                f"{_FORMS_TEXT}"
            )
        else:
            continue  # not a credentials table and not secret-like: pydantic says "unknown key"
        del table[key]
    return problems


def _looks_like_a_secret(name: str) -> bool:
    # An AK or SK pasted where a variable name belongs: long, no "_", digits and letters mixed.
    return len(name) >= 16 and "_" not in name and any(c.isdigit() for c in name)


def _variable(name: str) -> str:
    if _looks_like_a_secret(name):
        return "the variable named there (the name looks like a key: name the variable instead)"
    return f"the environment variable {name}"


class _Reader:
    """Reads the referenced secrets, collecting one problem per missing one."""

    def __init__(self, path: str, environ: Mapping[str, str], problems: list[str]) -> None:
        self._path = path
        self._environ = environ
        self.problems = problems

    def env(self, key: str, name: str) -> str:
        value = self._environ.get(name)
        if value is None:
            self.problems.append(f"{self._path}.{key}: {_variable(name)} is not set")
            return ""
        if not value.strip():
            self.problems.append(f"{self._path}.{key}: {_variable(name)} is empty")
            return ""
        return value

    def file(self, key: str, name: str) -> str:
        where = f"{self._path}.{key}: the file {name}"
        try:
            with Path(name).open("rb") as handle:
                data = handle.read(_MAX_SECRET_FILE + 1)
        except FileNotFoundError:
            self.problems.append(f"{where} does not exist")
            return ""
        except OSError as exc:
            self.problems.append(f"{where} cannot be read ({exc.strerror or type(exc).__name__})")
            return ""
        if len(data) > _MAX_SECRET_FILE:
            self.problems.append(f"{where} is larger than {_MAX_SECRET_FILE // 1024} KiB")
            return ""
        try:
            text = data.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            self.problems.append(f"{where} is not UTF-8 text")
            return ""
        if not text.strip():
            self.problems.append(f"{where} is empty")
        return text


def resolve_credentials(
    table: CredentialsTable, path: str, environ: Mapping[str, str], problems: list[str]
) -> tuple[AomAuthSettings, str] | None:
    """The credentials the table references, read now, and a description of their source;
    None (with ``problems`` added) when a variable or file is missing, empty or unreadable."""
    read = _Reader(path, environ, problems)
    before = len(problems)
    result: tuple[AomAuthSettings, str]
    if table.ak_env and table.sk_env:
        ak, sk = read.env("ak_env", table.ak_env), read.env("sk_env", table.sk_env)
        names = f"{table.ak_env}/{table.sk_env}"
        token = None
        if table.security_token_env:
            token = SecretStr(read.env("security_token_env", table.security_token_env))
            names += f"/{table.security_token_env}"
        result = AkSkCredentials(ak=ak, sk=SecretStr(sk), security_token=token), f"env {names}"
    elif table.token_env:
        token_value = read.env("token_env", table.token_env)
        result = StaticTokenCredentials(SecretStr(token_value)), f"env {table.token_env}"
    elif table.ak_file and table.sk_file:
        ak, sk = read.file("ak_file", table.ak_file), read.file("sk_file", table.sk_file)
        source = f"files {table.ak_file}, {table.sk_file}"
        result = AkSkCredentials(ak=ak, sk=SecretStr(sk)), source
    else:
        result = _iam(table, read)
    return result if len(problems) == before else None


def _iam(table: CredentialsTable, read: _Reader) -> tuple[AomAuthSettings, str]:
    user_env, password_env = str(table.iam_user_env), str(table.iam_password_env)
    user = IamPasswordCredentials(
        user=read.env("iam_user_env", user_env),
        password=SecretStr(read.env("iam_password_env", password_env)),
        domain=str(table.iam_domain),
    )
    source = f"IAM user from env {user_env}/{password_env}"
    if table.agency_domain and table.agency_name:
        agency = IamAgencyCredentials(user, table.agency_domain, table.agency_name)
        return agency, f"{source}, agency {table.agency_domain}/{table.agency_name}"
    return user, source
