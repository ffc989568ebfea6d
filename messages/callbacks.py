"""Callback data: every button's action, declared once, packed and unpacked in one place.

A button carries `"<feature>:<action>[:<value>...]"`. Each action is declared here with the
kinds of its values; `pack` writes the string (and refuses one over Telegram's 64 bytes),
`unpack` reads it back typed, and `pattern` is the regex its CallbackQueryHandler matches.

The strings are those the features wrote by hand before: buttons already sent to members
keep working. A press is data the client can forge, so `unpack` never raises: anything
that is not exactly what `pack` would have written (wrong count of values, "#5", " 5",
"²", an id beyond the database's range, an unknown choice) is None, and the handler answers
it as a stale button.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar, TypeVarTuple, overload

from storage.models import (
    MAX_ID,
    ActivityAnswer,
    ActivityKind,
    Consent,
    IdeaKind,
    LocationPrecision,
    RequestStatus,
    WorkSituation,
)
from storage.rights import Field
from storage.settings import LOCALES

# Telegram refuses a button whose callback_data is longer than this, in UTF-8 bytes.
MAX_BYTES = 64

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
E = TypeVar("E", bound=StrEnum)
Ts = TypeVarTuple("Ts")


class CallbackDataTooLong(ValueError):
    """A button's data over Telegram's limit: Telegram would refuse the whole message."""


@dataclass(frozen=True, slots=True)
class Value(Generic[T]):
    """One value carried by a button: how it is written, read back, and its regex."""

    shape: str
    read: Callable[[str], T | None]
    write: Callable[[T], str]


def _read_id(raw: str) -> int | None:
    # Only what str(int) writes: ASCII digits, no sign, no "#", no padding; within the
    # database's range, so a forged id never reaches a query as an overflowing integer.
    if raw.isascii() and raw.isdigit() and len(raw) <= len(str(MAX_ID)) and raw == str(int(raw)):
        number = int(raw)
        return number if number <= MAX_ID else None
    return None


def _write_id(value: int) -> str:
    if not 0 <= value <= MAX_ID:
        raise ValueError(f"record id out of range: {value}")
    return str(value)


ID: Value[int] = Value(r"[0-9]+", _read_id, _write_id)


def _read_word(raw: str) -> str | None:
    return raw if raw and ":" not in raw else None


def _write_word(value: str) -> str:
    if _read_word(value) is None:
        raise ValueError(f"not a single word of callback data: {value!r}")
    return value


# Free text without ":" (a time-zone name); the handler judges whether it means anything.
WORD: Value[str] = Value(r"[^:]+", _read_word, _write_word)


def choice(cls: type[E], *members: E) -> Value[E]:
    """One of an enumeration's values (or of those members only), written as its value."""
    allowed = {member.value: member for member in members or tuple(cls)}
    return one_of(allowed)


def one_of(words: dict[str, T]) -> Value[T]:
    """One of a few fixed words, each standing for a value."""
    by_value = {value: word for word, value in words.items()}

    def write(value: T) -> str:
        return by_value[value]

    shape = "(?:" + "|".join(re.escape(word) for word in words) + ")"
    return Value(shape, words.get, write)


def literal(word: str) -> Value[str]:
    """A fixed word that only marks the action ("skip" in "request:comment:12:skip")."""
    return one_of({word: word})


