"""aom-bot: a Slack chat-ops bot for Huawei Cloud AOM 2.0 automation.

Run ``aom-bot --help`` for the command line; the package's layers are ``aom`` (client and models),
``render`` (pure Block Kit / terminal rendering), ``follow`` and ``store`` (state and timing),
``slack`` and ``cli`` (the edges), and ``simulator`` (a stand-in AOM for tests and demos).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("aom-bot")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
