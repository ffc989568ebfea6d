"""OneBot v11 messages as QQ hosts send them, in both formats, read into the same segments;
and what Liaison sends carries a member's text as data, never as CQ codes."""

from __future__ import annotations

import pytest

from messages.onebot import (
    MessageError,
    Segment,
    escape,
    location,
    parse_cq,
    parse_message,
    plain_text,
    text_message,
)

# The same message as go-cqhttp (a CQ-code string) and NapCat (an array) deliver it.
AS_STRING = "[CQ:at,qq=10001] 绑定 AB12&#91;CD&#93; &amp; [CQ:face,id=178]"
AS_ARRAY = [
    {"type": "at", "data": {"qq": 10001}},
    {"type": "text", "data": {"text": " 绑定 AB12[CD] & "}},
    {"type": "face", "data": {"id": "178"}},
]


def test_both_formats_read_as_the_same_segments() -> None:
    assert parse_message(AS_STRING) == parse_message(AS_ARRAY)
    assert plain_text(parse_message(AS_STRING)) == "绑定 AB12[CD] &"


def test_a_code_s_values_are_unescaped_commas_included() -> None:
    [share] = parse_cq("[CQ:share,url=https://x.cn/a&#44;b,title=党员之家&#91;南山&#93;]")
    assert share == Segment("share", {"url": "https://x.cn/a,b", "title": "党员之家[南山]"})


def test_what_does_not_parse_as_a_code_is_text() -> None:
    for typed in ("[CQ:]", "[CQ:at,qq]", "[not a code]", "[CQ:at,qq=1", "报到 深圳南山"):
        assert plain_text(parse_cq(typed)) == typed.strip()


def test_a_shared_location_is_a_point_and_a_bad_one_is_none() -> None:
    shared = [{"type": "location", "data": {"lat": "22.54", "lon": 113.93, "title": "南山"}}]
    assert location(parse_message(shared)) == (22.54, 113.93)
    assert location(parse_cq("[CQ:location,lat=22.54,lon=113.93]")) == (22.54, 113.93)
    for lat, lon in (("nan", "1"), ("inf", "1"), ("91", "200"), ("x", "1")):
        assert location(parse_cq(f"[CQ:location,lat={lat},lon={lon}]")) is None
    assert location(parse_cq("没有位置")) is None


@pytest.mark.parametrize(
    "message", [None, 5, {"type": "text"}, [{"data": {}}], [{"type": "text", "data": "x"}]]
)
def test_a_message_in_neither_format_is_refused(message: object) -> None:
    with pytest.raises(MessageError):
        parse_message(message)


def test_a_members_cq_code_is_sent_as_text_not_as_a_code() -> None:
    typed = "[CQ:at,qq=all] 大家好 & [CQ:image,file=x]"
    assert text_message(typed) == [{"type": "text", "data": {"text": typed}}]
    # For a host that only takes strings, the same text escaped reads back unchanged.
    assert parse_cq(escape(typed)) == [Segment("text", {"text": typed})]
    assert escape("a,b", in_value=True) == "a&#44;b"