class Action(Generic[*Ts]):
    """A button's action: `feature:name` (or only `feature`), then its values, each after ":"."""

    def __init__(self, feature: str, name: str | None, values: tuple[Value[Any], ...]) -> None:
        self.prefix = feature if name is None else f"{feature}:{name}"
        self.values = values
        shapes = "".join(f":({value.shape})" for value in values)
        # Exactly the strings pack writes (unpack still checks ranges and choices).
        self.pattern = rf"^{re.escape(self.prefix)}{shapes}$"
        # Any press of this action, well formed or not, for a handler that answers both.
        self.any_pattern = rf"^{re.escape(self.prefix)}" + (":" if values else "$")

    def pack(self, *values: *Ts) -> str:
        given: tuple[Any, ...] = values
        written = [value.write(raw) for value, raw in zip(self.values, given, strict=True)]
        data = ":".join([self.prefix, *written])
        if len(data.encode()) > MAX_BYTES:
            raise CallbackDataTooLong(f"{len(data.encode())} bytes: {data!r}")
        return data

    def unpack(self, data: str | None) -> tuple[*Ts] | None:
        """The values of a press of this action; None for anything pack would not write."""
        if data is None or len(data.encode()) > MAX_BYTES:
            return None
        if not self.values:
            return () if data == self.prefix else None  # type: ignore[return-value]
        head = f"{self.prefix}:"
        if not data.startswith(head):
            return None
        parts = data.removeprefix(head).split(":")
        if len(parts) != len(self.values):
            return None
        read = [value.read(part) for value, part in zip(self.values, parts, strict=True)]
        if any(item is None for item in read):
            return None
        return tuple(read)  # type: ignore[return-value]

    def carried(self, data: str) -> str:
        """What a press of this action carries after its prefix, as sent: for the audit
        trail of a press that may be forged."""
        return data.removeprefix(self.prefix).removeprefix(":")

    def __contains__(self, data: object) -> bool:
        return isinstance(data, str) and self.unpack(data) is not None


def feature_pattern(prefix: str) -> str:
    """Any button under prefix ("checkin", "request:new"): for the handler that answers its
    stale or forged presses."""
    return rf"^{re.escape(prefix)}:"


@overload
def action(feature: str, name: str | None) -> Action[()]: ...
@overload
def action(feature: str, name: str | None, a: Value[A], /) -> Action[A]: ...
@overload
def action(feature: str, name: str | None, a: Value[A], b: Value[B], /) -> Action[A, B]: ...
@overload
def action(
    feature: str, name: str | None, a: Value[A], b: Value[B], c: Value[C], /
) -> Action[A, B, C]: ...
def action(feature: str, name: str | None, *values: Value[Any]) -> Action[Any]:
    """Declare an action; its values are given in the order they are written.

    name None: the feature has one action, whose values follow the feature ("privacy:given").
    """
    return Action(feature, name, values)


# --- check-in (bot/features/checkin/) -----------------------------------------------------

CHECKIN = "checkin"
CHECKIN_CONSENT = action(CHECKIN, "consent", choice(Consent, Consent.GIVEN, Consent.DECLINED))
CHECKIN_WORK = action(CHECKIN, "work", choice(WorkSituation))
CHECKIN_NOTE_SKIP = action(CHECKIN, "note:skip")
CHECKIN_NEEDS = action(CHECKIN, "needs", one_of({"yes": True, "no": False}))
CHECKIN_CONFIRM = action(CHECKIN, "confirm")
CHECKIN_RESTART = action(CHECKIN, "restart")
# Under a saved check-in: switch to the place's zone (its name), or "keep" the member's.
CHECKIN_ZONE = action(CHECKIN, "zone", ID, WORD)
CHECKIN_KEEP_ZONE = "keep"

# --- /lang (bot/features/lang.py) -------------------------------------------------------

LANGUAGE = action("lang", None, one_of({code: code for code in LOCALES}))  # "lang:en"

# --- /start and /privacy (bot/features/start.py, privacy.py) ---------------------------

START_CONSENT = action(
    "start", None, one_of({"accept": Consent.GIVEN, "decline": Consent.DECLINED})
)
PRIVACY_CONSENT = action("privacy", None, choice(Consent, Consent.GIVEN, Consent.DECLINED))
# Declining or withdrawing consent to location: what check-ins keep (the province, or none).
PRIVACY_KEEP = action("privacy", "keep", choice(LocationPrecision))

# --- service requests (bot/features/requests/) -------------------------------------------

