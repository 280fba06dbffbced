"""Prometheus metrics of one bot instance, in a registry of its own.

No default global registry: tests build many apps in one process, and each must count only
its own traffic. ``GET /metrics`` serves :meth:`Metrics.render`.

>>> metrics = Metrics()
>>> metrics.command("show", "ok")
>>> b'aom_bot_commands_total{outcome="ok",subcommand="show"} 1.0' in metrics.render()
True
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Counters and histograms for commands, buttons, AOM calls, Slack calls and follows."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._commands = Counter(
            "aom_bot_commands",
            "Slash commands handled, by subcommand and outcome.",
            ["subcommand", "outcome"],
            registry=self.registry,
        )
        self._actions = Counter(
            "aom_bot_actions",
            "Button clicks handled, by action and outcome.",
            ["action", "outcome"],
            registry=self.registry,
        )
        self._aom_calls = Counter(
            "aom_bot_aom_requests",
            "AOM API operations, by operation and outcome (ok or the error class).",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self._aom_latency = Histogram(
            "aom_bot_aom_request_seconds",
            "AOM API operation latency (retries included).",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._slack_calls = Counter(
            "aom_bot_slack_calls",
            "Slack Web API calls, by method.",
            ["method"],
            registry=self.registry,
        )
        self._slack_errors = Counter(
            "aom_bot_slack_errors",
            "Slack Web API calls that failed, by method and Slack error code.",
            ["method", "error"],
            registry=self.registry,
        )
        self._active_follows = Gauge(
            "aom_bot_active_follows",
            "Executions currently followed.",
            registry=self.registry,
        )

    def command(self, subcommand: str, outcome: str) -> None:
        """Count one slash command (``outcome``: ok, usage_error, aom_error, slack_error…)."""
        self._commands.labels(subcommand=subcommand, outcome=outcome).inc()

    def action(self, action: str, outcome: str) -> None:
        """Count one button click."""
        self._actions.labels(action=action, outcome=outcome).inc()

    @asynccontextmanager
    async def aom_call(self, operation: str) -> AsyncIterator[None]:
        """Time one AOM operation and count it with its outcome (the exception's class name)."""
        started = time.perf_counter()
        outcome = "ok"
        try:
            yield
        except BaseException as exc:
            outcome = type(exc).__name__
            raise
        finally:
            self._aom_latency.labels(operation=operation).observe(time.perf_counter() - started)
            self._aom_calls.labels(operation=operation, outcome=outcome).inc()

    def slack_call(self, method: str, error: str | None = None) -> None:
        """Count one Slack Web API call, and its error code when it failed."""
        self._slack_calls.labels(method=method).inc()
        if error is not None:
            self._slack_errors.labels(method=method, error=error).inc()

    def set_active_follows(self, count: int) -> None:
        """Publish how many executions are followed right now (the follow engine calls this)."""
        self._active_follows.set(count)

    def render(self) -> bytes:
        """The Prometheus text exposition of this instance's metrics."""
        return generate_latest(self.registry)
