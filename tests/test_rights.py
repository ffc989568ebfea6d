"""The members' rights to correct and to delete their data (PIPL Arts. 46–47), as members,
liaisons and administrators live them, on every database."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.botapi import Button, LocalBotApi, Outgoing
from bot.context import LiaisonApplication, Services
from messages.callbacks import RIGHTS_APPROVE, RIGHTS_CARD, RIGHTS_WIPE
from messages.sms_keywords import SmsKeywords
from storage import certificates, ideas, ratings, requests, sms_inbox
from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    AuditEvent,
    Base,
    CheckIn,
    DataRequest,
    DataRequestStatus,
    IdeaKind,
    Member,
    StaffRole,
)
from storage.regions import default_index
from storage.rights import (
    Field,
    approve_correction,
    propose_correction,
    reject,
    request_deletion,
)
from tests.chat import Person, said, talk
from tests.conftest import START
from tests.cycle_harness import RecordingSms
from tests.delivery import Deliver, make_dispatcher
from tests.factories import (
    make_checkin,
    make_group,
    make_member,
    make_request_catalogue,
    make_staff,
)

ZHANG = 8301  # 张伟, 驻深圳, Chinese
WANG = 8302  # 王芳, 驻深圳, English
LI_NA = 8303  # 李娜, 律师
LIAISON = 8401  # 李联络: 驻深圳
LAWYERS_LIAISON = 8402  # 刘联络: 律师 only
ADMIN = 8403  # 赵管理: administrator without scope (everyone)

ZHANG_PHONE = "+8613800000001"
WUHAN = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
async def district(db: Database) -> None:
    shenzhen = await make_group(db, START, "驻深圳党小组")
    lawyers = await make_group(db, START, "律师党小组")
    await make_member(
        db, START, name="张伟", phone=ZHANG_PHONE, telegram_user_id=ZHANG, groups=[shenzhen]
    )
    await make_member(
        db,
        START,
        name="王芳",
        phone="+8613800000002",
        telegram_user_id=WANG,
        groups=[shenzhen],
        locale="en",
    )
    await make_member(
        db, START, name="李娜", phone="+8613800000003", telegram_user_id=LI_NA, groups=[lawyers]
    )
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    await make_staff(db, START, telegram_user_id=LAWYERS_LIAISON, name="刘联络", groups=[lawyers])
    await make_staff(db, START, telegram_user_id=ADMIN, name="赵管理", role=StaffRole.ADMIN)


def person(application: LiaisonApplication, bot_api: LocalBotApi, user_id: int) -> Person:
    return Person(application, bot_api, user_id)


async def press(who: Person, message: Outgoing, data: str) -> list[Outgoing]:
    """Press a button (maybe a forged one) under message."""
    return await who.send_update(who.updates.press(who.user, message, Button("x", data)))


async def member(db: Database, name: str) -> Member:
    async with db.session() as session:
        found = await session.scalar(select(Member).where(Member.name == name))
        assert found is not None
        return found


async def audit_actions(db: Database) -> list[str]:
    async with db.session() as session:
        return list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


async def checkins_per_month(db: Database) -> dict[str, int]:
    async with db.session() as session:
        rows = await session.execute(
            select(CheckIn.period, func.count()).group_by(CheckIn.period).order_by(CheckIn.period)
        )
        return {period: count for period, count in rows}


# --- correct ----------------------------------------------------------------------------------


async def test_a_correction_approved_changes_the_record_and_the_member_hears_it(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, deliver: Deliver
) -> None:
    zhang = person(application, bot_api, ZHANG)
    await talk(zhang, [("/correct", ["更正我的信息 1/3", "联络员核实同意后才会更改"])])
    assert zhang.button_texts[:3] == ["姓名：张伟", "手机号码：+8613800000001", "工作单位：—"]
    await talk(
        zhang,
        [
            ("工作单位：—", ["更正我的信息 2/3：工作单位", "现在登记的是：（空）"]),
            ("  汉口 万达广场\x00 ", ["3/3：请确认", "工作单位：（空） → 汉口 万达广场"]),
            ("📨 提交", ["已提交更正申请 #1：工作单位 → 汉口 万达广场"]),
        ],
    )
    # Nothing changes before a liaison approves.
    assert (await member(db, "张伟")).workplace is None
    got = await deliver()
    [alert] = got[LIAISON]
    assert "信息更正申请 #1" in said([alert]) and "汉口 万达广场" in said([alert])
    assert LAWYERS_LIAISON not in got and ZHANG not in got

    liaison = person(application, bot_api, LIAISON)
    card = await press(liaison, alert, RIGHTS_CARD.pack(1))
    assert "工作单位：（空） → 汉口 万达广场" in said(card)
    await talk(liaison, [("✅ 同意更正", "已同意更正 #1：张伟 的工作单位已更改为 汉口 万达广场")])
    assert (await member(db, "张伟")).workplace == "汉口 万达广场"
    [told] = (await deliver())[ZHANG]
    assert "您的更正申请 #1 已通过" in said([told]) and "工作单位 已更改为：汉口 万达广场" in said(
        [told]
    )
    # Approving twice changes nothing more.
    again = await press(liaison, alert, RIGHTS_APPROVE.pack(1))
    assert "申请 #1 已经处理过了" in said(again)
    actions = await audit_actions(db)
    for action in ("rights.correct.propose", "rights.view", "rights.correct.approve"):
        assert action in actions


async def test_a_phone_correction_is_validated_then_rejected_with_a_reason_in_english(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, deliver: Deliver
) -> None:
    wang = person(application, bot_api, WANG)
    await talk(
        wang,
        [
            ("/correct", "Correct my details 1/3"),
            ("2", ["2/3: phone number", "Registered now: +8613800000002"]),
            ("12345", ["not a valid phone number", "2/3: phone number"]),
            # 张伟's number: refused when sent, and asked again.
            ("138 0000 0001", "+8613800000001"),
            ("📨 Send", ["registered to another member", "2/3: phone number"]),
            ("+86 138 0000 0002", ["the phone number already registered", "2/3"]),
        ],
    )
    await talk(
        wang,
        [
            ("139-0000-0009", "+8613800000002 → +8613900000009"),
            ("📨 Send", "Correction #1 sent: phone number → +8613900000009"),
        ],
    )
    got = await deliver()
    # Several staff read the alert: the number is masked there, whole on the card.
    assert "+86 139****0009" in said(got[LIAISON])
    liaison = person(application, bot_api, LIAISON)
    await talk(
        liaison,
        [
            ("/rights", ["待处理的更正和删除申请", "#1 王芳：手机号码 → +8613900000009"]),
            ("1", "+8613800000002 → +8613900000009"),
            ("❌ 不同意（写明理由）", "请输入理由"),
            ("   ", ["请用文字输入理由", "请输入理由"]),
        ],
    )
    await talk(liaison, [("请先到社区核实新号码", "已不同意申请 #1，已把理由通知 王芳")])
    assert (await member(db, "王芳")).phone == "+8613800000002"
    [told] = (await deliver())[WANG]
    assert "Your correction #1 was not accepted" in said([told])
    assert "Reason: 请先到社区核实新号码" in said([told])
    assert "rights.correct.reject" in await audit_actions(db)


async def test_out_of_scope_staff_neither_see_nor_decide_a_request(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, deliver: Deliver
) -> None:
    zhang = person(application, bot_api, ZHANG)
    await talk(
        zhang,
        [("/correct", None), ("3", None), ("汉口", None), ("📨 提交", "已提交更正申请 #1")],
    )
    got = await deliver()
    lawyers = person(application, bot_api, LAWYERS_LIAISON)
    await talk(
        lawyers,
        [("/rights", "没有待处理的申请"), ("/rights 1", "找不到申请 #1，或者它不在您的管辖范围内")],
    )
    forged = await press(lawyers, got[LIAISON][0], RIGHTS_APPROVE.pack(1))
    assert "找不到申请 #1" in said(forged)
    opened = await press(lawyers, got[LIAISON][0], RIGHTS_CARD.pack(1))
    assert "找不到申请 #1" in said(opened) and "汉口" not in said(opened)
    assert (await member(db, "张伟")).workplace is None
    # A member is not staff: the desk refuses them.
    await talk(zhang, [("/rights", "只供联络员使用")])


# --- delete -----------------------------------------------------------------------------------

FREE_TEXTS = (
    "腰疼需要找医院",  # a check-in's needs
    "深圳南山科技园",  # a typed place
    "希望多办夜校讲座",  # an idea
    "门面续租合同到期",  # a service request
    "在深圳长期务工需要活动证",  # a certificate application
    "孩子上学要开什么证明",  # an SMS to the staff inbox
    "这条短信的后半段",  # the first part of a long SMS whose second never came
    "组织社区义诊表现突出",  # the reason of a rating adjustment
    "带头服务群众模范",  # a commendation's citation
)


async def _everything_stored(db: Database) -> list[tuple[str, str, str]]:
    """Every text (and JSON) value of every column of every table: (table, column, text)."""
    found = []
    async with db.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).mappings():
                for column, value in row.items():
                    if isinstance(value, str):
                        found.append((table.name, column, value))
                    elif isinstance(value, dict | list):
                        found.append((table.name, column, json.dumps(value, ensure_ascii=False)))
    return found


async def _zhang_leaves_a_trace(
    db: Database, clock: FakeClock, application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    """张伟 checks in for three months (places, needs), sends an idea, a request, applies for
    a certificate, corrects his workplace; a liaison searches for him by name."""
    zhang = await member(db, "张伟")
    for months_ago, city, needs in (
        (2, "深圳南山科技园", None),
        (1, None, "腰疼需要找医院"),
        (0, "深圳", None),
    ):
        await make_checkin(
            db, zhang, START - timedelta(days=30 * months_ago), city=city, needs=needs
        )
    category_id, _ = await make_request_catalogue(db, START)
    async with db.session() as session:
        await ideas.submit(
            session, START, member_id=zhang.id, kind=IdeaKind.IDEA, text="希望多办夜校讲座"
        )
        await requests.create_request(
            session,
            START,
            member_id=zhang.id,
            category_id=category_id,
            description="门面续租合同到期",
            zone=WUHAN,
        )
        await certificates.apply(
            session,
            START,
            member_id=zhang.id,
            origin_organisation="江汉区委",
            destination="深圳南山",
            reason="在深圳长期务工需要活动证",
            expected_months=12,
        )
    async with db.session() as session:
        await ratings.adjust(
            session, START, member_id=zhang.id, year=2026, points=3,
            reason="组织社区义诊表现突出", actor="cli:x", staff_id=None,
        )  # fmt: skip
        await ratings.commend(
            session, START, year=2026, member_ids=[zhang.id], citation="带头服务群众模范",
            actor="cli:x", staff_id=None,
        )  # fmt: skip
    async with db.session() as session:
        # By SMS: one to the staff inbox (answered), and half of a long one.
        await sms_inbox.store_part(
            session,
            START,
            sender=ZHANG_PHONE,
            recipient="Liaison",
            text="孩子上学要开什么证明",
            dedupe_key="a",
        )
        await sms_inbox.store_part(
            session,
            START,
            sender=ZHANG_PHONE,
            recipient="Liaison",
            text="这条短信的后半段",
            dedupe_key="b",
            reference=9,
            total=2,
            number=1,
        )
    keywords = SmsKeywords(application.bot_data.services.renderer)
    async with db.session() as session:
        [sms_id] = await sms_inbox.unhandled(session)
        await sms_inbox.handle(
            session, START, sms_id, read=keywords.read, regions=default_index(), zone=WUHAN
        )
        await sms_inbox.answer(
            session,
            START,
            sms_id,
            text="请带户口本",
            signature="李联络",
            actor="cli:x",
            staff_id=None,
        )
    await talk(
        person(application, bot_api, ZHANG),
        [("/correct", None), ("3", None), ("腾讯大厦", None), ("📨 提交", "#1")],
    )
    await talk(person(application, bot_api, LIAISON), [("/member 张伟", "张伟")])


async def test_a_member_leaves_an_admin_confirms_and_nothing_of_them_is_left(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    deliver: Deliver,
) -> None:
    await _zhang_leaves_a_trace(db, clock, application, bot_api)
    await deliver()  # the liaisons' alerts, with his name in their payloads
    zhang = person(application, bot_api, ZHANG)
    await talk(
        zhang,
        [
            ("/leave", ["退出并删除我的信息", "党员名册", "不会因此删除", "删除后不能恢复"]),
            ("是的，我要删除我的信息", "最后确认"),
            ("🗑 确定删除，不能恢复", "已收到您的删除申请 #2"),
        ],
    )
    got = await deliver()
    # Deletion requests go to the administrators over the member, not to the liaisons.
    [alert] = got[ADMIN]
    assert "删除信息申请 #2" in said([alert]) and LIAISON not in got
    before = await checkins_per_month(db)
    assert sum(before.values()) == 3

    # A liaison sees the request but cannot confirm it, even with a forged button.
    liaison = person(application, bot_api, LIAISON)
    await talk(liaison, [("/rights 2", ["删除信息申请 #2", "删除申请由管理员确认"])])
    assert liaison.button_texts == []
    forged = await press(liaison, alert, RIGHTS_WIPE.pack(2))
    assert "删除申请只能由管理员确认" in said(forged)
    assert (await member(db, "张伟")).phone == ZHANG_PHONE

    admin = person(application, bot_api, ADMIN)
    await press(admin, alert, RIGHTS_CARD.pack(2))
    await talk(
        admin,
        [
            ("🗑 删除该党员的信息", ["确认删除 #2：张伟", "不能恢复"]),
            ("⚠️ 确定删除，不能恢复", "删除申请 #2 已执行"),
        ],
    )

    # Nothing anywhere names him, reaches him, or holds what he wrote.
    stored = await _everything_stored(db)
    for needle in ("张伟", ZHANG_PHONE, ZHANG_PHONE.removeprefix("+86"), str(ZHANG), *FREE_TEXTS):
        left = [(table, column) for table, column, text in stored if needle in text]
        assert left == [], f"{needle!r} is still in {left}"
    # The statistics count the same check-ins per month.
    assert await checkins_per_month(db) == before
    async with db.session() as session:
        erased = await session.scalars(
            select(AuditEvent).where(AuditEvent.action == "member.erase")
        )
        [event] = list(erased)
        assert event.subject == "member:erased" and event.actor.startswith("staff:")
        deletion = await session.get(DataRequest, 2)
        assert deletion is not None and deletion.status is DataRequestStatus.APPROVED
        assert deletion.member_id is None
    # The account is a stranger's now.
    await talk(zhang, [("/correct", "已绑定身份的党员")])


# --- every turn of the conversations, in both languages ------------------------------------

# What each language says at each turn: (Chinese, English).
SAYS = {
    "unexpected": ("请按消息下面的按钮选择", "Please choose with the buttons"),
    "cancelled": ("已取消，没有提交更正", "Cancelled; no correction was sent"),
    "stale": ("这个按钮已经失效。要更正您的信息", "This button no longer works. To correct"),
    "expired": ("上次的更正放了太久", "The correction you began was left too long"),
    "too_long": ("内容太长了", "That is too long"),
    "leave_unexpected": ("请按消息下面的按钮选择", "Please choose with the buttons"),
    "leave_cancelled": ("好的，没有删除任何信息", "All right: nothing was deleted"),
    "leave_stale": ("如需删除您的信息，请发送 /leave", "To have your data deleted, send /leave"),
    "leave_expired": ("上次的删除申请没有确认", "The deletion you began was not confirmed"),
    "leave_first": ("党员名册", "membership roster"),
    "leave_sure": ("最后确认", "Last question"),
    "leave_sent": ("已收到您的删除申请 #1", "Your deletion request #1 was received"),
}


@pytest.mark.parametrize(("user_id", "language"), [(ZHANG, 0), (WANG, 1)])
async def test_a_member_cancels_strays_comes_back_late_and_leaves(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    user_id: int,
    language: int,
) -> None:
    says = {key: texts[language] for key, texts in SAYS.items()}
    stranger = person(application, bot_api, 434343)
    if language:
        await talk(stranger, [("/lang", None), ("English", None)])
    await talk(stranger, [("/leave", ("已绑定身份的党员", "members who have bound")[language])])
    who = person(application, bot_api, user_id)
    await talk(who, [("/correct", None), ("hello", says["unexpected"])])
    await talk(who, [("1", None), ("长" * 70, says["too_long"]), ("/cancel", says["cancelled"])])
    stale = await press(who, who.last[-1], "rights:fix:send")
    assert says["stale"] in said(stale)
    await talk(who, [("/correct", None)])
    clock.advance(timedelta(hours=13))
    await talk(who, [("1", says["expired"])])
    await talk(who, [("/leave", says["leave_first"]), ("hello", says["leave_unexpected"])])
    await talk(who, [("/cancel", says["leave_cancelled"])])
    stale = await press(who, who.last[-1], "rights:leave:yes")
    assert says["leave_stale"] in said(stale)
    await talk(who, [("/leave", None)])
    clock.advance(timedelta(hours=13))
    await talk(who, [("1", says["leave_expired"])])
    await talk(who, [("/leave", None), ("1", says["leave_sure"]), ("1", says["leave_sent"])])
    # Nothing is erased before an administrator confirms.
    assert (await member(db, "张伟" if user_id == ZHANG else "王芳")).phone is not None
    # /privacy offers both rights as buttons.
    await talk(who, [("/privacy", None)])
    assert who.button_texts[-2:] == (
        ["✏️ 更正我的信息", "🗑 退出并删除我的信息"]
        if language == 0
        else ["✏️ Correct my details", "🗑 Leave and delete my data"]
    )
    await talk(who, [(who.button_texts[-2], ["1/3"])])


STAFF_SAYS = {
    "usage": ("用法：/rights", "Usage: /rights"),
    "not_found": ("找不到申请 #99", "There is no request #99"),
    "list": ("#1 张伟：工作单位 → 汉口", "#1 张伟: workplace → 汉口"),
    "ask_reason": ("请输入理由", "Please type the reason"),
    "unexpected": ("请用文字输入理由", "Please type the reason as text"),
    "cancelled": ("已取消，申请仍待处理", "Cancelled; the request is still waiting"),
    "stale": ("这个按钮已经失效。请发送 /rights", "This button no longer works. Send /rights"),
    "expired": ("理由放了太久没有发送", "The reason was left too long"),
    "too_long": ("理由太长了", "The reason is too long"),
    "rejected": ("已不同意申请 #1", "Request #1 rejected"),
    "card": ("删除信息申请 #2", "Deletion request #2"),
    "erase_confirm": ("确认删除 #2：张伟", "Confirm deletion #2: 张伟"),
    "erased": ("删除申请 #2 已执行", "Deletion request #2 carried out"),
    "approved": ("已同意更正 #3", "Correction #3 approved"),
}


@pytest.mark.parametrize("language", [0, 1])
async def test_an_administrator_works_through_the_desk(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    clock: FakeClock,
    language: int,
) -> None:
    says = {key: texts[language] for key, texts in STAFF_SAYS.items()}
    zhang = person(application, bot_api, ZHANG)
    await talk(zhang, [("/correct", None), ("3", None), ("汉口", None), ("📨 提交", "#1")])
    admin = person(application, bot_api, ADMIN)
    if language:
        await talk(admin, [("/lang", None), ("English", None)])
    await talk(admin, [("/rights x", says["usage"]), ("/rights 99", says["not_found"])])
    await talk(admin, [("/rights", says["list"]), ("1", None)])
    await talk(admin, [(admin.button_texts[1], says["ask_reason"])])
    await talk(admin, [("/loc 22.5 114.0", says["unexpected"]), ("/cancel", says["cancelled"])])
    stale = await press(admin, admin.last[-1], "rights:rq:quit")
    assert says["stale"] in said(stale)
    await talk(admin, [("/rights 1", None), ("2", None)])
    clock.advance(timedelta(hours=13))
    await talk(admin, [("no", says["expired"])])
    await talk(admin, [("/rights 1", None), ("2", None), ("长" * 501, says["too_long"])])
    await talk(admin, [("再核实", says["rejected"])])
    await talk(zhang, [("/leave", None), ("1", None), ("1", None)])  # deletion request #2
    await talk(zhang, [("/correct", None), ("4", None), ("律师", None), ("📨 提交", "#3")])
    await talk(admin, [("/rights 3", None), ("1", says["approved"])])
    await talk(admin, [("/rights 2", says["card"]), ("1", says["erase_confirm"])])
    await talk(admin, [("1", says["erased"])])


async def test_a_member_on_sms_hears_each_decision_in_their_language(
    db: Database, clock: FakeClock, services: Services
) -> None:
    sms = RecordingSms(clock)
    dispatcher = make_dispatcher(services, sms=sms)
    chen = await make_member(db, START, name="陈静", phone="+8613800000011")
    liu = await make_member(db, START, name="刘洋", phone="+8613800000012", locale="en")
    async with db.session() as session:
        fix = await propose_correction(
            session, START, member_id=chen.id, field=Field.TRADE, text="餐饮"
        )
        leave = await request_deletion(session, START, member_id=liu.id)
        await approve_correction(session, START, fix.id, staff_id=None, actor="cli:test")
        await reject(
            session, START, leave.id, reason="roster kept", staff_id=None, actor="cli:test"
        )
    await dispatcher.run_once()
    texts = {message.address: message.text for _, message in sms.sent}
    assert "您的更正申请#1已通过：行业已更改为餐饮" in texts["+8613800000011"]
    assert (
        "Your deletion request #2 was not accepted. Reason: roster kept"
        in (texts["+8613800000012"])
    )
