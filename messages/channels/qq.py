"""QQ over OneBot v11: Liaison is the reverse-WebSocket server the QQ host dials.

The host (NapCat, Lagrange.OneBot, go-cqhttp) connects to ws://HOST:PORT/onebot/v11/ws with
`X-Self-ID`, `X-Client-Role: Universal` and `Authorization: Bearer TOKEN`; a wrong or missing
token is refused during the handshake, before any event is read. Over that one connection
come events (messages, heartbeats) and go actions, each answered with the same `echo`.
A host that dials again replaces the old connection; one that stops sending heartbeats is
hung up on, so it dials again.

QQ has no sanctioned way for a bot to start conversations, and accounts run through hosts
get restricted when they send too much. So the account sends at most one message every
`interval` seconds, private and group together, replies before notices (`QqAccount`); and
when the host answers with risk control (retcode 100: blocked, 1200: send failed or timed
out), QQ rests for hours: members' messages fall back to their next channel, messages for
which there is none (a QQ group's) wait until QQ is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from messages.channels.base import OutboundMessage, SendResult
from messages.onebot import number, text_message
from messages.ratelimit import RateGate
from storage.clock import Clock, Monotonic, SystemMonotonic
from storage.models import ChannelName

log = logging.getLogger(__name__)

PATHS = frozenset({"/onebot/v11/ws", "/onebot/v11/ws/", "/onebot/v11", "/"})
# Risk control: the account is blocked from sending (100), or sending failed or timed out
# on QQ's side (1200). QQ must rest.
RISK_RETCODES = frozenset({100, 1200})
# The bot's account is no longer in that QQ group.
REMOVED_FROM_GROUP = 110

Event = Mapping[str, Any]


class NotConnected(Exception):
    """No QQ host is connected now."""


class NoAnswer(Exception):
    """The host did not answer an action in time (it may or may not have been done)."""


@dataclass(frozen=True, slots=True)
class ActionAnswer:
    """A host's answer to an action: status ok/async/failed, a retcode and data."""

    status: str
    retcode: int
    data: Any = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "async") and self.retcode in (0, 1)


@dataclass(slots=True)
class _Beat:
    """One connection's pulse: when the host was last heard, and how often it said it beats
    (None: it has not said, so its silence proves nothing)."""

    heard: float
    interval: float | None = None