REQUEST = "request"
# The member's /request draft.
REQUEST_NEW = f"{REQUEST}:new"
REQUEST_CATEGORY = action(REQUEST, "new:cat", ID)
REQUEST_MEASURE = action(REQUEST, "new:measure", ID)
REQUEST_NOT_SURE = action(REQUEST, "new:measure:none")
REQUEST_SKIP_ATTACHMENT = action(REQUEST, "new:skip")
REQUEST_SEND = action(REQUEST, "new:send")
REQUEST_QUIT = action(REQUEST, "new:quit")
# The staff desk: a request's card and what its buttons do.
REQUEST_ASSIGN = action(REQUEST, "assign", ID)
REQUEST_ASSIGN_TO = action(REQUEST, "to", ID, ID)  # request, colleague (staff id)
REQUEST_STATUS = action(REQUEST, "status", ID)
REQUEST_SET = action(REQUEST, "set", ID, choice(RequestStatus))
REQUEST_FILE = action(REQUEST, "file", ID)
# Typed next: a note, where it was referred to, or the answer that closes it.
REQUEST_NOTE = action(REQUEST, "note", ID)
REQUEST_REFER = action(REQUEST, "refer", ID)
REQUEST_CLOSE = action(
    REQUEST, "close", ID, choice(RequestStatus, RequestStatus.RESOLVED, RequestStatus.CANNOT_HELP)
)
REQUEST_TEXT = f"{REQUEST}:text"
REQUEST_TEXT_QUIT = action(REQUEST, "text:quit")

# --- notices (bot/features/notices.py) ---------------------------------------------------

NOTICE = "notice"
# The staff's /notice draft: who (groups ticked, or everyone), the text, when.
NOTICE_PICK = action(NOTICE, "pick", ID)  # a group, ticked or unticked
NOTICE_EVERYONE = action(NOTICE, "all")
NOTICE_NEXT = action(NOTICE, "next")
NOTICE_PREVIEW = action(NOTICE, "show")
NOTICE_SEND = action(NOTICE, "send")
NOTICE_LATER = action(NOTICE, "later")
NOTICE_URGENT = action(NOTICE, "urgent")
NOTICE_QUIT = action(NOTICE, "quit")
# Cancel a scheduled notice.
NOTICE_STOP = action(NOTICE, "stop", ID)

# --- certificates (bot/features/certificates/) ------------------------------------------

CERTIFICATE = "cert"
# The member's /certificate application.
CERTIFICATE_NEW = f"{CERTIFICATE}:new"
# "Was one issued to you before?" yes: a first one; no: the reverse direction.
CERTIFICATE_ISSUED = action(CERTIFICATE, "new:issued", one_of({"yes": True, "no": False}))
CERTIFICATE_MONTHS = action(CERTIFICATE, "new:months", ID)  # the range: storage.parse_months
CERTIFICATE_CONFIRM = action(CERTIFICATE, "new:confirm")
CERTIFICATE_QUIT = action(CERTIFICATE, "new:quit")
CERTIFICATE_AGAIN = action(CERTIFICATE, "new:again")
# Under the member's open application (the id is not read: a member has one open at most).
CERTIFICATE_WITHDRAW = action(CERTIFICATE, "withdraw", ID)
# The staff cancel the rejection reason they were typing.
CERTIFICATE_REJECT_QUIT = action(CERTIFICATE, "rq:quit")

# --- ideas and opinions (bot/features/ideas/) -------------------------------------------

IDEA = "idea"  # the member's side
IDEAS = "ideas"  # the staff's side
# The member's /idea draft.
IDEA_NEW = f"{IDEA}:new"
IDEA_KIND = action(IDEA, "new", choice(IdeaKind))
IDEA_SEND = action(IDEA, "new:send")
IDEA_REWRITE = action(IDEA, "new:rewrite")
IDEA_QUIT = action(IDEA, "new:quit")
# The staff's reply being written, and the buttons under a card.
IDEAS_DRAFT = f"{IDEAS}:draft"
IDEAS_REPLY_SEND = action(IDEAS, "draft:send")
IDEAS_REPLY_QUIT = action(IDEAS, "draft:quit")
IDEAS_REPLY = action(IDEAS, "reply", ID)
IDEAS_ADOPT = action(IDEAS, "adopt", ID)

# --- the staff inbox of members' SMS (bot/features/inbox.py) ---------------------------

INBOX = "inbox"
INBOX_ANSWER = action(INBOX, "answer", ID)
INBOX_DONE = action(INBOX, "done", ID)
# The answer being written.
INBOX_DRAFT = f"{INBOX}:draft"
INBOX_ANSWER_SEND = action(INBOX, "draft:send")
INBOX_ANSWER_QUIT = action(INBOX, "draft:quit")

# --- members' rights: correct and delete (bot/features/rights/) --------------------------

