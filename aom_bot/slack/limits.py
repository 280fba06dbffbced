"""How many follows one person, and the whole workspace, may have running at once.

Each follow polls AOM until its execution ends; without a cap one user can start hundreds
(AOM then sees dozens of status requests a second). The counts come from the store, so the
limits hold across replicas. Follows a subscription started count toward the workspace, not
toward the person who made the subscription. The bot serves one workspace (one bot token),
so the workspace count is every active follow in the store.

::

    limits = FollowLimits(store, per_user=20, per_workspace=100)
    await limits.check("U123")       # raises FollowLimitReached when a new follow would exceed
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aom_bot.errors import FollowLimitReached

__all__ = ["FollowCounter", "FollowLimits"]


class FollowCounter(Protocol):
    """The store's count of active follows (``aom_bot.store.base.Store``)."""

    async def count_active_follows(self, *, started_by: str | None = None) -> int: ...


@dataclass(frozen=True, slots=True)
class FollowLimits:
    """``AOM_BOT_MAX_FOLLOWS_PER_USER`` and ``AOM_BOT_MAX_FOLLOWS_PER_WORKSPACE``, enforced."""

    counter: FollowCounter
    per_user: int
    per_workspace: int

    async def check(self, user_id: str) -> None:
        """Raise :class:`FollowLimitReached` if ``user_id`` may not start one more follow."""
        mine = await self.counter.count_active_follows(started_by=user_id)
        if mine >= self.per_user:
            raise FollowLimitReached(
                f"You already follow {mine} executions, the most one person may follow at once "
                f"({self.per_user}).",
                hint="Stop one first: `/aom-exec unfollow WORKFLOW_ID EXECUTION_ID`, or the Stop "
                "buttons of `/aom-exec subscriptions` and the Home tab. (Operators: "
                "AOM_BOT_MAX_FOLLOWS_PER_USER.)",
            )
        everyone = await self.counter.count_active_follows()
        if everyone >= self.per_workspace:
            raise FollowLimitReached(
                f"This workspace already follows {everyone} executions, the most the bot keeps "
                f"current at once ({self.per_workspace}).",
                hint="Try again when some have ended, or stop follows nobody watches. "
                "(Operators: AOM_BOT_MAX_FOLLOWS_PER_WORKSPACE.)",
            )