class OneBotServer:
    """The reverse-WebSocket endpoint; one host connection at a time."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        access_token: str | None,
        on_event: Callable[[Event], Awaitable[None]],
        action_timeout: float = 15.0,
        heartbeat_grace: float = 3.0,
    ) -> None:
        self.host = host
        self.port = port
        self.access_token = access_token
        self.on_event = on_event
        self.action_timeout = action_timeout
        # Missing this many heartbeat intervals: the host is gone, hang up.
        self.heartbeat_grace = heartbeat_grace
        self.self_id: int | None = None
        self._server: Server | None = None
        self._connection: ServerConnection | None = None
        self._pending: dict[str, asyncio.Future[ActionAnswer]] = {}
        self._echoes = itertools.count(1)
        self._connected = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.disconnected_at: float | None = None  # loop time; None while connected
        self.on_connect: Callable[[], None] | None = None

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await serve(
            self._serve,
            self.host,
            self.port,
            process_request=self._check,
            server_header="Liaison",
            max_size=2**22,
        )
        # Port 0 asks for a free one (tests): report the real one.
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        self.disconnected_at = asyncio.get_running_loop().time()
        log.info("OneBot v11 reverse WebSocket on ws://%s:%d/onebot/v11/ws", self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(NotConnected("the service is stopping"))

    async def __aenter__(self) -> OneBotServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self._connection is not None

    async def wait_connected(self) -> None:
        await self._connected.wait()

    # --- the handshake ------------------------------------------------------------------

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse a wrong path, role or token before the WebSocket opens."""
        path = request.path.split("?", 1)[0]
        if path not in PATHS:
            return connection.respond(HTTPStatus.NOT_FOUND, "OneBot v11 lives at /onebot/v11/ws\n")
        role = request.headers.get("X-Client-Role", "Universal")
        if role.lower() != "universal":
            return connection.respond(
                HTTPStatus.BAD_REQUEST, "connect one Universal reverse WebSocket\n"
            )
        if self.access_token is not None:
            given = _token(request)
            if given is None:
                return connection.respond(HTTPStatus.UNAUTHORIZED, "access token required\n")
            if not hmac.compare_digest(given.encode(), self.access_token.encode()):
                log.warning("a QQ host offered a wrong access token; refused")
                return connection.respond(HTTPStatus.FORBIDDEN, "wrong access token\n")
        return None

    # --- one connection -----------------------------------------------------------------

    async def _serve(self, connection: ServerConnection) -> None:
        headers: Headers = connection.request.headers if connection.request else Headers()
        previous = self._connection
        self._connection = connection
        self.disconnected_at = None
        with contextlib.suppress(ValueError):
            self.self_id = int(headers.get("X-Self-ID", ""))
        if previous is not None:
            # The host dialled again (it thinks the old connection is dead): it is.
            await previous.close(1000, "replaced by a new connection")
        self._connected.set()
        log.info("QQ host connected (account %s)", self.self_id)
        if self.on_connect is not None:
            self.on_connect()
        beat = _Beat(heard=asyncio.get_running_loop().time())
        watchdog = asyncio.create_task(self._watch(connection, beat))
        try:
            async for frame in connection:
                beat.heard = asyncio.get_running_loop().time()
                self._receive(frame, beat)
        except ConnectionClosed:
            pass
        finally:
            watchdog.cancel()
            if self._connection is connection:
                self._connection = None
                self._connected.clear()
                self.disconnected_at = asyncio.get_running_loop().time()
                log.warning("QQ host disconnected; it may dial again")
            # Answers to what was written on this connection will not come.
            for echo, future in list(self._pending.items()):
                if not future.done():
                    future.set_exception(NotConnected("the QQ host hung up before answering"))
                self._pending.pop(echo, None)

    async def _watch(self, connection: ServerConnection, beat: _Beat) -> None:
        """Hang up on a host that went silent: no frame for several heartbeat intervals.

        Only once the host has said how often it beats: a host with heartbeats turned off is
        left alone (the WebSocket's own pings still notice a dead connection).
        """
        loop = asyncio.get_running_loop()
        while True:
            interval = beat.interval
            await asyncio.sleep(min(interval or 1.0, 1.0))
            if interval is None:
                continue
            silent = loop.time() - beat.heard
            if silent > interval * self.heartbeat_grace:
                log.warning("QQ host silent for %.1f s; hanging up", silent)
                await connection.close(1001, "no heartbeat")
                return

    def _receive(self, frame: str | bytes, beat: _Beat) -> None:
        try:
            data = json.loads(frame)
        except ValueError:
            log.warning("QQ host sent a frame that is not JSON; ignored")
            return
        if not isinstance(data, dict):
            return
        if "post_type" in data:
            if data.get("post_type") == "meta_event":
                self._meta(data, beat)
                return
            task = asyncio.create_task(self._event(data))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        echo = data.get("echo")
        future = self._pending.pop(str(echo), None) if echo is not None else None
        if future is not None and not future.done():
            future.set_result(
                ActionAnswer(
                    status=str(data.get("status", "")),
                    retcode=-1 if (code := number(data.get("retcode"))) is None else code,
                    data=data.get("data"),
                    message=str(data.get("wording") or data.get("message") or ""),
                )
            )

    def _meta(self, data: Event, beat: _Beat) -> None:
        if data.get("meta_event_type") == "heartbeat":
            interval = (number(data.get("interval")) or 0) / 1000
            if interval > 0:
                beat.interval = interval

    async def _event(self, data: Event) -> None:
        try:
            await self.on_event(data)
        except Exception:  # one bad event must not end the connection
            log.exception("handling a QQ event failed")

    # --- actions --------------------------------------------------------------------------

    async def call(self, action: str, params: Mapping[str, Any]) -> ActionAnswer:
        """Send one action and wait for its answer; NotConnected, NoAnswer."""
        return await self.answer(await self.write(action, params))

    async def write(
        self, action: str, params: Mapping[str, Any]
    ) -> tuple[str, asyncio.Future[ActionAnswer]]:
        """Write one action to the host; returns what answer() waits on. NotConnected."""
        connection = self._connection
        if connection is None:
            raise NotConnected("no QQ host is connected")
        echo = f"liaison-{next(self._echoes)}"
        future: asyncio.Future[ActionAnswer] = asyncio.get_running_loop().create_future()
        self._pending[echo] = future
        try:
            await connection.send(json.dumps({"action": action, "params": params, "echo": echo}))
        except ConnectionClosed as error:
            self._pending.pop(echo, None)
            raise NotConnected("the QQ host hung up") from error
        return echo, future

    async def answer(self, written: tuple[str, asyncio.Future[ActionAnswer]]) -> ActionAnswer:
        """The answer to a written action; NoAnswer after action_timeout, NotConnected."""
        echo, future = written
        try:
            return await asyncio.wait_for(future, self.action_timeout)
        except TimeoutError as error:
            raise NoAnswer(f"no answer in {self.action_timeout:.0f} s") from error
        finally:
            self._pending.pop(echo, None)


