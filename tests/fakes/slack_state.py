"""In-memory Slack workspace for the fake Web API: channels, users, messages, files.

Pure state with Slack's rules for who may see and write what; no I/O. Messages are stored in
the shape ``conversations.history`` returns them, so tests compare against real payloads.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, Any]


class SlackError(Exception):
    """A Slack ``{"ok": false, "error": code}`` answer raised by a handler."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


@dataclass(slots=True)
class Channel:
    """A conversation. ``D…`` ids are the app's DMs, where the bot is always a member."""

    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    is_im: bool = False
    members: set[str] = field(default_factory=set)
    messages: list[Message] = field(default_factory=list)
    ephemerals: list[Message] = field(default_factory=list)

    def info(self, viewer: str) -> dict[str, Any]:
        """The ``channel`` object of conversations.info as seen by ``viewer``."""
        data: dict[str, Any] = {
            "id": self.id,
            "created": 1_600_000_000,
            "is_archived": self.is_archived,
            "is_im": self.is_im,
            "is_member": viewer in self.members,
            "is_private": self.is_private or self.is_im,
        }
        if self.is_im:
            others = sorted(self.members - {viewer})
            data["user"] = others[0] if others else viewer
        else:
            data |= {
                "name": self.name,
                "name_normalized": self.name,
                "is_channel": not self.is_private,
                "is_group": self.is_private,
                "is_general": self.name == "general",
                "num_members": len(self.members),
            }
        return data


@dataclass(slots=True)
class User:
    """A workspace member as users.info returns it."""

    id: str
    name: str
    real_name: str = ""
    is_bot: bool = False
    tz: str = "Europe/Berlin"

    def info(self, team_id: str) -> dict[str, Any]:
        """The ``user`` object of users.info."""
        real = self.real_name or self.name
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "real_name": real,
            "deleted": False,
            "is_bot": self.is_bot,
            "tz": self.tz,
            "profile": {"real_name": real, "display_name": self.name},
        }


@dataclass(slots=True)
class FakeFile:
    """An uploaded file: created by getUploadURLExternal, filled by the upload POST."""

    id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str | None = None
    shares: list[tuple[str, str | None]] = field(default_factory=list)

    def info(self) -> dict[str, Any]:
        """The ``file`` object of files.completeUploadExternal."""
        return {
            "id": self.id,
            "name": self.filename,
            "title": self.title or self.filename,
            "size": len(self.content or b""),
            "mimetype": "text/plain",
            "channels": sorted({c for c, _ in self.shares}),
        }


class TsClock:
    """Slack-style message timestamps: strictly increasing ``"1700000000.000100"`` strings."""

    def __init__(self, start_micros: int = 1_700_000_000_000_100, step_micros: int = 100) -> None:
        self._next = start_micros
        self._step = step_micros

    def next(self) -> str:
        """A new, never reused ts."""
        value = self._next
        self._next += self._step
        return f"{value // 1_000_000}.{value % 1_000_000:06d}"


@dataclass(slots=True)
class Identity:
    """Who the app is: what auth.test answers."""

    team_id: str = "T0FAKETEAM"
    team: str = "Fake Team"
    team_domain: str = "fake-team"
    bot_user_id: str = "U0BOTUSER"
    bot_id: str = "B0BOTID"
    app_id: str = "A0APPID"


