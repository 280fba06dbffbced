"""Reading the deployment files as a platform would: YAML documents, the CLI's own parser."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import typer.main
import yaml
from dockerfile_parse import DockerfileParser

from aom_bot.cli import app
from aom_bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_FILE = ROOT / "deploy" / "docker-compose.yml"
KUBERNETES_DIR = ROOT / "deploy" / "kubernetes"

#: settings that hold a credential although typed ``str``: the DSN carries the DB password
CREDENTIAL_STRINGS = frozenset({"AOM_BOT_DATABASE_URL"})


def credential_names() -> frozenset[str]:
    """Every environment variable that holds a secret: the ``SecretStr`` settings and the DSN."""
    secret = {
        name.upper()
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    }
    return frozenset(secret | CREDENTIAL_STRINGS)


def setting_names() -> frozenset[str]:
    """Every environment variable the bot reads (pydantic ignores unknown ones silently)."""
    return frozenset(name.upper() for name in Settings.model_fields)


def image_entrypoint() -> list[str]:
    """The exec-form ENTRYPOINT of the Dockerfile's final stage."""
    parser = DockerfileParser(path=str(DOCKERFILE))
    found = [i for i in final_stage(parser.structure) if i["instruction"] == "ENTRYPOINT"]
    assert found, "the final stage has no ENTRYPOINT"
    words = yaml.safe_load(found[-1]["value"])  # exec form is a JSON array
    assert isinstance(words, list), "ENTRYPOINT must be in exec form (a JSON array)"
    return [str(w) for w in words]


def final_stage(structure: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The instructions after the last FROM."""
    starts = [n for n, i in enumerate(structure) if i["instruction"] == "FROM"]
    assert starts, "no FROM in the Dockerfile"
    return structure[starts[-1] :]


def parse_cli(argv: list[str]) -> dict[str, Any]:
    """Parse ``aom-bot ARGV`` with the real command line, without running anything; the params.

    Raises the CLI's usage error for an unknown option or a bad value, as ``aom-bot`` would.
    """
    assert argv, "no command"
    assert argv[0] == "aom-bot", argv
    group: Any = typer.main.get_command(app)  # typer's own (vendored) click group
    name, *rest = argv[1:]
    command = group.commands.get(name)
    assert command is not None, f"aom-bot has no command {name!r}"
    params: dict[str, Any] = command.make_context(name, rest).params
    return params


def option(argv: list[str], flag: str) -> str | None:
    """The last value given for ``flag`` (as click reads it: the last one wins)."""
    values = [argv[n + 1] for n, word in enumerate(argv[:-1]) if word == flag]
    return values[-1] if values else None


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    """Every non-empty YAML document of ``path``."""
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def words(command: str | list[str]) -> list[str]:
    """A compose ``command``/``entrypoint`` as a list of words (string form split like a shell)."""
    return shlex.split(command) if isinstance(command, str) else [str(w) for w in command]
