"""An in-process Bot API: the terminal chat and the tests drive the real Application with it.

`LocalBotApi` answers the Bot API methods the bot uses and records what the bot sent; it keeps
Telegram's limits as strictly as Telegram may (`TelegramLimits`), answering 429 beyond them;
`LocalBotApiRequest` plugs it into python-telegram-bot as its request class, so no call can
reach the network; `UpdateFactory` builds the updates a Telegram client would send.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

JSONDict = dict[str, Any]

# Telegram's answer to an edit that would leave the message as it is.
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current message content and reply markup of the message"
)

# What Telegram marks as a bot command: /name or /name@bot at the very start.
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,})?(?=\s|$)")


@dataclass(slots=True)
class Button:
    """One button the bot showed: its text and what pressing it sends."""

    text: str
    callback_data: str | None = None
    request_location: bool = False
    url: str | None = None


@dataclass(slots=True)
class Outgoing:
    """A message the bot sent or edited, as the member would see it."""

    method: str
    chat_id: int
    message_id: int
    text: str
    parse_mode: str | None
    buttons: list[list[Button]] = field(default_factory=list)
    inline: bool = True
    params: JSONDict = field(default_factory=dict)
    at: float = 0.0  # when it was sent, on the Bot API's monotonic clock

    @property
    def flat_buttons(self) -> list[Button]:
        """Every button, row by row."""
        return [button for row in self.buttons for button in row]


class BotApiError(Exception):
    """A scripted error answer (429, 403, …) for the next call of one method.

    Code TIMEOUT is no answer at all: the request times out, as python-telegram-bot's own
    request class reports it.
    """

    TIMEOUT = 0

    def __init__(self, code: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def _buttons(markup: Any) -> tuple[list[list[Button]], bool]:
    if isinstance(markup, str):
        markup = json.loads(markup)
    if not isinstance(markup, dict):
        return [], True
    if "inline_keyboard" in markup:
        rows = [
            [Button(b["text"], callback_data=b.get("callback_data"), url=b.get("url")) for b in row]
            for row in markup["inline_keyboard"]
        ]
        return rows, True
    if "keyboard" in markup:
        rows = [
            [
                Button(b, None)
                if isinstance(b, str)
                else Button(b["text"], request_location=bool(b.get("request_location")))
                for b in row
            ]
            for row in markup["keyboard"]
        ]
        return rows, False
    return [], True


# Methods that put a new message into a chat: what all of Telegram's limits count.
COUNTED = frozenset(
    {
        "sendMessage",
        "sendDocument",
        "sendPhoto",
        "sendLocation",
        "sendVenue",
        "copyMessage",
        "forwardMessage",
    }
)
# Edits add no message to the chat; Telegram counts them loosely. Here they count toward the
# overall rate only, which the bot paces them to, not toward a chat's one message a second.
EDITS = frozenset({"editMessageText", "editMessageReplyMarkup", "editMessageCaption"})


class TelegramLimits:
    """Telegram's published limits, with no burst allowance.

    A private chat gets at most one message per `chat_interval` seconds; all chats together at
    most `overall` messages in any one second; a group chat (negative id) at most
    `group_per_minute` in any sixty seconds. A call beyond one is refused with the whole
    seconds to wait (Telegram's retry_after) and does not count. `clock` is monotonic seconds,
    virtual in tests.
    """

    # A clock exactly on time may be a rounding error early; a microsecond is not a burst.
    TOLERANCE = 1e-6

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        chat_interval: float = 1.0,
        overall: int = 30,
        group_per_minute: int = 20,
    ) -> None:
        self.clock = clock
        self.chat_interval = chat_interval
        self.overall = overall
        self.group_per_minute = group_per_minute
        self.refused = 0  # 429s answered
        self._last: dict[int, float] = {}
        self._recent: deque[float] = deque()
        self._groups: dict[int, deque[float]] = {}

    def _window(self, stamps: deque[float], now: float, span: float) -> None:
        while stamps and stamps[0] <= now - span + self.TOLERANCE:
            stamps.popleft()

    def admit(self, method: str, chat_id: int | None) -> int | None:
        """None if the call may go now (and it is counted), else the seconds to wait."""
        counted = method in COUNTED
        if not counted and method not in EDITS:
            return None
        now = self.clock()
        waits = [0.0]
        self._window(self._recent, now, 1.0)
        if len(self._recent) >= self.overall:
            waits.append(self._recent[0] + 1.0 - now)
        group: deque[float] | None = None
        if counted and chat_id is not None and chat_id < 0:
            group = self._groups.setdefault(chat_id, deque())
            self._window(group, now, 60.0)
            if len(group) >= self.group_per_minute:
                waits.append(group[0] + 60.0 - now)
        elif counted and chat_id is not None:
            last = self._last.get(chat_id)
            if last is not None and now - last < self.chat_interval - self.TOLERANCE:
                waits.append(last + self.chat_interval - now)
        if max(waits) > 0:
            self.refused += 1
            return max(1, math.ceil(max(waits)))
        self._recent.append(now)
        if group is not None:
            group.append(now)
        elif counted and chat_id is not None:
            if len(self._last) > 100_000:  # a long broadcast: forget chats long done
                self._last = {c: t for c, t in self._last.items() if now - t < self.chat_interval}
            self._last[chat_id] = now
        return None


def too_many_requests(retry_after: int) -> BotApiError:
    """Telegram's flood-control answer."""
    return BotApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


def _inline(params: JSONDict) -> JSONDict | None:
    """The inline keyboard a call gives its message (a reply keyboard is not the message's)."""
    markup = params.get("reply_markup")
    if isinstance(markup, str):
        markup = json.loads(markup)
    if isinstance(markup, dict) and markup.get("inline_keyboard"):
        return markup
    return None


class LocalBotApi:
    """The Bot API, answered in-process; `sent` holds what the bot sent, in order.

    Telegram's limits are kept on `clock` (monotonic seconds; virtual in tests);
    `enforce_limits=False` lifts them.
    """

    def __init__(
        self,
        *,
        bot_id: int = 5_000_000_001,
        username: str = "liaison_bot",
        first_name: str = "Liaison",
        on_send: Callable[[Outgoing], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        enforce_limits: bool = True,
    ) -> None:
        self.clock = clock
        self.limits = TelegramLimits(clock=clock) if enforce_limits else None
        self.bot_user: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": first_name,
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.sent: list[Outgoing] = []
        self.calls: list[tuple[str, JSONDict]] = []
        self.commands: dict[str, list[JSONDict]] = {}
        self.updates: list[JSONDict] = []
        # callback_query id → the user who pressed, so answers (toasts) reach the right chat.
        self.callback_users: dict[str, int] = {}
        self.toasts: list[Outgoing] = []
        self._listeners: list[Callable[[Outgoing], None]] = [on_send] if on_send else []
        self._message_ids = itertools.count(1000)
        self._update_ids = itertools.count(1)
        self._scripted: dict[str, list[tuple[BotApiError, int | None]]] = {}
        # Private chats whose person blocked the bot: every send there answers 403.
        self.blocked: set[int] = set()
        # (chat, message) → its text and inline buttons as they stand now: an edit that
        # changes neither is refused, and a press carries the message as it is now.
        self.current: dict[tuple[int, int], tuple[str, JSONDict | None]] = {}

    def subscribe(self, listener: Callable[[Outgoing], None]) -> None:
        """Call listener with every message the bot sends or edits, as it happens."""
        self._listeners.append(listener)

    def fail_next(self, method: str, error: BotApiError, *, chat_id: int | None = None) -> None:
        """Make the next call of method (to chat_id, if given) answer with error."""
        self._scripted.setdefault(method, []).append((error, chat_id))

    def next_message_id(self) -> int:
        return next(self._message_ids)

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def handle(self, method: str, params: JSONDict) -> Any:
        """Answer one Bot API call; raises BotApiError for scripted failures."""
        self.calls.append((method, params))
        for index, (error, chat_id) in enumerate(self._scripted.get(method, [])):
            if chat_id is None or chat_id == _chat_id(params):
                del self._scripted[method][index]
                raise error
        if self.limits is not None:
            retry_after = self.limits.admit(method, _chat_id(params))
            if retry_after is not None:
                raise too_many_requests(retry_after)
        if method.startswith("send") and _chat_id(params) in self.blocked:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        handler = getattr(self, f"_api_{method.lower()}", None)
        if handler is None:
            raise BotApiError(404, f"Not Found: method {method} is not emulated")
        return handler(params)

    # --- methods -------------------------------------------------------------------------

    def _api_getme(self, _params: JSONDict) -> JSONDict:
        return self.bot_user

    def _api_setmycommands(self, params: JSONDict) -> bool:
        commands = params["commands"]
        if isinstance(commands, str):
            commands = json.loads(commands)
        key = f"{params.get('language_code', '')}|{json.dumps(params.get('scope', {}))}"
        self.commands[key] = list(commands)
        return True

    def _api_deletemycommands(self, _params: JSONDict) -> bool:
        return True

    def _api_deletewebhook(self, _params: JSONDict) -> bool:
        return True

    def _api_sendchataction(self, _params: JSONDict) -> bool:
        return True

    def _api_answercallbackquery(self, params: JSONDict) -> bool:
        user_id = self.callback_users.get(str(params.get("callback_query_id")))
        if params.get("text") and user_id is not None:
            # A toast over the chat, not a message in it: listeners (the terminal) see it.
            toast = Outgoing("answerCallbackQuery", user_id, 0, str(params["text"]), None)
            self.toasts.append(toast)
            for listener in self._listeners:
                listener(toast)
        return True

    def _api_deletemessage(self, _params: JSONDict) -> bool:
        return True

    def _api_getupdates(self, params: JSONDict) -> list[JSONDict]:
        offset = int(params.get("offset") or 0)
        ready = [u for u in self.updates if u["update_id"] >= offset]
        self.updates = ready
        return ready

    def _message(self, chat_id: int, text: str | None, extra: JSONDict) -> JSONDict:
        message: JSONDict = {
            "message_id": self.next_message_id(),
            "date": 0,
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": self.bot_user,
        }
        if text is not None:
            message["text"] = text
        message.update(extra)
        return message

    def _unchanged(self, params: JSONDict, text: str | None) -> bool:
        """Would this edit leave the message's text and inline buttons as they are?"""
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self.current:
            return False
        old_text, old_markup = self.current[key]
        return (old_text if text is None else text, _inline(params)) == (old_text, old_markup)

    def _record(self, method: str, params: JSONDict, message_id: int, text: str) -> None:
        key = (int(params["chat_id"]), message_id)
        if method == "editMessageReplyMarkup":
            self.current[key] = (self.current.get(key, ("", None))[0], _inline(params))
        else:
            self.current[key] = (text, _inline(params))
        buttons, inline = _buttons(params.get("reply_markup"))
        outgoing = Outgoing(
            method=method,
            chat_id=int(params["chat_id"]),
            message_id=message_id,
            text=text,
            parse_mode=params.get("parse_mode"),
            buttons=buttons,
            inline=inline,
            params=params,
            at=self.clock(),
        )
        self.sent.append(outgoing)
        for listener in self._listeners:
            listener(outgoing)

    def _api_sendmessage(self, params: JSONDict) -> JSONDict:
        text = str(params["text"])
        if len(text) > 4096 * 6:  # raw HTML; Telegram counts after parsing
            raise BotApiError(400, "Bad Request: message is too long")
        message = self._message(int(params["chat_id"]), text, {})
        self._record("sendMessage", params, message["message_id"], text)
        return message

    def _api_editmessagetext(self, params: JSONDict) -> JSONDict:
        text = str(params["text"])
        if self._unchanged(params, text):
            raise BotApiError(400, NOT_MODIFIED)
        message_id = int(params["message_id"])
        message = self._message(int(params["chat_id"]), text, {"message_id": message_id})
        self._record("editMessageText", params, message_id, text)
        return message

    def _api_editmessagereplymarkup(self, params: JSONDict) -> JSONDict:
        if self._unchanged(params, None):
            raise BotApiError(400, NOT_MODIFIED)
        message_id = int(params["message_id"])
        message = self._message(int(params["chat_id"]), "", {"message_id": message_id})
        self._record("editMessageReplyMarkup", params, message_id, "")
        return message

    def _api_senddocument(self, params: JSONDict) -> JSONDict:
        # A file sent again by its Telegram file id (a study material's attachment).
        # An uploaded file (a letter) comes in params["files"] instead.
        document = {"file_id": str(params.get("document", "upload")), "file_unique_id": "local"}
        message = self._message(int(params["chat_id"]), None, {"document": document})
        caption = str(params.get("caption", ""))
        self._record("sendDocument", params, message["message_id"], caption)
        return message

    def _api_sendphoto(self, params: JSONDict) -> JSONDict:
        # A photo sent again by its Telegram file id (a service request's attachment).
        size = {"file_id": str(params["photo"]), "file_unique_id": "local", "width": 1, "height": 1}
        photo = [size]
        message = self._message(int(params["chat_id"]), None, {"photo": photo})
        self._record("sendPhoto", params, message["message_id"], str(params.get("caption", "")))
        return message

    def _api_sendlocation(self, params: JSONDict) -> JSONDict:
        location = {"latitude": params["latitude"], "longitude": params["longitude"]}
        message = self._message(int(params["chat_id"]), None, {"location": location})
        self._record("sendLocation", params, message["message_id"], "")
        return message

    def _api_sendvenue(self, params: JSONDict) -> JSONDict:
        venue = {
            "location": {"latitude": params["latitude"], "longitude": params["longitude"]},
            "title": params["title"],
            "address": params["address"],
        }
        message = self._message(int(params["chat_id"]), None, {"venue": venue})
        self._record("sendVenue", params, message["message_id"], str(params["title"]))
        return message


class LocalBotApiRequest(BaseRequest):
    """python-telegram-bot's request class, answered by a LocalBotApi: never the network."""

    def __init__(self, api: LocalBotApi) -> None:
        self.api = api

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        params: JSONDict = dict(request_data.parameters) if request_data else {}
        if request_data is not None and request_data.contains_files:
            # An uploaded file (a generated letter): its name and bytes, as Telegram gets them.
            params["files"] = {
                part: (upload[0], upload[1]) for part, upload in request_data.multipart_data.items()
            }
        try:
            result = self.api.handle(api_method, params)
        except BotApiError as error:
            if error.code == BotApiError.TIMEOUT:
                raise TimedOut(error.description) from None
            body: JSONDict = {
                "ok": False,
                "error_code": error.code,
                "description": error.description,
            }
            if error.parameters:
                body["parameters"] = error.parameters
            return error.code, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()


class UpdateFactory:
    """Builds the updates a member's Telegram client would send (private chat by default)."""

    def __init__(self, api: LocalBotApi) -> None:
        self.api = api

    def user(
        self, user_id: int, first_name: str = "Member", language_code: str = "zh-hans"
    ) -> JSONDict:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }

    def _wrap(self, key: str, message: JSONDict) -> JSONDict:
        return {"update_id": self.api.next_update_id(), key: message}

    def _base(self, user: JSONDict, chat: JSONDict | None) -> JSONDict:
        return {
            "message_id": self.api.next_message_id(),
            "date": 0,
            "chat": chat or {"id": user["id"], "type": "private", "first_name": user["first_name"]},
            "from": user,
        }

    def text(self, user: JSONDict, text: str, chat: JSONDict | None = None) -> JSONDict:
        """A typed message; a leading /command gets its bot_command entity, as Telegram does."""
        message = self._base(user, chat)
        message["text"] = text
        command = _COMMAND.match(text)
        if command:
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": command.end()}]
        return self._wrap("message", message)

    def location(self, user: JSONDict, latitude: float, longitude: float) -> JSONDict:
        message = self._base(user, None)
        message["location"] = {"latitude": latitude, "longitude": longitude}
        return self._wrap("message", message)

    def sticker(self, user: JSONDict) -> JSONDict:
        message = self._base(user, None)
        message["sticker"] = {
            "file_id": "sticker-1",
            "file_unique_id": "s1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        return self._wrap("message", message)

    def photo(self, user: JSONDict) -> JSONDict:
        message = self._base(user, None)
        message["photo"] = [
            {"file_id": "photo-1", "file_unique_id": "p1", "width": 90, "height": 90}
        ]
        return self._wrap("message", message)

    def edited_text(self, user: JSONDict, text: str) -> JSONDict:
        message = self._base(user, None)
        message["text"] = text
        message["edit_date"] = 1
        return self._wrap("edited_message", message)

    def group_text(self, user: JSONDict, text: str, chat_id: int = -100_200_300) -> JSONDict:
        chat = {"id": chat_id, "type": "supergroup", "title": "党小组"}
        return self.text(user, text, chat=chat)

    def press(self, user: JSONDict, message: Outgoing, button: Button) -> JSONDict:
        """The member taps an inline button under a message the bot sent."""
        if button.callback_data is None:
            raise ValueError(f"button {button.text!r} sends no callback data")
        query_id = str(self.api.next_update_id())
        self.api.callback_users[query_id] = int(user["id"])
        # Telegram's group chats have negative ids: a press there is a press in a group.
        chat_type = "private" if message.chat_id > 0 else "supergroup"
        # As Telegram does: the message as it is now, perhaps edited since it was shown.
        text, markup = self.api.current.get(
            (message.chat_id, message.message_id), (message.text, None)
        )
        shown: JSONDict = {
            "message_id": message.message_id,
            "date": 1,  # not 0: python-telegram-bot reads date 0 as an inaccessible message
            "chat": {"id": message.chat_id, "type": chat_type},
            "from": self.api.bot_user,
            "text": text,
        }
        if markup is not None:
            shown["reply_markup"] = markup
        return {
            "update_id": self.api.next_update_id(),
            "callback_query": {
                "id": query_id,
                "from": user,
                "chat_instance": str(message.chat_id),
                "data": button.callback_data,
                "message": shown,
            },
        }


def _chat_id(params: JSONDict) -> int | None:
    raw = params.get("chat_id")
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
