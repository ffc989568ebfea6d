"""A OneBot v11 QQ host for tests, dialling Liaison's reverse WebSocket as NapCat would.

Written from the OneBot v11 specification alone (communication/ws-reverse.md,
authorization.md, event/message.md, event/meta.md, api/public.md, message/*.md), not from
Liaison's server, so the two can disagree where one of them misreads the spec.

The peer is a Universal client: it sends events (private and group messages, lifecycle and
heartbeat meta events) and answers the actions the server calls on the same connection.
It records every action with the loop's monotonic time, answers as scripted (ok with a new
message_id by default; a failure, silence, or an answer held until released), and reads
the messages sent to it the way a strict host would: a string message is CQ code unless
`auto_escape` is set, and malformed actions are answered `failed` 1400 and noted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

Segment = dict[str, Any]
Message = str | Sequence[Mapping[str, Any]]
MessageFormat = Literal["array", "string"]
Role = Literal["member", "admin", "owner"]

SEND_ACTIONS = ("send_private_msg", "send_group_msg", "send_msg")
# Suffixes the spec gives every action: queued, answered at once with status async.
ASYNC_SUFFIXES = ("_async", "_rate_limited")


class PeerRefused(Exception):
    """The server answered the WebSocket handshake with an HTTP status instead of 101."""

    def __init__(self, status: int) -> None:
        super().__init__(f"handshake refused with HTTP {status}")
        self.status = status


# CQ codes (message/string.md) -----------------------------------------------------------


def escape_text(text: str) -> str:
    """Plain text inside a CQ string: & [ ] escaped."""
    return text.replace("&", "&amp;").replace("[", "&#91;").replace("]", "&#93;")


def escape_param(value: str) -> str:
    """A CQ code parameter value: & [ ] and , escaped."""
    return escape_text(value).replace(",", "&#44;")


def unescape(text: str) -> str:
    # &amp; last, so "&amp;#91;" stays the literal "&#91;".
    return (
        text.replace("&#91;", "[").replace("&#93;", "]").replace("&#44;", ",").replace("&amp;", "&")
    )


def cq_code(segment: Mapping[str, Any]) -> str:
    """One segment as CQ string; a text segment is its escaped text."""
    data = segment.get("data") or {}
    if segment["type"] == "text":
        return escape_text(str(data.get("text", "")))
    params = "".join(f",{key}={escape_param(str(value))}" for key, value in data.items())
    return f"[CQ:{segment['type']}{params}]"


def to_cq_string(segments: Sequence[Mapping[str, Any]]) -> str:
    return "".join(cq_code(segment) for segment in segments)


_CQ = re.compile(r"\[CQ:([^,\]]+)((?:,[^\]]*)?)\]")


def parse_cq_string(message: str) -> list[Segment]:
    """A CQ string as segments, the way message/string.md says to parse it."""
    segments: list[Segment] = []

    def text(part: str) -> None:
        if part:
            segments.append({"type": "text", "data": {"text": unescape(part)}})

    position = 0
    for match in _CQ.finditer(message):
        text(message[position : match.start()])
        data: dict[str, str] = {}
        for param in filter(None, match.group(2).split(",")):
            key, _, value = param.partition("=")
            data[key] = unescape(value)
        segments.append({"type": match.group(1), "data": data})
        position = match.end()
    text(message[position:])
    return segments


def plain_text(segments: Sequence[Mapping[str, Any]]) -> str:
    """Text segments as they read; any other segment described by its (escaped) CQ code."""
    return "".join(
        str((segment.get("data") or {}).get("text", ""))
        if segment.get("type") == "text"
        else cq_code(segment)
        for segment in segments
    )


def _segment_problems(message: object) -> list[str]:
    if not isinstance(message, list):
        return [f"message is neither a string nor a segment array: {message!r}"]
    problems = []
    for index, segment in enumerate(message):
        if not isinstance(segment, dict) or not isinstance(segment.get("type"), str):
            problems.append(f"segment {index} has no type: {segment!r}")
        elif segment.get("data") is not None and not isinstance(segment["data"], dict):
            problems.append(f"segment {index} data is not an object: {segment!r}")
        elif segment["type"] == "text" and not isinstance(
            (segment.get("data") or {}).get("text"), str
        ):
            problems.append(f"text segment {index} has no text: {segment!r}")
    return problems


def _as_id(value: object) -> int | None:
    # The spec lets a host parse numbers given as strings (communication/http.md).
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


# What the peer received -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    status: str  # "ok" | "failed" | "async"
    retcode: int
    data: Any = None
    message: str | None = None
    wording: str | None = None


@dataclass(slots=True)
class Sent:
    """One action the server called, and how the peer answered it."""

    action: str
    params: dict[str, Any]
    echo: Any  # as received (any JSON value); None also when absent
    at: float  # loop time of arrival
    has_echo: bool = True
    answer: Answer | None = None  # None while held, or forever when silenced
    problems: list[str] = field(default_factory=list)

    @property
    def base_action(self) -> str:
        """The action without an _async / _rate_limited suffix."""
        for suffix in ASYNC_SUFFIXES:
            if self.action.endswith(suffix):
                return self.action.removesuffix(suffix)
        return self.action

    @property
    def is_message(self) -> bool:
        return self.base_action in SEND_ACTIONS

    @property
    def message_type(self) -> str | None:
        """private or group, for the send actions; send_msg as a host would infer it."""
        match self.base_action:
            case "send_private_msg":
                return "private"
            case "send_group_msg":
                return "group"
            case "send_msg":
                given = self.params.get("message_type")
                if given in ("private", "group"):
                    return str(given)
                if "group_id" in self.params:
                    return "group"
                if "user_id" in self.params:
                    return "private"
        return None

    @property
    def user_id(self) -> int | None:
        return _as_id(self.params.get("user_id")) if self.message_type == "private" else None

    @property
    def group_id(self) -> int | None:
        return _as_id(self.params.get("group_id")) if self.message_type == "group" else None

    @property
    def message_format(self) -> MessageFormat | None:
        message = self.params.get("message")
        if isinstance(message, str):
            return "string"
        if isinstance(message, list):
            return "array"
        return None

    @property
    def auto_escape(self) -> bool:
        return self.params.get("auto_escape") is True

    @property
    def cq_codes(self) -> bool:
        """A string message the host parsed CQ codes out of (auto_escape not set)."""
        message = self.params.get("message")
        return (
            isinstance(message, str)
            and not self.auto_escape
            and any(s["type"] != "text" for s in parse_cq_string(message))
        )

    @property
    def segments(self) -> list[Segment]:
        """The message as the host reads it."""
        message = self.params.get("message")
        if isinstance(message, str):
            if self.auto_escape:
                return [{"type": "text", "data": {"text": message}}]
            return parse_cq_string(message)
        if isinstance(message, list) and not _segment_problems(message):
            return message
        return []

    @property
    def text(self) -> str:
        """Plain text of the message (non-text segments as CQ codes)."""
        return plain_text(self.segments)

    @property
    def delivered(self) -> bool:
        """Answered ok, or async (queued by the host); not failed, held or silenced."""
        return self.answer is not None and self.answer.status in ("ok", "async")


# The peer -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Step:
    kind: Literal["answer", "silent", "hold"]
    answer: Answer | None = None


class OneBotPeer:
    """A QQ host dialling a OneBot v11 reverse WebSocket URL as a Universal client."""

    def __init__(
        self,
        url: str,
        *,
        self_id: int = 3_000_000_001,
        token: str | None = None,  # None: no Authorization header
        message_format: MessageFormat = "array",
        nickname: str = "联络机器人",
        lifecycle_on_connect: bool = True,
        heartbeat_interval: int = 15_000,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.self_id = self_id
        self.token = token
        self.message_format: MessageFormat = message_format
        self.nickname = nickname
        self.lifecycle_on_connect = lifecycle_on_connect
        self.heartbeat_interval = heartbeat_interval
        self._now = now
        self.sent: list[Sent] = []
        self.problems: list[str] = []  # frames that were not actions at all
        self.connections = 0  # handshakes that succeeded
        self.close_code: int | None = None  # of the last connection, once closed
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._script: dict[str, deque[_Step]] = {}
        self._persistent: dict[str, Answer] = {}
        self._held: list[Sent] = []
        self._next_message_id = 1000
        self._changed = asyncio.Event()

    # Connection --------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._ws is not None and self._reader is not None and not self._reader.done()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def headers(self) -> dict[str, str]:
        """The handshake headers of ws-reverse.md and authorization.md."""
        headers = {"X-Self-ID": str(self.self_id), "X-Client-Role": "Universal"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def connect(self) -> None:
        """Dial the server; PeerRefused when it answers the handshake with an HTTP status."""
        assert not self.connected, "already connected"
        try:
            ws = await connect(
                self.url,
                additional_headers=self.headers(),
                user_agent_header="OneBot/11",
                proxy=None,
                ping_interval=None,  # hosts do not ping; keeps the recorded traffic exact
                open_timeout=5,
            )
        except InvalidStatus as refused:
            raise PeerRefused(refused.response.status_code) from None
        self._ws = ws
        self.close_code = None
        self.connections += 1
        self._reader = asyncio.create_task(self._read(ws))
        if self.lifecycle_on_connect:
            # A server may close right after accepting (a second host with the same
            # self_id, say); the test then reads close_code instead of an exception here.
            with contextlib.suppress(ConnectionClosed):
                await self.lifecycle()
        self._notify()

    async def close(self) -> None:
        """Close politely, with a close frame."""
        if self._ws is not None:
            await self._ws.close()
        await self._reader_done()

    async def drop(self) -> None:
        """Cut the connection abruptly, as a crashed host or a lost network would."""
        if self._ws is not None:
            self._ws.transport.abort()
        await self._reader_done()

    async def _reader_done(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._reader = None
        self._ws = None
        self._held.clear()  # their answers can no longer be sent

    # Events ------------------------------------------------------------------------------

    async def send_event(self, event: Mapping[str, Any]) -> None:
        """Send any event; time and self_id are filled in when missing."""
        frame = {"time": int(self._now()), "self_id": self.self_id, **event}
        await self.send_raw(json.dumps(frame, ensure_ascii=False))

    async def send_raw(self, frame: str | bytes) -> None:
        """Send one frame as it is (for malformed input)."""
        assert self._ws is not None, "not connected"
        await self._ws.send(frame)

    async def lifecycle(self) -> None:
        await self.send_event(
            {"post_type": "meta_event", "meta_event_type": "lifecycle", "sub_type": "connect"}
        )

    async def heartbeat(self, interval: int | None = None) -> None:
        """One heartbeat meta event now; interval (ms) to the next one, as announced."""
        await self.send_event(
            {
                "post_type": "meta_event",
                "meta_event_type": "heartbeat",
                "status": {"online": True, "good": True},
                "interval": self.heartbeat_interval if interval is None else interval,
            }
        )

    async def private_message(
        self,
        user_id: int,
        message: Message,
        *,
        nickname: str = "流动党员",
        sub_type: str = "friend",
        message_format: MessageFormat | None = None,
    ) -> int:
        """A member's private message; returns its message_id."""
        message_id = self._new_message_id()
        await self.send_event(
            {
                "post_type": "message",
                "message_type": "private",
                "sub_type": sub_type,
                "message_id": message_id,
                "user_id": user_id,
                **self._message_fields(message, message_format),
                "font": 0,
                "sender": {"user_id": user_id, "nickname": nickname, "sex": "unknown", "age": 0},
            }
        )
        return message_id

    async def location(
        self,
        user_id: int,
        lat: float | str,
        lon: float | str,
        *,
        title: str = "",
        content: str = "",
        nickname: str = "流动党员",
        message_format: MessageFormat | None = None,
    ) -> int:
        """A private message holding one location segment (values are strings, as specified)."""
        data = {"lat": str(lat), "lon": str(lon)}
        if title:
            data["title"] = title
        if content:
            data["content"] = content
        segment = {"type": "location", "data": data}
        return await self.private_message(
            user_id, [segment], nickname=nickname, message_format=message_format
        )

    async def group_message(
        self,
        group_id: int,
        user_id: int,
        message: Message,
        *,
        role: Role = "member",
        nickname: str = "流动党员",
        card: str = "",
        message_format: MessageFormat | None = None,
    ) -> int:
        """A message in a QQ group; returns its message_id."""
        message_id = self._new_message_id()
        await self.send_event(
            {
                "post_type": "message",
                "message_type": "group",
                "sub_type": "normal",
                "message_id": message_id,
                "group_id": group_id,
                "user_id": user_id,
                "anonymous": None,
                **self._message_fields(message, message_format),
                "font": 0,
                "sender": {
                    "user_id": user_id,
                    "nickname": nickname,
                    "card": card,
                    "role": role,
                    "sex": "unknown",
                    "age": 0,
                },
            }
        )
        return message_id

    def _message_fields(
        self, message: Message, message_format: MessageFormat | None
    ) -> dict[str, Any]:
        segments: list[Segment] = (
            [{"type": "text", "data": {"text": message}}]
            if isinstance(message, str)
            else [dict(segment) for segment in message]
        )
        raw = to_cq_string(segments)
        fmt = message_format or self.message_format
        return {"message": segments if fmt == "array" else raw, "raw_message": raw}

    def _new_message_id(self) -> int:
        self._next_message_id += 1
        return self._next_message_id

    # Scripting answers -------------------------------------------------------------------

    def answer_next(
        self,
        action: str,
        retcode: int = 100,
        *,
        status: str | None = None,
        message: str | None = None,
        wording: str | None = None,
        data: Any = None,
    ) -> None:
        """Answer the next call of action so; status from retcode (0 ok, 1 async) unless given."""
        answer = _answer(retcode, status, message, wording, data)
        self._script.setdefault(action, deque()).append(_Step("answer", answer))

    def silence_next(self, action: str) -> None:
        """Never answer the next call of action (the server has to time out)."""
        self._script.setdefault(action, deque()).append(_Step("silent"))

    def hold_next(self, action: str) -> None:
        """Answer the next call of action as by default, but only on release()."""
        self._script.setdefault(action, deque()).append(_Step("hold"))

    async def release(self) -> None:
        """Send the answers held by hold_next, in order."""
        held, self._held = self._held, []
        for sent in held:
            await self._answer(sent, self._default_answer(sent))

    def answer_all(
        self,
        retcode: int | None,
        *,
        status: str | None = None,
        message: str | None = None,
        wording: str | None = None,
        actions: Sequence[str] = SEND_ACTIONS,
    ) -> None:
        """From now on answer these actions so (after any scripted steps); None: as by default."""
        for action in actions:
            if retcode is None:
                self._persistent.pop(action, None)
            else:
                self._persistent[action] = _answer(retcode, status, message, wording, None)

    # Reading what was sent ---------------------------------------------------------------

    def messages_to(
        self, user_id: int | None = None, group_id: int | None = None, *, delivered: bool = True
    ) -> list[Sent]:
        """Send actions to that member or group (both None: all), by default only delivered."""
        return [
            sent
            for sent in self.sent
            if sent.is_message
            and (sent.delivered or not delivered)
            and (user_id is None or sent.user_id == user_id)
            and (group_id is None or sent.group_id == group_id)
        ]

    def texts_to(
        self, user_id: int | None = None, group_id: int | None = None, *, delivered: bool = True
    ) -> list[str]:
        """Plain text of each message sent there (see Sent.text)."""
        return [sent.text for sent in self.messages_to(user_id, group_id, delivered=delivered)]

    def calls(self, action: str) -> list[Sent]:
        return [sent for sent in self.sent if sent.action == action]

    async def wait_for(self, condition: Callable[[], bool], within: float = 5.0) -> None:
        """Wait until condition holds; it is checked whenever something arrives or changes."""

        async def until() -> None:
            while not condition():
                changed = self._changed
                await changed.wait()

        await asyncio.wait_for(until(), within)

    async def wait_sent(self, count: int, within: float = 5.0) -> list[Sent]:
        await self.wait_for(lambda: len(self.sent) >= count, within)
        return self.sent

    # Inside ------------------------------------------------------------------------------

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                await self._receive(frame)
                self._notify()
        except ConnectionClosed:
            pass
        finally:
            self.close_code = ws.close_code
            self._notify()

    async def _receive(self, frame: str | bytes) -> None:
        loop = asyncio.get_running_loop()
        if isinstance(frame, bytes):
            self.problems.append(f"binary frame: {frame[:80]!r}")
            return
        try:
            request = json.loads(frame)
        except ValueError:
            self.problems.append(f"not JSON: {frame[:80]!r}")
            return
        if not isinstance(request, dict) or not isinstance(request.get("action"), str):
            self.problems.append(f"not an action: {frame[:80]!r}")
            return
        params = request.get("params")
        sent = Sent(
            action=request["action"],
            params=params if isinstance(params, dict) else {},
            echo=request.get("echo"),
            has_echo="echo" in request,
            at=loop.time(),
        )
        if params is not None and not isinstance(params, dict):
            sent.problems.append(f"params is not an object: {params!r}")
        sent.problems.extend(_param_problems(sent))
        self.sent.append(sent)
        steps = self._script.get(sent.action)
        step = steps.popleft() if steps else None
        if step is not None and step.kind == "silent":
            return
        if step is not None and step.kind == "hold":
            self._held.append(sent)
            return
        if step is not None and step.answer is not None:
            answer = step.answer
        elif sent.action in self._persistent:
            answer = self._persistent[sent.action]
        else:
            answer = self._default_answer(sent)
        if answer.status == "ok" and sent.is_message and answer.data is None:
            answer = Answer("ok", 0, {"message_id": self._new_message_id()})
        await self._answer(sent, answer)

    def _default_answer(self, sent: Sent) -> Answer:
        if sent.problems:
            return Answer("failed", 1400, None, "; ".join(sent.problems), "请求参数错误")
        if sent.action != sent.base_action and sent.base_action in _KNOWN:
            return Answer("async", 1)
        match sent.action:
            case "send_private_msg" | "send_group_msg" | "send_msg":
                return Answer("ok", 0, {"message_id": self._new_message_id()})
            case "get_login_info":
                return Answer("ok", 0, {"user_id": self.self_id, "nickname": self.nickname})
            case "get_status":
                return Answer("ok", 0, {"online": True, "good": True})
            case "get_friend_list" | "get_group_list":
                return Answer("ok", 0, [])
            case "get_version_info":
                return Answer(
                    "ok",
                    0,
                    {"app_name": "onebot-peer", "app_version": "1", "protocol_version": "v11"},
                )
        return Answer("failed", 1404, None, f"unknown action {sent.action}", "API 不存在")

    async def _answer(self, sent: Sent, answer: Answer) -> None:
        sent.answer = answer
        reply: dict[str, Any] = {
            "status": answer.status,
            "retcode": answer.retcode,
            "data": answer.data,
        }
        if answer.message is not None:
            reply["message"] = answer.message
        if answer.wording is not None:
            reply["wording"] = answer.wording
        if sent.has_echo:
            reply["echo"] = sent.echo
        if self._ws is None:
            return
        with contextlib.suppress(ConnectionClosed):
            await self._ws.send(json.dumps(reply, ensure_ascii=False))
        self._notify()


_KNOWN = {*SEND_ACTIONS, "get_login_info", "get_status", "get_friend_list", "get_group_list"}


def _answer(
    retcode: int, status: str | None, message: str | None, wording: str | None, data: Any
) -> Answer:
    if status is None:
        status = {0: "ok", 1: "async"}.get(retcode, "failed")
    return Answer(status, retcode, data, message, wording)


def _param_problems(sent: Sent) -> list[str]:
    """What a strict host rejects in a send action's params."""
    if not sent.is_message:
        return []
    problems = []
    if sent.message_type is None:
        problems.append("send_msg without message_type, user_id or group_id")
    elif sent.message_type == "private" and sent.user_id is None:
        problems.append(f"user_id missing or not a number: {sent.params.get('user_id')!r}")
    elif sent.message_type == "group" and sent.group_id is None:
        problems.append(f"group_id missing or not a number: {sent.params.get('group_id')!r}")
    message = sent.params.get("message")
    if not isinstance(message, str):
        problems.extend(_segment_problems(message))
    if message in ("", []):
        problems.append("empty message")
    return problems
