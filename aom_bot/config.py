"""Settings, read once from the environment and an optional ``.env`` file.

Every setting is an environment variable (names are part of the product; the README lists them).
Secrets are ``SecretStr``: they print as ``**********`` in reprs, logs and error messages.
:func:`load_settings` turns pydantic's validation errors into one :class:`ConfigError` that names
the variables to fix.

>>> settings = Settings(aom_project_id="0123456789abcdef0123456789abcdef", aom_region="cn-north-4")
>>> settings.aom_endpoint_url()
'https://aom.cn-north-4.myhuaweicloud.com'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from aom_bot.config_values import check_project_id, check_region, check_url, region_endpoint
from aom_bot.errors import ConfigError

__all__ = [
    "AkSkCredentials",
    "AomAuthSettings",
    "IamAgencyCredentials",
    "IamPasswordCredentials",
    "Settings",
    "StaticTokenCredentials",
    "check_project_id",
    "check_region",
    "check_url",
    "load_settings",
    "region_endpoint",
]

#: the ``.env`` file read from the working directory (when it exists)
ENV_FILE = ".env"


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/aom-bot``, else ``~/.local/state/aom-bot`` (the XDG base directory
    rule: a relative XDG_STATE_HOME is ignored)."""
    xdg = os.environ.get("XDG_STATE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "state"
    return base / "aom-bot"


@dataclass(frozen=True, slots=True)
class AkSkCredentials:
    """Permanent or temporary access keys (signing with SDK-HMAC-SHA256)."""

    ak: str
    sk: SecretStr
    security_token: SecretStr | None = None

    def __repr__(self) -> str:
        return f"AkSkCredentials(ak={self.ak[:4]}…, sk=**********)"


@dataclass(frozen=True, slots=True)
class StaticTokenCredentials:
    """An IAM token given as is (``AOM_TOKEN``); the client sends it via ``aom.tokens.StaticToken``."""

    token: SecretStr


@dataclass(frozen=True, slots=True)
class IamPasswordCredentials:
    """An IAM user whose token the bot fetches and renews itself."""

    user: str
    password: SecretStr
    domain: str


@dataclass(frozen=True, slots=True)
class IamAgencyCredentials:
    """A token for an agency (assume role) in another account, obtained with an IAM user's token."""

    user: IamPasswordCredentials
    agency_domain: str
    agency_name: str


AomAuthSettings = (
    AkSkCredentials | StaticTokenCredentials | IamPasswordCredentials | IamAgencyCredentials
)


class Settings(BaseSettings):
    """Everything configurable, by environment variable name (case-insensitive)."""

    model_config = SettingsConfigDict(
        env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # --- AOM ---------------------------------------------------------------------------------
    cloud_sdk_ak: SecretStr | None = None
    cloud_sdk_sk: SecretStr | None = None
    cloud_sdk_security_token: SecretStr | None = None
    aom_token: SecretStr | None = None
    aom_iam_user: str | None = None
    aom_iam_password: SecretStr | None = None
    aom_iam_domain: str | None = None
    aom_iam_agency_domain: str | None = None
    aom_iam_agency_name: str | None = None
    aom_project_id: str | None = None
    aom_region: str | None = None
    aom_endpoint: str | None = None
    aom_iam_endpoint: str | None = None
    aom_console_url: str | None = None
    aom_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    aom_bot_command_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    aom_max_requests_per_second: float = Field(default=50.0, gt=0, le=10000)

    # --- Slack -------------------------------------------------------------------------------
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str | None = None

    # --- the bot -----------------------------------------------------------------------------
    aom_bot_state_dir: Path = Field(default_factory=default_state_dir)
    aom_bot_database_url: str | None = None
    aom_bot_poll_min_seconds: float = Field(default=5.0, ge=0.05, le=3600)
    aom_bot_poll_max_seconds: float = Field(default=30.0, ge=0.05, le=3600)
    aom_bot_discovery_seconds: float = Field(default=60.0, ge=0.05, le=86400)
    #: pins this replica's identity (a StatefulSet's pod name): a restart takes its leases back
    aom_bot_replica_id: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
    )
    #: how long a replica's leases last without renewal (renewed every third of it)
    aom_bot_lease_seconds: float = Field(default=30.0, ge=1.0, le=3600)
    #: how long an action may wait for AOM before the sweep calls it ``unknown`` (its process
    #: died mid-request); above AOM's own deadlines (a terminate retries for up to 60 s)
    aom_bot_action_unknown_seconds: float = Field(default=180.0, ge=1.0, le=86400)
    aom_bot_max_follow_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    aom_bot_max_follows_per_user: int = Field(default=20, ge=1, le=100_000)
    aom_bot_max_follows_per_workspace: int = Field(default=100, ge=1, le=100_000)
    aom_bot_broadcast_failures: bool = True
    aom_bot_scrub_secrets: bool = True
    aom_bot_scrub_patterns: Annotated[list[str], NoDecode] = Field(default_factory=list)
    aom_bot_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    aom_bot_log_format: Literal["auto", "console", "json"] = "auto"
    #: the profiles and access policy file (``aom_bot.profiles``); else ./aom-bot.toml if present
    aom_bot_config: Path | None = None

    @field_validator("aom_bot_config", mode="before")
    @classmethod
    def _unset_if_empty(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("aom_bot_log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("aom_bot_scrub_patterns", mode="before")
    @classmethod
    def _split_patterns(cls, value: object) -> object:
        # One regex per line (commas are common inside regexes, so they do not split).
        if isinstance(value, str):
            return [line for line in value.splitlines() if line.strip()]
        return value

    @field_validator("aom_bot_scrub_patterns")
    @classmethod
    def _compile_patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return value

    @field_validator("aom_region")
    @classmethod
    def _check_region(cls, value: str | None) -> str | None:
        return None if value is None else check_region(value)

    @field_validator("aom_project_id")
    @classmethod
    def _check_project(cls, value: str | None) -> str | None:
        return None if value is None else check_project_id(value)

    @field_validator("aom_endpoint", "aom_iam_endpoint", "slack_api_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value)

    @model_validator(mode="after")
    def _check_poll_bounds(self) -> Settings:
        if self.aom_bot_poll_min_seconds > self.aom_bot_poll_max_seconds:
            raise ValueError(
                "AOM_BOT_POLL_MIN_SECONDS must not be greater than AOM_BOT_POLL_MAX_SECONDS"
            )
        return self

    def __repr_args__(self):  # type: ignore[no-untyped-def]
        # SecretStr already masks itself; this keeps the repr short and readable.
        return [(k, v) for k, v in super().__repr_args__() if v not in (None, [], {})]

    # --- derived, with one clear error per missing or contradictory setting ------------------

    def aom_auth(self) -> AomAuthSettings:
        """The one way to authenticate to AOM that the settings describe."""
        aksk = self.cloud_sdk_ak is not None or self.cloud_sdk_sk is not None
        iam = any(
            v is not None for v in (self.aom_iam_user, self.aom_iam_password, self.aom_iam_domain)
        )
        chosen = [
            name
            for name, on in (
                ("CLOUD_SDK_AK/CLOUD_SDK_SK", aksk),
                ("AOM_TOKEN", self.aom_token is not None),
                ("AOM_IAM_USER/AOM_IAM_PASSWORD/AOM_IAM_DOMAIN", iam),
            )
            if on
        ]
        if not chosen:
            raise ConfigError(
                "No AOM credentials configured.",
                hint="Set CLOUD_SDK_AK and CLOUD_SDK_SK, or AOM_TOKEN, or AOM_IAM_USER, "
                "AOM_IAM_PASSWORD and AOM_IAM_DOMAIN.",
            )
        if len(chosen) > 1:
            raise ConfigError(
                f"Contradictory AOM credentials: {' and '.join(chosen)} are all set.",
                hint="Keep exactly one way of authenticating.",
            )
        if aksk:
            if self.cloud_sdk_ak is None or self.cloud_sdk_sk is None:
                missing = "CLOUD_SDK_SK" if self.cloud_sdk_sk is None else "CLOUD_SDK_AK"
                raise ConfigError(f"{missing} is not set.", hint="AK/SK signing needs both keys.")
            return AkSkCredentials(
                ak=self.cloud_sdk_ak.get_secret_value(),
                sk=self.cloud_sdk_sk,
                security_token=self.cloud_sdk_security_token,
            )
        if self.aom_token is not None:
            return StaticTokenCredentials(self.aom_token)
        return self._iam_auth()

    def _iam_auth(self) -> IamPasswordCredentials | IamAgencyCredentials:
        """The IAM user (and agency) the settings describe, or one ConfigError."""
        missing_iam = [
            name
            for name, value in (
                ("AOM_IAM_USER", self.aom_iam_user),
                ("AOM_IAM_PASSWORD", self.aom_iam_password),
                ("AOM_IAM_DOMAIN", self.aom_iam_domain),
            )
            if value is None
        ]
        if missing_iam:
            raise ConfigError(
                f"{', '.join(missing_iam)} not set.",
                hint="Token-from-IAM needs AOM_IAM_USER, AOM_IAM_PASSWORD and AOM_IAM_DOMAIN.",
            )
        user = IamPasswordCredentials(
            str(self.aom_iam_user), self.aom_iam_password or SecretStr(""), str(self.aom_iam_domain)
        )
        if (self.aom_iam_agency_domain is None) != (self.aom_iam_agency_name is None):
            raise ConfigError(
                "AOM_IAM_AGENCY_DOMAIN and AOM_IAM_AGENCY_NAME must be set together.",
            )
        if self.aom_iam_agency_domain and self.aom_iam_agency_name:
            return IamAgencyCredentials(user, self.aom_iam_agency_domain, self.aom_iam_agency_name)
        return user

    def project_id(self) -> str:
        """``AOM_PROJECT_ID``, required for every AOM call."""
        if not self.aom_project_id:
            raise ConfigError(
                "AOM_PROJECT_ID is not set.",
                hint="Use the IAM project id of the region (console: My Credentials > Projects).",
            )
        return self.aom_project_id

    def aom_endpoint_url(self) -> str:
        """``AOM_ENDPOINT``, else the public endpoint of ``AOM_REGION``."""
        if self.aom_endpoint:
            return self.aom_endpoint
        if self.aom_region:
            return region_endpoint(self.aom_region)
        raise ConfigError("Neither AOM_REGION nor AOM_ENDPOINT is set.", hint="Set AOM_REGION.")

    def check_aom(self) -> None:
        """Raise one ConfigError listing every AOM setting that is missing or contradictory."""
        problems: list[str] = []
        for check in (self.aom_auth, self.project_id, self.aom_endpoint_url):
            try:
                check()
            except ConfigError as exc:
                problems.append(exc.user_message())
        if len(problems) == 1:
            raise ConfigError(problems[0])
        if problems:
            raise ConfigError("AOM is not configured: " + " ".join(problems))

    def secret_values(self) -> tuple[str, ...]:
        """Every configured secret value (credentials, tokens, URL passwords), for masking
        anything the bot prints, logs or sends to Slack."""
        values = [
            secret.get_secret_value()
            for secret in (
                self.cloud_sdk_ak,
                self.cloud_sdk_sk,
                self.cloud_sdk_security_token,
                self.aom_token,
                self.aom_iam_password,
                self.slack_bot_token,
                self.slack_signing_secret,
                self.slack_app_token,
            )
            if secret is not None
        ]
        for url in (self.aom_bot_database_url, self.aom_endpoint, self.aom_iam_endpoint):
            password = _url_password(url)
            if password:
                values.append(password)
        return tuple(v for v in values if v)

    def database_url(self) -> str:
        """``AOM_BOT_DATABASE_URL``, else a SQLite file in the state directory."""
        if self.aom_bot_database_url:
            return self.aom_bot_database_url
        return f"sqlite:///{self.aom_bot_state_dir / 'aom-bot.sqlite3'}"


def _url_password(url: str | None) -> str | None:
    """The password of ``scheme://user:password@host…``, if any (also when the URL is invalid)."""
    match = re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s]*?:([^/@\s]*)@", url or "")
    return unquote(match.group(1)) if match and match.group(1) else None


def _env_name(loc: tuple[int | str, ...]) -> str:
    return str(loc[0]).upper() if loc else "configuration"


def check_env_file(path: Path) -> None:
    """A ``.env`` that exists must be readable UTF-8 text: one clear ConfigError otherwise
    (python-dotenv would fail deep inside pydantic-settings with a long traceback)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ConfigError(
            f"Cannot read {path.absolute()}: {exc.strerror or type(exc).__name__}.",
            hint="Make it a readable file, or remove it and use environment variables.",
        ) from None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:200]
        what = "UTF-16 (as PowerShell's > writes)" if utf16 else f"invalid at byte {exc.start}"
        raise ConfigError(
            f"Cannot read {path.absolute()}: it is {what}, not UTF-8 text.",
            hint="Save it as UTF-8, e.g. PowerShell: Set-Content -Encoding utf8 .env.",
        ) from None


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment (and ``.env``), or fail with one clear ConfigError."""
    check_env_file(Path(ENV_FILE))
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
            loc = tuple(error.get("loc", ()))
            problems.append(f"{_env_name(loc)}: {message}" if loc else message)
        raise ConfigError(
            "Invalid configuration: " + "; ".join(problems) + ".",
            hint="See the README's configuration table.",
        ) from None
