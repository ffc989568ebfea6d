"""A local Bot API server: a LocalBotApi answered over real HTTP on 127.0.0.1.

The bot talks to it exactly as it talks to Telegram (python-telegram-bot's HTTPXRequest, with
`telegram_api_url = server.base_url`), so tests and benchmarks exercise the real network stack:

    api = LocalBotApi()
    async with BotApiServer(api, token) as server:
        settings = Settings(telegram_token=token, telegram_api_url=server.base_url, ...)
        server.push_update(UpdateFactory(api).text(user, "/help"))
        await asyncio.wait_for(server.wait_until(lambda: len(api.sent) >= 1), 5)

Standard library only: an asyncio HTTP/1.1 server (keep-alive, pipelining, Content-Length and
chunked bodies) that reads JSON, application/x-www-form-urlencoded (what python-telegram-bot
sends) and multipart/form-data (what it sends when uploading files) and routes
`/bot<TOKEN>/<method>` to `LocalBotApi.handle`. getUpdates long-polls: it waits up to
`timeout` seconds for `push_update`. Scripted `BotApiError`s become Telegram's error answers
(status code, description, parameters such as retry_after). The LocalBotApi behind it keeps
Telegram's limits (one message a second per chat, 30 a second overall, 20 a minute per group
chat) and answers 429 beyond them; an optional stricter overall `rate_limit` comes on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.utils import collapse_rfc2231_value
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from bot.botapi import BotApiError, JSONDict, LocalBotApi

log = logging.getLogger(__name__)

MAX_HEAD_BYTES: Final = 64 * 1024
MAX_BODY_BYTES: Final = 64 * 1024 * 1024
_READ_CHUNK: Final = 64 * 1024

# Form values arrive as strings; Telegram knows each field's type, the server knows these.
# Anything else stays a string (as Telegram treats String fields).
_JSON_FIELDS: Final = frozenset(
    {
        "allowed_updates",
        "caption_entities",
        "commands",
        "entities",
        "explanation_entities",
        "input_message_content",
        "link_preview_options",
        "media",
        "menu_button",
        "message_ids",
        "options",
        "permissions",
        "prices",
        "question_entities",
        "reaction",
        "reply_markup",
        "reply_parameters",
        "results",
        "rights",
        "scope",
        "shipping_options",
    }
)
_INT_FIELDS: Final = frozenset(
    {
        "cache_time",
        "chat_id",
        "duration",
        "from_chat_id",
        "heading",
        "height",
        "limit",
        "live_period",
        "message_id",
        "message_thread_id",
        "offset",
        "proximity_alert_radius",
        "reply_to_message_id",
        "timeout",
        "until_date",
        "user_id",
        "width",
    }
)
_FLOAT_FIELDS: Final = frozenset({"horizontal_accuracy", "latitude", "longitude"})
_BOOL_FIELDS: Final = frozenset(
    {
        "allow_sending_without_reply",
        "disable_content_type_detection",
        "disable_notification",
        "disable_web_page_preview",
        "drop_pending_updates",
        "has_spoiler",
        "is_personal",
        "protect_content",
        "revoke_messages",
        "show_alert",
        "supports_streaming",
    }
)
_INTEGER: Final = re.compile(r"-?[0-9]+")
_DIGITS: Final = re.compile(r"[0-9]+")
_HEX: Final = re.compile(rb"[0-9A-Fa-f]+")
# Methods that post a message to a chat: what the overall rate limit counts.
_SENDING: Final = re.compile(r"^(send|copy|forward)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart/form-data request."""

    filename: str
    content_type: str
    data: bytes


@dataclass(slots=True)
class ReceivedRequest:
    """One Bot API request as the server saw it (recorded in `BotApiServer.requests`)."""

    http_method: str
    api_method: str
    content_type: str
    params: JSONDict
    status: int = 0


