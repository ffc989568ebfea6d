"""/certificate and /certificates as members and staff live them, in Chinese and English."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from bot.botapi import Button, LocalBotApi, Outgoing
from bot.context import LiaisonApplication
from storage.certificates import apply, member_certificate
from storage.clock import FakeClock
from storage.db import Database
from storage.ideas import submit
from storage.models import (
    AuditEvent,
    CertificateStatus,
    CheckIn,
    Consent,
    IdeaKind,
    MemberStatus,
    StaffRole,
)
from tests.chat import Person, said, talk
from tests.conftest import START
from tests.delivery import Deliver
from tests.factories import make_group, make_member, make_staff, make_unit
from tests.test_flow import open_conversations

LIAISON = 9101  # 李联络: liaison of 驻深圳, Chinese
LIAISON_EN = 9102  # Li Wei: liaison of 驻深圳, English
OTHER = 9103  # 周联络: liaison of the lawyers only
ZHANG = 9201  # 张伟: outflow, 驻深圳, Chinese
WANG = 9202  # 王芳: inflow, 驻深圳, English
LIU = 9203  # 刘洋: local member
HUANG = 9204  # 黄勇: inflow, 驻深圳, Chinese
STRANGER = 424242
ORIGIN = "湖北省武汉市江汉区民族街道党工委"


@pytest.fixture(autouse=True)
async def district(db: Database) -> None:
    unit = await make_unit(db, START, "民族街道党工委")
    shenzhen = await make_group(db, START, "驻深圳党小组")
    lawyers = await make_group(db, START, "律师党小组")
    await make_member(
        db,
        START,
        name="张伟",
        phone="+8613800000001",
        telegram_user_id=ZHANG,
        groups=[shenzhen],
        unit=unit,
    )
    await make_member(
        db,
        START,
        name="王芳",
        phone="+8613800000002",
        telegram_user_id=WANG,
        status=MemberStatus.INFLOW,
        groups=[shenzhen],
        locale="en",
    )
    await make_member(
        db,
        START,
        name="刘洋",
        phone="+8613800000003",
        telegram_user_id=LIU,
        status=MemberStatus.LOCAL,
        groups=[lawyers],
    )
    await make_member(
        db,
        START,
        name="黄勇",
        phone="+8613800000004",
        telegram_user_id=HUANG,
        status=MemberStatus.INFLOW,
        groups=[shenzhen],
    )
    await make_staff(db, START, telegram_user_id=LIAISON, groups=[shenzhen])
    await make_staff(
        db, START, telegram_user_id=LIAISON_EN, name="Li Wei", groups=[shenzhen], locale="en"
    )
    await make_staff(db, START, telegram_user_id=OTHER, name="周联络", groups=[lawyers])
    await make_staff(db, START, telegram_user_id=9104, name="钱主任", role=StaffRole.ADMIN)


def person(application: LiaisonApplication, bot_api: LocalBotApi, user_id: int) -> Person:
    return Person(application, bot_api, user_id)


async def press(who: Person, message: Outgoing, data: str) -> list[Outgoing]:
    """Press a button (maybe an old or forged one) under message."""
    return await who.send_update(who.updates.press(who.user, message, Button("x", data)))


async def member_id(db: Database, telegram_user_id: int) -> int:
    from storage.models import Member

    async with db.session() as session:
        found = await session.scalar(
            select(Member.id).where(Member.telegram_user_id == telegram_user_id)
        )
        assert found is not None
        return found


async def applied(db: Database, telegram_user_id: int, *, reverse: bool = False) -> int:
    async with db.session() as session:
        row = await apply(
            session,
            START,
            member_id=await member_id(db, telegram_user_id),
            origin_organisation="四川省成都市武侯区委组织部" if reverse else ORIGIN,
            destination="广东省深圳市南山区",
            reason="外出务工",
            expected_months=12,
            reverse=reverse,
        )
        return row.id


def cards(replies: list[Outgoing]) -> list[Outgoing]:
    return [o for o in replies if o.method == "sendMessage" and o.buttons]


# --- members ------------------------------------------------------------------------------------


async def test_an_outflow_member_applies_in_chinese(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    zhang = person(application, bot_api, ZHANG)
    await talk(
        zhang,
        [
            ("/certificate", ["申请《流动党员活动证》", "第 1 步，共 4 步", "流出地党组织"]),
        ],
    )
    # The introduction and the first question: one message.
    assert len(zhang.last) == 1
    await talk(
        zhang,
        [
            (ORIGIN, "第 2 步"),
            ("广东省深圳市南山区 <腾讯>", "第 3 步"),
            ("外出务工 & 学习", "第 4 步"),
            (
                "12 个月",
                [
                    "请核对您的申请",
                    f"流出地党组织：{ORIGIN}",
                    "流入地：广东省深圳市南山区 <腾讯>",
                    "外出原因：外出务工 & 学习",
                    "预计外出：12 个月",
                ],
            ),
            ("✅ 提交申请", ["申请已提交，申请编号", "联络员审核后会通知您"]),
            ("/certificate", ["我的活动证申请", "状态：已申请", "已申请（张伟）"]),
        ],
    )
    # Typed markup is shown as text, never as markup.
    assert "&lt;腾讯&gt;" in zhang.last[0].text
    assert zhang.button_texts == ["撤回申请"]
    async with db.session() as session:
        view = await member_certificate(session, await member_id(db, ZHANG))
    assert view is not None
    assert (view.origin_organisation, view.destination, view.reason, view.expected_months) == (
        ORIGIN,
        "广东省深圳市南山区 <腾讯>",
        "外出务工 & 学习",
        12,
    )
    assert not view.reverse


async def test_an_inflow_member_applies_for_reverse_issuance_in_english(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    wang = person(application, bot_api, WANG)
    await talk(
        wang,
        [
            ("/certificate", ["Did your origin organisation", "reverse issuance"]),
            ("No (reverse issuance)", "Step 1 of 4"),
            ("四川省成都市武侯区委组织部", "Step 2 of 4"),
            ("Shenzhen, Nanshan", "Step 3 of 4"),
            ("Work", "Step 4 of 4"),
            ("18", ["Kind: reverse issuance", "Expected time away: 18 months"]),
            ("✅ Apply", ["Your application is in", "reverse issuance"]),
            ("/certificate", ["reverse issuance", "Status: applied", "applied (王芳)"]),
        ],
    )
    assert wang.button_texts == ["Withdraw the application"]
    async with db.session() as session:
        view = await member_certificate(session, await member_id(db, WANG))
    assert view is not None
    assert view.reverse
    assert view.origin_organisation == "四川省成都市武侯区委组织部"
    assert view.expected_months == 18


async def test_an_inflow_member_whose_origin_issued_one_applies_normally(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    wang = person(application, bot_api, WANG)
    await talk(
        wang,
        [
            ("/certificate", "Did your origin"),
            ("Yes, I have one", "Step 1 of 4"),
            ("Chengdu Wuhou", "Step 2"),
            ("Shenzhen", "Step 3"),
            ("Business", "Step 4"),
            ("6 months", "Please check"),
            ("✅ Apply", "Your application is in"),
        ],
    )
    async with db.session() as session:
        view = await member_certificate(session, await member_id(db, WANG))
    assert view is not None
    assert not view.reverse


async def test_bad_answers_are_explained_and_nothing_is_lost(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    zhang = person(application, bot_api, ZHANG)
    await talk(
        zhang,
        [
            ("/certificate", "第 1 步"),
            ("组" * 201, ["太长了：最多 200 字", "第 1 步"]),
            (ORIGIN, "第 2 步"),
            ("深圳", "第 3 步"),
            ("因" * 5000, ["原因太长了：最多 1000 字", "第 3 步"]),
            ("务工", "第 4 步"),
            ("十二", ["请输入 1 到 120 之间的月数", "第 4 步"]),
            ("0", "请输入 1 到 120"),
            ("/help", None),
        ],
    )
    # /help in the middle is answered by /help; the application waits.
    await talk(
        zhang,
        [
            ("12 个月", ["请核对您的申请", f"流出地党组织：{ORIGIN}", "外出原因：务工"]),
            ("随便说点什么", ["这一步需要按下面的按钮", "请核对您的申请"]),
            ("✅ 提交申请", "申请已提交"),
        ],
    )


async def test_cancel_stale_buttons_and_expiry(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    zhang = person(application, bot_api, ZHANG)
    await talk(zhang, [("/certificate", "第 1 步"), (ORIGIN, "第 2 步")])
    question = zhang.last[-1]
    await talk(zhang, [("/cancel", "已取消，没有保存任何内容")])
    assert "这个按钮已经失效了" in said(await press(zhang, question, "cert:new:quit"))
    async with db.session() as session:
        assert await member_certificate(session, await member_id(db, ZHANG)) is None
    # Half an application left for a day is not taken up again.
    await talk(zhang, [("/certificate", "第 1 步")])
    clock.advance(timedelta(hours=13))
    await talk(zhang, [(ORIGIN, "这份申请已经过期")])


async def test_a_member_withdraws_and_applies_again(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    certificate_id = await applied(db, ZHANG)
    zhang = person(application, bot_api, ZHANG)
    await talk(
        zhang,
        [
            ("/certificate", "办理中"),
            ("撤回申请", f"申请 {certificate_id} 号已撤回"),
            ("/certificate", ["状态：已撤回", "可以重新申请"]),
            ("重新申请", ["申请《流动党员活动证》", "第 1 步"]),
        ],
    )
    [status] = [o for o in bot_api.sent if [b.text for b in o.flat_buttons] == ["撤回申请"]]
    # The withdraw button of before, pressed again: nothing left to withdraw.
    replies = await press(zhang, status, f"cert:withdraw:{certificate_id}")
    assert "没有可以撤回的申请" in said(replies)


async def test_who_cannot_apply(application: LiaisonApplication, bot_api: LocalBotApi) -> None:
    await talk(person(application, bot_api, LIU), [("/certificate", "您登记的是本地党员")])
    await talk(
        person(application, bot_api, STRANGER), [("/certificate", "请先用联络员给您的邀请码")]
    )
    stranger_en = Person(application, bot_api, STRANGER + 1, language_code="en")
    await talk(stranger_en, [("/lang", None), ("English", None)])
    await talk(stranger_en, [("/certificate", "Only registered members")])


# --- staff --------------------------------------------------------------------------------------


async def test_a_liaison_takes_an_application_through_to_issue(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    deliver: Deliver,
) -> None:
    certificate_id = await applied(db, ZHANG)
    liaison = person(application, bot_api, LIAISON)
    await talk(
        liaison,
        [("/certificates", ["待办的活动证申请：1 份", f"活动证申请 {certificate_id} 号", "张伟"])],
    )
    card = cards(liaison.last)[0]
    # Masked phone number, and the buttons for the next step.
    assert "138****0001" in html(card)
    assert [b.text for b in card.flat_buttons] == ["✅ 审核通过", "❌ 不予通过", "📄 函（PDF）"]
    expected = ["📮 已函告流出地", "☑️ 流出地已核实", "🪪 发证"]
    for label_text in ["✅ 审核通过", *expected[:-1]]:
        await talk(liaison, [(label_text, f"申请 {certificate_id} 号")])
    await talk(liaison, [("🪪 发证", ["已发证", "活动证编号 2026-0001", "审验到期 2027-11-15"])])
    # The member hears of every step, in Chinese.
    told = [o.text for o in (await deliver())[ZHANG]]
    assert len(told) == 4
    assert any("联络员审核通过" in text for text in told)
    assert any("2026-0001" in text for text in told)
    async with db.session() as session:
        actions = list(
            await session.scalars(select(AuditEvent.action).where(AuditEvent.actor.like("staff:%")))
        )
    assert actions.count("certificate.list.view") == 1
    assert [a for a in actions if a.startswith("certificate.") and a.count(".") == 1] == [
        "certificate.checked",
        "certificate.sent",
        "certificate.verified",
        "certificate.issued",
    ]
    # Nothing is waiting any more.
    await talk(liaison, [("/certificates", "没有待办的活动证申请")])
    zhang = person(application, bot_api, ZHANG)
    await talk(
        zhang,
        [("/certificate", ["状态：已发证", "活动证编号：2026-0001", "下次年度审验：2027-11-15"])],
    )
    assert zhang.button_texts == []


def html(message: Outgoing) -> str:
    from bot.terminal import html_to_text

    return html_to_text(message.text)


async def test_an_english_liaison_rejects_with_a_reason(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    deliver: Deliver,
) -> None:
    certificate_id = await applied(db, WANG, reverse=True)
    liaison = person(application, bot_api, LIAISON_EN)
    await talk(
        liaison,
        [
            ("/certificates", ["Certificate applications to handle: 1", "reverse issuance"]),
            ("❌ Reject", "please type the reason"),
            ("", None),
        ],
    )
    await talk(
        liaison,
        [
            (
                "Missing <b>documents</b>",
                [f"Application no. {certificate_id}: rejected", "王芳 is told"],
            ),
        ],
    )
    assert "Missing &lt;b&gt;documents&lt;/b&gt;" in liaison.last[-1].text
    [told] = (await deliver())[WANG]
    assert "Reason: Missing &lt;b&gt;documents&lt;/b&gt;" in told.text
    async with db.session() as session:
        view = await member_certificate(session, await member_id(db, WANG))
    assert view is not None
    assert view.status is CertificateStatus.REJECTED


async def test_rejecting_can_be_cancelled(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await applied(db, ZHANG)
    liaison = person(application, bot_api, LIAISON)
    await talk(
        liaison,
        [
            ("/certificates", "待办"),
            ("❌ 不予通过", "请写明原因"),
            ("/cancel", "已取消，申请没有变化"),
        ],
    )
    async with db.session() as session:
        view = await member_certificate(session, await member_id(db, ZHANG))
    assert view is not None
    assert view.status is CertificateStatus.APPLIED


async def test_the_letter_comes_as_a_pdf_document(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    certificate_id = await applied(db, WANG, reverse=True)
    liaison = person(application, bot_api, LIAISON_EN)
    await talk(liaison, [("/certificates", "reverse issuance")])
    await talk(liaison, [("📄 Letter (PDF)", None)])
    [document] = [o for o in liaison.last if o.method == "sendDocument"]
    assert document.text == f"Letter on the activity certificate (application no. {certificate_id})"
    [(name, content)] = document.params["files"].values()
    assert name == f"certificate-letter-{certificate_id}.pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    # In the service's language (Chinese): it goes to the origin organisation.
    assert "关于反向办理《流动党员活动证》的函" in text
    assert "王芳" in text
    assert "四川省成都市武侯区委组织部" in text
    async with db.session() as session:
        exported = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "certificate.letter")
        )
    assert exported is not None
    assert exported.actor.startswith("staff:")


async def test_staff_see_and_change_only_their_scope(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    certificate_id = await applied(db, ZHANG)
    other = person(application, bot_api, OTHER)
    await talk(
        other,
        [
            ("/certificates", "您负责的范围内没有待办的活动证申请"),
            (f"/certificates {certificate_id}", "找不到这份申请"),
            ("/certificates abc", "找不到这份申请"),
        ],
    )
    fake = other.last[-1]
    # Forged presses: the scope is checked on every press.
    for data in (
        f"cert:step:{certificate_id}:checked",
        f"cert:letter:{certificate_id}",
        f"cert:reject:{certificate_id}",
    ):
        assert "找不到这份申请" in said(await press(other, fake, data))
    assert not [o for o in bot_api.sent if o.method == "sendDocument"]
    async with db.session() as session:
        view = await member_certificate(session, await member_id(db, ZHANG))
    assert view is not None
    assert view.status is CertificateStatus.APPLIED
    # Members are not staff.
    await talk(person(application, bot_api, ZHANG), [("/certificates", "只供联络员使用")])
    # A liaison in scope reaches it by number; a button pressed twice is refused the second time.
    liaison = person(application, bot_api, LIAISON)
    await talk(liaison, [(f"/certificates {certificate_id}", "已申请")])
    card = liaison.last[-1]
    assert "联络员已审核" in said(await press(liaison, card, f"cert:step:{certificate_id}:checked"))
    again = await press(liaison, card, f"cert:step:{certificate_id}:checked")
    assert "现在不能办理这一步" in said(again)


async def test_the_yearly_review_button_under_the_card(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    certificate_id = await applied(db, ZHANG)
    liaison = person(application, bot_api, LIAISON)
    await talk(liaison, [(f"/certificates {certificate_id}", "已申请")])
    card = liaison.last[-1]
    for data in ("checked", "sent", "verified", "issued"):
        replies = await press(liaison, card, f"cert:step:{certificate_id}:{data}")
        card = replies[-1]
    assert "2027-11-15" in said(replies)
    clock.set(clock.now().replace(year=2027))
    await talk(liaison, [("/certificates", ["待办的活动证申请：1 份", "审验到期：2027-11-15"])])
    await talk(liaison, [("🔁 年度审验完成", ["年度审验", "下次审验 2028-11-15"])])


async def test_a_chinese_inflow_member_is_asked_about_their_certificate(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    huang = person(application, bot_api, HUANG)
    await talk(
        huang,
        [
            ("/certificate", ["是否已为您开具《流动党员活动证》", "反向发证"]),
            ("湖北省孝感市", ["这一步需要按下面的按钮", "是否已为您开具"]),
            ("没有（反向发证）", "第 1 步"),
            ("湖北省孝感市孝南区委组织部", "第 2 步"),
            ("武汉市江汉区", "第 3 步"),
            ("经商", "第 4 步"),
            ("24 个月", ["类型：反向发证", "预计外出：24 个月"]),
            ("✅ 提交申请", ["申请已提交", "函送流出地党组织核实（反向发证）"]),
        ],
    )


async def test_an_english_member_cancels_withdraws_and_meets_old_buttons(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    wang = person(application, bot_api, WANG)
    await talk(
        wang,
        [
            ("/certificate", "Did your origin"),
            ("No (reverse issuance)", "Step 1 of 4"),
            ("   ", None),
            ("Chengdu", "Step 2 of 4"),
            ("Shenzhen", "Step 3 of 4"),
            ("Work", "Step 4 of 4"),
            ("a year", ["Please type a number of months from 1 to 120", "Step 4 of 4"]),
        ],
    )
    question = wang.last[-1]
    await talk(wang, [("Cancel", "Cancelled; nothing was saved")])
    assert "That button no longer works" in said(await press(wang, question, "cert:new:confirm"))
    await talk(wang, [("/certificate", "Did your origin")])
    clock.advance(timedelta(hours=13))
    await talk(wang, [("Yes, I have one", "That application has expired")])
    certificate_id = await applied(db, WANG)
    await talk(
        wang,
        [
            ("/certificate", "In progress"),
            ("Withdraw the application", f"Application {certificate_id} is withdrawn"),
            ("/certificate", ["Status: withdrawn", "You can apply again"]),
        ],
    )


async def test_an_english_liaison_is_refused_what_cannot_be_done(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    certificate_id = await applied(db, ZHANG)
    liaison = person(application, bot_api, LIAISON_EN)
    await talk(liaison, [(f"/certificates {certificate_id}", "Certificate application no.")])
    card = liaison.last[-1]
    skipped = await press(liaison, card, f"cert:step:{certificate_id}:issued")
    assert f"Application no. {certificate_id} cannot take that step now" in said(skipped)
    await talk(liaison, [(f"/certificates {certificate_id}", "applied")])
    await talk(
        liaison,
        [
            ("❌ Reject", "please type the reason"),
            ("x" * 600, ["at most 500 characters", "Please type the reason for rejecting"]),
        ],
    )
    # Why, and the question again with its cancel button: one message.
    [again] = liaison.messages
    assert [b.text for b in again.flat_buttons] == ["Cancel"]
    await talk(
        liaison,
        [
            ("Cancel", "Cancelled; the application is unchanged"),
            ("/certificates 424242", "There is no such application"),
        ],
    )


async def test_a_rejection_reason_must_be_text(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    certificate_id = await applied(db, ZHANG)
    liaison = person(application, bot_api, LIAISON)
    await talk(
        liaison, [(f"/certificates {certificate_id}", "已申请"), ("❌ 不予通过", "请写明原因")]
    )
    await liaison.send_update(liaison.updates.sticker(liaison.user))
    assert "请输入不予通过的原因" in said(bot_api.sent[-1:])
    await talk(liaison, [("材料不全", [f"申请 {certificate_id} 号：未通过", "已通知 张伟"])])


async def test_the_liaisons_hear_of_a_new_application_and_check_it_from_there(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    deliver: Deliver,
) -> None:
    certificate_id = await applied(db, WANG, reverse=True)
    told = await deliver()
    # The group's two liaisons, each in their language; not the lawyers' liaison.
    assert set(told) == {LIAISON, LIAISON_EN}
    [chinese], [english] = told[LIAISON], told[LIAISON_EN]
    assert "新的活动证申请" in chinese.text and "反向发证" in chinese.text
    assert "王芳" in chinese.text and "四川省成都市武侯区委组织部" in chinese.text
    assert "New activity certificate application" in english.text
    assert "reverse issuance" in english.text
    assert [b.text for b in chinese.flat_buttons] == ["✅ 审核通过", "❌ 不予通过"]

    liaison = person(application, bot_api, LIAISON)
    replies = await liaison.send_update(
        liaison.updates.press(liaison.user, chinese, chinese.flat_buttons[0])
    )
    assert any(f"申请 {certificate_id} 号" in o.text for o in replies)
    async with db.session() as session:
        view = await member_certificate(session, await member_id(db, WANG))
    assert view is not None and view.status is CertificateStatus.CHECKED


# --- the conversations on the engine (bot/flow.py) ----------------------------------------------

ZHAO = 9205  # 赵强: outflow, 驻深圳, has agreed to the location question (for /checkin)


@pytest.fixture
async def zhao(application: LiaisonApplication, bot_api: LocalBotApi, db: Database) -> Person:
    await make_member(
        db,
        START,
        name="赵强",
        phone="+8613800000005",
        telegram_user_id=ZHAO,
        consent=Consent.GIVEN,
    )
    return person(application, bot_api, ZHAO)


async def test_the_application_is_kept_in_the_database_at_every_question(
    zhao: Person, db: Database
) -> None:
    await talk(zhao, [("/certificate", "第 1 步")])
    assert await open_conversations(db) == [("certificate", "origin")]
    await talk(zhao, [(ORIGIN, "第 2 步")])
    assert await open_conversations(db) == [("certificate", "destination")]
    # /help in the middle is answered by /help; the application stays open at its step.
    await talk(zhao, [("/help", "可用命令")])
    assert await open_conversations(db) == [("certificate", "destination")]
    await talk(zhao, [("深圳", "第 3 步"), ("/cancel", "已取消，没有保存任何内容")])
    assert await open_conversations(db) == []


async def test_a_checkin_left_open_ends_when_the_member_applies(zhao: Person, db: Database) -> None:
    await talk(
        zhao,
        [
            ("/checkin", "您现在在哪里"),
            ("/certificate", ["（未完成的报到已结束，没有保存。）", "第 1 步"]),
        ],
    )
    # The one line comes alone, taking the place question's keyboard away; then the question.
    ended, question = zhao.messages
    assert said([ended]).strip() == "（未完成的报到已结束，没有保存。）"
    assert "remove_keyboard" in str(ended.params["reply_markup"])
    assert "第 1 步" in said([question])
    # What is typed next is the application's, not a place for the check-in.
    await talk(zhao, [(ORIGIN, "第 2 步")])
    assert "按您输入的原样记下" not in zhao.last_text
    assert await open_conversations(db) == [("certificate", "destination")]
    async with db.session() as session:
        assert (await session.scalars(select(CheckIn))).all() == []


async def test_an_application_left_open_ends_when_the_member_checks_in(
    zhao: Person, db: Database
) -> None:
    await talk(
        zhao,
        [
            ("/certificate", "第 1 步"),
            (ORIGIN, "第 2 步"),
            ("/checkin", ["（未完成的活动证申请已结束，没有保存。）", "您现在在哪里"]),
        ],
    )
    # The application's question had buttons of its own: the one line opens the check-in's.
    assert len(zhao.messages) == 1
    await talk(zhao, [("广东省深圳市南山区", "工作情况怎么样")])
    assert await open_conversations(db) == [("checkin", "work")]
    async with db.session() as session:
        assert await member_certificate(session, await member_id(db, ZHAO)) is None


async def test_a_choice_pressed_twice_is_taken_once(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    huang = person(application, bot_api, HUANG)
    await talk(huang, [("/certificate", "是否已为您开具")])
    question = huang.last[-1]
    await talk(huang, [("没有（反向发证）", "第 1 步")])
    again = await press(huang, question, "cert:new:issued:no")
    assert "这个按钮已经失效了" in said(again)
    # The application goes on from where it was.
    assert await open_conversations(db) == [("certificate", "origin")]
    await talk(huang, [("湖北省孝感市孝南区委组织部", "第 2 步")])


async def test_a_rejection_is_kept_until_its_reason_comes(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    certificate_id = await applied(db, ZHANG)
    liaison = person(application, bot_api, LIAISON)
    await talk(
        liaison, [(f"/certificates {certificate_id}", "已申请"), ("❌ 不予通过", "请写明原因")]
    )
    assert await open_conversations(db) == [("certificate_rejection", "reason")]
    question = liaison.last[-1]
    # Another command in the middle: the reason is still awaited.
    await talk(liaison, [("/certificates", "待办的活动证申请：1 份")])
    assert await open_conversations(db) == [("certificate_rejection", "reason")]
    # The question's cancel button, under the cards /certificates showed since.
    cancelled = await press(liaison, question, "cert:rq:quit")
    assert "已取消，申请没有变化" in said(cancelled)
    assert await open_conversations(db) == []
    # The cancel button once more: it no longer does anything, and says so.
    again = await press(liaison, question, "cert:rq:quit")
    assert "这个按钮已经失效了" in said(again)
    # Left for a day, the reason typed later is not taken.
    await talk(
        liaison, [(f"/certificates {certificate_id}", "已申请"), ("❌ 不予通过", "请写明原因")]
    )
    clock.advance(timedelta(hours=13))
    await talk(liaison, [("材料不全", ["不予通过 张伟 的申请", "放了太久，已经作废"])])
    async with db.session() as session:
        view = await member_certificate(session, await member_id(db, ZHANG))
    assert view is not None and view.status is CertificateStatus.APPLIED


async def test_an_english_liaison_switches_from_a_rejection_to_a_reply(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database, clock: FakeClock
) -> None:
    certificate_id = await applied(db, WANG)
    async with db.session() as session:
        idea = await submit(
            session,
            START,
            member_id=await member_id(db, WANG),
            kind=IdeaKind.IDEA,
            text="Evening classes",
        )
    liaison = person(application, bot_api, LIAISON_EN)
    await talk(
        liaison,
        [(f"/certificates {certificate_id}", "applied"), ("❌ Reject", "please type the reason")],
    )
    card = await talk_to_card(liaison, f"/ideas {idea.id}")
    replies = await liaison.send_update(
        liaison.updates.press(liaison.user, card, card.flat_buttons[0])
    )
    assert "(The certificate rejection you had open has ended, without saving.)" in said(replies)
    # The text typed next is the reply, not a reason for rejecting.
    await talk(liaison, [("We will try", ["The organisation replied to your idea", "preview"])])
    assert await open_conversations(db) == [("idea_reply", "preview")]
    async with db.session() as session:
        view = await member_certificate(session, await member_id(db, WANG))
    assert view is not None and view.status is CertificateStatus.APPLIED
    await talk(liaison, [("/cancel", "the reply was not sent")])
    # The rejection's own pages in English: left too long, and its old button.
    await talk(
        liaison,
        [(f"/certificates {certificate_id}", "applied"), ("❌ Reject", "please type the reason")],
    )
    question = liaison.last[-1]
    clock.advance(timedelta(hours=13))
    await talk(
        liaison,
        [
            (
                "Missing documents",
                ["rejection of 王芳's application", "left too long and has lapsed"],
            )
        ],
    )
    assert "That button no longer works" in said(await press(liaison, question, "cert:rq:quit"))


async def talk_to_card(who: Person, command: str) -> Outgoing:
    await talk(who, [(command, None)])
    return who.last[-1]
