"""Fakes of Slack for end-to-end tests: Web API, response_url, file uploads and Socket Mode.

Example::

    from tests.fakes.slack_api import FakeSlack
    from tests.fakes.slack_signing import sign_request, slash_command_body

    async with FakeSlack() as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
"""

from tests.fakes.slack_api import FakeSlack, RecordedCall
from tests.fakes.socket_mode import AckTimeoutError, FakeSocketMode

__all__ = ["AckTimeoutError", "FakeSlack", "FakeSocketMode", "RecordedCall"]
