"""SMS over SMPP 3.4, with aiosmpplib's ESME as the protocol client.

The channel binds as a transceiver and keeps the session up in the background: when the
connection is lost or the SMS centre is down, sends come back as RETRY (the outbox row
waits) while the ESME reconnects with exponential backoff, and the next send after it is
back goes out. Each text is split by messages.sms_text: GSM 03.38 (data_coding 0) or UCS-2
(data_coding 8), concatenated parts carrying a UDH (esm_class 0x40), each part submitted
with registered_delivery=1, one after the other, paced to `rate` submit_sm per second.

A send is ACCEPTED only when every part's submit_sm_resp is ESME_ROK; its external id is
the first part's message_id. Every part's message_id is remembered, so delivery receipts
(deliver_sm with the receipt bit) map back: the receipt sink hears `delivered` once every
part said DELIVRD, or `failed` with the state as soon as one part was not delivered.

Every other deliver_sm is a member's SMS (mobile-originated). It is read from the PDU here
(the octets as they came: UCS-2 or the GSM alphabet, a concatenation header in the short
message or the SAR parameters, or the text in message_payload), handed to the inbound sink,
and answered only once the sink has stored it: ESME_ROK, or ESME_RX_T_APPN when storing
failed, so that the SMS centre sends it again later.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
import secrets
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from types import TracebackType
from typing import cast

from aiosmpplib import (
    ESME,
    NPI,
    TON,
    AbstractBroker,
    AbstractHook,
    AbstractRetryTimer,
    AbstractThrottleHandler,
    BindMode,
    BindTransceiverResp,
    DeliverSm,
    DeliverSmResp,
    GenericNack,
    PhoneNumber,
    SmppCommand,
    SmppCommandStatus,
    SmppMessage,
    SmppSessionState,
    SubmitSm,
    SubmitSmResp,
)
from aiosmpplib.correlator import SimpleCorrelator
from aiosmpplib.state import PduHeader

from messages.channels.base import (
    InboundSink,
    MobileOriginated,
    OutboundMessage,
    ReceiptSink,
    SendResult,
)
from messages.channels.sms_log import SmsLogChannel
from messages.sms_text import (
    Concatenation,
    EncodedSms,
    SmsEncoding,
    SmsPart,
    decode_text,
    encode_sms,
    read_udh,
)
from storage.models import ChannelName
from storage.settings import Settings
from storage.sms_inbox import fingerprint

log = logging.getLogger(__name__)

# Optional parameters of a receipt (SMPP 3.4, 5.3.2).
RECEIPTED_MESSAGE_ID = 0x001E
MESSAGE_STATE = 0x0427
_MESSAGE_STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
_FINAL_FAILURES = frozenset({"UNDELIV", "REJECTD", "EXPIRED", "DELETED", "UNKNOWN"})
# Where a mobile-originated text may come besides short_message, and its SAR parameters.
MESSAGE_PAYLOAD = 0x0424
SAR_MSG_REF_NUM = 0x020C
SAR_TOTAL_SEGMENTS = 0x020E
SAR_SEGMENT_SEQNUM = 0x020F
_PDU_HEADER = 16

# The SMS centre is busy: slow down and try this message again.
_THROTTLED = frozenset({SmppCommandStatus.ESME_RTHROTTLED, SmppCommandStatus.ESME_RMSGQFUL})
# A passing fault on the far side: try again later.
_TRANSIENT = frozenset(
    {
        SmppCommandStatus.ESME_RSYSERR,
        SmppCommandStatus.ESME_RX_T_APPN,
        SmppCommandStatus.ESME_RINVBNDSTS,
    }
)

_E164 = re.compile(r"\+([1-9][0-9]{6,14})")
# The fields of a receipt's text (SMPP 3.4 appendix B) that matter here.
_RECEIPT_FIELD = re.compile(r"(?i)\b(id|stat|err):(\S*)")
_BROKER_POLL = 0.05  # how often an idle sender looks at the session state


class _Kind(enum.Enum):
    ANSWERED = "answered"  # a submit_sm_resp or generic_nack came back
    LOST = "lost"  # the connection went, or no answer in time: it may or may not have gone
    BROKEN = "broken"  # the PDU could not be built


@dataclass(frozen=True, slots=True)
class _Answer:
    kind: _Kind
    status: SmppCommandStatus = SmppCommandStatus.ESME_ROK
    message_id: str = ""
    detail: str = ""


@dataclass(eq=False, slots=True)
class _Tracked:
    """One text sent as one or more parts, and what the receipts said so far."""

    parts: int
    external_id: str | None = None
    message_ids: list[str] = field(default_factory=list)
    delivered: set[str] = field(default_factory=set)
    accepted: bool = False  # send() returned ACCEPTED with external_id
    abandoned: bool = False  # send() gave up (RETRY/FAILED): its receipts mean nothing
    reported: bool = False  # the sink has heard the outcome
    pending: tuple[bool, str | None] | None = None  # an outcome that came before acceptance


@dataclass(eq=False, slots=True)
class _Part:
    log_id: str
    tracked: _Tracked
    future: asyncio.Future[_Answer]


class _Pacer:
    """Spaces submit_sm at most `rate` per second; a throttling answer pauses everyone."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0

    async def wait(self) -> None:
        now = asyncio.get_running_loop().time()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)

    def pause(self, seconds: float) -> None:
        self._next = max(self._next, asyncio.get_running_loop().time() + seconds)


