"""Slack Web API methods of the fake: arguments in, Slack-shaped JSON out, no I/O.

Each handler takes the merged call arguments (query, form and JSON body, with JSON-string
fields already decoded) and returns the ``{"ok": true, ...}`` body, or raises
:class:`SlackError` whose code and extra fields become ``{"ok": false, "error": ...}``.
Where Slack's behaviour is undocumented the fake picks the stricter answer; those spots are
marked "assumption".
"""

from __future__ import annotations

import base64
import binascii
import copy
import itertools
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from tests.fakes.block_kit import VIEW_MAX_BLOCKS, validate_blocks
from tests.fakes.slack_state import Channel, FakeFile, Message, SlackError, Workspace, truthy

Args = dict[str, Any]
Handler = Callable[[Args], dict[str, Any]]

MSG_TEXT_MAX = 40_000
ATTACHMENTS_MAX = 100
PRIVATE_METADATA_MAX = 3000


def require(args: Args, *names: str) -> None:
    """Slack's answer to a missing required argument."""
    missing = [name for name in names if args.get(name) in (None, "")]
    if missing:
        raise SlackError(
            "invalid_arguments",
            response_metadata={
                "messages": [f"[ERROR] missing required field: {n}" for n in missing]
            },
        )


def check_content(args: Args) -> None:
    """Block Kit, attachment, text and metadata checks shared by chat.* methods."""
    blocks, attachments, text = args.get("blocks"), args.get("attachments"), args.get("text")
    if text is not None and not isinstance(text, str):
        raise SlackError("invalid_arguments")
    if blocks is not None:
        verdict = validate_blocks(blocks)
        if not verdict.ok:
            _raise_blocks(verdict.error or "invalid_blocks", verdict.errors)
    if attachments is not None:
        if not isinstance(attachments, list):
            raise SlackError("invalid_attachments")
        if len(attachments) > ATTACHMENTS_MAX:
            raise SlackError("too_many_attachments")
        for i, attachment in enumerate(attachments):
            if isinstance(attachment, dict) and "blocks" in attachment:
                verdict = validate_blocks(
                    attachment["blocks"], pointer=f"/attachments/{i}/blocks", total_text_max=None
                )
                if not verdict.ok:
                    _raise_blocks(verdict.error or "invalid_blocks", verdict.errors)
    if not text and not blocks and not attachments:
        raise SlackError("no_text")
    if isinstance(text, str) and len(text) > MSG_TEXT_MAX:
        raise SlackError("msg_too_long")
    metadata = args.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and isinstance(metadata.get("event_payload"), dict)
    ):
        raise SlackError("invalid_metadata_format")


def _raise_blocks(code: str, errors: tuple[str, ...]) -> None:
    extra: dict[str, Any] = {}
    if errors:
        extra = {
            "errors": list(errors),
            "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]},
        }
    raise SlackError(code, **extra)


def paginate(items: list[Any], args: Args, default_limit: int = 100) -> tuple[list[Any], Args]:
    """Slack cursor pagination over ``items``: the page plus ``has_more``/``next_cursor``."""
    offset = 0
    cursor = args.get("cursor")
    if cursor:
        try:
            kind, _, raw = base64.b64decode(str(cursor), validate=True).decode().partition(":")
            offset = int(raw)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise SlackError("invalid_cursor") from None
        if kind != "offset" or offset < 0:
            raise SlackError("invalid_cursor")
    try:
        limit = max(1, min(1000, int(args.get("limit") or default_limit)))
    except ValueError:
        raise SlackError("invalid_limit") from None
    page = items[offset : offset + limit]
    has_more = offset + limit < len(items)
    next_cursor = base64.b64encode(f"offset:{offset + limit}".encode()).decode() if has_more else ""
    return page, {"has_more": has_more, "response_metadata": {"next_cursor": next_cursor}}


