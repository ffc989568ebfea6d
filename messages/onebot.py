"""OneBot v11 messages (the protocol QQ bot hosts speak: NapCat, Lagrange.OneBot, go-cqhttp).

A message arrives either as an array of segments (`[{"type": "text", "data": {"text":
"…"}}, …]`, NapCat's default) or as a string with CQ codes (`"绑定 [CQ:at,qq=10001] …"`,
go-cqhttp's default). Both are read here into the same segments. What Liaison sends is
always an array, text carried as data, so a member's "[CQ:…]" is never taken as a code.

CQ-code escaping (OneBot v11, message/string): in plain text `&` `[` `]` are written
`&amp;` `&#91;` `&#93;`; inside a code's values `,` is `&#44;` too. Anything that does not
parse as a code is text, as the hosts themselves treat it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from storage.coordinates import check_point

_CQ_CODE = re.compile(r"\[CQ:([A-Za-z0-9_.-]+)((?:,[^,\[\]=]+=[^,\[\]]*)*)\]")
_ENTITIES = (("&#44;", ","), ("&#91;", "["), ("&#93;", "]"), ("&amp;", "&"))


class MessageError(ValueError):
    """An event's message that is neither a CQ-code string nor an array of segments."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One part of a message: text, a face, an image, a location, a mention …"""

    type: str
    data: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "data": dict(self.data)}


def unescape(text: str) -> str:
    for entity, character in _ENTITIES:
        text = text.replace(entity, character)
    return text


def escape(text: str, *, in_value: bool = False) -> str:
    """Text as a CQ-code string must carry it (for hosts that only take strings)."""
    text = text.replace("&", "&amp;").replace("[", "&#91;").replace("]", "&#93;")
    return text.replace(",", "&#44;") if in_value else text


def parse_cq(message: str) -> list[Segment]:
    """A CQ-code string as segments: the codes, and the text between them unescaped."""
    segments: list[Segment] = []
    position = 0
    for code in _CQ_CODE.finditer(message):
        if code.start() > position:
            segments.append(Segment("text", {"text": unescape(message[position : code.start()])}))
        data = {}
        for pair in filter(None, code.group(2).split(",")):
            key, _, value = pair.partition("=")
            data[key] = unescape(value)
        segments.append(Segment(code.group(1), data))
        position = code.end()
    if position < len(message):
        segments.append(Segment("text", {"text": unescape(message[position:])}))
    return segments


def parse_message(message: object) -> list[Segment]:
    """An event's `message` in either format as segments; MessageError for anything else."""
    if isinstance(message, str):
        return parse_cq(message)
    if not isinstance(message, Sequence):
        raise MessageError(f"a message is a string or an array, not {type(message).__name__}")
    segments = []
    for raw in message:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("type"), str):
            raise MessageError(f"not a message segment: {raw!r:.80}")
        data = raw.get("data") or {}
        if not isinstance(data, Mapping):
            raise MessageError(f"a segment's data is an object, not {data!r:.80}")
        # Values arrive as strings or numbers depending on the host; kept as text here.
        segments.append(Segment(raw["type"], {str(k): str(v) for k, v in data.items()}))
    return segments


def plain_text(segments: Sequence[Segment]) -> str:
    """What the person typed: the text segments joined (faces, images, mentions left out)."""
    return "".join(s.data.get("text", "") for s in segments if s.type == "text").strip()


def location(segments: Sequence[Segment]) -> tuple[float, float] | None:
    """The point of a shared location segment, None if there is none or it is no point on
    Earth (the same check as a Telegram pin's)."""
    for segment in segments:
        if segment.type != "location":
            continue
        try:
            return check_point(float(segment.data["lat"]), float(segment.data["lon"]))
        except (KeyError, ValueError):  # CoordinateError is a ValueError: NaN, inf, (91, 200)
            return None
    return None


def number(value: object) -> int | None:
    """A number in an event or an answer: hosts write ids and codes as numbers or strings."""
    try:
        return int(value)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        return None


def text_message(text: str) -> list[dict[str, Any]]:
    """What Liaison sends: one text segment, the text as data (never read as CQ codes)."""
    return [Segment("text", {"text": text}).as_json()]


__all__ = [
    "MessageError",
    "Segment",
    "escape",
    "location",
    "number",
    "parse_cq",
    "parse_message",
    "plain_text",
    "text_message",
    "unescape",
]
