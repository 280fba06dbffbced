"""The shared HTTP client, with a short way to the transport for AK/SK-signed requests.

httpx's ``AsyncClient.send`` runs an auth-flow generator, a redirect loop, cookie extraction
(through ``urllib`` and ``http.cookiejar``), event hooks and stream wrappers on every request:
measured, about as much CPU as the aiohttp transport under it, and more than parsing a small
body. A request signed with AK/SK needs none of it (redirects are not followed, AOM's API sets no
cookie the bot would send back), so :meth:`AomHttpClient.send_direct` signs it and hands it to
the transport itself; an IAM token's request too (``TokenAuth.send`` answers a 401 with one
more request, as its auth flow does). Any other ``httpx.Auth`` goes through ``send``.
"""

from __future__ import annotations

from typing import Any

import httpx

from aom_bot.aom.auth import AkSkAuth, TokenAuth

__all__ = ["AomHttpClient", "new_request", "send"]

_JSON = (b"Content-Type", b"application/json")


class AomHttpClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` that remembers its one transport, to send signed requests to it."""

    def __init__(self, *, transport: httpx.AsyncBaseTransport, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self._direct = transport

    def new_request(self, method: str, url: httpx.URL, content: bytes | None) -> httpx.Request:
        """What ``build_request`` makes of an absolute URL and JSON content (the client's headers
        and timeout; no cookies, no params), without its merging."""
        return httpx.Request(
            method,
            url,
            content=content,
            headers=[*(kv for kv in self.headers.raw if kv[0].lower() != b"content-type"), _JSON],
            extensions={"timeout": self.timeout.as_dict()},
        )

    async def send_direct(self, request: httpx.Request) -> httpx.Response:
        """``send(request, stream=True)``: straight to the transport with AK/SK, an IAM token
        or no auth at all; any other ``httpx.Auth``, or event hooks, through ``send``."""
        auth = self.auth
        hooks = self._event_hooks
        if (auth is None or isinstance(auth, AkSkAuth | TokenAuth)) and not (
            hooks["request"] or hooks["response"]
        ):
            if self.is_closed:
                raise RuntimeError("Cannot send a request, as the client has been closed.")
            if isinstance(auth, TokenAuth):
                return await auth.send(request, self._direct.handle_async_request)
            if auth is not None:
                auth.sign(request)
            return await self._direct.handle_async_request(request)
        return await self.send(request, stream=True)


def new_request(
    http: httpx.AsyncClient, method: str, url: httpx.URL, content: bytes | None
) -> httpx.Request:
    """A JSON request on ``http`` (see :meth:`AomHttpClient.new_request`)."""
    if isinstance(http, AomHttpClient):
        return http.new_request(method, url, content)
    return http.build_request(
        method, url, content=content, headers={"Content-Type": "application/json"}
    )


async def send(http: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    """Send ``request`` on ``http``, streaming (see :meth:`AomHttpClient.send_direct`)."""
    if isinstance(http, AomHttpClient):
        return await http.send_direct(request)
    return await http.send(request, stream=True)
