"""The pure parts of subscription discovery: its counters, its lease keys, and what it posts
(the card of a new run, headed by the ping of whoever the subscription mentions when it fails).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aom_bot.aom.accounts import AomAccount
from aom_bot.aom.models import ExecutionDetail, Phase
from aom_bot.operations import card_buttons
from aom_bot.profiles import Permission
from aom_bot.records import DEFAULT_PROFILE_NAME, Subscription
from aom_bot.render.analysis import bucket_counts
from aom_bot.render.card import execution_card
from aom_bot.render.kit import SlackMessage
from aom_bot.render.scrub import Scrubber
from aom_bot.render.subscriptions import failure_headline, with_headline

__all__ = ["DiscoveryStats", "Owed", "is_failing", "lease_key", "subscription_card", "too_old"]


@dataclass(slots=True)
class DiscoveryStats:
    """Counters for metrics and the benchmark."""

    rounds: int = 0
    polls: int = 0
    aom_errors: int = 0
    store_errors: int = 0
    posted: int = 0
    failed_posts: int = 0
    #: executions held back for failures-only subscriptions in the last round
    pending: int = 0
    #: workflows this replica polled in the last round (leases held)
    workflows: int = 0


@dataclass(slots=True)
class Owed:
    """A post this replica claimed but could not finish; retried next round (no new claim)."""

    message_ts: str | None = None


def too_old(execution: ExecutionDetail, now: datetime, max_catch_up: timedelta) -> bool:
    """History nobody should be told about now (ended, or stuck, long ago)."""
    at = execution.end_time or execution.begin_time
    return at is not None and at < now - max_catch_up


def lease_key(workflow_id: str, profile: str = DEFAULT_PROFILE_NAME) -> str:
    """The store lease that makes one replica the poller of a workflow (of a profile)."""
    if profile == DEFAULT_PROFILE_NAME:
        return f"discovery:{workflow_id}"  # as before profiles: a rolling upgrade keeps it
    return f"discovery:{profile}:{workflow_id}"


def is_failing(execution: ExecutionDetail) -> bool:
    """True once the run has failed or has at least one failed host."""
    if execution.status.phase is Phase.FAILED:
        return True
    return bucket_counts(execution).failed > 0


def subscription_card(
    subscription: Subscription,
    execution: ExecutionDetail,
    mention: str,
    *,
    account: AomAccount,
    now: datetime,
    scrubber: Scrubber,
    permitted: frozenset[Permission],
) -> SlackMessage:
    """The card of a new run for ``subscription``'s channel, headed by the failure ping."""
    card = execution_card(
        execution,
        now=now,
        console=account.console_url,
        workflow_name=subscription.workflow_name or None,
        workflow_id=subscription.workflow_id,
        following=True,
        scrubber=scrubber,
        profile=subscription.profile,
        profile_label=account.label,
        actions=card_buttons(
            execution,
            profile=subscription.profile,
            permitted=permitted,
            workflow_name=subscription.workflow_name or None,
        ),
    )
    return with_headline(card, failure_headline(mention, subscription.workflow_name, scrubber))
