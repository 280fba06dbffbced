"""What a loaded configuration is: profiles, the access policy, and channel bindings.

A :class:`Profile` is one AOM project in one region with its own credentials; a :class:`Policy`
says who may do what where; a :class:`BotConfig` ties them together and answers "which profile
does this channel (or this ``--profile``) mean". All of it is immutable: a reload builds a new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from aom_bot.config import (
    AkSkCredentials,
    AomAuthSettings,
    IamAgencyCredentials,
    Settings,
    StaticTokenCredentials,
)
from aom_bot.errors import UnknownProfileError

__all__ = [
    "ANY",
    "DEFAULT_PROFILE",
    "AllowRule",
    "BotConfig",
    "Permission",
    "Policy",
    "Profile",
    "env_profile",
    "environment_configures_aom",
]

#: the profile built from the environment (AOM_*, CLOUD_SDK_*), and the default default_profile
DEFAULT_PROFILE = "default"
#: in a rule's ``profiles`` or ``channels``: any
ANY = "*"


class Permission(StrEnum):
    """What a rule may allow (the names the configuration file uses in ``actions``)."""

    READ = "read"
    FOLLOW = "follow"
    SUBSCRIBE = "subscribe"
    TERMINATE = "terminate"
    RETRY = "retry"
    RUN = "run"


#: what everyone may do when there is no configuration file (today's behaviour)
OPEN_PERMISSIONS = frozenset({Permission.READ, Permission.FOLLOW, Permission.SUBSCRIBE})
#: permissions that act on executions (``two_person`` may name only these)
ACTIONS = frozenset({Permission.TERMINATE, Permission.RETRY, Permission.RUN})


def _credential_secrets(credentials: AomAuthSettings) -> tuple[str, ...]:
    if isinstance(credentials, AkSkCredentials):
        token = credentials.security_token
        values = [credentials.ak, credentials.sk.get_secret_value()]
        values += [token.get_secret_value()] if token else []
    elif isinstance(credentials, StaticTokenCredentials):
        values = [credentials.token.get_secret_value()]
    else:
        user = credentials.user if isinstance(credentials, IamAgencyCredentials) else credentials
        values = [user.password.get_secret_value()]
    return tuple(v for v in values if v)


@dataclass(frozen=True, kw_only=True)
class Profile:
    """One AOM project in one region, reached with its own credentials."""

    name: str
    #: "" only for the environment's profile when AOM_REGION is unset (AOM_ENDPOINT given)
    region: str
    project_id: str
    #: AOM base URL: the given one, else the region's public endpoint
    endpoint: str
    #: IAM base URL when given; else the client derives it from the region
    iam_endpoint: str | None = None
    #: template of "Open in console" links (placeholders as AOM_CONSOLE_URL)
    console_url: str | None = None
    #: resolved secrets (SecretStr): read from the environment or files when loaded
    credentials: AomAuthSettings = field(repr=False, compare=True)
    #: where the credentials come from, for people: never the secret itself
    credential_source: str
    #: actions that need a second person's approval (issue 13)
    two_person: frozenset[Permission] = frozenset()

    def __repr__(self) -> str:
        return (
            f"Profile(name={self.name!r}, region={self.region!r}, "
            f"project_id={self.project_id!r}, endpoint={self.endpoint!r}, "
            f"credentials={self.credential_source!r})"
        )

    def secret_values(self) -> tuple[str, ...]:
        """The secret values of this profile's credentials, for masking output and logs."""
        return _credential_secrets(self.credentials)

    def same_endpoints(self, other: Profile) -> bool:
        """Whether ``other`` reaches the same AOM project the same way (a client can be kept)."""
        return (self.region, self.project_id, self.endpoint, self.iam_endpoint) == (
            other.region,
            other.project_id,
            other.endpoint,
            other.iam_endpoint,
        )


def _matches(allowed: frozenset[str], value: str) -> bool:
    return ANY in allowed or value in allowed


@dataclass(frozen=True)
class AllowRule:
    """One ``[[allow]]`` table: these actions, in these profiles and channels, for these people
    (everyone when neither ``users`` nor ``groups`` is given)."""

    profiles: frozenset[str]
    actions: frozenset[Permission]
    channels: frozenset[str] = frozenset({ANY})
    users: frozenset[str] | None = None
    groups: frozenset[str] | None = None

    @property
    def restricted(self) -> bool:
        """Whether only the listed users or group members get it."""
        return self.users is not None or self.groups is not None

    def covers(self, permission: Permission, *, profile: str, channel_id: str) -> bool:
        """The rule is about this permission in this profile and channel (whoever asks)."""
        return (
            permission in self.actions
            and _matches(self.profiles, profile)
            and _matches(self.channels, channel_id)
        )

    def admits(self, user_id: str, user_groups: frozenset[str]) -> bool:
        """The person is one the rule is for."""
        if not self.restricted:
            return True
        return (self.users is not None and user_id in self.users) or bool(
            self.groups is not None and self.groups & user_groups
        )