class _Esme(ESME):
    """aiosmpplib's ESME, closing the sockets its finished sessions leave half-open."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._spent: list[asyncio.StreamWriter] = []

    async def connect(self) -> None:
        self.close_spent()
        try:
            await super().connect()
        finally:
            if self._writer is not None:
                self._spent.append(self._writer)

    # Set by the channel: stores a member's SMS, returns the status to answer it with.
    inbound: Callable[[bytes], Awaitable[SmppCommandStatus]] | None = None

    async def _handle_request(self, pdu: bytes, header: PduHeader) -> SmppMessage | None:
        if (
            header.smpp_command is SmppCommand.DELIVER_SM
            and self.inbound is not None
            and not _is_receipt(pdu)
        ):
            # A member's SMS: answered only once stored (the library would answer OK at once,
            # and keep the parts of a long message in memory).
            status = await self.inbound(pdu)
            await self._send_data(DeliverSmResp(header.sequence_num, command_status=status))
            return None
        try:
            return await super()._handle_request(pdu, header)
        except ValueError:
            # aiosmpplib reads receipt dates strictly (YYMMDDhhmm) and would drop the session
            # on any other form, over and over as the SMSC resends: answer it and let the
            # channel read the receipt its own way.
            if header.smpp_command is not SmppCommand.DELIVER_SM:
                raise
            message = DeliverSm.from_pdu(pdu, header, self.default_encoding, self.custom_codecs)
            assert isinstance(message, DeliverSm)
            return message

    def wake_keeper(self) -> None:
        """Let the enquire_link task see at once that the session is over.

        It otherwise sleeps until the next data or enquire_link, and the session winds down
        only after aiosmpplib has given it half a second and cancelled it.
        """
        self._data_received.set()

    def close_spent(self) -> None:
        for writer in self._spent:
            writer.close()
        self._spent.clear()


class _Outbox(AbstractBroker):
    """The queue the ESME's sender takes submit_sm from.

    Parts whose send already gave up are skipped, so nothing goes out late; when the session
    is over the sender is told at once (ConnectionError) instead of waiting to be cancelled.
    """

    def __init__(self, channel: SmppChannel) -> None:
        self._channel = channel
        self._items: deque[SmppMessage] = deque()
        self._ready = asyncio.Event()

    async def enqueue(self, message: SmppMessage) -> None:
        self._items.append(message)
        self._ready.set()

    async def dequeue(self) -> SmppMessage:
        while True:
            if not self._channel._session_bound():
                self._channel._link_down("connection to the SMSC lost")
                self._channel._esme.wake_keeper()
                raise ConnectionError("SMPP session ended")
            while self._items:
                message = self._items.popleft()
                if self._channel._wanted(message):
                    return message
            self._ready.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), _BROKER_POLL)


class _Reconnect(AbstractRetryTimer):
    """Exponential backoff between connection attempts; tells the channel what happened."""

    def __init__(self, channel: SmppChannel, first: float, longest: float) -> None:
        self._channel = channel
        self.first = first
        self.longest = longest
        self.delay = first
        self._wake = asyncio.Event()

    async def wait(self) -> None:
        self._channel._link_down("cannot reach the SMSC")
        delay, self.delay = self.delay, min(self.delay * 2, self.longest)
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    def reset(self) -> None:
        self.delay = self.first
        self._channel._link_up()

    def next_delay(self) -> float:
        return self.delay

    def interrupt(self) -> None:
        self._wake.set()


class _NoThrottle(AbstractThrottleHandler):
    """The channel paces and backs off itself; aiosmpplib's own throttle stays out of it."""

    async def throttled(self) -> None:
        return None

    async def not_throttled(self) -> None:
        return None

    async def allow_request(self) -> bool:
        return True

    async def throttle_delay(self) -> float:
        return 0.0


