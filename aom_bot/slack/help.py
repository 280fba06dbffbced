"""The usage text of ``/aom-exec``, shown by ``help`` and under every usage error.

One place for the grammar as users read it, so the help, the error replies and the manifest's
usage hint cannot drift apart.
"""

from __future__ import annotations

from aom_bot.render.escape import escape_mrkdwn
from aom_bot.render.kit import SlackMessage, context, section
from aom_bot.slack.grammar import MAX_LIST_LIMIT

__all__ = ["USAGE", "USAGE_HINT", "help_message", "usage_error_message"]

USAGE_HINT = (
    "WORKFLOW_ID EXECUTION_ID | follow … | list WORKFLOW_ID [N] | workflows | subscribe … | help"
)

USAGE = f"""\
/aom-exec WORKFLOW_ID EXECUTION_ID           show an execution (same as show)
/aom-exec show WORKFLOW_ID EXECUTION_ID
/aom-exec follow WORKFLOW_ID EXECUTION_ID    keep the card current until it ends
/aom-exec unfollow WORKFLOW_ID EXECUTION_ID  stop keeping it current
/aom-exec list WORKFLOW_ID [N]               recent executions, newest first (N ≤ {MAX_LIST_LIMIT})
/aom-exec workflows [FILTER]                 workflows of the project
/aom-exec subscribe WORKFLOW_ID [--failures-only] [--mention @user|@group]
                                             post and follow each new execution here
/aom-exec unsubscribe WORKFLOW_ID
/aom-exec subscriptions                      this channel's subscriptions and follows
/aom-exec help"""

_NOTES = (
    "A console link to an execution can replace the two IDs. "
    "Add `--private` to get the answer just for you."
)


def help_message() -> SlackMessage:
    """The full help: what each subcommand does."""
    return SlackMessage(
        text="/aom-exec: show and follow AOM workflow executions",
        blocks=[
            section("*`/aom-exec`* shows and follows AOM automation executions."),
            section(f"```\n{USAGE}\n```"),
            context(_NOTES),
        ],
    )


def usage_error_message(problem: str) -> SlackMessage:
    """What was wrong (untrusted text, escaped) followed by the usage."""
    safe = escape_mrkdwn(problem)
    return SlackMessage(
        text=f"/aom-exec: {safe}",
        blocks=[
            section(f":warning: {safe}"),
            section(f"```\n{USAGE}\n```"),
            context(_NOTES),
        ],
    )
