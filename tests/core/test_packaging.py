"""Packaging metadata users and tools read: the SPDX licence, the licence file, the version."""

from __future__ import annotations

import tomllib
from importlib.metadata import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_license_is_declared_as_spdx_with_its_file() -> None:
    """`license = "MIT"` (not the deprecated table) plus LICENSE, built by a setuptools that
    understands them; the installed metadata says the same."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
    assert project["project"]["license-files"] == ["LICENSE"]
    [setuptools] = [r for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    floor = tuple(int(p) for p in setuptools.split(">=", 1)[1].split("."))
    assert floor >= (77,)  # PEP 639 support
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert "aom-bot contributors" in text
    installed = metadata("aom-bot")
    assert installed["License-Expression"] == "MIT"
    assert "LICENSE" in (installed.get_all("License-File") or [])
