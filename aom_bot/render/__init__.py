"""Pure rendering: an execution as a Slack message, a full report, or terminal output.

Nothing here does I/O; the same input always renders the same output (``now`` is a parameter).
All AOM text is untrusted: it is scrubbed of secrets, escaped, and clipped to Slack's limits.

>>> from datetime import UTC, datetime
>>> from aom_bot.aom.models import ExecutionDetail
>>> message = execution_message(ExecutionDetail.model_validate({"execution_id": "e1",
...     "status": "fail"}), now=datetime(2024, 3, 15, tzinfo=UTC))
>>> message.to_dict()["text"]
'❌ fail · e1'
"""

from __future__ import annotations

from aom_bot.render.escape import code_block, escape_mrkdwn
from aom_bot.render.kit import SlackMessage
from aom_bot.render.links import ConsoleTemplateError, console_link, validate_console_template
from aom_bot.render.message import execution_message, short_summary
from aom_bot.render.scrub import Scrubber, ScrubPatternError

__all__ = [
    "ConsoleTemplateError",
    "ScrubPatternError",
    "Scrubber",
    "SlackMessage",
    "code_block",
    "console_link",
    "escape_mrkdwn",
    "execution_message",
    "short_summary",
    "validate_console_template",
]
