"""One exception tree for everything aom-bot raises on purpose.

::

    AomBotError
    ├── ConfigError              a setting is missing, malformed or contradicts another
    │   ├── ConsoleTemplateError     AOM_CONSOLE_URL: unknown placeholder, not a web URL
    │   └── ScrubPatternError        a configured scrub pattern is not a valid regex
    ├── InvalidIdError           an ID failed validation before any request was sent
    ├── CommandSyntaxError       a command's text does not follow the grammar
    ├── UnknownProfileError      a profile name (``--profile``) that the configuration lacks
    ├── PermissionDenied         the access policy does not let this user do this here
    ├── ActionError              an action on an execution that is not done (nothing sent)
    │   ├── ActionsOff               no rule grants actions on this bot
    │   └── ActionTaken              the same action was already asked: done, in flight, unknown
    ├── SubscriptionError        a subscribe/unsubscribe request that cannot be done
    ├── StoreError               the follow/subscription store failed
    ├── FollowLimitReached       one more follow would exceed a configured limit
    ├── TaskEnded                one of the bot's long-running tasks returned (a bug: exit 4)
    ├── SlackDeliveryError       a Slack Web API call failed (``error`` holds Slack's code)
    │   ├── SlackNotInChannel        not_in_channel: a public channel the bot could join
    │   ├── SlackChannelUnreachable  channel_not_found: private channel / DM the bot cannot see
    │   ├── SlackChannelGone         is_archived, or the bot was removed from the channel
    │   ├── SlackMessageGone         message_not_found / cant_update_message: deleted card
    │   └── SlackRejected            invalid_blocks, msg_too_long…: the payload was refused
    └── AomError                 talking to AOM failed
        ├── AomTransportError    no usable HTTP exchange: connect/read timeout, dropped connection
        ├── AomResponseError     AOM answered 2xx but the body is not what AOM sends
        │   └── AomBodyTooLargeError  the body was over the size cap and refused
        └── AomApiError          AOM answered with an error status
            ├── AomBadRequestError   400 and other 4xx not listed below
            ├── AomAuthError         401 / 403: credentials, token, signature or permission
            ├── AomNotFoundError     404: unknown workflow or execution
            ├── AomThrottledError    429: throttled (``retry_after`` seconds when given)
            └── AomServerError       5xx
    SimulatorError               (aom_bot.simulator.world) the simulated AOM refuses a request
    ├── NotFoundError                its app answers HTTP 404
    └── RejectedError                its app answers HTTP 400

The simulator's errors stay in the simulator: they are the simulated server's refusals,
which its app turns into HTTP answers (the bot then meets them as ``AomNotFoundError`` or
``AomBadRequestError``), so no code of the bot ever catches them. They still derive from
``AomBotError`` (drawn apart above) so that a demo's mistakes read the same way.

Every message is written for a person: it says what went wrong and what to do, and never
contains a secret (the client never puts credentials into an exception). What AOM or IAM
*said* is scrubbed like host text as the error is made: a 401 body may quote the request,
credentials included.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aom_bot.render.scrub import Scrubber


@cache
def _error_scrubber() -> Scrubber:
    # Imported late: aom_bot.render.scrub imports this module for ConfigError.
    from aom_bot.render.scrub import Scrubber

    return Scrubber()


def scrub_service_text(text: str | None) -> str | None:
    """Text a remote service wrote (an error body, an exception's detail), secrets removed."""
    return _error_scrubber().scrub(text) if text else text


class AomBotError(Exception):
    """Base class of every error aom-bot raises deliberately."""

    #: one line a user can act on; subclasses may refine it
    hint: str = ""
    #: the hint for a terminal user when ``hint`` names a Slack command ("" = same as ``hint``)
    cli_hint: str = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        if hint:
            self.hint = hint

    def __str__(self) -> str:
        return self.message

    def user_message(self, *, cli: bool = False) -> str:
        """The message plus what to do about it: for a Slack reply, or the terminal (``cli``)."""
        return f"{self.message} {self._hint(cli=cli)}".strip()

    def _hint(self, *, cli: bool) -> str:
        return (self.cli_hint or self.hint) if cli else self.hint


class ConfigError(AomBotError):
    """A setting is missing, malformed, or contradicts another one."""


class InvalidIdError(AomBotError, ValueError):
    """An ID (project, workflow, execution, node) does not have the shape AOM uses."""

    def __init__(self, kind: str, value: str) -> None:
        shown = value if len(value) <= 80 else value[:77] + "..."
        super().__init__(
            f"{kind} {shown!r} is not a valid ID.",
            hint="IDs are 1-128 letters, digits, '-', '_' or '.'; copy them from the AOM console.",
        )
        self.kind = kind
        self.value = value


class ConsoleTemplateError(ConfigError, ValueError):
    """The console URL template cannot be used (unknown placeholder, not a web URL)."""


class ScrubPatternError(ConfigError, ValueError):
    """A configured scrub pattern is not a valid regular expression."""


class CommandSyntaxError(AomBotError):
    """The command text does not follow the grammar; the message says what was wrong."""


class UnknownProfileError(AomBotError):
    """A profile was asked for by name (``--profile NAME``) that the configuration does not have."""

    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        shown = name if len(name) <= 40 else name[:37] + "..."
        super().__init__(
            f"There is no profile {shown!r}.",
            hint=f"Known profiles: {', '.join(known)}." if known else "No profile is configured.",
        )
        self.name = name
        self.known = known


class PermissionDenied(AomBotError):
    """The access policy gives this user no rule for this permission, profile and channel.

    Nothing reached AOM. The message names what is missing and where it is granted."""

    def __init__(self, permission: str, *, profile: str, channel_id: str) -> None:
        # the ID, not a <#C…> mention: error replies are escaped (a mention would show as
        # literal "<#C…>"), and the ID is what an [[allow]] rule's ``channels`` lists
        where = f"channel `{channel_id}`" if channel_id else "this conversation"
        super().__init__(
            f"You don't have the `{permission}` permission for profile `{profile}` in {where}, "
            "so nothing was done.",
            hint="Permissions come from the [[allow]] rules of the bot's configuration file "
            "(AOM_BOT_CONFIG, aom-bot.toml): ask whoever runs the bot to add one.",
        )
        self.permission = permission
        self.profile = profile
        self.channel_id = channel_id


class ActionError(AomBotError):
    """An action on an execution that is not done; nothing reached AOM."""


class ActionsOff(ActionError):
    """No rule grants actions on this bot (there is no configuration file, or it grants none)."""

    def __init__(self) -> None:
        super().__init__(
            "Actions on executions are off on this bot.",
            hint="They need a configuration file (AOM_BOT_CONFIG) whose [[allow]] rules grant "
            "terminate, retry or run.",
        )


class ActionTaken(ActionError):
    """The same action on the same state was already asked: nothing is sent twice."""


class SubscriptionError(AomBotError):
    """A subscription request that cannot be done; the message says why and what to do."""


class StoreError(AomBotError):
    """The store (SQLite or PostgreSQL) failed or holds data this version cannot read."""


class FollowLimitReached(AomBotError):
    """A new follow would exceed AOM_BOT_MAX_FOLLOWS_PER_USER or _PER_WORKSPACE."""


class TaskEnded(AomBotError):
    """A long-running task of ``aom-bot run`` returned while the bot was not stopping."""

    hint = "The bot stopped so that its supervisor restarts it; please report this."


class AomError(AomBotError):
    """Talking to AOM failed. Carries what AOM said, when it said anything."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        status_code: int | None = None,
        error_code: str | None = None,
        aom_message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(scrub_service_text(message) or "", hint=hint)
        self.status_code = status_code
        self.error_code = scrub_service_text(error_code)
        self.aom_message = scrub_service_text(aom_message)
        self.request_id = scrub_service_text(request_id)

    def user_message(self, *, cli: bool = False) -> str:
        parts = [self.message]
        if self.error_code or self.aom_message:
            said = " ".join(p for p in (self.error_code, self.aom_message) if p)
            parts.append(f"(AOM said: {said})")
        hint = self._hint(cli=cli)
        if hint:
            parts.append(hint)
        if self.request_id:
            parts.append(f"[request id {self.request_id}]")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r}, "
            f"error_code={self.error_code!r}, request_id={self.request_id!r})"
        )


class AomTransportError(AomError):
    """No usable HTTP exchange with AOM (timeout, refused or dropped connection)."""

    retryable = True
    hint = (
        "AOM may be unreachable from here; check AOM_ENDPOINT / AOM_REGION (or the profile's "
        "endpoint / region in the configuration file) and the network."
    )


class AomResponseError(AomError):
    """AOM answered, but with a body that cannot be understood (malformed or wrong shape)."""

    retryable = False
    hint = (
        "This is usually transient; if it persists, report the request id to the bot's operators."
    )


class AomBodyTooLargeError(AomResponseError):
    """AOM's body was larger than the cap (a gzip bomb, a runaway log) and was not read."""


class AomApiError(AomError):
    """AOM answered with an HTTP error status."""


class AomBadRequestError(AomApiError):
    """AOM rejected the request as malformed (400 and unlisted 4xx)."""

    hint = "Check the workflow and execution IDs."


class AomAuthError(AomApiError):
    """Credentials were refused (401) or lack permission (403)."""

    hint = (
        "Check CLOUD_SDK_AK/CLOUD_SDK_SK (or AOM_TOKEN / the IAM user), AOM_PROJECT_ID (or the "
        "profile's credentials and project_id in the configuration file), and that this "
        "machine's clock is correct."
    )


class AomNotFoundError(AomApiError):
    """AOM does not know the workflow or execution (404)."""

    hint = "Check the IDs: `/aom-exec list WORKFLOW_ID` shows recent executions."
    cli_hint = "Check the IDs: `aom-bot executions WORKFLOW_ID` shows recent executions."


class AomThrottledError(AomApiError):
    """AOM throttled the request (429)."""

    retryable = True
    hint = "AOM is throttling requests; try again in a moment."

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class AomServerError(AomApiError):
    """AOM failed on its side (5xx)."""

    retryable = True
    hint = "AOM is having trouble; try again in a moment."


class SlackDeliveryError(AomBotError):
    """A Slack Web API call failed; ``error`` is Slack's error code (e.g. ``ratelimited``)."""

    def __init__(self, message: str, *, error: str = "", method: str = "", hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.error = error
        self.method = method


class SlackNotInChannel(SlackDeliveryError):
    """The bot is not a member of this public channel (it may join)."""

    hint = "Invite the bot with `/invite @aom-exec`."


class SlackChannelUnreachable(SlackDeliveryError):
    """The bot cannot see the conversation (private channel or DM it is not in)."""

    hint = "Invite the bot with `/invite @aom-exec` to get live updates here."


class SlackChannelGone(SlackDeliveryError):
    """The channel was archived or the bot was removed from it."""


class SlackMessageGone(SlackDeliveryError):
    """The message to update was deleted (or can no longer be edited by the bot)."""


class SlackRejected(SlackDeliveryError):
    """Slack refused the payload itself (invalid blocks, too long): a bug on our side."""


#: Slack errors meaning the card or its channel is out of the bot's reach for good: stop, quietly
SLACK_GONE: tuple[type[SlackDeliveryError], ...] = (
    SlackMessageGone,
    SlackChannelGone,
    SlackChannelUnreachable,
    SlackNotInChannel,
)