RIGHTS = "rights"
# The member's /correct draft: which field, the value typed, then send (or type again).
RIGHTS_FIX = f"{RIGHTS}:fix"
RIGHTS_FIELD = action(RIGHTS, "fix:field", choice(Field))
RIGHTS_SEND = action(RIGHTS, "fix:send")
RIGHTS_RETYPE = action(RIGHTS, "fix:retype")
RIGHTS_QUIT = action(RIGHTS, "fix:quit")
# The member's /leave: sure, then sure again.
RIGHTS_LEAVE = f"{RIGHTS}:leave"
RIGHTS_LEAVE_YES = action(RIGHTS, "leave:yes")
RIGHTS_LEAVE_SURE = action(RIGHTS, "leave:sure")
RIGHTS_LEAVE_QUIT = action(RIGHTS, "leave:quit")
# Under /privacy: either conversation from a button.
RIGHTS_START_FIX = action(RIGHTS, "start:fix")
RIGHTS_START_LEAVE = action(RIGHTS, "start:leave")
# The staff's card of a request: approve, reject (the reason typed next), erase (twice).
RIGHTS_APPROVE = action(RIGHTS, "approve", ID)
RIGHTS_REJECT = action(RIGHTS, "reject", ID)
RIGHTS_REJECT_QUIT = action(RIGHTS, "rq:quit")
RIGHTS_ERASE = action(RIGHTS, "erase", ID)
RIGHTS_WIPE = action(RIGHTS, "wipe", ID)

# --- study (bot/features/study.py) ------------------------------------------------------

STUDY = "study"
# The staff's /material draft.
STUDY_NEW = f"{STUDY}:new"
STUDY_NEXT = action(STUDY, "new:next")
STUDY_SKIP = action(STUDY, "new:skip")
STUDY_SAVE = action(STUDY, "new:save")
STUDY_QUIT = action(STUDY, "new:quit")
# "Stop #n" under /studyplan.
STUDY_STOP = action(STUDY, "stop", ID)

# --- the service guide (bot/features/guide.py) -----------------------------------------

GUIDE = "guide"
GUIDE_HOME = action(GUIDE, "home")
GUIDE_DEPARTMENTS = action(GUIDE, "deps")
GUIDE_NEEDS = action(GUIDE, "needs")
GUIDE_DEPARTMENT = action(GUIDE, "d", ID)
GUIDE_CATEGORY = action(GUIDE, "c", ID)


def _read_up(raw: str) -> tuple[str, int] | None:
    number = _read_id(raw[1:])
    return (raw[0], number) if raw[:1] in ("d", "c") and number is not None else None


def _write_up(up: tuple[str, int]) -> str:
    kind, number = up
    if kind not in ("d", "c"):
        raise ValueError(f"not a department or category: {kind!r}")
    return f"{kind}{_write_id(number)}"


# The page a measure was opened from: ("d", department id) or ("c", category id).
GUIDE_UP: Value[tuple[str, int]] = Value(r"[dc][0-9]+", _read_up, _write_up)
GUIDE_MEASURE = action(GUIDE, "m", ID, GUIDE_UP)

# --- places (bot/features/places.py) ---------------------------------------------------


def _read_district_key(raw: str) -> str | None:
    return raw if re.fullmatch("[0-9a-f]{12}", raw) else None


def _write_district_key(key: str) -> str:
    if _read_district_key(key) is None:
        raise ValueError(f"not a district key: {key!r}")
    return key


# A district by storage.places.district_key (a name may be 150 characters; the key is 12).
DISTRICT_KEY: Value[str] = Value("[0-9a-f]{12}", _read_district_key, _write_district_key)
PLACES = "places"
PLACES_DISTRICT = action(PLACES, "d", DISTRICT_KEY)
PLACES_PIN = action(PLACES, "pin", ID)