class Workspace:
    """Channels, users and messages, with Slack's visibility rules for the bot."""

    def __init__(self, identity: Identity, *, chat_write_public: bool = False) -> None:
        self.identity = identity
        self.chat_write_public = chat_write_public
        self.ts = TsClock()
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, User] = {}
        self.files: dict[str, FakeFile] = {}
        #: user group ID → member user IDs (usergroups.users.list)
        self.usergroups: dict[str, list[str]] = {}
        self.add_user(User(identity.bot_user_id, "aom-exec", "AOM Exec", is_bot=True))

    # ---- setup -------------------------------------------------------------------------
    def add_user(self, user: User) -> User:
        """Register a user (idempotent on id)."""
        self.users[user.id] = user
        return user

    def add_channel(self, channel: Channel) -> Channel:
        """Register a channel."""
        self.channels[channel.id] = channel
        return channel

    # ---- access ------------------------------------------------------------------------
    @property
    def bot(self) -> str:
        """The bot user id."""
        return self.identity.bot_user_id

    def resolve(self, channel_id: object) -> Channel:
        """A channel the bot can see: private ones without the bot are invisible."""
        if not isinstance(channel_id, str) or not channel_id:
            raise SlackError("channel_not_found")
        if channel_id.startswith(("U", "W")) and channel_id in self.users:
            return self.dm_with(channel_id)
        channel = self.channels.get(channel_id)
        if channel is None:
            raise SlackError("channel_not_found")
        if (channel.is_private or channel.is_im) and self.bot not in channel.members:
            raise SlackError("channel_not_found")
        return channel

    def readable(self, channel_id: object) -> Channel:
        """A channel whose history the bot may read (member, or public via ``not_in_channel``)."""
        channel = self.resolve(channel_id)
        if self.bot not in channel.members:
            raise SlackError("not_in_channel")
        return channel

    def writable(self, channel_id: object) -> Channel:
        """A channel the bot may post in, else Slack's error for why not."""
        channel = self.resolve(channel_id)
        if channel.is_archived:
            raise SlackError("is_archived")
        if self.bot not in channel.members and not (
            self.chat_write_public and not channel.is_private
        ):
            raise SlackError("not_in_channel")
        return channel

    def dm_with(self, user_id: str) -> Channel:
        """The app's DM with ``user_id`` (Messages tab); created on first use."""
        dm_id = "D" + user_id[1:]
        channel = self.channels.get(dm_id)
        if channel is None:
            channel = self.add_channel(
                Channel(dm_id, dm_id, is_im=True, members={self.bot, user_id})
            )
        return channel

    # ---- messages ----------------------------------------------------------------------
    def find(self, channel: Channel, ts: object) -> Message:
        """The message with ``ts`` in ``channel`` (thread replies included)."""
        for message in channel.messages:
            if message["ts"] == ts:
                return message
        raise SlackError("message_not_found")

    def post(self, channel: Channel, fields: dict[str, Any]) -> Message:
        """Store a bot message; threads it under ``thread_ts`` when given."""
        ts = self.ts.next()
        message: Message = {
            "type": "message",
            "user": self.bot,
            "bot_id": self.identity.bot_id,
            "app_id": self.identity.app_id,
            "team": self.identity.team_id,
            "text": fields.get("text") or "",
            "ts": ts,
        }
        for key in ("blocks", "attachments", "metadata", "files", "upload"):
            if fields.get(key) is not None:
                message[key] = copy.deepcopy(fields[key])
        thread_ts = fields.get("thread_ts")
        if thread_ts:
            parent = self._thread_parent(channel, thread_ts)
            message["thread_ts"] = parent["ts"]
            message["parent_user_id"] = parent.get("user", "")
            parent["thread_ts"] = parent["ts"]
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            parent["latest_reply"] = ts
            parent["reply_users"] = sorted({*parent.get("reply_users", []), self.bot})
            parent["reply_users_count"] = len(parent["reply_users"])
            if truthy(fields.get("reply_broadcast")):
                message["subtype"] = "thread_broadcast"
        channel.messages.append(message)
        return message

    def _thread_parent(self, channel: Channel, thread_ts: object) -> Message:
        try:
            message = self.find(channel, thread_ts)
        except SlackError:
            # Slack accepts an unknown thread_ts and posts to the channel instead; a test that
            # passes one almost always has a bug, so the fake is stricter.
            raise SlackError("thread_not_found") from None
        parent_ts = message.get("thread_ts", message["ts"])
        return self.find(channel, parent_ts)

    def update(self, channel: Channel, ts: object, fields: dict[str, Any]) -> Message:
        """Edit a bot message in place, as chat.update does."""
        message = self.find(channel, ts)
        if message.get("user") != self.bot or message.get("subtype") == "tombstone":
            raise SlackError("cant_update_message")
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in fields and fields[key] is not None:
                message[key] = copy.deepcopy(fields[key])
        if "blocks" in fields and fields["blocks"] == []:
            message.pop("blocks", None)
        message["edited"] = {"user": self.bot, "ts": self.ts.next()}
        return message

    def delete(self, channel: Channel, ts: object, *, as_bot: bool = True) -> None:
        """Remove a message; a parent with replies leaves a tombstone, as in Slack."""
        message = self.find(channel, ts)
        if as_bot and message.get("user") != self.bot:
            raise SlackError("cant_delete_message")
        if message.get("reply_count") and message.get("thread_ts") == message["ts"]:
            keep = {k: message[k] for k in ("ts", "thread_ts", "reply_count", "latest_reply")}
            message.clear()
            message.update(keep, type="message", subtype="tombstone", hidden=True)
            message["text"] = "This message was deleted."
            return
        channel.messages.remove(message)

    def top_level(self, channel: Channel) -> list[Message]:
        """Channel-level messages oldest first (replies only when broadcast)."""
        return [
            m
            for m in channel.messages
            if m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast"
        ]

    def thread(self, channel: Channel, ts: object) -> list[Message]:
        """Parent then replies, oldest first, as conversations.replies orders them."""
        message = self.find(channel, ts)
        parent_ts = message.get("thread_ts", message["ts"])
        parent = self.find(channel, parent_ts)
        replies = [
            m for m in channel.messages if m.get("thread_ts") == parent_ts and m is not parent
        ]
        return [parent, *replies]


def truthy(value: object) -> bool:
    """Slack's boolean arguments arrive as bools, ``"1"``/``"0"`` or ``"true"``/``"false"``."""
    if isinstance(value, str):
        return value.lower() in ("1", "true")
    return bool(value)