def _token(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    for scheme in ("Bearer ", "Token "):
        if header.startswith(scheme):
            return header[len(scheme) :].strip()
    # Some hosts put it in the query string instead.
    _, _, query = request.path.partition("?")
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key == "access_token" and value:
            return value
    return None


@dataclass(frozen=True, slots=True)
class Target:
    """Where a QQ message goes: a person's private chat or a QQ group."""

    group: bool
    id: int

    @property
    def action(self) -> str:
        return "send_group_msg" if self.group else "send_private_msg"

    def params(self, message: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        key = "group_id" if self.group else "user_id"
        return {key: self.id, "message": list(message)}


class QqAccount:
    """The bot's one QQ account: paced sends, and the risk-control rest.

    Every message waits for its slot on one gate (one message per `interval` seconds);
    replies take the next slot before any waiting notice. When the host answers with
    risk control, the account rests until `resting_until` (wall clock); `on_rest` hears it
    once per rest (the service alerts the admins and remembers it across restarts).
    """

    def __init__(
        self,
        server: OneBotServer,
        clock: Clock,
        *,
        interval: float,
        rest: timedelta,
        offline_fallback: timedelta = timedelta(minutes=15),
        monotonic: Monotonic | None = None,
        on_rest: Callable[[datetime, str], Awaitable[None]] | None = None,
    ) -> None:
        self.server = server
        self.clock = clock
        self.interval = interval
        self.rest = rest
        self.offline_fallback = offline_fallback
        monotonic = monotonic or SystemMonotonic()
        # A hair over the interval, so that network jitter never brings two sends closer.
        self.gate = RateGate(1, interval, clock=monotonic.seconds, sleep=monotonic.sleep)
        self.on_rest = on_rest
        self.resting_until: datetime | None = None
        # Notices wait here beyond the gate: the dispatcher gets its senders back.
        self._reserved_until = 0.0
        self._in_hand = 0
        self._monotonic = monotonic
        self._last_write = -float("inf")
        self._writing = asyncio.Lock()
        self._safety = max(0.01 * interval, 0.02)

    def resting(self) -> float:
        """Seconds QQ still rests (0: it does not)."""
        if self.resting_until is None:
            return 0.0
        left = (self.resting_until - self.clock.now()).total_seconds()
        if left <= 0:
            self.resting_until = None
            return 0.0
        return left

    def offline_for(self) -> float:
        """Seconds since the host went away (0 while connected)."""
        since = self.server.disconnected_at
        if since is None:
            return 0.0
        return max(0.0, asyncio.get_running_loop().time() - since)

    def take_slot(self) -> float:
        """0: a notice may go to the gate now (then release_slot() after its send); else how
        long it should wait in the outbox, its slot reserved.

        Only a couple of notices are in hand at once; the others are told when their slot
        comes and wait in the outbox (no dispatcher sender sits idle for minutes).
        """
        if self._in_hand < 2:
            self._in_hand += 1
            return 0.0
        now = self._monotonic.seconds()
        ahead = self.gate.waiting + self._in_hand
        self._reserved_until = max(self._reserved_until, now + ahead * self.interval)
        self._reserved_until += self.interval
        return self._reserved_until - now

    def release_slot(self) -> None:
        self._in_hand -= 1

    async def send(
        self, target: Target, message: Sequence[Mapping[str, Any]], *, urgent: bool
    ) -> ActionAnswer:
        """Send at the account's pace; NotConnected, NoAnswer. Risk control starts a rest."""
        await self.gate.acquire(urgent=urgent)
        # The gate hands out slots on a grid; a slot's sender may reach the socket late
        # (the loop was busy) and the next one on time. What QQ sees is the writes: keep
        # them apart by the interval, and a little more for the way there.
        clock = self._monotonic
        async with self._writing:
            delay = self._last_write + self.interval + self._safety - clock.seconds()
            if delay > 0:
                await clock.sleep(delay)
            written = await self.server.write(target.action, target.params(message))
            self._last_write = clock.seconds()
        answer = await self.server.answer(written)
        if answer.retcode in RISK_RETCODES:
            await self._start_rest(f"retcode {answer.retcode}: {answer.message}".strip(": "))
        return answer

    async def _start_rest(self, reason: str) -> None:
        if self.resting():
            return
        self.resting_until = self.clock.now() + self.rest
        log.warning("QQ risk control (%s): QQ rests until %s", reason, self.resting_until)
        if self.on_rest is not None:
            try:
                await self.on_rest(self.resting_until, reason)
            except Exception:  # the alert is a courtesy; the rest itself holds
                log.exception("could not record QQ's rest")


class QqChannel:
    """The outbox's `qq` and `qq_group` channels: members' private chats and QQ groups.

    show(user_id, text, buttons) makes a member's message as QQ shows it (numbered choices
    for buttons, remembered so that "1" presses the first); groups get the text alone.
    """

    def __init__(
        self,
        account: QqAccount,
        name: ChannelName,
        to_text: Callable[[str], str],
        show: Callable[[int, str, tuple[tuple[str, str], ...]], Awaitable[str]] | None = None,
    ) -> None:
        self.account = account
        self.name = name
        self.to_text = to_text
        self.show = show

    async def send(self, message: OutboundMessage) -> SendResult:
        group = self.name is ChannelName.QQ_GROUP
        try:
            target = Target(group=group, id=int(message.address))
        except ValueError:
            return SendResult.failed(f"not a QQ number: {message.address!r}")
        account = self.account
        if resting := account.resting():
            # Members fall back to their next channel; a group, or a member with no other
            # channel, waits for QQ to be back.
            if group:
                return SendResult.held(resting, "QQ rests after risk control")
            return SendResult.unreachable("QQ rests after risk control", for_now=resting)
        offline = account.offline_for()
        if offline:
            if not group and offline > account.offline_fallback.total_seconds():
                return SendResult.unreachable("the QQ host has been away", for_now=60.0)
            return SendResult.held(30.0, "the QQ host is not connected")
        if wait := account.take_slot():
            return SendResult.held(wait, "QQ pacing")
        try:
            text = self.to_text(message.text)
            if self.show is not None and not group:
                text = await self.show(target.id, text, message.buttons)
            answer = await account.send(target, text_message(text), urgent=False)
        except NotConnected:
            return SendResult.held(30.0, "the QQ host is not connected")
        except NoAnswer as error:
            return SendResult.retry(str(error))
        finally:
            account.release_slot()
        if answer.ok:
            message_id = answer.data.get("message_id") if isinstance(answer.data, dict) else None
            # QQ says the message is in the chat: nothing further will come.
            return SendResult.accepted(str(message_id) if message_id else None, delivered=True)
        reason = f"QQ host: retcode {answer.retcode} {answer.message}".strip()
        if answer.retcode in RISK_RETCODES:
            if group:
                return SendResult.held(account.resting() or 3600.0, reason)
            return SendResult.unreachable(reason, for_now=account.resting() or 3600.0)
        if answer.retcode == REMOVED_FROM_GROUP and group:
            return SendResult.failed(
                f"{reason}: the bot's QQ account is not in QQ group {target.id}"
            )
        return SendResult.failed(reason)


__all__ = [
    "ActionAnswer",
    "NoAnswer",
    "NotConnected",
    "OneBotServer",
    "QqAccount",
    "QqChannel",
    "Target",
]
