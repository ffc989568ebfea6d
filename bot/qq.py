"""QQ private chats and QQ groups, through the same handlers as Telegram.

QQ is a text transport like the terminal chat: a second Application, whose accounts are QQ
accounts (bot_data.platform), answers through an in-process Bot API; what it sends in one
turn becomes one QQ message, plain text, the buttons of its last question numbered, so that
"1" presses the first. A QQ location segment is a shared pin; a typed place is a typed place.
In a QQ group only /linkgroup and /unlinkgroup are read: everything else there is people
talking to each other.

The outbox reaches QQ through messages.channels.qq.QqChannel; its messages with buttons are
recorded here too, so a member can answer a notice or a check-in prompt with a number.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telegram import Update

from bot.app import build_application
from bot.botapi import Button, JSONDict, LocalBotApi, LocalBotApiRequest, Outgoing, UpdateFactory
from bot.context import LiaisonApplication, Services
from bot.terminal import html_to_text, pick_button
from messages.channels.qq import Event, NoAnswer, NotConnected, OneBotServer, QqAccount, Target
from messages.onebot import (
    MessageError,
    location,
    number,
    parse_message,
    plain_text,
    text_message,
)
from messages.ratelimit import KeyedLocks
from messages.render import Renderer, normalize_locale
from storage import qq_choices, qq_rest
from storage.clock import Monotonic
from storage.identity import identify
from storage.models import Platform
from storage.settings import onebot_address

log = logging.getLogger(__name__)

# The commands a QQ group may send the bot (anything else there is not for it).
_GROUP_COMMAND = re.compile(r"^\s*[/／](linkgroup|unlinkgroup)\b(.*)$", re.IGNORECASE | re.DOTALL)
_BIND = re.compile(r"^\s*(?:绑定|綁定|bind)\s*[:：]?\s*(\S.*)$", re.IGNORECASE | re.DOTALL)


def numbered_choices(renderer: Renderer, locale: str, buttons: Sequence[Button]) -> str:
    """Buttons as a QQ private chat reads them: numbered lines, then how to answer (the
    console's notice preview shows them the same way)."""
    lines = []
    for index, button in enumerate(buttons, start=1):
        line = f"[{index}] {button.text}"
        if button.request_location:
            line += renderer.label(locale, "qq.share_location")  # its own spacing
        lines.append(line)
    lines.append(renderer.label(locale, "qq.choose"))
    return "\n".join(lines)


@dataclass(slots=True)
class _Chat:
    """One QQ private chat: the buttons its member can answer with a number now."""

    shown: Outgoing | None = None
    # What the bot sent during the turn being handled (one QQ message at its end).
    turn: list[Outgoing] | None = None
    # shown was read from the database (after a restart) / changed since it was written.
    loaded: bool = False
    changed: bool = False


class QqTransport:
    """Turns QQ events into updates for the QQ Application and its replies into QQ messages."""

    def __init__(
        self,
        services: Services,
        application: LiaisonApplication,
        api: LocalBotApi,
        account: QqAccount,
    ) -> None:
        self.services = services
        self.application = application
        self.api = api
        self.account = account
        self.updates = UpdateFactory(api)
        self._chats: dict[int, _Chat] = {}
        # While a delivery's message is recorded, it is not a reply to send.
        self._recording = False
        self._turns = KeyedLocks()
        self._alone: set[asyncio.Task[None]] = set()
        api.subscribe(self._sent)

    def _chat(self, chat_id: int) -> _Chat:
        return self._chats.setdefault(chat_id, _Chat())

    # --- what the bot sends ---------------------------------------------------------------

    def _sent(self, outgoing: Outgoing) -> None:
        chat = self._chat(outgoing.chat_id)
        before = chat.shown
        if outgoing.buttons:
            chat.shown = outgoing
        elif "remove_keyboard" in str(outgoing.params.get("reply_markup") or ""):
            chat.shown = None  # the reply keyboard is taken away
        elif (
            chat.shown is not None
            and outgoing.message_id == chat.shown.message_id
            and outgoing.method.startswith("edit")
        ):
            chat.shown = None  # edited without its buttons: they are gone
        if chat.shown is not before:
            chat.loaded = chat.changed = True
        if self._recording:
            return
        if chat.turn is not None:
            chat.turn.append(outgoing)
        else:
            # Sent outside a turn of that chat (a replaced account told so): on its own.
            task = asyncio.create_task(self._send_alone(outgoing))
            self._alone.add(task)
            task.add_done_callback(self._alone.discard)

    async def _send_alone(self, outgoing: Outgoing) -> None:
        await self._remember(outgoing.chat_id)
        text = await self._compose(outgoing.chat_id, [outgoing])
        if text:
            await self._deliver_reply(outgoing.chat_id, text)

    async def _compose(self, chat_id: int, sent: list[Outgoing]) -> str:
        """A turn's messages as one QQ text; only its last question's buttons are numbered."""
        last_with_buttons = max((i for i, o in enumerate(sent) if o.flat_buttons), default=None)
        blocks: list[str] = []
        for index, outgoing in enumerate(sent):
            block = _as_text(outgoing)
            if outgoing.method in ("sendDocument", "sendPhoto"):
                # A file (the member's data, a letter) cannot go over QQ: say so, not nothing.
                locale = await self._locale(chat_id)
                note = self.services.renderer.label(locale, "qq.file_not_sent")
                block = "\n".join(filter(None, [block, note]))
            if index == last_with_buttons:
                block = "\n".join(
                    filter(None, [block, await self._choices(chat_id, outgoing.flat_buttons)])
                )
            if block:
                blocks.append(block)
        return "\n\n".join(blocks)

    async def _choices(self, chat_id: int, buttons: list[Button]) -> str:
        return numbered_choices(self.services.renderer, await self._locale(chat_id), buttons)

    async def _locale(self, user_id: int) -> str:
        async with self.services.db.session() as session:
            identity = await identify(session, user_id, Platform.QQ)
        return normalize_locale(identity.locale, self.services.settings.locale)

    async def _deliver_reply(self, chat_id: int, text: str) -> None:
        if self.account.resting():
            # Sending more during risk control only deepens it; the member hears later.
            log.warning("QQ rests: reply to %s not sent", chat_id)
            return
        target = Target(group=chat_id < 0, id=abs(chat_id))
        try:
            answer = await self.account.send(target, text_message(text), urgent=True)
        except (NotConnected, NoAnswer) as error:
            log.warning("reply to QQ %s not sent: %s", chat_id, error)
            return
        if not answer.ok:
            log.warning("reply to QQ %s refused: retcode %s", chat_id, answer.retcode)

    async def show(self, user_id: int, text: str, buttons: tuple[tuple[str, str], ...]) -> str:
        """A delivery to a member's QQ: remember its buttons (so that "1" presses the first)
        and return the text with them numbered."""
        if not buttons:
            return text
        markup = {"inline_keyboard": [[{"text": t, "callback_data": d}] for t, d in buttons]}
        self._recording = True
        try:
            self.api.handle(
                "sendMessage", {"chat_id": user_id, "text": text, "reply_markup": markup}
            )
        finally:
            self._recording = False
        await self._remember(user_id)
        shown = [Button(text=t, callback_data=d) for t, d in buttons]
        return f"{text}\n{await self._choices(user_id, shown)}"

    async def _remember(self, chat_id: int) -> None:
        """Write the chat's choices if they changed (a restart keeps "1" meaning the same)."""
        chat = self._chat(chat_id)
        if not chat.changed or chat_id < 0:  # a group's choices are nobody's
            return
        chat.changed = False
        shown = chat.shown
        kept = None
        if shown is not None:
            rows = [[_button_json(b) for b in row] for row in shown.buttons]
            kept = qq_choices.Shown(shown.message_id, shown.text, rows, shown.inline)
        async with self.services.db.session() as session:
            await qq_choices.save(session, self.services.clock.now(), chat_id, kept)

    async def _recall(self, chat_id: int) -> Outgoing | None:
        """The choices chat_id was shown, read back after a restart."""
        chat = self._chat(chat_id)
        if not chat.loaded:
            chat.loaded = True
            async with self.services.db.session() as session:
                kept = await qq_choices.load(session, chat_id)
            if kept is not None:
                buttons = [[_button(b) for b in row] for row in kept.buttons]
                chat.shown = Outgoing(
                    "sendMessage", chat_id, kept.message_id, kept.text, "HTML", buttons, kept.inline
                )
        return chat.shown

    # --- what QQ sends ----------------------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        if event.get("post_type") != "message":
            return
        try:
            segments = parse_message(event.get("message", ""))
        except MessageError as error:
            log.warning("unreadable QQ message: %s", error)
            return
        user_id = number(event.get("user_id"))
        if user_id is None or user_id == self.account.server.self_id:
            return
        sender = event.get("sender") if isinstance(event.get("sender"), Mapping) else {}
        name = str((sender or {}).get("nickname") or user_id)[:64]
        user = self.updates.user(user_id, name)
        if event.get("message_type") == "group":
            group_id = number(event.get("group_id"))
            command = _GROUP_COMMAND.match(plain_text(segments))
            if group_id is None or command is None:
                return
            text = f"/{command.group(1).lower()}{command.group(2)}"
            # A group is a negative chat id here, as Telegram's are: QQ numbers people and
            # groups separately, and a group must never be taken for the person 12345.
            chat = {"id": -group_id, "type": "group", "title": str(group_id)}
            await self._turn(-group_id, self.updates.text(user, text, chat=chat))
            return
        if event.get("message_type") != "private":
            return
        point = location(segments)
        if point is not None:
            await self._turn(user_id, self.updates.location(user, *point))
            return
        text = plain_text(segments)
        if not text:
            if any(s.type in ("image", "file", "record", "video") for s in segments):
                await self._deliver_reply(
                    user_id,
                    self.services.renderer.label(await self._locale(user_id), "qq.no_files"),
                )
            return
        update = await self._typed(user, user_id, text)
        if update is None:
            locale = await self._locale(user_id)
            hint = self.services.renderer.label(locale, "qq.how_to_share_location")
            await self._deliver_reply(user_id, hint)
            return
        await self._turn(user_id, update)

    async def _typed(self, user: JSONDict, chat_id: int, text: str) -> JSONDict | None:
        """What the member typed: a number (or a button's words) presses a button;
        "绑定 CODE" is /start CODE, as QQ users say it."""
        if bind := _BIND.match(text):
            return self.updates.text(user, f"/start {bind.group(1).strip()}")
        shown = await self._recall(chat_id)
        button = pick_button(shown.flat_buttons if shown else [], text)
        if button is None:
            return self.updates.text(user, text)
        if button.request_location:
            return None  # QQ has no such button: the member is told how to share a place
        if shown is None or button.callback_data is None:
            return self.updates.text(user, button.text)  # a reply-keyboard button
        return self.updates.press(user, shown, button)

    async def _turn(self, chat_id: int, update: JSONDict) -> None:
        # One turn at a time per chat, in the order QQ delivered the messages.
        async with self._turns.hold(chat_id):
            chat = self._chat(chat_id)
            sent: list[Outgoing] = []
            chat.turn = sent
            try:
                await self.application.process_update(Update.de_json(update, self.application.bot))
            finally:
                chat.turn = None
            await self._remember(chat_id)
        text = await self._compose(chat_id, sent)
        if text:
            await self._deliver_reply(chat_id, text)


def _button_json(button: Button) -> dict[str, object]:
    return {
        "text": button.text,
        "callback_data": button.callback_data,
        "request_location": button.request_location,
    }


def _button(data: dict[str, Any]) -> Button:
    return Button(
        text=str(data.get("text", "")),
        callback_data=data.get("callback_data"),
        request_location=bool(data.get("request_location")),
    )


def _as_text(outgoing: Outgoing) -> str:
    if outgoing.method == "sendLocation":
        return f"📍 {outgoing.params['latitude']}, {outgoing.params['longitude']}"
    if outgoing.method == "editMessageReplyMarkup":
        return ""  # only the buttons changed: the choices shown say what is left
    return html_to_text(outgoing.text).strip()


async def _rest_started(services: Services, until: datetime, reason: str) -> None:
    """QQ met risk control: remember the rest across restarts, tell the admins once."""
    async with services.db.session() as session:
        await qq_rest.begin(session, services.clock.now(), until, reason)


async def _follow_rest(services: Services, account: QqAccount, every: float) -> None:
    """While QQ rests, look every so often whether an administrator ended the rest."""
    while True:
        await asyncio.sleep(every)
        if account.resting_until is None:
            continue
        async with services.db.session() as session:
            ends = await qq_rest.until(session, services.clock.now())
        if ends is None or ends < account.resting_until:
            log.warning("QQ's rest was ended early; sending over QQ again")
            account.resting_until = ends


@contextlib.asynccontextmanager
async def running_qq(
    services: Services, *, monotonic: Monotonic | None = None, rest_check: float = 60.0
) -> AsyncIterator[QqTransport | None]:
    """Listen for the QQ host while the block runs (None when LIAISON_ONEBOT_LISTEN is unset)."""
    settings = services.settings
    if not settings.onebot_listen:
        yield None
        return
    host, port = onebot_address(settings.onebot_listen)
    api = LocalBotApi(username="liaison_qq", enforce_limits=False)
    application = build_application(services, request=LocalBotApiRequest(api))
    application.bot_data.platform = Platform.QQ
    token = settings.onebot_access_token
    transport: QqTransport | None = None

    async def on_event(event: Event) -> None:
        if transport is not None:
            await transport.on_event(event)

    server = OneBotServer(
        host,
        port,
        access_token=token.get_secret_value() if token else None,
        on_event=on_event,
    )
    account = QqAccount(
        server,
        services.clock,
        interval=settings.qq_send_interval,
        rest=timedelta(hours=settings.qq_suspend_hours),
        offline_fallback=timedelta(minutes=settings.qq_offline_fallback_minutes),
        on_rest=lambda until, reason: _rest_started(services, until, reason),
        monotonic=monotonic,
    )
    async with services.db.session() as session:
        account.resting_until = await qq_rest.until(session, services.clock.now())
    transport = QqTransport(services, application, api, account)
    await application.initialize()
    await server.start()
    following = asyncio.create_task(_follow_rest(services, account, rest_check), name="qq-rest")
    try:
        yield transport
    finally:
        following.cancel()
        await server.close()
        await application.shutdown()


__all__ = ["QqTransport", "running_qq"]