class _Correlator(SimpleCorrelator):
    """aiosmpplib's request/response correlation; receipts are matched by the channel.

    The library would keep every submitted message for three days to match receipts; the
    channel keeps only message ids, so this stores nothing for receipts.
    """

    _RECEIPT = SubmitSm(short_message="-", log_id="liaison")

    async def put_delivery(self, smsc_message_id: str, submit_sm: SubmitSm) -> None:
        return None

    async def get_delivery(self, receipt: DeliverSm) -> SubmitSm | None:
        return self._RECEIPT


class _Hook(AbstractHook):
    def __init__(self, channel: SmppChannel) -> None:
        self._channel = channel

    async def sending(self, smpp_message: SmppMessage, pdu: bytes, client_id: str) -> None:
        if type(smpp_message) is SubmitSm:
            self._channel._on_sending(smpp_message)

    async def received(self, smpp_message: SmppMessage | None, pdu: bytes, client_id: str) -> None:
        if type(smpp_message) is SubmitSmResp:
            self._channel._on_answer(
                smpp_message.sequence_num, smpp_message.command_status, smpp_message.message_id
            )
        elif isinstance(smpp_message, GenericNack):
            self._channel._on_answer(smpp_message.sequence_num, smpp_message.command_status, "")
        elif isinstance(smpp_message, DeliverSm):
            await self._channel._on_deliver(smpp_message)
        elif isinstance(smpp_message, BindTransceiverResp):
            self._channel._on_bind(smpp_message.command_status)

    async def send_error(self, smpp_message: SmppMessage, error: Exception, client_id: str) -> None:
        if type(smpp_message) is SubmitSm:
            self._channel._on_send_error(smpp_message, error)


class _ToLogging(logging.Handler):
    """Hands aiosmpplib's log records to this module's logger."""

    def emit(self, record: logging.LogRecord) -> None:
        if log.isEnabledFor(record.levelno):
            record.name = log.name
            log.handle(record)


def _address(number: str) -> PhoneNumber:
    """How the sender address goes out: alphanumeric, international, or as given."""
    if number.startswith("+") and number[1:].isdigit():
        return PhoneNumber(number[1:], TON.INTERNATIONAL, NPI.ISDN)
    if number.isdigit():
        return PhoneNumber(number, TON.UNKNOWN, NPI.ISDN)
    return PhoneNumber(number, TON.ALPHANUMERIC, NPI.UNKNOWN)