# Buttons of messages sent through the outbox (messages/cycle.py, requests.py, compose.py,
# certificates.py, ideas.py, study.py pack them; bot/features unpack the presses).
CYCLE_CHECKIN_NOW = action("cycle", "checkin")
REQUEST_FROM_CHECKIN = action("request", "fromcheckin", ID)
REQUEST_CARD = action(REQUEST, "card", ID)
REQUEST_TAKE = action(REQUEST, "take", ID)
# Feedback: solved yes|no, then 1–5 stars (the range is checked by storage.requests.rate),
# then (unhappy) a comment, or skip.
REQUEST_SOLVED = action(REQUEST, "solved", ID, one_of({"yes": True, "no": False}))
REQUEST_RATE = action(REQUEST, "rate", ID, ID)
REQUEST_COMMENT_SKIP = action(REQUEST, "comment", ID, literal("skip"))
NOTICE_ACK = action(NOTICE, "ack", ID)  # "received"
# Under a certificate's card: the next step, reject, letter. The steps a button takes are the
# forward steps and the yearly review (storage.certificates.STAFF_STEPS but rejecting, which
# has its own button), exactly as written: " CHECKED " is forged, refused before any change.
CERTIFICATE_BUTTON_STEPS = ("checked", "sent", "verified", "issued", "reviewed")
CERTIFICATE_STEP = action(
    CERTIFICATE, "step", ID, one_of({step: step for step in CERTIFICATE_BUTTON_STEPS})
)
CERTIFICATE_REJECT = action(CERTIFICATE, "reject", ID)
CERTIFICATE_LETTER = action(CERTIFICATE, "letter", ID)
IDEA_SHOW = action(IDEA, "show", ID)  # the member's own idea
IDEAS_CARD = action(IDEAS, "card", ID)  # an idea's card for staff
STUDY_DONE = action(STUDY, "done", ID)  # "studied"
STUDY_OPEN = action(STUDY, "open", ID)  # "read in full"
# Under the monthly prompt: "same as last month" (the period it was sent for; not read: the
# check-in goes to the current period), and under a lost-contact alert the admin's confirm.
CYCLE_SAME_AS_LAST = action("cycle", "same", WORD)
CYCLE_CONFIRM_LOST = action("cycle", "lost", ID)
STAFF_MEMBER_CARD = action("staff", "card", ID)  # a member's card
RIGHTS_CARD = action(RIGHTS, "card", ID)  # a correction or deletion request's card

# --- activities (bot/features/activities/) -----------------------------------------------

ACTIVITY = "act"
# Under an invitation (and /activities): "I'll come" / "I can't"; under the reminder,
# "I'm here", which asks for the code or a location for that activity.
ACTIVITY_ANSWER = action(ACTIVITY, "ans", ID, choice(ActivityAnswer))
ACTIVITY_HERE = action(ACTIVITY, "here", ID)
# The staff's new activity (the flow), then their list's cards.
ACTIVITY_NEW = action(ACTIVITY, "new")
ACTIVITY_KIND = action(ACTIVITY, "new:kind", choice(ActivityKind))
ACTIVITY_PLACE = action(ACTIVITY, "new:place", ID)  # one of the places the typed text named
ACTIVITY_ADDRESS = action(ACTIVITY, "new:address")  # no: the typed text is the address
ACTIVITY_PICK = action(ACTIVITY, "new:pick", ID)  # a group, ticked or unticked
ACTIVITY_NEXT = action(ACTIVITY, "new:next")
ACTIVITY_SEND = action(ACTIVITY, "new:send")
ACTIVITY_QUIT = action(ACTIVITY, "new:quit")
ACTIVITY_CARD = action(ACTIVITY, "card", ID)
ACTIVITY_ROSTER = action(ACTIVITY, "roster", ID)
ACTIVITY_MARKING = action(ACTIVITY, "marking", ID)
# Under the staff's list, for a staff member who is also a member: their own invitations.
ACTIVITY_MINE = action(ACTIVITY, "mine")
# Under a card: change the time, the place or the capacity, or cancel it (the flow
# "activity_change": what is typed, then a confirmation); "chgok" carries nothing, so a
# second press of a confirmation already done is an old button of the flow.
ACTIVITY_CHANGE = action(
    ACTIVITY,
    "chg",
    ID,
    one_of({word: word for word in ("time", "place", "capacity", "cancel")}),
)
ACTIVITY_CHANGE_OK = action(ACTIVITY, "chgok")
ACTIVITY_CHANGE_QUIT = action(ACTIVITY, "chgquit")
# Staff mark a member attended (on) or not (off): the state wanted, so a second press of
# the same button changes nothing.
ACTIVITY_MARK = action(ACTIVITY, "mark", ID, ID, one_of({"on": True, "off": False}))

# --- /mydata (bot/features/mydata.py) ----------------------------------------------------

MYDATA_FILES = action("mydata", "files")  # "send me the whole as files"