class _HttpError(Exception):
    """A malformed request: answered with status, then the connection is closed."""

    def __init__(self, status: HTTPStatus, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description

    def body(self) -> JSONDict:
        return _error_body(int(self.status), f"{self.status.phrase}: {self.description}")


class _ClientGone(Exception):
    """The client closed the connection (e.g. it cancelled a long poll)."""


@dataclass(slots=True)
class _Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


class _Connection:
    """A buffered reader over one client connection (bytes read ahead stay for the next request)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buffer = bytearray()
        self.eof = False

    async def fill(self) -> bool:
        """Read more bytes into the buffer; False at end of stream."""
        if self.eof:
            return False
        try:
            data = await self.reader.read(_READ_CHUNK)
        except ConnectionError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    async def read_until(self, separator: bytes, limit: int) -> bytes | None:
        """Bytes up to and including separator; None if the stream ended cleanly before any."""
        start = 0
        while True:
            index = self.buffer.find(separator, start)
            if index >= 0:
                end = index + len(separator)
                if end > limit:
                    raise _HttpError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "head too large")
                chunk = bytes(self.buffer[:end])
                del self.buffer[:end]
                return chunk
            if len(self.buffer) > limit:
                raise _HttpError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "head too large")
            start = max(0, len(self.buffer) - len(separator) + 1)
            if not await self.fill():
                if self.buffer:
                    raise _ClientGone
                return None

    async def read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not await self.fill():
                raise _ClientGone
        chunk = bytes(self.buffer[:size])
        del self.buffer[:size]
        return chunk


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0") or not parts[0].isalpha():
        raise _HttpError(HTTPStatus.BAD_REQUEST, "malformed request line")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or line[0] in " \t":
            raise _HttpError(HTTPStatus.BAD_REQUEST, "malformed header line")
        key = name.lower()
        value = value.strip(" \t")
        if key == "content-length" and key in headers and headers[key] != value:
            raise _HttpError(HTTPStatus.BAD_REQUEST, "conflicting Content-Length")
        headers[key] = (
            f"{headers[key]}, {value}" if key in headers and key != "content-length" else value
        )
    return method.upper(), target, version, headers


async def _read_chunked(connection: _Connection) -> bytes:
    body = bytearray()
    while True:
        line = await connection.read_until(b"\r\n", MAX_HEAD_BYTES)
        if line is None:
            raise _ClientGone
        size_text = line[:-2].split(b";", 1)[0].strip()
        if not _HEX.fullmatch(size_text):
            raise _HttpError(HTTPStatus.BAD_REQUEST, "malformed chunk size")
        size = int(size_text, 16)
        if len(body) + size > MAX_BODY_BYTES:
            raise _HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
        if size == 0:
            # Trailers (ignored) end with an empty line.
            while True:
                trailer = await connection.read_until(b"\r\n", MAX_HEAD_BYTES)
                if trailer is None:
                    raise _ClientGone
                if trailer == b"\r\n":
                    return bytes(body)
        body += await connection.read_exactly(size)
        if await connection.read_exactly(2) != b"\r\n":
            raise _HttpError(HTTPStatus.BAD_REQUEST, "malformed chunk")


async def _read_request(connection: _Connection) -> _Request | None:
    """The next request on the connection, or None when the client closed it between requests."""
    head = await connection.read_until(b"\r\n\r\n", MAX_HEAD_BYTES)
    if head is None:
        return None
    method, target, version, headers = _parse_head(head[:-4])
    transfer_encoding = headers.get("transfer-encoding", "").strip().lower()
    if transfer_encoding:
        if "content-length" in headers:
            raise _HttpError(HTTPStatus.BAD_REQUEST, "both Transfer-Encoding and Content-Length")
        if transfer_encoding != "chunked":
            raise _HttpError(HTTPStatus.NOT_IMPLEMENTED, "unsupported Transfer-Encoding")
    if headers.get("expect", "").lower() == "100-continue":
        connection.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if transfer_encoding:
        body = await _read_chunked(connection)
    else:
        length_text = headers.get("content-length", "0")
        if not _DIGITS.fullmatch(length_text):
            raise _HttpError(HTTPStatus.BAD_REQUEST, "malformed Content-Length")
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            raise _HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
        body = await connection.read_exactly(length)
    return _Request(method, target, version, headers, body)


def _header_params(value: str) -> Message:
    message = Message()
    message["content-type"] = value
    return message


def _parse_multipart(body: bytes, boundary: str) -> dict[str, str | UploadedFile]:
    delimiter = b"--" + boundary.encode("latin-1")
    fields: dict[str, str | UploadedFile] = {}
    if body.startswith(delimiter):
        position = len(delimiter)
    else:
        index = body.find(b"\r\n" + delimiter)
        if index < 0:
            raise _HttpError(HTTPStatus.BAD_REQUEST, "multipart body without its boundary")
        position = index + 2 + len(delimiter)
    while True:
        if body[position : position + 2] == b"--":
            return fields
        if body[position : position + 2] != b"\r\n":
            raise _HttpError(HTTPStatus.BAD_REQUEST, "malformed multipart boundary line")
        start = position + 2
        end = body.find(b"\r\n" + delimiter, start)
        if end < 0:
            raise _HttpError(HTTPStatus.BAD_REQUEST, "unterminated multipart body")
        part = body[start:end]
        position = end + 2 + len(delimiter)
        head, separator, content = part.partition(b"\r\n\r\n")
        if not separator:
            raise _HttpError(HTTPStatus.BAD_REQUEST, "multipart part without headers")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = Message()
        disposition["content-disposition"] = headers.get("content-disposition", "")
        raw_name = disposition.get_param("name", header="content-disposition")
        if raw_name is None or not isinstance(raw_name, str | tuple):
            raise _HttpError(HTTPStatus.BAD_REQUEST, "multipart part without a name")
        field_name = collapse_rfc2231_value(raw_name)
        raw_filename = disposition.get_param("filename", header="content-disposition")
        content_type = headers.get("content-type", "")
        if isinstance(raw_filename, str | tuple):
            filename = collapse_rfc2231_value(raw_filename)
            fields[field_name] = UploadedFile(
                filename, content_type or "application/octet-stream", content
            )
        else:
            charset = _header_params(content_type or "text/plain").get_content_charset("utf-8")
            try:
                fields[field_name] = content.decode(charset)
            except (LookupError, UnicodeDecodeError) as exc:
                raise _HttpError(
                    HTTPStatus.BAD_REQUEST, f"undecodable field {field_name!r}"
                ) from exc


def _typed(name: str, value: str) -> Any:
    """A form value as the Python value Telegram would read for that field."""
    try:
        if name in _JSON_FIELDS:
            return json.loads(value)
        if name in _INT_FIELDS:
            return int(value) if _INTEGER.fullmatch(value) else value
        if name in _FLOAT_FIELDS:
            return float(value)
        if name in _BOOL_FIELDS:
            return value.lower() in ("true", "1")
    except ValueError as exc:
        raise _HttpError(HTTPStatus.BAD_REQUEST, f"field {name} can't be parsed") from exc
    return value


def decode_params(content_type: str, body: bytes, query: str = "") -> JSONDict:
    """The parameters of a Bot API call: query string, then the body (JSON, form or multipart)."""
    params: JSONDict = {k: _typed(k, v) for k, v in parse_qsl(query, keep_blank_values=True)}
    if not body:
        return params
    header = _header_params(content_type or "application/octet-stream")
    mime = header.get_content_type()
    if mime == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise _HttpError(HTTPStatus.BAD_REQUEST, "body is not valid JSON") from exc
        if not isinstance(decoded, dict):
            raise _HttpError(HTTPStatus.BAD_REQUEST, "JSON body is not an object")
        params.update(decoded)
    elif mime == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError as exc:
            raise _HttpError(HTTPStatus.BAD_REQUEST, "form body is not URL-encoded") from exc
        params.update((k, _typed(k, v)) for k, v in pairs)
    elif mime == "multipart/form-data":
        boundary = header.get_param("boundary")
        if not isinstance(boundary, str) or not boundary:
            raise _HttpError(HTTPStatus.BAD_REQUEST, "multipart body without a boundary")
        for key, value in _parse_multipart(body, boundary).items():
            params[key] = value if isinstance(value, UploadedFile) else _typed(key, value)
    else:
        raise _HttpError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"unsupported Content-Type {mime}")
    return params


def _error_body(code: int, description: str, parameters: JSONDict | None = None) -> JSONDict:
    body: JSONDict = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


class BotApiServer:
    """The Bot API of a LocalBotApi over HTTP on 127.0.0.1 (an ephemeral port by default).

    `base_url` is what python-telegram-bot takes as base_url ("http://127.0.0.1:PORT/bot").
    `push_update` queues an update and wakes long-polling getUpdates; `wait_until(predicate)`
    returns once predicate() holds, re-checked after every request, answer, pushed update and
    closed connection. `requests` records what arrived (`record_requests=False` for benchmarks),
    `errors` any failure of the server itself (tests should assert it stays empty).
    Telegram's limits are the LocalBotApi's (`LocalBotApi(clock=…)`); `rate_limit` (messages
    per second, all chats together) is an optional stricter cap on send*/copy*/forward* calls.
    `throttled` counts every 429 answered, for either.
    """

    def __init__(
        self,
        api: LocalBotApi,
        token: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        record_requests: bool = True,
    ) -> None:
        if rate_limit is not None and rate_limit < 1:
            raise ValueError("rate_limit is messages per second: at least 1")
        self.api = api
        self.host = host
        self.rate_limit = rate_limit
        self.requests: list[ReceivedRequest] = []
        self.throttled = 0
        self.errors: list[BaseException] = []
        self._token = token
        self._requested_port = port
        self._port: int | None = None
        self._clock = clock
        self._record = record_requests
        self._sent_at: deque[float] = deque()
        self._server: asyncio.Server | None = None
        self._closing = False
        self._connections: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._updates_pushed = asyncio.Event()

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("BotApiServer already started")
        self._closing = False
        self._server = await asyncio.start_server(
            self._serve, self.host, self._requested_port, limit=_READ_CHUNK
        )
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening, end every open connection (pending long polls included)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._closing = True
        server.close()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # --- what tests use -------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("BotApiServer not started")
        return self._port

    @property
    def base_url(self) -> str:
        """python-telegram-bot's base_url: the token and "/<method>" are appended to it."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def open_connections(self) -> int:
        """Client connections being served now (a hung-up long poll is dropped at once)."""
        return len(self._connections)

    def push_update(self, update: JSONDict) -> None:
        """Queue an update for getUpdates, waking a long poll."""
        self.api.updates.append(update)
        self._updates_pushed.set()
        self._updates_pushed = asyncio.Event()
        self._notify()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Return once predicate() is true; wrap it in asyncio.wait_for for a deadline."""
        while not predicate():
            await self._changed.wait()

    def calls_of(self, method: str) -> list[JSONDict]:
        """The parameters of every call of method the LocalBotApi answered, in order."""
        wanted = method.lower()
        return [params for name, params in self.api.calls if name.lower() == wanted]

    # --- serving --------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        connection = _Connection(reader, writer)
        try:
            await self._serve_connection(connection)
        except (_ClientGone, ConnectionError):
            pass
        except asyncio.CancelledError:
            # close() ends open connections; asyncio's stream callback would log a
            # cancelled handler task as an error, so finish normally then.
            if not self._closing:
                raise
        except Exception as error:  # a bug in the server: keep it for the test to see
            self.errors.append(error)
            log.exception("BotApiServer connection failed")
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self._notify()

    async def _serve_connection(self, connection: _Connection) -> None:
        while True:
            try:
                request = await _read_request(connection)
            except _HttpError as error:
                await self._respond(connection, error.status, error.body(), keep_alive=False)
                return
            if request is None:
                return
            try:
                status, body = await self._dispatch(request, connection)
            except _HttpError as error:
                status, body = error.status, error.body()
            await self._respond(connection, status, body, keep_alive=request.keep_alive)
            if not request.keep_alive:
                return

    async def _respond(
        self, connection: _Connection, status: int, body: JSONDict, *, keep_alive: bool
    ) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode()
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        head = (
            f"HTTP/1.1 {status} {phrase}\r\n"
            "Server: liaison-local-bot-api\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n"
            "\r\n"
        )
        connection.writer.write(head.encode("latin-1") + payload)
        await connection.writer.drain()

    async def _dispatch(self, request: _Request, connection: _Connection) -> tuple[int, JSONDict]:
        target = urlsplit(request.target)
        path = unquote(target.path)
        if not path.startswith("/bot") or path.count("/") != 2:
            return 404, _error_body(404, "Not Found")
        token, _, api_method = path.removeprefix("/bot").partition("/")
        if not secrets.compare_digest(token.encode(), self._token.encode()):
            return 401, _error_body(401, "Unauthorized")
        if request.method not in ("GET", "POST"):
            return 405, _error_body(405, "Method Not Allowed")
        if not api_method:
            return 404, _error_body(404, "Not Found: method not found")
        content_type = request.headers.get("content-type", "")
        params = decode_params(content_type, request.body, target.query)
        received = ReceivedRequest(request.method, api_method, content_type, params)
        if self._record:
            self.requests.append(received)
        self._notify()  # a long poll is answered later: let tests see it has arrived
        received.status, body = await self._answer(api_method, params, connection)
        self._notify()
        return received.status, body

    async def _answer(
        self, api_method: str, params: JSONDict, connection: _Connection
    ) -> tuple[int, JSONDict]:
        retry_after = self._throttle(api_method)
        if retry_after is not None:
            self.throttled += 1
            description = f"Too Many Requests: retry after {retry_after}"
            return 429, _error_body(429, description, {"retry_after": retry_after})
        try:
            if api_method.lower() == "getupdates":
                result = await self._get_updates(params, connection)
            else:
                result = self.api.handle(api_method, params)
        except BotApiError as error:
            if error.code == HTTPStatus.TOO_MANY_REQUESTS:
                self.throttled += 1
            return error.code, _error_body(error.code, error.description, error.parameters)
        except (KeyError, ValueError, TypeError) as error:
            # What Telegram says for a missing or malformed parameter.
            return 400, _error_body(400, f"Bad Request: {type(error).__name__}: {error}")
        return 200, {"ok": True, "result": result}

    def _throttle(self, api_method: str) -> int | None:
        """Seconds to wait if this call is over the rate limit, else None (and count it)."""
        if self.rate_limit is None or not _SENDING.match(api_method):
            return None
        now = self._clock()
        window = self._sent_at
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= self.rate_limit:
            return max(1, math.ceil(window[0] + 1.0 - now))
        window.append(now)
        return None

    async def _get_updates(self, params: JSONDict, connection: _Connection) -> list[JSONDict]:
        """getUpdates with long polling: wait up to `timeout` seconds for an update."""
        result: list[JSONDict] = self.api.handle("getUpdates", params)
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = float(params.get("timeout") or 0)
        if not result and timeout > 0:
            deadline = asyncio.get_running_loop().time() + timeout
            await self._wait_for_updates(offset, deadline, connection)
            result = [u for u in self.api.updates if u["update_id"] >= offset]
        return result[:limit]

    async def _wait_for_updates(
        self, offset: int, deadline: float, connection: _Connection
    ) -> None:
        """Wait for an update at or after offset, the deadline (loop time), or a hang-up."""
        loop = asyncio.get_running_loop()
        reading: asyncio.Task[bool] | None = None
        try:
            while not any(u["update_id"] >= offset for u in self.api.updates):
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return
                if reading is None and len(connection.buffer) < MAX_HEAD_BYTES:
                    # Watch the connection: a client that gives up closes it.
                    reading = asyncio.create_task(connection.fill())
                pushed = asyncio.create_task(self._updates_pushed.wait())
                waiting: set[asyncio.Task[Any]] = {pushed}
                if reading is not None:
                    waiting.add(reading)
                try:
                    await asyncio.wait(
                        waiting, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    pushed.cancel()
                if reading is not None and reading.done():
                    if not reading.result():
                        raise _ClientGone
                    reading = None  # pipelined bytes stay buffered for the next request
        finally:
            if reading is not None:
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reading


__all__ = ["BotApiServer", "ReceivedRequest", "UploadedFile", "decode_params"]