def _ts_value(value: object, default: Decimal) -> Decimal:
    if value in (None, ""):
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise SlackError("invalid_ts_oldest") from None


def _view(message: Message, *, with_metadata: bool) -> Message:
    shown = copy.deepcopy(message)
    if not with_metadata:
        shown.pop("metadata", None)
    return shown


class WebApiMethods:
    """The method table: ``handlers["chat.postMessage"](args)`` and friends."""

    def __init__(self, workspace: Workspace, *, origin: Callable[[], str]) -> None:
        self.ws = workspace
        self._origin = origin
        self.home_views: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self.handlers: dict[str, Handler] = {
            "auth.test": self.auth_test,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.delete": self.chat_delete,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.getPermalink": self.chat_get_permalink,
            "conversations.join": self.conversations_join,
            "conversations.info": self.conversations_info,
            "conversations.history": self.conversations_history,
            "conversations.replies": self.conversations_replies,
            "conversations.members": self.conversations_members,
            "users.info": self.users_info,
            "usergroups.users.list": self.usergroups_users_list,
            "users.conversations": self.users_conversations,
            "views.publish": self.views_publish,
            "files.getUploadURLExternal": self.files_get_upload_url_external,
            "files.completeUploadExternal": self.files_complete_upload_external,
        }

    def new_id(self, prefix: str) -> str:
        """A fresh Slack-looking id such as ``F0000000003``."""
        return f"{prefix}{next(self._ids):010d}"

    # ---- auth / chat -------------------------------------------------------------------
    def auth_test(self, args: Args) -> dict[str, Any]:
        """Who the token belongs to; Bolt calls this once per process."""
        ident = self.ws.identity
        return {
            "url": f"https://{ident.team_domain}.slack.com/",
            "team": ident.team,
            "user": "aom-exec",
            "team_id": ident.team_id,
            "user_id": ident.bot_user_id,
            "bot_id": ident.bot_id,
            "is_enterprise_install": False,
        }

    def chat_post_message(self, args: Args) -> dict[str, Any]:
        """Post to a channel id, or to a user id (then into the app's DM)."""
        require(args, "channel")
        channel = self.ws.writable(args["channel"])
        check_content(args)
        message = self.ws.post(channel, args)
        return {
            "channel": channel.id,
            "ts": message["ts"],
            "message": _view(message, with_metadata=True),
        }

    def chat_update(self, args: Args) -> dict[str, Any]:
        """Edit a bot message. Assumption: needs the same channel access as posting."""
        require(args, "channel", "ts")
        channel = self.ws.writable(args["channel"])
        check_content(args)
        message = self.ws.update(channel, args["ts"], args)
        return {
            "channel": channel.id,
            "ts": message["ts"],
            "text": message.get("text", ""),
            "message": _view(message, with_metadata=True),
        }

    def chat_delete(self, args: Args) -> dict[str, Any]:
        """Delete a bot message."""
        require(args, "channel", "ts")
        channel = self.ws.writable(args["channel"])
        self.ws.delete(channel, args["ts"])
        return {"channel": channel.id, "ts": args["ts"]}

    def chat_post_ephemeral(self, args: Args) -> dict[str, Any]:
        """A message only ``user`` sees; it is never in history and cannot be updated."""
        require(args, "channel", "user")
        channel = self.ws.writable(args["channel"])
        if args["user"] not in self.ws.users:
            raise SlackError("user_not_found")
        if args["user"] not in channel.members:
            raise SlackError("user_not_in_channel")
        check_content(args)
        ts = self.ws.ts.next()
        kept = {
            k: copy.deepcopy(v) for k, v in args.items() if k in ("text", "blocks", "thread_ts")
        }
        channel.ephemerals.append({"type": "message", "ts": ts, "user": args["user"], **kept})
        return {"message_ts": ts}

    def chat_get_permalink(self, args: Args) -> dict[str, Any]:
        """``https://<team>.slack.com/archives/<channel>/p<ts without dot>``."""
        require(args, "channel", "message_ts")
        channel = self.ws.resolve(args["channel"])
        message = self.ws.find(channel, args["message_ts"])
        link = (
            f"https://{self.ws.identity.team_domain}.slack.com/archives/{channel.id}/"
            f"p{message['ts'].replace('.', '')}"
        )
        if message.get("thread_ts") not in (None, message["ts"]):
            link += f"?thread_ts={message['thread_ts']}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    # ---- conversations -----------------------------------------------------------------
    def conversations_join(self, args: Args) -> dict[str, Any]:
        """Public channels only; private ones are invisible (``channel_not_found``)."""
        require(args, "channel")
        channel = self.ws.resolve(args["channel"])
        if channel.is_im:
            raise SlackError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise SlackError("is_archived")
        result: dict[str, Any] = {}
        if self.ws.bot in channel.members:
            result["warning"] = "already_in_channel"
            result["response_metadata"] = {"warnings": ["already_in_channel"]}
        else:
            channel.members.add(self.ws.bot)
            channel.messages.append(
                {
                    "type": "message",
                    "subtype": "channel_join",
                    "user": self.ws.bot,
                    "text": f"<@{self.ws.bot}> has joined the channel",
                    "ts": self.ws.ts.next(),
                }
            )
        result["channel"] = channel.info(self.ws.bot)
        return result

    def conversations_info(self, args: Args) -> dict[str, Any]:
        """Privacy and membership of a channel the bot can see."""
        require(args, "channel")
        return {"channel": self.ws.resolve(args["channel"]).info(self.ws.bot)}

    def conversations_history(self, args: Args) -> dict[str, Any]:
        """Newest first; metadata only with ``include_all_metadata`` (assumption: strict)."""
        require(args, "channel")
        channel = self.ws.readable(args["channel"])
        oldest = _ts_value(args.get("oldest"), Decimal(0))
        latest = _ts_value(args.get("latest"), Decimal("9" * 12))
        inclusive = truthy(args.get("inclusive"))

        def within(message: Message) -> bool:
            ts = Decimal(message["ts"])
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        with_metadata = truthy(args.get("include_all_metadata"))
        newest_first = [
            _view(m, with_metadata=with_metadata)
            for m in reversed(self.ws.top_level(channel))
            if within(m)
        ]
        page, more = paginate(newest_first, args)
        return {"messages": page, **more}

    def conversations_replies(self, args: Args) -> dict[str, Any]:
        """Parent first, then replies oldest first."""
        require(args, "channel", "ts")
        channel = self.ws.readable(args["channel"])
        try:
            thread = self.ws.thread(channel, args["ts"])
        except SlackError:
            raise SlackError("thread_not_found") from None
        with_metadata = truthy(args.get("include_all_metadata"))
        page, more = paginate([_view(m, with_metadata=with_metadata) for m in thread], args, 1000)
        return {"messages": page, **more}

    def conversations_members(self, args: Args) -> dict[str, Any]:
        """Member user ids of a channel the bot can see."""
        require(args, "channel")
        channel = self.ws.resolve(args["channel"])
        page, more = paginate(sorted(channel.members), args)
        return {"members": page, **more}

    # ---- users / views -----------------------------------------------------------------
    def users_info(self, args: Args) -> dict[str, Any]:
        """A user's names and time zone."""
        require(args, "user")
        user = self.ws.users.get(args["user"])
        if user is None:
            raise SlackError("user_not_found")
        return {"user": user.info(self.ws.identity.team_id)}

    def usergroups_users_list(self, args: Args) -> dict[str, Any]:
        """The members of a user group (``usergroup``), as IDs."""
        require(args, "usergroup")
        members = self.ws.usergroups.get(str(args["usergroup"]))
        if members is None:
            raise SlackError("no_such_subteam")
        return {"users": list(members)}

    def users_conversations(self, args: Args) -> dict[str, Any]:
        """Conversations ``user`` (default: the bot) belongs to, filtered by ``types``."""
        user = args.get("user") or self.ws.bot
        types = set(str(args.get("types") or "public_channel").split(","))
        exclude_archived = truthy(args.get("exclude_archived"))

        def kind(channel: Channel) -> str:
            if channel.is_im:
                return "im"
            return "private_channel" if channel.is_private else "public_channel"

        chosen = [
            c.info(self.ws.bot)
            for c in self.ws.channels.values()
            if user in c.members and kind(c) in types and not (exclude_archived and c.is_archived)
        ]
        page, more = paginate(chosen, args)
        return {"channels": page, **more}

    def views_publish(self, args: Args) -> dict[str, Any]:
        """Publish a Home tab (``type: home``, ≤ 100 blocks); stored in ``home_views``."""
        require(args, "user_id", "view")
        user_id, view = args["user_id"], args["view"]
        if user_id not in self.ws.users:
            raise SlackError("user_not_found")
        problems: list[str] = []
        if not isinstance(view, dict) or view.get("type") != "home":
            problems.append("must be a home view [json-pointer:/view/type]")
        else:
            verdict = validate_blocks(
                view.get("blocks"),
                max_blocks=VIEW_MAX_BLOCKS,
                pointer="/view/blocks",
                total_text_max=None,
            )
            problems.extend(verdict.errors)
            meta = view.get("private_metadata")
            if isinstance(meta, str) and len(meta) > PRIVATE_METADATA_MAX:
                problems.append(
                    "must be less than 3001 characters [json-pointer:/view/private_metadata]"
                )
        if problems:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
            )
        current = self.home_views.get(user_id)
        if args.get("hash") and current is not None and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        ident = self.ws.identity
        published = {
            **copy.deepcopy(view),
            "id": current["id"] if current else self.new_id("V"),
            "hash": self.new_id("h."),
            "team_id": ident.team_id,
            "app_id": ident.app_id,
            "bot_id": ident.bot_id,
        }
        self.home_views[user_id] = published
        return {"view": copy.deepcopy(published)}

    # ---- files -------------------------------------------------------------------------
    def files_get_upload_url_external(self, args: Args) -> dict[str, Any]:
        """Step 1 of files_upload_v2: an upload URL pointing back at the fake."""
        require(args, "filename", "length")
        try:
            length = int(args["length"])
        except ValueError:
            raise SlackError("invalid_arguments") from None
        file = FakeFile(self.new_id("F"), str(args["filename"]), length)
        self.ws.files[file.id] = file
        return {"upload_url": f"{self._origin()}/upload/v1/{file.id}", "file_id": file.id}

    def files_complete_upload_external(self, args: Args) -> dict[str, Any]:
        """Step 3: name the uploaded files and share them into a channel or thread."""
        require(args, "files")
        items = args["files"]
        if not isinstance(items, list) or not items:
            raise SlackError("invalid_arguments")
        files: list[FakeFile] = []
        for item in items:
            file = self.ws.files.get(item.get("id", "")) if isinstance(item, dict) else None
            if file is None or file.content is None:
                raise SlackError("file_not_found")
            file.title = item.get("title") or file.filename
            files.append(file)
        targets = [args["channel_id"]] if args.get("channel_id") else []
        if args.get("channels"):
            targets += str(args["channels"]).split(",")
        if args.get("thread_ts") and not targets:
            raise SlackError("invalid_arguments")
        channels = [self.ws.writable(target) for target in targets]
        for channel in channels:
            for file in files:
                file.shares.append((channel.id, args.get("thread_ts")))
        for channel in channels:
            self.ws.post(
                channel,
                {
                    "text": args.get("initial_comment") or "",
                    "thread_ts": args.get("thread_ts"),
                    "files": [f.info() for f in files],
                    "upload": True,
                },
            )
        return {"files": [f.info() for f in files]}
