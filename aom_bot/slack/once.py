"""One card per execution per channel: identical requests at once share the card one posts.

During an incident many people type the same ``/aom-exec WF EX`` within seconds. The store
decides (also across replicas) which request posts the card; the others wait briefly for its
``ts``, refresh that card (at most once per ``REFRESH_EVERY``) and answer their caller alone
with a link to it. A card older than ``FRESH_FOR`` is not reused: a new one is posted.

::

    await show_in_channel(deps, ref, replier)
"""

from __future__ import annotations

import logging
from datetime import timedelta

from aom_bot.aom.accounts import AomAccount
from aom_bot.errors import SlackMessageGone
from aom_bot.render.escape import inline_code
from aom_bot.render.kit import notice_message
from aom_bot.slack.cards import card, card_link
from aom_bot.slack.deps import SlackDeps
from aom_bot.slack.grammar import ExecutionRef
from aom_bot.slack.replies import Replier
from aom_bot.store.base import Store

__all__ = ["FRESH_FOR", "REFRESH_EVERY", "show_in_channel"]

log = logging.getLogger(__name__)

#: a card posted less than this long ago is the channel's card of the execution
FRESH_FOR = timedelta(minutes=10)
#: a claim whose card is not posted after this long was abandoned (its poster died)
POSTING_FOR = timedelta(seconds=30)
#: the shared card is refreshed at most this often, however many ask
REFRESH_EVERY = timedelta(seconds=10)
#: how long a duplicate request waits for the first one's card to appear (seconds)
WAIT_FOR_CARD = 10.0
_LOOK_EVERY = 0.25


async def show_in_channel(
    deps: SlackDeps, account: AomAccount, ref: ExecutionRef, replier: Replier
) -> None:
    """Post the execution's card in the channel, unless the channel already has a recent one."""
    cards = deps.cards
    conv = replier.conversation
    if cards is None:  # no store: every request posts its own card
        await _post(deps, account, ref, replier, None)
        return
    shown = f"{inline_code(ref.workflow_id)} / {inline_code(ref.execution_id)}"
    followed = await cards.find_active_follow(conv.channel_id, ref.workflow_id, ref.execution_id)
    if followed is not None:  # the followed card is always current
        link = await card_link(deps, conv.channel_id, followed.message_ts)
        await replier.privately(notice_message(f"Execution {shown} is followed here: {link}."))
        return
    for _ in range(2):  # a second round only when the shared card turned out deleted
        ts = await _claim_or_wait(deps, cards, ref, conv.channel_id, account.name)
        if ts is None:
            await _post(deps, account, ref, replier, cards)
            return
        if await _refresh(deps, account, cards, ref, conv.channel_id, ts):
            link = await card_link(deps, conv.channel_id, ts)
            await replier.privately(
                notice_message(f"The card of execution {shown} is here: {link}.")
            )
            return
    await _post(deps, account, ref, replier, None)


async def _claim_or_wait(
    deps: SlackDeps, cards: Store, ref: ExecutionRef, channel_id: str, profile: str
) -> str | None:
    """``None``: this request posts the card (of ``profile``). Else the ts of the channel's card."""
    give_up = deps.clock.monotonic() + WAIT_FOR_CARD
    while True:
        won, ts = await cards.claim_card(
            channel_id,
            ref.workflow_id,
            ref.execution_id,
            deps.clock.now(),
            fresh_for=FRESH_FOR,
            posting_for=POSTING_FOR,
            profile=profile,
        )
        if won:
            return None
        if ts is not None:
            return ts
        if deps.clock.monotonic() >= give_up:
            return None  # the first request is stuck: better a second card than none
        await deps.clock.sleep(_LOOK_EVERY)


async def _post(
    deps: SlackDeps,
    account: AomAccount,
    ref: ExecutionRef,
    replier: Replier,
    cards: Store | None,
) -> None:
    channel_id = replier.conversation.channel_id
    key = (channel_id, ref.workflow_id, ref.execution_id)
    try:
        execution = await account.commands.get_execution(ref.workflow_id, ref.execution_id)
        # with the store, a followed execution was answered with its followed card already
        following = cards is None and await deps.follow.is_following(*key)
        ts = await replier.to_channel(
            await card(deps, account, execution, following=following, channel_id=channel_id)
        )
    except BaseException:
        if cards is not None:
            await cards.release_card(*key, None)
        raise
    if cards is not None:
        if ts is None:  # answered through response_url: no card others could share
            await cards.release_card(*key, None)
        else:
            await cards.set_card(*key, ts)


async def _refresh(
    deps: SlackDeps,
    account: AomAccount,
    cards: Store,
    ref: ExecutionRef,
    channel_id: str,
    ts: str,
) -> bool:
    """Bring the shared card up to date (one request per interval does); False if deleted."""
    key = (channel_id, ref.workflow_id, ref.execution_id)
    if not await cards.claim_card_refresh(*key, deps.clock.now(), every=REFRESH_EVERY):
        return True
    execution = await account.commands.get_execution(ref.workflow_id, ref.execution_id)
    try:
        message = await card(deps, account, execution, following=False, channel_id=channel_id)
        await deps.notifier.update(channel_id, ts, message)
    except SlackMessageGone:
        log.info("slack.shared_card.gone channel=%s", channel_id)
        await cards.release_card(*key, ts)
        return False
    return True
