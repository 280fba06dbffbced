"""Reading the configuration: the file (AOM_BOT_CONFIG, else ./aom-bot.toml) or the environment.

Without a file the bot is what it always was: one profile, ``default``, from the environment,
and everyone may read, follow and subscribe. With a file, every problem found is reported at
once in one :class:`ConfigError` naming the file and each key; secrets are never quoted.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from aom_bot.config import Settings, region_endpoint
from aom_bot.errors import ConfigError
from aom_bot.profiles.credentials import (
    CREDENTIAL_KEYS,
    inline_secret_problems,
    resolve_credentials,
)
from aom_bot.profiles.model import (
    ANY,
    DEFAULT_PROFILE,
    AllowRule,
    BotConfig,
    Policy,
    Profile,
    env_profile,
    environment_configures_aom,
)
from aom_bot.profiles.schema import ConfigFile, ProfileTable, RuleTable, describe_errors

__all__ = ["CONFIG_FILE", "config_path", "load_bot_config"]

#: the file looked for in the working directory when AOM_BOT_CONFIG is not set
CONFIG_FILE = "aom-bot.toml"
_MAX_FILE = 1024 * 1024
_HINT = "Fix the file (`aom-bot config check FILE` checks it without starting the bot)."
_PROFILE_KEYS = frozenset(ProfileTable.model_fields)


def config_path(
    settings: Settings, *, path: Path | None = None, cwd: Path | None = None
) -> Path | None:
    """The file to read: ``path``, else AOM_BOT_CONFIG, else ./aom-bot.toml if it exists."""
    base = cwd if cwd is not None else Path.cwd()
    chosen = path if path is not None else settings.aom_bot_config
    if chosen is None:
        candidate = base / CONFIG_FILE
        return candidate if candidate.is_file() else None
    return chosen if chosen.is_absolute() else base / chosen


def load_bot_config(
    settings: Settings,
    *,
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> BotConfig:
    """The configuration in force: from the file when there is one, else from the environment.
    Secret files and variables are read now (so loading again is a reload)."""
    source = config_path(settings, path=path, cwd=cwd)
    if source is None:
        return BotConfig(
            profiles={DEFAULT_PROFILE: env_profile(settings)},
            default_profile=DEFAULT_PROFILE,
            policy=Policy.open(),
        )
    raw = _read_toml(source)
    problems: list[str] = []
    config = _build(raw, settings, os.environ if environ is None else environ, problems, source)
    if problems or config is None:
        raise _file_error(source, problems)
    return config


def _file_error(source: Path, problems: list[str]) -> ConfigError:
    if len(problems) == 1:
        return ConfigError(f"{source}: {problems[0]}.", hint=_HINT)
    listed = "".join(f"\n  - {problem}" for problem in problems)
    return ConfigError(f"{source} has {len(problems)} problems:{listed}\n{_HINT}")


def _read_toml(source: Path) -> dict[str, object]:
    try:
        with source.open("rb") as handle:
            data = handle.read(_MAX_FILE + 1)
    except FileNotFoundError:
        raise ConfigError(
            f"{source}: the configuration file does not exist.",
            hint="Check AOM_BOT_CONFIG (or unset it to use the environment only).",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{source}: cannot read the configuration file ({exc.strerror or type(exc).__name__})."
        ) from None
    if len(data) > _MAX_FILE:
        raise ConfigError(f"{source}: larger than 1 MiB; this is not a configuration file.")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text (invalid at byte {exc.start}).") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line L, column C)"; the text there is not quoted.
        raise ConfigError(f"{source}: invalid TOML: {exc}.", hint=_HINT) from None


def _without_inline_secrets(raw: dict[str, object], problems: list[str]) -> set[str]:
    """Refuse (and drop) secrets written into profile tables, before anything else reads them;
    return the credentials tables that had some (what is left of them is not judged)."""
    profiles = raw.get("profiles")
    emptied: set[str] = set()
    if not isinstance(profiles, dict):
        return emptied
    for name, table in profiles.items():
        if not isinstance(table, dict):
            continue
        problems += inline_secret_problems(table, f"profiles.{name}", known=_PROFILE_KEYS)
        credentials = table.get("credentials")
        if isinstance(credentials, dict):
            path = f"profiles.{name}.credentials"
            found = inline_secret_problems(credentials, path, known=CREDENTIAL_KEYS)
            if found:
                problems += found
                emptied.add(path)
    return emptied


def _build(
    raw: dict[str, object],
    settings: Settings,
    environ: Mapping[str, str],
    problems: list[str],
    source: Path,
) -> BotConfig | None:
    refused = _without_inline_secrets(raw, problems)
    try:
        parsed = ConfigFile.model_validate(raw)
    except ValidationError as exc:
        # "no credentials given" after the inline ones were refused would only repeat them
        problems += [p for p in describe_errors(exc) if p.split(": ", 1)[0] not in refused]
        return None
    profiles = _profiles(parsed, settings, environ, problems)
    _check_references(parsed, set(profiles), problems)
    if problems:
        return None
    return BotConfig(
        profiles=profiles,
        default_profile=parsed.default_profile,
        channels=parsed.channels,
        policy=Policy(tuple(_rule(rule) for rule in parsed.allow)),
        source=source,
    )


def _profiles(
    parsed: ConfigFile, settings: Settings, environ: Mapping[str, str], problems: list[str]
) -> dict[str, Profile]:
    profiles: dict[str, Profile] = {}
    if DEFAULT_PROFILE not in parsed.profiles and environment_configures_aom(settings):
        try:
            profiles[DEFAULT_PROFILE] = env_profile(settings)
        except ConfigError as exc:
            problems.append(
                f"the environment's profile {DEFAULT_PROFILE!r} (AOM_* and CLOUD_SDK_* settings, "
                f"used next to the file): {exc.user_message(cli=True)}"
            )
    for name, table in parsed.profiles.items():
        path = f"profiles.{name}.credentials"
        resolved = resolve_credentials(table.credentials, path, environ, problems)
        if resolved is None:
            continue
        credentials, credential_source = resolved
        profiles[name] = Profile(
            name=name,
            region=table.region,
            project_id=table.project_id,
            endpoint=table.endpoint or region_endpoint(table.region),
            iam_endpoint=table.iam_endpoint,
            console_url=table.console_url,
            credentials=credentials,
            credential_source=credential_source,
            two_person=frozenset(table.two_person),
        )
    return profiles


def _check_references(parsed: ConfigFile, usable: set[str], problems: list[str]) -> None:
    """default_profile, channel bindings and rules must name profiles that exist."""
    known = set(parsed.profiles) | usable
    names = ", ".join(sorted(known)) or "none"

    def unknown(name: str) -> str:
        return f"there is no profile {name!r} (profiles: {names})"

    if parsed.default_profile not in known:
        hint = ""
        if parsed.default_profile == DEFAULT_PROFILE:
            hint = (
                "; set default_profile to one of them, or define [profiles.default] "
                "(or configure AOM in the environment)"
            )
        problems.append(f"default_profile: {unknown(parsed.default_profile)}{hint}")
    for channel, name in parsed.channels.items():
        if name not in known:
            problems.append(f"channels.{channel}: {unknown(name)}")
    for number, rule in enumerate(parsed.allow, start=1):
        for index, name in enumerate(rule.profiles, start=1):
            if name != ANY and name not in known:
                problems.append(f"allow[{number}].profiles[{index}]: {unknown(name)}")


def _rule(rule: RuleTable) -> AllowRule:
    return AllowRule(
        profiles=frozenset(rule.profiles),
        actions=frozenset(rule.actions),
        channels=frozenset(rule.channels),
        users=frozenset(rule.users) if rule.users is not None else None,
        groups=frozenset(rule.groups) if rule.groups is not None else None,
    )
