"""The layers' import rules hold for aom_bot, and the checker catches each rule broken.

The rules and what counts as an import are in ``tests/core/imports_check.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aom_bot
from tests.core.imports_check import (
    core_outward_violations,
    core_violations,
    import_cycles,
    read_imports,
    simulator_violations,
    slack_violations,
)

PACKAGE = Path(aom_bot.__file__).parent


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    """A synthetic ``aom_bot`` package under ``tmp_path``: path → source; packages get an
    ``__init__.py`` unless given."""
    root = tmp_path / "aom_bot"
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()
    return root


# ---- the real package ----------------------------------------------------------------------


def test_the_checker_reads_the_package() -> None:
    """Not vacuous: it sees the package's imports, at module level and inside functions."""
    imports = read_imports(PACKAGE)
    assert any(i.source == "aom_bot.slack.notifier" and i.target == "slack_sdk.errors"
               for i in imports)  # fmt: skip
    assert any(i.source == "aom_bot.store" and not i.module_level for i in imports)
    assert any(i.type_only for i in imports)


def test_the_core_imports_no_slack_http_database_or_starlette() -> None:
    """render/, aom.models/ids/links/signing, follow.policy, config, errors, records, profiles."""
    assert core_violations(PACKAGE) == []


def test_the_core_imports_only_the_core() -> None:
    """render/ shows follows and subscriptions from ``records``, not from the store."""
    assert core_outward_violations(PACKAGE) == []


def test_the_follow_engine_and_the_terminal_never_import_slack() -> None:
    assert slack_violations(PACKAGE) == []


def test_the_simulator_uses_only_signing_and_errors() -> None:
    assert simulator_violations(PACKAGE) == []


def test_no_import_cycles() -> None:
    assert import_cycles(PACKAGE) == []


def test_importing_the_simulator_loads_no_other_module_of_the_package() -> None:
    """At runtime too (lazy ``__getattr__`` imports are invisible to ``ast``): a fresh
    interpreter importing the simulator has loaded only what the rule allows."""
    code = (
        "import sys, aom_bot.simulator\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith('aom_bot'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.strip().split(","))
    allowed = {"aom_bot", "aom_bot.aom", "aom_bot.aom.signing", "aom_bot.errors"}
    assert {m for m in loaded if not m.startswith("aom_bot.simulator")} <= allowed


# ---- each rule, broken on purpose ------------------------------------------------------------


def test_core_rule_catches_a_direct_and_a_lazy_slack_import(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "render/card.py": "import slack_sdk\n",
            "config.py": "def f():\n    import httpx\n",
            "aom/models.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import asyncpg\n",
            "slack/app.py": "import slack_bolt\n",  # an edge may: not reported
        },
    )
    assert core_violations(root) == [
        "aom_bot.config:2 imports httpx",
        "aom_bot.render.card:1 imports slack_sdk",
    ]


def test_core_rule_catches_a_database_import_through_another_module(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "follow/policy.py": "from aom_bot.helpers import util\n",
            "helpers/util.py": "import aiosqlite\n",
        },
    )
    assert core_violations(root) == [
        "aom_bot.follow.policy -> aom_bot.helpers.util: aom_bot.helpers.util:1 imports aiosqlite"
    ]


def test_core_outward_rule_catches_render_importing_the_store(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "render/subscriptions.py": "from aom_bot.store.base import Follow\n"
            "from aom_bot.records import Subscription\n",
            "store/base.py": "",
            "records.py": "",
        },
    )
    assert core_outward_violations(root) == [
        "aom_bot.render.subscriptions:1 imports aom_bot.store.base"
    ]


def test_slack_rule_catches_the_terminal_and_the_engine(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "console.py": "def f():\n    from aom_bot.slack.grammar import parse\n",
            "follow/engine.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from aom_bot.slack import notifier\n",
            "slack/grammar.py": "",
            "slack/notifier.py": "",
            "bot.py": "import aom_bot.slack.grammar\n",  # composition may: not reported
        },
    )
    assert slack_violations(root) == [
        "aom_bot.console:2 imports aom_bot.slack.grammar",
        "aom_bot.follow.engine:3 imports aom_bot.slack.notifier",
    ]


def test_simulator_rule_catches_models_and_a_package_init(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "simulator/world.py": "from aom_bot.errors import AomBotError\n"
            "from aom_bot.aom.signing import sign\n"
            "def f():\n    from aom_bot.aom import models\n",
            "simulator/app.py": "from aom_bot.simulator import world\n",
            "errors.py": "",
            "aom/signing.py": "",
            "aom/models.py": "",
            # the package __init__ runs when signing is imported, and pulls in the client
            "aom/__init__.py": "from aom_bot.aom import client\n",
            "aom/client.py": "",
        },
    )
    assert simulator_violations(root) == [
        "aom_bot.simulator.app -> aom_bot.simulator.world -> aom_bot.aom.signing -> aom_bot.aom"
        " -> aom_bot.aom.client",
        "aom_bot.simulator.world -> aom_bot.aom.signing -> aom_bot.aom -> aom_bot.aom.client",
        "aom_bot.simulator.world:4 imports aom_bot.aom.models",
    ]


def test_cycle_rule_catches_a_circle_but_not_lazy_or_typing_imports(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "a.py": "from aom_bot import b\n",
            "b.py": "from . import c\n",  # relative imports resolve too
            "c.py": "import aom_bot.a\n",
            "d.py": "from aom_bot import e\n",
            "e.py": "def f():\n    from aom_bot import d\n",
            "g.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from aom_bot import h\n",
            "h.py": "from aom_bot import g\n",
        },
    )
    assert import_cycles(root) == [["aom_bot.a", "aom_bot.b", "aom_bot.c"]]
