"""What ``/healthz`` reports: healthy, or 503 with the reasons why not.

The bot is unhealthy while any of these holds, and healthy again as soon as none does:

- a long-running task (follow engine, discovery, the Socket Mode connection…) has stopped;
- the store fails: a call failed in the last ``store_window`` seconds, one has been waiting
  longer than ``store_slow_after`` seconds, or the probe made for the request fails;
- every AOM profile is unreachable (its last request failed to connect, timed out or got 5xx);
- the Slack connection is down (Socket Mode).

No Starlette, no HTTP here: :mod:`aom_bot.slack.http` serves the report.

::

    health = Health()
    health.watch_task("follow engine", engine_task)
    health.add_check(store_monitor.problem)
    report = await health.report()   # HealthReport(healthy=False, reasons=("…",))
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Check", "Health", "HealthReport"]

#: a condition: ``None`` while fine, else the reason it is not, for a person to read
Check = Callable[[], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The answer of ``/healthz``: ``healthy`` and, when not, why."""

    healthy: bool
    reasons: tuple[str, ...] = ()


class Health:
    """The conditions of the bot's health, checked when asked (every ``/healthz`` request)."""

    def __init__(self, *, check_timeout: float = 3.0) -> None:
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._checks: list[Check] = []
        self._check_timeout = check_timeout

    def watch_task(self, name: str, task: asyncio.Task[Any]) -> None:
        """``task`` runs until the bot stops: once it has ended the bot is unhealthy."""
        self._tasks[name] = task

    def add_check(self, check: Check) -> None:
        """Another condition; a check that raises or hangs counts as failing."""
        self._checks.append(check)

    async def report(self) -> HealthReport:
        """Every failing condition, in a stable order."""
        reasons = [f"{name} stopped" for name, task in self._tasks.items() if task.done()]
        results = await asyncio.gather(*(self._run(check) for check in self._checks))
        reasons.extend(reason for reason in results if reason)
        return HealthReport(healthy=not reasons, reasons=tuple(reasons))

    async def _run(self, check: Check) -> str | None:
        try:
            async with asyncio.timeout(self._check_timeout):
                return await check()
        except TimeoutError:
            return f"a health check did not answer within {self._check_timeout:g} s"
        except Exception as exc:  # a broken check must not make /healthz itself fail
            return f"a health check failed ({type(exc).__name__})"
