"""Everything the Slack listeners need, passed in rather than imported.

The collaborators are typed by the Protocols below, declared here by the code that uses them:
tests pass fakes, ``runtime`` passes the real AOM client, notifier and follow engine.

::

    deps = SlackDeps(aom=aom, notifier=notifier, follow=engine, clock=SystemClock(),
                     metrics=Metrics(), region="cn-north-4")
    app = create_app(deps, signing_secret=secret, client=web_client)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from aom_bot.aom.accounts import AomAccount
from aom_bot.aom.models import ExecutionDetail, Workflow
from aom_bot.aom.reader import AomReader, Polled
from aom_bot.clock import Clock
from aom_bot.follow.protocols import FollowControl, FollowOutcome
from aom_bot.render.kit import SlackMessage
from aom_bot.render.scrub import Scrubber
from aom_bot.slack.access import Access
from aom_bot.slack.gate import AckGate
from aom_bot.slack.grammar import SubscriptionCommand
from aom_bot.slack.limits import FollowLimits
from aom_bot.slack.metrics import Metrics
from aom_bot.store.action_base import ActionStore
from aom_bot.store.base import Store

__all__ = [
    "AomReader",
    "FollowControl",
    "FollowOutcome",
    "HomeTab",
    "MeteredAom",
    "Notifier",
    "SlackDeps",
    "SubscriptionHandler",
]


class Notifier(Protocol):
    """Delivery to Slack (``aom_bot.slack.notifier.SlackNotifier``); raises SlackDeliveryError."""

    async def post(
        self,
        channel: str,
        message: SlackMessage,
        *,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        metadata: dict[str, Any] | None = None,
        join: bool = True,
    ) -> str: ...

    async def update(self, channel: str, ts: str, message: SlackMessage) -> None: ...

    async def post_ephemeral(self, channel: str, user: str, message: SlackMessage) -> Any: ...

    async def permalink(self, channel: str, ts: str) -> str: ...

    async def upload_report(
        self,
        channel: str,
        *,
        thread_ts: str | None,
        filename: str,
        content: str,
        title: str,
        initial_comment: str | None = None,
    ) -> Any: ...


class SubscriptionHandler(Protocol):
    """``subscribe`` / ``unsubscribe`` / ``subscriptions`` (the subscriptions issue plugs it in).

    Returns the answer; raising an ``AomBotError`` turns into an ephemeral error reply.
    """

    async def handle_command(
        self, command: SubscriptionCommand, account: AomAccount, *, channel_id: str, user_id: str
    ) -> SlackMessage:
        """Answer ``command`` in ``account``'s profile (its permission is already checked)."""
        ...

    async def handle_unsubscribe_button(
        self, value: str, *, channel_id: str, user_id: str
    ) -> SlackMessage: ...


class HomeTab(Protocol):
    """The App Home tab's content, and its Stop buttons (the subscriptions issue plugs it in).

    A click on the Home tab has no channel: the button's value names it, and the implementation
    checks that the clicker may act there. Raising an ``AomBotError`` becomes a notice on the tab.
    """

    async def home_view(self, user_id: str, *, notice: str | None = None) -> dict[str, Any]: ...

    async def handle_stop_follow_button(
        self, value: str, *, channel_id: str, user_id: str
    ) -> SlackMessage: ...


class MeteredAom:
    """An :class:`AomReader` that times and counts each AOM operation in :class:`Metrics`."""

    def __init__(self, aom: AomReader, metrics: Metrics) -> None:
        self._aom = aom
        self._metrics = metrics

    async def get_execution(self, workflow_id: str, execution_id: str) -> ExecutionDetail:
        async with self._metrics.aom_call("get_execution"):
            return await self._aom.get_execution(workflow_id, execution_id)

    async def get_execution_if_changed(
        self, workflow_id: str, execution_id: str, previous_digest: bytes | None
    ) -> tuple[bytes, ExecutionDetail | None]:
        """Counted as a ``get_execution`` (one request either way)."""
        async with self._metrics.aom_call("get_execution"):
            return await self._aom.get_execution_if_changed(
                workflow_id, execution_id, previous_digest
            )

    async def poll_execution(
        self, workflow_id: str, execution_id: str, previous_digest: bytes | None
    ) -> Polled:
        """Counted as a ``get_execution`` (one request either way)."""
        async with self._metrics.aom_call("get_execution"):
            return await self._aom.poll_execution(workflow_id, execution_id, previous_digest)

    async def list_executions(self, workflow_id: str) -> list[ExecutionDetail]:
        async with self._metrics.aom_call("list_executions"):
            return await self._aom.list_executions(workflow_id)

    async def list_workflows(
        self, search: str | None = None, *, limit: int | None = None
    ) -> list[Workflow]:
        async with self._metrics.aom_call("list_workflows"):
            return await self._aom.list_workflows(search, limit=limit)


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackDeps:
    """The listeners' world. Frozen: listeners never swap a collaborator mid-flight."""

    #: the AOM profiles, which one a request is about, and who may do what there
    access: Access
    notifier: Notifier
    follow: FollowControl
    clock: Clock
    metrics: Metrics
    scrubber: Scrubber | None = None
    subscriptions: SubscriptionHandler | None = None
    #: the App Home tab with follows and subscriptions (the usage alone when None)
    home: HomeTab | None = None
    #: join public channels when not a member (needs the ``channels:join`` scope)
    join_channels: bool = True
    #: how users invite the bot (`/invite @<handle>`)
    bot_handle: str = "aom-exec"
    #: how many follows a person / the workspace may start (None: no limit)
    follow_limits: FollowLimits | None = None
    #: work after ``ack()`` waits for pending acks (one gate per app instance)
    ack_gate: AckGate = field(default_factory=AckGate)
    #: one card per execution per channel, decided in the store (None: every show posts)
    cards: Store | None = None
    #: the exactly-once ledger and audit log of actions (None: actions are off)
    ledger: ActionStore | None = None
