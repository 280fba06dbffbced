"""``aom-bot profiles`` and ``aom-bot config check``: the configuration file, seen from a terminal.

Both only read (the file, secret files, the environment): nothing is started or contacted.
Registered on the main app by :mod:`aom_bot.cli`, whose helpers they use.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from aom_bot.errors import ConfigError

if TYPE_CHECKING:
    from aom_bot.profiles import BotConfig

__all__ = ["config_app", "profile_rows", "profiles", "profiles_table", "summary"]

config_app = typer.Typer(
    name="config",
    help="The profiles and access policy file (AOM_BOT_CONFIG, else ./aom-bot.toml).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary(config: BotConfig) -> str:
    """``N profiles, M channel bindings, K rules``."""
    return ", ".join(
        (
            _plural(len(config.profiles), "profile"),
            _plural(len(config.channels), "channel binding"),
            _plural(len(config.policy.rules), "rule"),
        )
    )


def _where(config: BotConfig) -> str:
    if config.source is None:
        return "the environment (no configuration file: everyone may read, follow and subscribe)"
    return str(config.source)


def profile_rows(config: BotConfig) -> list[dict[str, object]]:
    """One plain dict per profile, in order; never a secret (only where secrets come from)."""
    return [
        {
            "name": profile.name,
            "default": profile.name == config.default_profile,
            "region": profile.region,
            "project_id": profile.project_id,
            "endpoint": profile.endpoint,
            "credential_source": profile.credential_source,
            "channels": list(config.channels_of(profile.name)),
            "two_person": sorted(profile.two_person),
        }
        for profile in config.profiles.values()
    ]


def profiles_table(config: BotConfig) -> Text:
    """The profiles for the terminal, readable at 80 columns: one line per profile (name,
    region, project), then where its credentials come from and its channels. Plain Text:
    nothing in it is read as markup."""
    rows = profile_rows(config)
    name_width = max(len(str(row["name"])) for row in rows)
    region_width = max(len(str(row["region"]) or "-") for row in rows)
    text = Text(f"profiles from {_where(config)}; default: {config.default_profile}\n\n")
    for row in rows:
        channels = row["channels"]
        bound = ", ".join(str(c) for c in channels) if isinstance(channels, list) else ""
        text.append(str(row["name"]).ljust(name_width), style="bold")
        text.append(f"  {(str(row['region']) or '-').ljust(region_width)}  {row['project_id']}\n")
        indent = " " * (name_width + 2)
        text.append(f"{indent}credentials  {row['credential_source']}\n")
        text.append(f"{indent}channels     {bound or '-'}\n")
    return text


def _load(file: Path | None) -> BotConfig:
    from aom_bot.cli_common import ExitCode
    from aom_bot.cli_common import fail as _fail
    from aom_bot.cli_common import load_cli_settings as _settings
    from aom_bot.profiles import CONFIG_FILE, config_path, load_bot_config

    no_file = False
    try:
        settings = _settings(quiet=True)
        no_file = config_path(settings, path=file) is None
        return load_bot_config(settings, path=file)
    except ConfigError as exc:
        message = exc.user_message(cli=True)
        if no_file:
            message = (
                f"No configuration file (AOM_BOT_CONFIG is not set and there is no ./{CONFIG_FILE}),"
                f" so the one profile comes from the environment: {message}"
            )
        _fail(ExitCode.USAGE, message)


def profiles(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the profiles as JSON (no secrets).")
    ] = False,
) -> None:
    """List the AOM profiles: name, region, project, where the credentials come from (never the
    secret) and the channels bound to each."""
    from aom_bot.cli_common import print_json as _print_json

    config = _load(None)
    if as_json:
        _print_json(profile_rows(config))
        return
    Console(highlight=False).print(profiles_table(config))


@config_app.command("check")
def check(
    file: Annotated[
        Path | None,
        typer.Argument(help="The file to check (default: AOM_BOT_CONFIG, else ./aom-bot.toml)."),
    ] = None,
) -> None:
    """Validate the configuration file without starting the bot or contacting anything: exit 0
    with a summary, or 2 naming each problem. Referenced secret files and variables are read."""
    config = _load(file)
    sys.stdout.write(f"{_where(config)}: OK, {summary(config)}\n")
