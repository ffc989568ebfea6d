"""Outbox payloads as rows already in the database hold them: every kind's JSON, as the
version before typed payloads wrote it, still reads, and is written back the same."""

from __future__ import annotations

import pytest

from messages.kinds import KINDS
from storage.models import MessageKind

SCHOOLING = {"zh": "子女入学", "en": "Schooling"}

STORED: list[tuple[MessageKind, dict[str, object] | None]] = [
    (MessageKind.NOTICE, None),
    (MessageKind.CHECKIN_PROMPT, {"period": "2026-11", "reminder": 0}),
    (MessageKind.CHECKIN_REMINDER, {"period": "2026-11", "reminder": 2}),
    (
        MessageKind.ESCALATION,
        {
            "period": "2026-11",
            "group": "建筑行业党小组",
            "members": [{"id": 3, "name": "张伟", "days": 40, "never": False}],
            "total": 1,
        },
    ),
    (
        MessageKind.LOST_CONTACT,
        {"member_id": 3, "name": "张伟", "since": None, "months": 6, "admin": True},
    ),
    (MessageKind.STUDY, {"material_id": 4}),
    (
        MessageKind.REQUEST_NEW,
        {
            "request_id": 7,
            "member": "张伟",
            "category": SCHOOLING,
            "measure": None,
            "description": "孩子上学",
            "due": "2026-11-29 10:00",
            "attachment": None,
            "source": None,
        },
    ),
    (
        MessageKind.REQUEST_UPDATE,
        {
            "request_id": 7,
            "event": "status",
            "status": "resolved",
            "category": SCHOOLING,
            "referred_to": None,
            "answer": "已办好",
            "by": "李联络",
            "closed": True,
        },
    ),
    (
        MessageKind.REQUEST_DUE,
        {
            "request_id": 7,
            "member": "张伟",
            "category": SCHOOLING,
            "due": "2026-11-29 10:00",
            "assignee": None,
            "status": "received",
        },
    ),
    (
        MessageKind.REQUEST_LATE,
        {
            "request_id": 7,
            "member": "张伟",
            "category": SCHOOLING,
            "due": "2026-11-29 10:00",
            "assignee": "李联络",
            "status": "in_progress",
        },
    ),
    (
        MessageKind.REQUEST_FEEDBACK,
        {
            "request_id": 7,
            "member": "张伟",
            "category": SCHOOLING,
            "status": "resolved",
            "assignee": "李联络",
            "solved": False,
            "satisfaction": 1,
            "comment": "没人联系我",
            "follow_up": True,
        },
    ),
    (
        MessageKind.CERTIFICATE,
        {
            "certificate_id": 3,
            "step": "rejected",
            "reverse": False,
            "origin": "江汉区民族街道党工委",
            "number": None,
            "note": "材料不全",
            "review_due_on": None,
        },
    ),
    (
        MessageKind.CERTIFICATE,
        {
            "staff": True,
            "certificate_id": 3,
            "step": "applied",
            "name": "张伟",
            "reverse": True,
            "origin": "成都武侯",
            "destination": "武汉江汉",
            "months": 12,
        },
    ),
    (
        MessageKind.CERT_REVIEW,
        {
            "certificate_id": 3,
            "number": "2026-0001",
            "name": "张伟",
            "due_on": "2027-11-15",
            "staff": True,
        },
    ),
    (MessageKind.IDEA_NEW, {"id": 5, "kind": "idea", "member": "张伟", "body": "多办讲座"}),
    (
        MessageKind.IDEA_REPLY,
        {
            "id": 5,
            "kind": "opinion",
            "body": "多办讲座",
            "event": "reply",
            "reply": "下月开始",
            "replaced": False,
            "adopted": False,
        },
    ),
    (MessageKind.IDEA_REPLY, {"id": 5, "kind": "opinion", "body": "多办讲座", "event": "adopted"}),
    (
        MessageKind.RIGHTS_NEW,
        {"id": 4, "kind": "correct", "member": "张伟", "field": "workplace", "value": "汉口"},
    ),
    (MessageKind.RIGHTS_NEW, {"id": 5, "kind": "delete", "member": "张伟"}),
    (
        MessageKind.RIGHTS_REPLY,
        {"id": 4, "kind": "correct", "status": "approved", "field": "workplace", "value": "汉口"},
    ),
    (
        MessageKind.RIGHTS_REPLY,
        {"id": 5, "kind": "delete", "status": "rejected", "reason": "名册需保留"},
    ),
    (
        MessageKind.QQ_SUSPENDED,
        {"until": "2026-11-16T04:00:00Z", "reason": "retcode 100: 账号被风控"},
    ),
    (
        MessageKind.SMS_REPLY,
        {"what": "checkin_saved", "period": "2026-11", "place": "广东省 深圳市 南山区"},
    ),
    (MessageKind.SMS_REPLY, {"what": "stopped"}),
    (MessageKind.SMS_ANSWER, {"text": "周六的活动改到周日。", "signature": "李联络"}),
    (
        MessageKind.SMS_REPLY,
        {"what": "activity_yes", "activity": 3, "title": "座谈会", "when": "12-05 14:00"},
    ),
    (
        MessageKind.ACTIVITY_INVITE,
        {
            "activity_id": 3,
            "kind": "forum",
            "title": "2026年流动党员座谈会",
            "starts": "2026-12-05 14:00",
            "ends": "16:00",
            "place": "民意街道党员之家",
            "address": "武汉市江汉区民意四路 12 号",
            "capacity": 30,
            "organiser": "李联络",
        },
    ),
    (
        MessageKind.ACTIVITY_REMIND,
        {
            "activity_id": 3,
            "kind": "class",
            "title": "送课到企：茶叶公司",
            "starts": "2026-12-05 14:00",
            "ends": "16:00",
            "address": "武汉市江汉区江汉路 8 号",
            "organiser": "李联络",
        },
    ),
    (MessageKind.COMMENDATION, {"year": 2026, "citation": "服务群众<热心>"}),
    (
        MessageKind.ACTIVITY_CANCEL,
        {
            "activity_id": 3,
            "kind": "forum",
            "title": "2026年流动党员座谈会",
            "starts": "2026-12-05 14:00",
            "ends": "16:00",
            "address": "武汉市江汉区民意四路 12 号",
            "organiser": "李联络",
            "reason": "暴雨预警",
        },
    ),
    (
        MessageKind.ACTIVITY_CHANGE,
        {
            "activity_id": 3,
            "kind": "forum",
            "title": "2026年流动党员座谈会",
            "starts": "2026-12-12 14:00",
            "ends": "16:00",
            "address": "武汉市江汉区民意四路 12 号",
            "capacity": 40,
            "organiser": "李联络",
            "changed": ["time", "capacity"],
            "was_starts": "2026-12-05 14:00",
            "was_ends": "16:00",
            "was_address": "武汉市江汉区民意四路 12 号",
            "was_capacity": 30,
        },
    ),
    (
        MessageKind.ACTIVITY_PLACE,
        {
            "activity_id": 3,
            "kind": "forum",
            "title": "2026年流动党员座谈会",
            "starts": "2026-12-05 14:00",
            "ends": "16:00",
            "address": "武汉市江汉区民意四路 12 号",
            "organiser": "李联络",
        },
    ),
]


def test_every_kind_has_a_stored_example() -> None:
    assert {kind for kind, _ in STORED} == set(MessageKind)


@pytest.mark.parametrize(("kind", "stored"), STORED)
def test_a_payload_stored_before_typed_payloads_reads_and_is_written_back_the_same(
    kind: MessageKind, stored: dict[str, object] | None
) -> None:
    payload = KINDS[kind].payload.read(stored)
    assert payload.KIND is kind
    assert payload.to_json() == stored