@dataclass(frozen=True)
class Policy:
    """Who may do what, where: rules only add; what no rule allows is denied."""

    rules: tuple[AllowRule, ...] = ()

    @classmethod
    def open(cls) -> Policy:
        """Everyone may read, follow and subscribe everywhere; nobody may act (no file)."""
        return cls((AllowRule(frozenset({ANY}), OPEN_PERMISSIONS),))

    def allows(
        self,
        permission: Permission,
        *,
        profile: str,
        channel_id: str,
        user_id: str,
        user_groups: frozenset[str] = frozenset(),
    ) -> bool:
        """Whether some rule gives ``user_id`` (member of ``user_groups``) this permission."""
        return any(
            rule.covers(permission, profile=profile, channel_id=channel_id)
            and rule.admits(user_id, user_groups)
            for rule in self.rules
        )

    def needs_groups(
        self, permission: Permission, *, profile: str, channel_id: str, user_id: str
    ) -> bool:
        """True when the answer depends on the user's groups: no rule allows it by the user's
        ID alone, but a group-restricted rule could. Only then is membership worth looking up."""
        if self.allows(permission, profile=profile, channel_id=channel_id, user_id=user_id):
            return False
        return any(
            rule.groups is not None
            and rule.covers(permission, profile=profile, channel_id=channel_id)
            for rule in self.rules
        )

    def anyone_may(self, permission: Permission, *, profile: str, channel_id: str) -> bool:
        """Whether someone could be allowed this here (so a button for it is worth showing)."""
        return any(
            rule.covers(permission, profile=profile, channel_id=channel_id) for rule in self.rules
        )

    @property
    def group_ids(self) -> frozenset[str]:
        """Every Slack user group some rule names (whose membership the bot must read)."""
        return frozenset().union(*(rule.groups or () for rule in self.rules))


@dataclass(frozen=True)
class BotConfig:
    """The loaded configuration: profiles (in file order), bindings, policy, and its file."""

    profiles: Mapping[str, Profile]
    default_profile: str
    channels: Mapping[str, str] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy.open)
    #: the file it was read from; None = the environment only
    source: Path | None = None

    def __post_init__(self) -> None:
        # Read-only views: a BotConfig is shared by every listener and never changes.
        object.__setattr__(self, "profiles", MappingProxyType(dict(self.profiles)))
        object.__setattr__(self, "channels", MappingProxyType(dict(self.channels)))
        if self.default_profile not in self.profiles:
            raise UnknownProfileError(self.default_profile, self.names)

    @property
    def names(self) -> tuple[str, ...]:
        """The profile names, in order."""
        return tuple(self.profiles)

    @property
    def several(self) -> bool:
        """More than one profile: cards and lists then show which one they are about."""
        return len(self.profiles) > 1

    def profile_for(self, channel_id: str | None, explicit: str | None = None) -> Profile:
        """The profile named ``explicit`` (``--profile``), else the channel's, else the default."""
        if explicit is not None:
            found = self.profiles.get(explicit)
            if found is None:
                raise UnknownProfileError(explicit, self.names)
            return found
        bound = self.channels.get(channel_id or "", self.default_profile)
        return self.profiles.get(bound) or self.profiles[self.default_profile]

    def channels_of(self, profile: str) -> tuple[str, ...]:
        """The channels bound to ``profile``."""
        return tuple(channel for channel, name in self.channels.items() if name == profile)

    def secret_values(self) -> tuple[str, ...]:
        """Every profile's secret values, for masking output and logs."""
        return tuple(v for profile in self.profiles.values() for v in profile.secret_values())


def environment_configures_aom(settings: Settings) -> bool:
    """Whether the environment sets up an AOM project (credentials or AOM_PROJECT_ID): then,
    next to a configuration file, it is the profile ``default``."""
    return any(
        value is not None
        for value in (
            settings.cloud_sdk_ak,
            settings.cloud_sdk_sk,
            settings.aom_token,
            settings.aom_iam_user,
            settings.aom_iam_password,
            settings.aom_iam_domain,
            settings.aom_project_id,
        )
    )


def _environment_source(credentials: AomAuthSettings) -> str:
    if isinstance(credentials, AkSkCredentials):
        token = "/CLOUD_SDK_SECURITY_TOKEN" if credentials.security_token else ""
        return f"environment (CLOUD_SDK_AK/CLOUD_SDK_SK{token})"
    if isinstance(credentials, StaticTokenCredentials):
        return "environment (AOM_TOKEN)"
    source = "environment (IAM user AOM_IAM_USER/AOM_IAM_PASSWORD"
    if isinstance(credentials, IamAgencyCredentials):
        source += f", agency {credentials.agency_domain}/{credentials.agency_name}"
    return source + ")"


def env_profile(settings: Settings, name: str = DEFAULT_PROFILE) -> Profile:
    """The profile the environment describes (what one bot served before profiles existed);
    a ConfigError names what is missing, as before."""
    settings.check_aom()
    credentials = settings.aom_auth()
    return Profile(
        name=name,
        region=settings.aom_region or "",
        project_id=settings.project_id(),
        endpoint=settings.aom_endpoint_url(),
        iam_endpoint=settings.aom_iam_endpoint,
        console_url=settings.aom_console_url,
        credentials=credentials,
        credential_source=_environment_source(credentials),
    )
