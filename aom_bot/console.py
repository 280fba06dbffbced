"""The terminal side of the CLI: an AOM session, pretty printing, and ``show --follow``."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from rich.console import Console, RenderableType
from rich.live import Live

from aom_bot.aom.client import AomClient
from aom_bot.aom.ids import validate_id
from aom_bot.aom.models import ExecutionDetail, Workflow
from aom_bot.aom.names import WorkflowNames
from aom_bot.clock import Clock
from aom_bot.config import Settings
from aom_bot.errors import AomError, AomResponseError, ConfigError, InvalidIdError
from aom_bot.render import SlackMessage
from aom_bot.render.card import execution_card
from aom_bot.render.links import ConsoleLinks, validate_console_template
from aom_bot.render.scrub import Scrubber
from aom_bot.runtime import (
    DEFAULT_DEMO_SCENARIO,
    build_profile_client,
    build_scrubber,
    in_process_simulator,
)

__all__ = ["AomSession", "aom_session", "follow_in_terminal", "refresh_line"]


@dataclass(slots=True)
class AomSession:
    """What a CLI command needs: the client, names, rendering options and a stdout console."""

    settings: Settings
    client: AomClient
    names: WorkflowNames
    scrubber: Scrubber
    console: Console = field(default_factory=lambda: Console(highlight=False))
    #: with --simulator and no IDs: (the run in progress, the last finished run)
    default_ids: tuple[tuple[str, str], tuple[str, str]] | None = None
    #: the profile's region and console URL template (its Console link)
    region: str = ""
    console_template: str | None = None

    async def resolve_workflow(self, workflow_id: str | None) -> str:
        if workflow_id:
            return validate_id("workflow ID", workflow_id)
        if self.default_ids:
            return self.default_ids[0][0]
        raise InvalidIdError("workflow ID", "")

    async def resolve_ids(
        self, first: str | None, second: str | None, *, live: bool = False
    ) -> tuple[str, str]:
        """IDs from two arguments, or from one pasted console link; validated.

        Without IDs in simulator mode: the run in progress when ``live``, else the last finished.
        """
        from aom_bot.aom.links import parse_execution_link

        if first and not second:
            ref = parse_execution_link(first)
            if ref is None:
                raise ConfigError(
                    f"{first[:80]!r} is neither a console link to an execution nor two IDs.",
                    hint="Usage: aom-bot show WORKFLOW_ID EXECUTION_ID",
                )
            return ref.workflow_id, ref.execution_id
        if first and second:
            return validate_id("workflow ID", first), validate_id("execution ID", second)
        if self.default_ids:
            return self.default_ids[0] if live else self.default_ids[1]
        raise ConfigError(
            "Missing WORKFLOW_ID and EXECUTION_ID.",
            hint="Usage: aom-bot show WORKFLOW_ID EXECUTION_ID (or try --simulator).",
        )

    def console_links(self) -> ConsoleLinks:
        return ConsoleLinks(
            self.console_template,
            region=self.region,
            project_id=self.client.project_id,
        )

    async def slack_message(self, execution: ExecutionDetail) -> SlackMessage:
        """The card ``show --blocks`` prints: the one the bot would post."""
        return execution_card(
            execution,
            now=datetime.now(UTC),
            console=self.console_links(),
            workflow_name=await self.names.name(execution.workflow_id),
            scrubber=self.scrubber,
        )

    async def print_execution(self, execution: ExecutionDetail, *, all_hosts: bool = False) -> None:
        """The view; ``all_hosts`` (``show --all``) lists every failed host."""
        from aom_bot.render.terminal import render_execution

        self.console.print(
            render_execution(
                execution,
                now=datetime.now(UTC),
                workflow_name=await self.names.name(execution.workflow_id),
                scrubber=self.scrubber,
                all_hosts=all_hosts,
            )
        )

    def print_executions(self, executions: Sequence[ExecutionDetail]) -> None:
        from aom_bot.render.terminal import render_executions_table

        self.console.print(render_executions_table(executions, now=datetime.now(UTC)))

    def print_workflows(self, workflows: Sequence[Workflow]) -> None:
        from aom_bot.render.terminal import render_workflows_table

        self.names.remember(workflows)
        self.console.print(render_workflows_table(workflows))


@contextlib.asynccontextmanager
async def aom_session(
    settings: Settings, *, simulator: bool = False, profile: str | None = None
) -> AsyncIterator[AomSession]:
    """An AOM client for the CLI: real AOM (the profile ``profile``, else the configuration's
    default one), or the simulator in this process."""
    from aom_bot.profiles import env_profile, load_bot_config

    transport: httpx.AsyncBaseTransport | None = None
    default_ids: tuple[tuple[str, str], tuple[str, str]] | None = None
    if simulator:
        settings, transport, demo = in_process_simulator(settings)
        workflow = demo.world.workflow_id_by_name(_scenario_workflow_name(DEFAULT_DEMO_SCENARIO))
        runs = demo.world.execution_ids(workflow)  # newest first: current run, then history
        default_ids = ((workflow, runs[0]), (workflow, runs[min(1, len(runs) - 1)]))
    if simulator:
        chosen = env_profile(settings)
        secrets: tuple[str, ...] = ()
    else:
        config = load_bot_config(settings)
        chosen = config.profile_for(None, profile)
        secrets = config.secret_values()
    validate_console_template(chosen.console_url or "")
    client = build_profile_client(chosen, settings, transport=transport)
    try:
        yield AomSession(
            settings=settings,
            client=client,
            names=WorkflowNames(client),
            scrubber=build_scrubber(settings, extra_secrets=secrets),
            default_ids=default_ids,
            region=chosen.region,
            console_template=chosen.console_url,
        )
    finally:
        await client.aclose()


def _scenario_workflow_name(scenario: str) -> str:
    from aom_bot.simulator import SCENARIOS

    return SCENARIOS[scenario].workflow_name


async def follow_in_terminal(
    session: AomSession,
    workflow_id: str,
    execution_id: str,
    *,
    settings: Settings,
    clock: Clock,
    all_hosts: bool = False,
) -> ExecutionDetail:
    """Refresh the terminal view in place until the execution ends (the follow engine's pacing).

    While it runs, the view is cut to the terminal's height (as many error groups as fit) with
    a "refreshing every Ns · Ctrl-C to stop" line; the final state is printed in full. Every
    wait is on ``clock`` (``SystemClock()`` from the CLI, simulated time in tests).
    """
    from aom_bot.follow.policy import jittered
    from aom_bot.render.terminal import render_execution

    rng = random.Random()  # noqa: S311 - jitter, not security
    pacing = _Pacing(settings, clock)
    name = await session.names.name(workflow_id)
    execution = await session.client.get_execution(workflow_id, execution_id)
    with Live(console=session.console, auto_refresh=False, transient=False) as live:
        while not execution.is_terminal:
            delay = pacing.delay()
            live.update(_live_view(session, execution, name, delay, pacing, clock), refresh=True)
            await clock.sleep(jittered(delay, rng))
            execution = await pacing.poll(session.client, workflow_id, execution_id) or execution
        live.vertical_overflow = "visible"  # the last frame: everything, scrollable
        final = render_execution(
            execution,
            now=clock.now(),
            workflow_name=name,
            scrubber=session.scrubber,
            all_hosts=all_hosts,
        )
        live.update(final, refresh=True)
    return execution


class _Pacing:
    """When ``show --follow`` asks AOM again, and whether AOM has been answering."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._minimum = settings.aom_bot_poll_min_seconds
        self._maximum = settings.aom_bot_poll_max_seconds
        self._clock = clock
        self._started = clock.monotonic()
        self.failures = 0
        self.unreachable_since: datetime | None = None

    def delay(self) -> float:
        """Seconds to the next read: growing with the run's age, backing off while AOM fails."""
        from aom_bot.follow.policy import error_interval, poll_interval

        if self.failures:
            return error_interval(self.failures, minimum=self._minimum, maximum=self._maximum)
        elapsed = self._clock.monotonic() - self._started
        return poll_interval(elapsed, minimum=self._minimum, maximum=self._maximum)

    async def poll(
        self, client: AomClient, workflow_id: str, execution_id: str
    ) -> ExecutionDetail | None:
        """The execution now, or None while AOM is out or garbled (then the view says so)."""
        try:
            execution = await client.get_execution(workflow_id, execution_id)
        except AomError as exc:
            # As the follow engine does: a garbled answer is as transient as an outage.
            if not (exc.retryable or isinstance(exc, AomResponseError)):
                raise
            self.failures += 1
            self.unreachable_since = self.unreachable_since or self._clock.now()
            return None
        self.failures, self.unreachable_since = 0, None
        return execution


def _live_view(
    session: AomSession,
    execution: ExecutionDetail,
    name: str | None,
    delay: float,
    pacing: _Pacing,
    clock: Clock,
) -> RenderableType:
    """The view while it runs: cut to the terminal's height, with the status lines under it."""
    from rich.console import Group
    from rich.text import Text

    from aom_bot.render.follow_notices import unreachable_notice
    from aom_bot.render.terminal import render_execution_fitted

    status: list[Text] = []
    if pacing.unreachable_since is not None:
        notice = unreachable_notice(pacing.unreachable_since, slack=False)
        status.append(Text(notice, style="yellow"))
    status.append(Text(refresh_line(delay), style="dim"))
    console = session.console
    view = render_execution_fitted(
        execution,
        now=clock.now(),
        console=console,
        height=max(1, console.size.height - len(status) - 1),
        workflow_name=name,
        scrubber=session.scrubber,
    )
    return Group(view, *status)


def refresh_line(delay: float) -> str:
    """What ``show --follow`` prints under the view: how often it refreshes, how to stop."""
    return f"refreshing every {max(1, round(delay))}s · Ctrl-C to stop"
