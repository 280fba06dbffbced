"""The Slack Web API client every part of the bot shares: retries on 429/5xx, counted calls.

``SLACK_API_URL`` (passed in as ``base_url``) points it at another Web API, such as the fake
one in tests or a proxy. The token is given explicitly; nothing here reads the environment.

>>> client = build_web_client("xoxb-not-a-real-token", base_url="http://127.0.0.1:9/api")
>>> client.base_url
'http://127.0.0.1:9/api/'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from aom_bot.render.scrub import SecretMask
from aom_bot.slack.metrics import Metrics

__all__ = ["DEFAULT_BASE_URL", "MeteredWebClient", "build_web_client", "retry_handlers"]

DEFAULT_BASE_URL = "https://slack.com/api/"


def retry_handlers(*, rate_limit_retries: int = 2) -> list[AsyncRetryHandler]:
    """Retry 429 after ``Retry-After``, 500/503 with backoff, and dropped connections once."""
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=1),
        AsyncRateLimitErrorRetryHandler(max_retry_count=rate_limit_retries),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]


#: arguments that carry a credential on purpose (apps.connections.open sends the app token)
_SENT_AS_IS = frozenset({"token"})


class MeteredWebClient(AsyncWebClient):
    """An AsyncWebClient that counts each Web API call and each failure in :class:`Metrics`,
    and keeps one connection pool (slack_sdk otherwise opens a new aiohttp session, and TCP
    connection, for every call). With ``secrets``, those values are masked in everything a
    call sends (the last line of defence; the ``token`` argument itself is left alone)."""

    def __init__(
        self,
        *args: Any,
        metrics: Metrics | None = None,
        pooled: bool = True,
        secrets: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._metrics = metrics
        self._pooled = pooled
        self._mask = SecretMask(secrets)

    def __repr__(self) -> str:  # never show the token
        return f"MeteredWebClient(base_url={self.base_url!r})"

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Mask these too in what calls send (a reload's rotated keys)."""
        self._mask.add(secrets)

    async def aclose(self) -> None:
        """Close the pooled connections (at shutdown)."""
        if self.session is not None and not self.session.closed:
            await self.session.close()

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        if self._pooled and (self.session is None or self.session.closed):
            # Created here, inside the running loop, as aiohttp requires.
            self.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout), trust_env=False
            )
        if self._mask:
            for part in ("json", "data", "params"):
                if isinstance(kwargs.get(part), dict):
                    kwargs[part] = self._mask.data(kwargs[part], keep=_SENT_AS_IS)
        if self._metrics is None:
            return await super().api_call(api_method, **kwargs)
        try:
            response = await super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            self._metrics.slack_call(api_method, str(error or exc.response.status_code))
            raise
        except Exception as exc:
            self._metrics.slack_call(api_method, type(exc).__name__)
            raise
        self._metrics.slack_call(api_method)
        return response


def build_web_client(
    token: str,
    *,
    base_url: str | None = None,
    metrics: Metrics | None = None,
    rate_limit_retries: int = 2,
    timeout: int = 30,
    secrets: Iterable[str] = (),
) -> MeteredWebClient:
    """The bot's Web API client (``base_url``: ``SLACK_API_URL``, default slack.com).

    ``secrets`` (the configured secret values) are masked in everything it sends.
    Call ``await client.aclose()`` at shutdown to close its connection pool.
    """
    return MeteredWebClient(
        token=token,
        base_url=base_url or DEFAULT_BASE_URL,
        timeout=timeout,
        retry_handlers=retry_handlers(rate_limit_retries=rate_limit_retries),
        metrics=metrics,
        secrets=secrets,
    )
