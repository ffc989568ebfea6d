"""The OneBot v11 host double itself, against a tiny reverse-WebSocket server written here.

The server checks the token the way authorization.md says and hands each connection to the
test, which calls actions on it and reads the events the peer pushes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.onebot_peer import (
    OneBotPeer,
    PeerRefused,
    parse_cq_string,
    plain_text,
    to_cq_string,
)

TOKEN = "t0ken"
SELF_ID = 3_000_000_001
MEMBER = 10_001_000
GROUP = 123_456_789
TAKEN = 3_000_000_009  # the server closes at once on this self_id
WITHIN = 2.0


@dataclass
class Link:
    """One connection the server accepted, as the test sees it."""

    ws: ServerConnection
    headers: Headers
    events: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    answers: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    close_frame_received: bool | None = None

    async def event(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.events.get(), WITHIN)

    async def call(self, action: str, echo: Any = "e1", **params: Any) -> dict[str, Any]:
        await self.ws.send(json.dumps({"action": action, "params": params, "echo": echo}))
        return await asyncio.wait_for(self.answers.get(), WITHIN)


class TinyServer:
    """Reverse WebSocket endpoint: /onebot/v11/ws, Bearer token checked at the handshake."""

    def __init__(self) -> None:
        self.links: asyncio.Queue[Link] = asyncio.Queue()
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/onebot/v11/ws"

    async def __aenter__(self) -> TinyServer:
        self._server = await serve(
            self._handle, "127.0.0.1", 0, process_request=self._check, ping_interval=None
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def link(self) -> Link:
        return await asyncio.wait_for(self.links.get(), WITHIN)

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path != "/onebot/v11/ws":
            return connection.respond(HTTPStatus.NOT_FOUND, "no such endpoint\n")
        authorization = request.headers.get("Authorization")
        if authorization is None:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "token required\n")
        if authorization != f"Bearer {TOKEN}":
            return connection.respond(HTTPStatus.FORBIDDEN, "wrong token\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        if ws.request.headers["X-Self-ID"] == str(TAKEN):
            await ws.close(1008, "this QQ account is already connected")
            return
        link = Link(ws, ws.request.headers)
        await self.links.put(link)
        with contextlib.suppress(ConnectionClosed):
            async for frame in ws:
                payload = json.loads(frame)
                queue = link.events if "post_type" in payload else link.answers
                await queue.put(payload)
        link.close_frame_received = ws.protocol.close_rcvd is not None
        link.closed.set()


@pytest.fixture
async def server() -> AsyncIterator[TinyServer]:
    async with TinyServer() as running:
        yield running


@pytest.fixture
async def peer(server: TinyServer) -> AsyncIterator[OneBotPeer]:
    async with OneBotPeer(server.url, self_id=SELF_ID, token=TOKEN, now=lambda: 1_700_000_000) as p:
        yield p
    assert p.problems == []


async def test_the_handshake_carries_the_reverse_websocket_headers_then_lifecycle(
    server: TinyServer, peer: OneBotPeer
) -> None:
    link = await server.link()
    assert link.headers["X-Self-ID"] == str(SELF_ID)
    assert link.headers["X-Client-Role"] == "Universal"
    assert link.headers["Authorization"] == f"Bearer {TOKEN}"
    assert link.headers["User-Agent"] == "OneBot/11"
    assert await link.event() == {
        "time": 1_700_000_000,
        "self_id": SELF_ID,
        "post_type": "meta_event",
        "meta_event_type": "lifecycle",
        "sub_type": "connect",
    }
    assert peer.connected

    await peer.heartbeat(interval=5_000)
    beat = await link.event()
    assert beat["meta_event_type"] == "heartbeat"
    assert beat["interval"] == 5_000
    assert beat["status"] == {"online": True, "good": True}


@pytest.mark.parametrize(("token", "status"), [("wrong", 403), (None, 401)])
async def test_a_refused_handshake_raises_peer_refused(
    server: TinyServer, token: str | None, status: int
) -> None:
    peer = OneBotPeer(server.url, self_id=SELF_ID, token=token)
    with pytest.raises(PeerRefused) as refused:
        await peer.connect()
    assert refused.value.status == status
    assert not peer.connected
    assert server.links.empty()


async def test_actions_are_answered_with_their_echo(server: TinyServer, peer: OneBotPeer) -> None:
    link = await server.link()
    first = await link.call("send_private_msg", echo="a1", user_id=MEMBER, message="你好")
    second = await link.call(
        "send_group_msg", echo={"n": 2}, group_id=GROUP, message=[_text("大家好")]
    )
    assert first["status"] == "ok"
    assert first["retcode"] == 0
    assert first["echo"] == "a1"
    assert second["echo"] == {"n": 2}
    assert second["data"]["message_id"] > first["data"]["message_id"]

    login = await link.call("get_login_info", echo=3)
    assert (login["echo"], login["data"]["user_id"]) == (3, SELF_ID)
    assert (await link.call("get_status"))["data"]["online"] is True
    assert (await link.call("get_friend_list"))["data"] == []
    queued = await link.call("send_msg_async", message_type="group", group_id=GROUP, message="排队")
    assert (queued["status"], queued["retcode"], queued["data"]) == ("async", 1, None)
    unknown = await link.call("set_restart", echo="x")
    assert (unknown["status"], unknown["retcode"], unknown["echo"]) == ("failed", 1404, "x")

    assert [s.action for s in peer.sent][:2] == ["send_private_msg", "send_group_msg"]
    assert peer.texts_to(user_id=MEMBER) == ["你好"]
    assert peer.texts_to(group_id=GROUP) == ["大家好", "排队"]
    assert peer.sent[0].at <= peer.sent[1].at


async def test_scripted_failures_silence_hold_and_persistent_answers(
    server: TinyServer, peer: OneBotPeer
) -> None:
    link = await server.link()
    peer.answer_next("send_private_msg", retcode=100, message="账号被风控", wording="发送失败")
    failed = await link.call("send_private_msg", user_id=MEMBER, message=[_text("一")])
    assert failed["status"] == "failed"
    assert failed["retcode"] == 100
    assert failed["wording"] == "发送失败"

    peer.silence_next("send_private_msg")
    await link.ws.send(_action("send_private_msg", "silenced", user_id=MEMBER, message="二"))
    # Answers go out in order, so the next one arriving first means the silenced never comes.
    after = await link.call("send_private_msg", echo="after", user_id=MEMBER, message="三")
    assert after["echo"] == "after"
    assert link.answers.empty()

    peer.hold_next("send_group_msg")
    await link.ws.send(_action("send_group_msg", "held", group_id=GROUP, message="四"))
    await peer.wait_for(lambda: len(peer.sent) == 4)
    assert peer.sent[-1].answer is None
    await peer.release()
    held = await asyncio.wait_for(link.answers.get(), WITHIN)
    assert (held["echo"], held["status"]) == ("held", "ok")

    peer.answer_all(1404, message="风控中")
    assert (await link.call("send_msg", user_id=MEMBER, message="五"))["retcode"] == 1404
    assert (await link.call("send_group_msg", group_id=GROUP, message="六"))["retcode"] == 1404
    peer.answer_all(None)
    assert (await link.call("send_msg", user_id=MEMBER, message="七"))["status"] == "ok"

    # Only what the host accepted counts as sent to the member.
    assert peer.texts_to(user_id=MEMBER) == ["三", "七"]
    assert peer.texts_to(user_id=MEMBER, delivered=False) == ["一", "二", "三", "五", "七"]
    assert peer.texts_to(group_id=GROUP) == ["四"]


async def test_strict_reading_of_what_the_server_sends(
    server: TinyServer, peer: OneBotPeer
) -> None:
    link = await server.link()
    await link.call("send_private_msg", user_id=MEMBER, message="&#91;注意&#93; A&amp;B")
    await link.call(
        "send_private_msg", user_id=MEMBER, message="[CQ:face,id=1] 好", auto_escape=True
    )
    await link.call("send_private_msg", user_id=MEMBER, message="看[CQ:image,file=a.jpg]")
    await link.call(
        "send_private_msg",
        user_id=str(MEMBER),
        message=[_text("位置："), {"type": "location", "data": {"lat": "22.5", "lon": "114.0"}}],
    )
    assert peer.texts_to(user_id=MEMBER) == [
        "[注意] A&B",
        "[CQ:face,id=1] 好",
        "看[CQ:image,file=a.jpg]",
        "位置：[CQ:location,lat=22.5,lon=114.0]",
    ]
    assert [s.message_format for s in peer.sent] == ["string", "string", "string", "array"]
    assert [s.cq_codes for s in peer.sent] == [False, False, True, False]

    bad = await link.call("send_private_msg", message=[{"data": {}}])
    assert (bad["status"], bad["retcode"]) == ("failed", 1400)
    assert len(peer.sent[-1].problems) == 2  # no user_id, a segment without type
    await link.ws.send("not json")
    await peer.wait_for(lambda: len(peer.problems) == 1)
    peer.problems.clear()


@pytest.mark.parametrize("message_format", ["array", "string"])
async def test_member_messages_in_both_formats(server: TinyServer, message_format: Any) -> None:
    peer = OneBotPeer(server.url, self_id=SELF_ID, token=TOKEN, message_format=message_format)
    async with peer:
        link = await server.link()
        await link.event()  # lifecycle
        mid = await peer.private_message(MEMBER, "[报到] 深圳, 南山 & 福田", nickname="张三")
        private = await link.event()
        await peer.location(MEMBER, 22.5, 114.0, title="南山区")
        located = await link.event()
        gid = await peer.group_message(GROUP, MEMBER, "大家好", role="admin", card="张三-深圳")
        group = await link.event()

    escaped = "&#91;报到&#93; 深圳, 南山 &amp; 福田"
    assert private["message_id"] == mid
    assert (private["post_type"], private["message_type"], private["sub_type"]) == (
        "message",
        "private",
        "friend",
    )
    assert private["sender"]["nickname"] == "张三"
    assert private["raw_message"] == escaped
    location = "[CQ:location,lat=22.5,lon=114.0,title=南山区]"
    assert located["raw_message"] == location
    assert (group["group_id"], group["message_id"]) == (GROUP, gid)
    assert group["sender"]["role"] == "admin"
    if message_format == "array":
        assert private["message"] == [_text("[报到] 深圳, 南山 & 福田")]
        assert located["message"] == [
            {"type": "location", "data": {"lat": "22.5", "lon": "114.0", "title": "南山区"}}
        ]
    else:
        assert private["message"] == escaped
        assert located["message"] == location
        assert group["message"] == "大家好"


async def test_drop_cuts_without_a_close_frame_and_the_peer_dials_again(
    server: TinyServer, peer: OneBotPeer
) -> None:
    first = await server.link()
    await peer.drop()
    assert not peer.connected
    await asyncio.wait_for(first.closed.wait(), WITHIN)
    assert first.close_frame_received is False

    await peer.connect()
    second = await server.link()
    assert (await second.event())["sub_type"] == "connect"
    answer = await second.call("send_private_msg", user_id=MEMBER, message="回来了")
    assert answer["status"] == "ok"
    assert peer.texts_to(MEMBER) == ["回来了"]
    assert peer.connections == 2

    await second.ws.close()  # the server ends it: the peer notices
    await peer.wait_for(lambda: not peer.connected)
    assert peer.close_code == 1000


@pytest.mark.parametrize(
    "segments",
    [
        [{"type": "text", "data": {"text": "a,b=[c]&d"}}],
        [{"type": "share", "data": {"title": "震惊,小伙=睡觉[前]", "url": "http://x/?a=1&b=2"}}],
        [{"type": "face", "data": {"id": "178"}}, {"type": "text", "data": {"text": "&#91;"}}],
        [{"type": "shake", "data": {}}],
    ],
)
def test_cq_strings_round_trip(segments: list[dict[str, Any]]) -> None:
    assert parse_cq_string(to_cq_string(segments)) == segments


def test_cq_string_parsing_follows_the_spec_examples() -> None:
    assert parse_cq_string("[CQ:share,title=标题中有=等号,url=http://baidu.com]") == [
        {"type": "share", "data": {"title": "标题中有=等号", "url": "http://baidu.com"}}
    ]
    spec = "&#91;第一部分&#93;[CQ:image,file=123.jpg]图片之后的部分，表情：[CQ:face,id=123]"
    assert plain_text(parse_cq_string(spec)) == (
        "[第一部分][CQ:image,file=123.jpg]图片之后的部分，表情：[CQ:face,id=123]"
    )


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "data": {"text": text}}


def _action(action: str, echo: str, **params: Any) -> str:
    return json.dumps({"action": action, "params": params, "echo": echo})


async def test_a_server_closing_right_after_the_handshake_is_seen_not_raised(
    server: TinyServer,
) -> None:
    peer = OneBotPeer(server.url, self_id=TAKEN, token=TOKEN)
    await peer.connect()
    await peer.wait_for(lambda: not peer.connected)
    assert peer.close_code == 1008
    await peer.close()