class SmppChannel:
    """Sends SMS through an SMS centre over SMPP 3.4 and reports its delivery receipts.

    Use as `async with SmppChannel(...) as channel:` (or start()/close()). receipt_sink is
    awaited with (external_id, delivered, reason) for every final receipt.
    """

    name: ChannelName = ChannelName.SMS

    def __init__(
        self,
        host: str,
        port: int = 2775,
        system_id: str = "",
        password: str = "",
        *,
        source_addr: str = "Liaison",
        rate: float = 10.0,
        receipt_sink: ReceiptSink | None = None,
        inbound_sink: InboundSink | None = None,
        system_type: str = "",
        connect_timeout: float = 10.0,
        response_timeout: float = 30.0,
        reconnect_min: float = 1.0,
        reconnect_max: float = 60.0,
        throttle_backoff: float = 1.0,
        enquire_link_interval: float = 30.0,
        close_timeout: float = 5.0,
        receipt_capacity: int = 100_000,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if not 0 < reconnect_min <= reconnect_max:
            raise ValueError("need 0 < reconnect_min <= reconnect_max")
        self.receipt_sink = receipt_sink
        self.inbound_sink = inbound_sink
        self.response_timeout = response_timeout
        self.connect_timeout = connect_timeout
        self.throttle_backoff = throttle_backoff
        self.close_timeout = close_timeout
        self._source = _address(source_addr)
        self._pacer = _Pacer(rate)
        self._reconnect = _Reconnect(self, reconnect_min, reconnect_max)
        self._outbox = _Outbox(self)
        self._esme = _Esme(
            smsc_host=host,
            smsc_port=port,
            system_id=system_id,
            password=password,
            system_type=system_type,
            bind_mode=BindMode.TRANSCEIVER,
            client_id="liaison",
            enquire_link_interval=float(enquire_link_interval),
            log_level=logging.INFO,
            log_handler=_ToLogging(),
            log_include_timestamp=False,
            hook=_Hook(self),
            broker=self._outbox,
            throttle_handler=_NoThrottle(),
            correlator=_Correlator("liaison"),
            retry_timer=self._reconnect,
            socket_timeout=float(connect_timeout),
        )
        self._esme.inbound = self._on_mobile_originated
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._up = False
        self._bind_refused: str | None = None  # the SMSC's answer to the last bind, if not OK
        self._attempted = asyncio.Event()  # the first connection attempt has ended
        self._changed = asyncio.Event()  # pulsed (replaced) whenever the link goes up or down
        self._parts: dict[str, _Part] = {}  # by log_id, until answered
        self._by_sequence: dict[int, _Part] = {}
        self._receipts: OrderedDict[str, _Tracked] = OrderedDict()  # message_id → text
        self._receipt_capacity = receipt_capacity
        self._reference = secrets.randbelow(256)
        self._serial = 0
        self._background: set[asyncio.Task[None]] = set()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        receipt_sink: ReceiptSink | None = None,
        inbound_sink: InboundSink | None = None,
    ) -> SmppChannel:
        """The channel LIAISON_SMPP_* describe (LIAISON_SMPP_HOST must be set)."""
        if not settings.smpp_host:
            raise ValueError("LIAISON_SMPP_HOST is not set")
        password = settings.smpp_password.get_secret_value() if settings.smpp_password else ""
        return cls(
            settings.smpp_host,
            settings.smpp_port,
            settings.smpp_system_id,
            password,
            source_addr=settings.smpp_source_addr,
            rate=settings.smpp_rate,
            receipt_sink=receipt_sink,
            inbound_sink=inbound_sink,
        )

    # Lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting in the background; sends wait for the first attempt's outcome."""
        if self._task is not None:
            return
        if self._closing:
            raise RuntimeError("a closed SMPP channel cannot start again")
        self._task = asyncio.create_task(self._esme.start(), name="smpp-esme")
        self._task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if self._closing or task.cancelled():
            return
        error = task.exception()
        log.error("the SMPP client stopped; SMS will wait until restart", exc_info=error)
        self._link_down("SMPP client stopped")

    async def close(self) -> None:
        """Unbind, stop reconnecting, and release the socket."""
        if self._closing:
            return
        self._closing = True
        self._reconnect.interrupt()
        task = self._task
        if task is not None:
            grace = 0.0
            if self._session_bound():  # unbind politely and let the session wind down
                grace = self.close_timeout
                with suppress(TimeoutError, OSError, ConnectionError):
                    await asyncio.wait_for(self._esme.stop(), self.close_timeout)
            done, _ = await asyncio.wait({task}, timeout=grace)
            if not done:
                task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await task
        self._esme.close_spent()
        self._link_down("SMS channel closed")
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def __aenter__(self) -> SmppChannel:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        """Bound to the SMS centre right now."""
        return self._up and self._session_bound()

    async def wait_connected(self) -> None:
        """Return once bound to the SMS centre (wrap in asyncio.timeout to bound the wait)."""
        while not self.connected:
            await self._changed.wait()

    # Sending -------------------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> SendResult:
        found = _E164.fullmatch(message.address.strip())
        if found is None:
            return SendResult.failed("not an international (E.164) phone number")
        destination = PhoneNumber(found.group(1), TON.INTERNATIONAL, NPI.ISDN)
        try:
            sms = encode_sms(message.text, self._next_reference())
        except ValueError as exc:
            return SendResult.failed(str(exc))
        if self._task is None or self._task.done() or self._closing:
            return SendResult.retry("SMS channel is not running")
        if not await self._ready():
            reason = "SMSC unavailable"
            if self._bind_refused:
                reason += f" (bind refused: {self._bind_refused})"
            return SendResult.retry(reason, after=self._reconnect.delay)

        tracked = _Tracked(parts=len(sms.parts))
        for part in sms.parts:
            await self._pacer.wait()
            if not self.connected:
                return self._give_up(tracked, SendResult.retry("connection to the SMSC lost"))
            answer = await self._submit(message.delivery_id, sms, part, destination, tracked)
            refused = self._classify(answer)
            if refused is not None:
                return self._give_up(tracked, refused)
        tracked.accepted = True
        if tracked.pending is not None:  # a receipt was faster than the last answer
            self._report(tracked, *tracked.pending)
        return SendResult.accepted(tracked.external_id)

    async def _ready(self) -> bool:
        if not self._attempted.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(self._attempted.wait(), self.connect_timeout)
        return self.connected

    def _next_reference(self) -> int:
        self._reference = (self._reference + 1) % 256
        return self._reference

    async def _submit(
        self,
        delivery_id: int,
        sms: EncodedSms,
        part: SmsPart,
        destination: PhoneNumber,
        tracked: _Tracked,
    ) -> _Answer:
        self._serial += 1
        log_id = f"{delivery_id}.{self._serial}"
        submit = SubmitSm(
            short_message=part.text,  # for aiosmpplib's logs; the octets are set below
            source=self._source,
            destination=destination,
            esm_class=sms.esm_class,
            registered_delivery=1,
            encoding="ucs2" if sms.encoding is SmsEncoding.UCS2 else "gsm0338",
            log_id=log_id,
            extra_data=str(delivery_id),
        )
        submit.set_encoded_message(part.payload)
        entry = _Part(log_id, tracked, asyncio.get_running_loop().create_future())
        self._parts[log_id] = entry
        try:
            await self._outbox.enqueue(submit)
            return await asyncio.wait_for(asyncio.shield(entry.future), self.response_timeout)
        except TimeoutError:
            return _Answer(_Kind.LOST, detail="no answer from the SMSC")
        finally:
            self._parts.pop(log_id, None)
            if not entry.future.done():
                entry.future.cancel()

    def _classify(self, answer: _Answer) -> SendResult | None:
        """None when the part was accepted, else what to tell the dispatcher."""
        if answer.kind is _Kind.LOST:
            return SendResult.retry(answer.detail, after=self._reconnect.delay)
        if answer.kind is _Kind.BROKEN:
            return SendResult.failed(answer.detail)
        status = answer.status
        if status is SmppCommandStatus.ESME_ROK:
            return None
        if status in _THROTTLED:
            self._pacer.pause(self.throttle_backoff)
            return SendResult.retry(status.name, after=self.throttle_backoff)
        if status in _TRANSIENT:
            return SendResult.retry(status.name)
        return SendResult.failed(status.name)

    def _give_up(self, tracked: _Tracked, result: SendResult) -> SendResult:
        tracked.abandoned = True
        return result

    # Called by aiosmpplib (through the hook, broker and retry timer) ------------------

    def _session_bound(self) -> bool:
        return self._esme.session_state is SmppSessionState.BOUND_TRX

    def _wanted(self, message: SmppMessage) -> bool:
        entry = self._parts.get(getattr(message, "log_id", ""))
        return entry is not None and not entry.future.done()

    def _on_bind(self, status: SmppCommandStatus) -> None:
        ok = status in (SmppCommandStatus.ESME_ROK, SmppCommandStatus.ESME_RALYBND)
        self._bind_refused = None if ok else status.name
        if not ok:
            log.error("the SMSC refused to bind: %s", status.name)

    def _on_sending(self, submit: SubmitSm) -> None:
        entry = self._parts.get(submit.log_id)
        if entry is not None:
            self._by_sequence[submit.sequence_num] = entry

    def _on_answer(self, sequence: int, status: SmppCommandStatus, message_id: str) -> None:
        entry = self._by_sequence.pop(sequence, None)
        if entry is None:
            return
        if status is SmppCommandStatus.ESME_ROK and message_id:
            tracked = entry.tracked
            if tracked.external_id is None:
                tracked.external_id = message_id
            tracked.message_ids.append(message_id)
            self._remember(message_id, tracked)
        if not entry.future.done():
            entry.future.set_result(_Answer(_Kind.ANSWERED, status, message_id))

    def _on_send_error(self, submit: SubmitSm, error: Exception) -> None:
        entry = self._parts.get(submit.log_id)
        if entry is None or entry.future.done():
            return
        if isinstance(error, ValueError):
            answer = _Answer(_Kind.BROKEN, detail=f"cannot build submit_sm: {error}")
        else:
            answer = _Answer(_Kind.LOST, detail="connection to the SMSC lost")
        entry.future.set_result(answer)

    def _link_up(self) -> None:
        self._attempted.set()
        self._up = True
        self._pulse()

    def _link_down(self, reason: str) -> None:
        self._attempted.set()
        was_up, self._up = self._up, False
        self._by_sequence.clear()
        for entry in self._parts.values():
            if not entry.future.done():
                entry.future.set_result(_Answer(_Kind.LOST, detail=reason))
        if was_up:
            if not self._closing:
                log.warning("SMPP session ended: %s", reason)
            self._pulse()

    def _pulse(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # Receipts ------------------------------------------------------------------------

    def _remember(self, message_id: str, tracked: _Tracked) -> None:
        self._receipts[message_id] = tracked
        self._receipts.move_to_end(message_id)
        while len(self._receipts) > self._receipt_capacity:
            self._receipts.popitem(last=False)

    async def _on_deliver(self, deliver: DeliverSm) -> None:
        if not deliver.is_receipt():
            return  # a member's SMS, handled before the library saw it (_on_mobile_originated)
        fields: dict[str, str] = {}
        for key, value in _RECEIPT_FIELD.findall(deliver.short_message or ""):
            fields.setdefault(key.lower(), value)
        params = {param.tag: param.value for param in deliver.optional_params or []}
        ids = [
            str(value) for value in (params.get(RECEIPTED_MESSAGE_ID), fields.get("id")) if value
        ]
        if not ids:
            log.warning("a delivery receipt without a message id: %s", deliver.short_message)
            return
        stat = fields.get("stat", "").upper()
        if not stat and isinstance(params.get(MESSAGE_STATE), int):
            stat = _MESSAGE_STATES.get(cast(int, params[MESSAGE_STATE]), "")
        if stat == "DELIVRD":
            delivered, reason = True, None
        elif stat in _FINAL_FAILURES:
            error = fields.get("err", "").strip("0")
            delivered = False
            reason = f"{stat} (err {error})" if error else stat
        else:
            return  # ENROUTE, ACCEPTD…: not final
        message_id = next((candidate for candidate in ids if candidate in self._receipts), None)
        if message_id is None:
            # Sent before a restart: the first part's id is the delivery's external id.
            await self._call_sink(ids[0], delivered, reason)
            return
        tracked = self._receipts[message_id]
        if tracked.abandoned or tracked.reported:
            return
        if delivered:
            tracked.delivered.add(message_id)
            if len(tracked.delivered) < tracked.parts:
                return
        if not tracked.accepted:
            if tracked.pending is None:  # the first final word stands
                tracked.pending = (delivered, reason)
            return
        await self._finish(tracked, delivered, reason)

    def _report(self, tracked: _Tracked, delivered: bool, reason: str | None) -> None:
        task = asyncio.create_task(self._finish(tracked, delivered, reason))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _finish(self, tracked: _Tracked, delivered: bool, reason: str | None) -> None:
        if tracked.reported or tracked.external_id is None:
            return
        tracked.reported = True
        for message_id in tracked.message_ids:
            self._receipts.pop(message_id, None)
        await self._call_sink(tracked.external_id, delivered, reason)

    async def _call_sink(self, external_id: str, delivered: bool, reason: str | None) -> None:
        if self.receipt_sink is None:
            log.info("receipt for %s (delivered=%s) with no sink", external_id, delivered)
            return
        try:
            await self.receipt_sink(external_id, delivered, reason)
        except Exception:  # the SMPP session must outlive a failing sink
            log.exception("receipt sink failed for %s", external_id)

    # Members' SMS ------------------------------------------------------------------------

    async def _on_mobile_originated(self, pdu: bytes) -> SmppCommandStatus:
        """Store a member's SMS through the sink; the status to answer the deliver_sm with."""
        try:
            message = read_mobile_originated(pdu)
        except (ValueError, IndexError):
            # Not its octets: they hold a phone number and what a member wrote.
            log.warning("an unreadable deliver_sm (%d octets), refused", len(pdu))
            return SmppCommandStatus.ESME_RX_R_APPN
        if self.inbound_sink is None:
            log.info("a mobile-originated SMS with nowhere to go; acknowledged and dropped")
            return SmppCommandStatus.ESME_ROK
        try:
            await self.inbound_sink(message)
        except Exception:  # whatever went wrong, the SMS centre keeps it and sends it again
            log.exception("could not store a mobile-originated SMS; the SMS centre will retry")
            return SmppCommandStatus.ESME_RX_T_APPN
        return SmppCommandStatus.ESME_ROK


def _is_receipt(pdu: bytes) -> bool:
    """Whether a deliver_sm PDU is a delivery receipt (esm_class message type 0b0001)."""
    try:
        return (_read_fields(pdu)[0] & 0b00111100) >> 2 == 1
    except (ValueError, IndexError):
        return True  # the library reads (and refuses) what we cannot


def _read_fields(pdu: bytes) -> tuple[int, int, str, str, bytes, dict[int, bytes]]:
    """esm_class, data_coding, source address, destination, short_message and the optional
    parameters of a deliver_sm PDU (SMPP 3.4, 4.6.1); ValueError when it does not read."""
    index = _PDU_HEADER

    def c_string() -> tuple[str, int]:
        end = pdu.index(0, index)
        return pdu[index:end].decode("ascii", errors="replace"), end + 1

    _, index = c_string()  # service_type
    source_ton = pdu[index]
    index += 2
    source, index = c_string()
    index += 2
    destination, index = c_string()
    esm_class = pdu[index]
    index += 3  # esm_class, protocol_id, priority_flag
    _, index = c_string()  # schedule_delivery_time
    _, index = c_string()  # validity_period
    index += 2  # registered_delivery, replace_if_present_flag
    data_coding = pdu[index]
    length = pdu[index + 2]
    index += 3
    short_message = pdu[index : index + length]
    if len(short_message) < length:
        raise ValueError("short_message runs past the PDU")
    index += length
    params: dict[int, bytes] = {}
    while index + 4 <= len(pdu):
        tag, size = (
            int.from_bytes(pdu[index : index + 2]),
            int.from_bytes(pdu[index + 2 : index + 4]),
        )
        params[tag] = pdu[index + 4 : index + 4 + size]
        index += 4 + size
    if source_ton == TON.INTERNATIONAL and source.isdigit():
        source = "+" + source
    return esm_class, data_coding, source, destination, short_message, params


def read_mobile_originated(pdu: bytes) -> MobileOriginated:
    """A member's SMS from its deliver_sm PDU: the text decoded, its place in a long message
    (UDH or SAR parameters) and the dedupe key of its content."""
    esm_class, data_coding, source, destination, octets, params = _read_fields(pdu)
    if not octets and MESSAGE_PAYLOAD in params:
        octets = params[MESSAGE_PAYLOAD]
    concat: Concatenation | None = None
    user_data = octets
    if esm_class & 0x40:
        concat, user_data = read_udh(octets)
    elif SAR_MSG_REF_NUM in params:
        total = int.from_bytes(params.get(SAR_TOTAL_SEGMENTS, b"\x01"))
        number = int.from_bytes(params.get(SAR_SEGMENT_SEQNUM, b"\x01"))
        if 1 <= number <= total:
            concat = Concatenation(int.from_bytes(params[SAR_MSG_REF_NUM]), total, number)
    sar = b"".join(
        params.get(tag, b"") for tag in (SAR_MSG_REF_NUM, SAR_TOTAL_SEGMENTS, SAR_SEGMENT_SEQNUM)
    )
    return MobileOriginated(
        sender=source,
        recipient=destination,
        text=decode_text(user_data, data_coding),
        dedupe_key=fingerprint(source, destination, data_coding, esm_class, octets + sar),
        reference=concat.reference if concat else 0,
        total=concat.total if concat else 1,
        number=concat.number if concat else 1,
    )


SmsChannel = SmppChannel | SmsLogChannel


def sms_channel(
    settings: Settings,
    receipt_sink: ReceiptSink | None = None,
    inbound_sink: InboundSink | None = None,
) -> SmsChannel:
    """The SMPP channel when LIAISON_SMPP_HOST is set, else the local log file channel (which
    receives nothing)."""
    if settings.smpp_host:
        return SmppChannel.from_settings(settings, receipt_sink, inbound_sink)
    return SmsLogChannel(settings.sms_log_path)


__all__ = ["SmppChannel", "SmsChannel", "read_mobile_originated", "sms_channel"]
