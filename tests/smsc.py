"""A test SMS centre on 127.0.0.1, built on a different SMPP library than the client.

The SMPP side is the `smpp34` package's Server (Rust core), not aiosmpplib. In front of it
sits a plain TCP relay on an ephemeral port, which is what the channel connects to: closing
the relay's listener makes the centre "down" (connections refused), and aborting the relayed
connections is a lost connection, something a well-behaved SMPP server never does by itself.

The centre records every submit_sm, answers them as scripted (OK by default, or a status,
or a dropped connection), sends delivery receipts on demand, and reassembles concatenated
messages with its own UDH parser and decoders (UTF-16BE, and the gsm0338 package's codec).
It also sends members' SMS (mobile-originated deliver_sm), split and encoded here on its
own (UCS-2 or GSM, a UDH with an 8-bit reference), and says how each was answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import gsm0338  # type: ignore[import-untyped]  # noqa: F401 (registers "gsm03.38")
import smpp34

ESME_ROK = 0
ESME_RSYSERR = 0x08
ESME_RINVDSTADR = 0x0B
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427
DROP = "drop"  # a script step: cut the connection instead of answering
HOLD = "hold"  # a script step: answer (OK) only when release() is called

HOST = "127.0.0.1"
TLV_MESSAGE_PAYLOAD = 0x0424
ESME_RX_T_APPN = 0x64


@dataclass(frozen=True, slots=True)
class MoPart:
    """One mobile-originated deliver_sm as the centre sends it (sending it twice repeats it)."""

    sender: str  # digits, international (TON 1)
    short_message: bytes
    data_coding: int
    esm_class: int = 0
    payload_tlv: bool = False  # the octets in message_payload instead of short_message


def mo_parts(
    sender: str, text: str, *, reference: int = 7, payload_tlv: bool = False
) -> list[MoPart]:
    """How a phone sends text: GSM 7-bit when it can (one septet an octet), else UCS-2; a
    longer text in parts of 153 septets or 67 UTF-16 units, each after a 6-octet UDH."""
    digits = sender.removeprefix("+")
    try:
        data, coding, single, part = text.encode("gsm03.38"), 0, 160, 153
        units = [text[i : i + 1].encode("gsm03.38") for i in range(len(text))]
    except UnicodeEncodeError:
        data, coding, single, part = text.encode("utf-16-be"), 8, 140, 134
        units = [text[i : i + 1].encode("utf-16-be") for i in range(len(text))]
    if len(data) <= single or payload_tlv:
        return [MoPart(digits, data, coding, payload_tlv=payload_tlv)]
    chunks: list[bytes] = [b""]
    for unit in units:
        if len(chunks[-1]) + len(unit) > part:
            chunks.append(b"")
        chunks[-1] += unit
    total = len(chunks)
    return [
        MoPart(digits, bytes((5, 0, 3, reference, total, number)) + chunk, coding, 0x40)
        for number, chunk in enumerate(chunks, start=1)
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Submitted:
    """One submit_sm as the centre received it, and how it answered."""

    session_id: str
    source_addr: str
    source_addr_ton: int
    source_addr_npi: int
    destination_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    esm_class: int
    data_coding: int
    registered_delivery: int
    short_message: bytes
    status: int | str  # a command_status, or DROP / HOLD
    message_id: str | None  # set when accepted
    at: float  # loop time of arrival

    @property
    def concat(self) -> tuple[int, int, int] | None:
        """(reference, total, number) from the UDH, or None for a single message."""
        if not self.esm_class & 0x40:
            return None
        data = self.short_message
        header = data[1 : 1 + data[0]]
        index = 0
        while index < len(header):
            iei, length = header[index], header[index + 1]
            value = header[index + 2 : index + 2 + length]
            if iei == 0x00 and length == 3:
                return value[0], value[1], value[2]
            if iei == 0x08 and length == 4:
                return int.from_bytes(value[:2], "big"), value[2], value[3]
            index += 2 + length
        raise AssertionError(f"UDH without a concatenation element: {data.hex()}")

    @property
    def user_data(self) -> bytes:
        """short_message without the UDH."""
        if self.esm_class & 0x40:
            return self.short_message[1 + self.short_message[0] :]
        return self.short_message

    @property
    def text(self) -> str:
        if self.data_coding == 8:
            return self.user_data.decode("utf-16-be")
        if self.data_coding == 0:
            return self.user_data.decode("gsm03.38")
        raise AssertionError(f"unexpected data_coding {self.data_coding}")


class LoopbackSmsc:
    """An SMSC for tests; `port` is where clients connect."""

    def __init__(self) -> None:
        self.submits: list[Submitted] = []
        self.binds = 0
        self._script: deque[int | str] = deque()
        self._inner_port = _free_port()
        self._server = smpp34.Server(host=HOST, port=self._inner_port, system_id="TESTSMSC")
        self._sessions: dict[str, smpp34.Esme] = {}
        self._pump: asyncio.Task[None] | None = None
        self._relay: asyncio.Server | None = None
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._held: list[smpp34.SubmitSmEvent] = []
        self._on_hold: list[tuple[smpp34.SubmitSmEvent, int]] = []
        self._changed = asyncio.Event()
        self._serial = 0
        self.port = 0

    # Lifecycle -------------------------------------------------------------------------

    async def start(self, *, listening: bool = True) -> None:
        await self._server.start()
        self._pump = asyncio.create_task(self._run_pump())
        if listening:
            await self.come_back()
        else:
            self.port = _free_port()

    async def stop(self) -> None:
        await self.go_down()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        await self._server.stop()
        self._held.clear()
        self._on_hold.clear()

    async def go_down(self) -> None:
        """Stop listening and cut every connection: the centre is unreachable."""
        if self._relay is not None:
            self._relay.close()
            await self._relay.wait_closed()
            self._relay = None
        self.cut()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)

    async def come_back(self) -> None:
        """Listen again (on the same port as before, if there was one)."""
        self._relay = await asyncio.start_server(self._relay_client, HOST, self.port)
        self.port = self._relay.sockets[0].getsockname()[1]

    def cut(self) -> None:
        """Abort every connection now, as a network failure would."""
        for client, upstream in list(self._links):
            client.transport.abort()
            upstream.transport.abort()

    # Scripting -------------------------------------------------------------------------

    def answer_next(self, *steps: int | str) -> None:
        """How to answer the next submits: a command_status each, or DROP."""
        self._script.extend(steps)

    def release(self) -> None:
        """Accept the submits held by HOLD steps."""
        held, self._on_hold = self._on_hold, []
        for event, index in held:
            self._serial += 1
            message_id = f"M{self._serial:05d}"
            event.accept(message_id)
            self.submits[index] = dataclasses.replace(
                self.submits[index], status=ESME_ROK, message_id=message_id
            )
        self._notify()

    async def receipt(
        self,
        message_id: str,
        stat: str = "DELIVRD",
        *,
        err: int = 0,
        in_text: bool = True,
        tlv: bool = True,
        date: str = "2611151000",
    ) -> None:
        """Send a delivery receipt for message_id over the newest session."""
        submitted = next(s for s in self.submits if s.message_id == message_id)
        session = list(self._sessions.values())[-1]
        text = (
            f"id:{message_id if in_text else ''} sub:001 dlvrd:{int(stat == 'DELIVRD'):03d} "
            f"submit date:{date} done date:{date} stat:{stat} err:{err:03d} text:"
        )
        states = {"DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5, "REJECTD": 8}
        tlvs = (
            [
                smpp34.Tlv(TLV_RECEIPTED_MESSAGE_ID, message_id.encode() + b"\0"),
                smpp34.Tlv(TLV_MESSAGE_STATE, bytes([states.get(stat, 7)])),
            ]
            if tlv
            else []
        )
        answer = await session.deliver_sm(
            destination_addr=submitted.source_addr,
            source_addr=submitted.destination_addr,
            source_addr_ton=submitted.dest_addr_ton,
            source_addr_npi=submitted.dest_addr_npi,
            esm_class=0x04,
            short_message=text.encode("ascii"),
            tlvs=tlvs,
        )
        assert answer.is_success

    async def deliver(self, part: MoPart, to: str = "Liaison") -> int:
        """Send one mobile-originated deliver_sm over the newest session; its answer's status."""
        await self.wait_for(lambda: bool(self._sessions))
        session = list(self._sessions.values())[-1]
        answer = await session.deliver_sm(
            destination_addr=to,
            source_addr=part.sender,
            source_addr_ton=1,
            source_addr_npi=1,
            dest_addr_ton=5,
            dest_addr_npi=0,
            esm_class=part.esm_class,
            data_coding=part.data_coding,
            short_message=b"" if part.payload_tlv else part.short_message,
            tlvs=[smpp34.Tlv(TLV_MESSAGE_PAYLOAD, part.short_message)] if part.payload_tlv else [],
        )
        return answer.command_status

    async def text_in(self, sender: str, text: str, *, reference: int = 7) -> list[int]:
        """A member's SMS, every part of it: the status each deliver_sm was answered with."""
        return [await self.deliver(part) for part in mo_parts(sender, text, reference=reference)]

    # Waiting and reading ---------------------------------------------------------------

    async def wait_for(self, condition: Callable[[], bool], within: float = 5.0) -> None:
        async def until() -> None:
            while not condition():
                changed = self._changed
                await changed.wait()

        await asyncio.wait_for(until(), within)

    async def wait_submits(self, count: int, within: float = 5.0) -> list[Submitted]:
        await self.wait_for(lambda: len(self.submits) >= count, within)
        return self.submits

    def accepted(self) -> list[Submitted]:
        return [s for s in self.submits if s.status == ESME_ROK]

    def messages(self, to: str | None = None) -> list[str]:
        """Texts reassembled from accepted submits, complete concatenations only (to one
        number only, "+86…", when to is given)."""
        texts: list[str] = []
        groups: dict[tuple[str, int, int], dict[int, Submitted]] = {}
        for submitted in self.accepted():
            if to is not None and submitted.destination_addr != to.removeprefix("+"):
                continue
            concat = submitted.concat
            if concat is None:
                texts.append(submitted.text)
                continue
            reference, total, number = concat
            group = groups.setdefault((submitted.destination_addr, reference, total), {})
            group[number] = submitted
            if len(group) == total:
                texts.append("".join(group[n].text for n in range(1, total + 1)))
                del groups[(submitted.destination_addr, reference, total)]
        return texts

    # Inside ----------------------------------------------------------------------------

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _run_pump(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            event = await self._server.next()
            if isinstance(event, smpp34.Esme):
                self._sessions[event.session_id] = event
                self.binds += 1
            elif isinstance(event, smpp34.Unbound):
                self._sessions.pop(event.session_id, None)
            else:
                step = self._script.popleft() if self._script else ESME_ROK
                message_id: str | None = None
                if step == DROP:
                    self._held.append(event)  # never answered
                    self.cut()
                elif step == HOLD:
                    self._on_hold.append((event, len(self.submits)))
                elif step == ESME_ROK:
                    self._serial += 1
                    message_id = f"M{self._serial:05d}"
                    event.accept(message_id)
                else:
                    assert isinstance(step, int)
                    event.reject(step)
                self.submits.append(
                    Submitted(
                        session_id=event.session_id,
                        source_addr=event.source_addr,
                        source_addr_ton=event.source_addr_ton,
                        source_addr_npi=event.source_addr_npi,
                        destination_addr=event.destination_addr,
                        dest_addr_ton=event.dest_addr_ton,
                        dest_addr_npi=event.dest_addr_npi,
                        esm_class=event.esm_class,
                        data_coding=event.data_coding,
                        registered_delivery=event.registered_delivery,
                        short_message=event.short_message,
                        status=step,
                        message_id=message_id,
                        at=loop.time(),
                    )
                )
            self._notify()

    async def _relay_client(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            try:
                up_r, up_w = await asyncio.open_connection(HOST, self._inner_port)
            except OSError:
                client_w.transport.abort()
                return
            link = (client_w, up_w)
            self._links.add(link)
            try:
                await asyncio.gather(_pipe(client_r, up_w), _pipe(up_r, client_w))
            finally:
                self._links.discard(link)
                for writer in link:
                    writer.close()
                    with contextlib.suppress(OSError, ConnectionError):
                        await writer.wait_closed()
        finally:
            self._handlers.discard(task)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof() and not sink.is_closing():
            sink.write_eof()  # pass the half-close on; the other direction may still talk
    except (OSError, ConnectionError, RuntimeError):
        # A broken side: break the other too, so both pipes finish.
        sink.transport.abort()
