"""Activity certificates: the workflow (also in reverse), refusals, scope, the yearly review
job on a fake clock, the letters (HTML and PDF) and the messages members get."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.botapi import LocalBotApi
from bot.context import LiaisonApplication, Services
from messages.certificates import certificate_step, review_reminder
from messages.letters import letter_html, letter_pdf
from messages.render import Reader, Renderer
from scheduler.jobs import job_specs
from storage.certificates import (
    CertificateError,
    CertificateView,
    add_months,
    advance,
    apply,
    enqueue_due_reviews,
    get_certificate,
    letter_data,
    letter_parties,
    list_certificates,
    member_certificate,
    parse_months,
    withdraw,
)
from storage.clock import FakeClock
from storage.db import Database
from storage.models import (
    AuditEvent,
    CertificateStatus,
    ChannelName,
    Delivery,
    Member,
    MemberStatus,
    MessageKind,
    Staff,
    StaffRole,
)
from storage.payloads import CertificateReview, CertificateStep, PayloadError
from tests.conftest import START
from tests.cycle_harness import District, local
from tests.factories import make_group, make_member, make_staff, make_unit
from tests.pdfs import embedded_fonts, ink_under, overflowing, pdf_text

SHANGHAI = ZoneInfo("Asia/Shanghai")
TELEGRAM = ChannelName.TELEGRAM
FORWARD = ("checked", "sent", "verified", "issued")


class People:
    """The district of these tests, by role."""

    def __init__(self) -> None:
        self.zhang: Member
        self.wang: Member
        self.local: Member
        self.lonely: Member
        self.liaison: Staff
        self.other: Staff
        self.admin: Staff


@pytest.fixture
async def people(db: Database) -> People:
    unit = await make_unit(db, START, "江汉区民族街道党工委")
    shenzhen = await make_group(db, START, "驻深圳党小组")
    lawyers = await make_group(db, START, "律师党小组")
    p = People()
    p.zhang = await make_member(
        db,
        START,
        name="张伟",
        phone="+8613800000001",
        telegram_user_id=9201,
        groups=[shenzhen],
        unit=unit,
    )
    p.wang = await make_member(
        db,
        START,
        name="王芳",
        phone="+8613800000002",
        telegram_user_id=9202,
        status=MemberStatus.INFLOW,
        groups=[shenzhen],
        locale="en",
    )
    p.local = await make_member(
        db, START, name="刘洋", phone="+8613800000003", status=MemberStatus.LOCAL, groups=[lawyers]
    )
    # In no group: reached by the administrators only.
    p.lonely = await make_member(db, START, name="赵敏", phone="+8613800000004")
    p.liaison = await make_staff(db, START, telegram_user_id=9101, groups=[shenzhen])
    p.other = await make_staff(db, START, telegram_user_id=9102, name="周联络", groups=[lawyers])
    p.admin = await make_staff(
        db, START, telegram_user_id=9103, name="钱主任", role=StaffRole.ADMIN, locale="en"
    )
    return p


async def applied(
    db: Database, member: Member, now: datetime = START, *, reverse: bool = False, **extra: str
) -> int:
    async with db.session() as session:
        row = await apply(
            session,
            now,
            member_id=member.id,
            origin_organisation=extra.get("origin", "湖北省武汉市江汉区民族街道党工委"),
            destination=extra.get("destination", "广东省深圳市南山区"),
            reason=extra.get("reason", "外出务工"),
            expected_months=extra.get("months", "12"),
            reverse=reverse,
        )
        return row.id


async def step(
    db: Database,
    certificate_id: int,
    name: str,
    now: datetime = START,
    *,
    staff: Staff | None = None,
    note: str | None = None,
) -> CertificateStatus:
    async with db.session() as session:
        view = await advance(
            session,
            now,
            certificate_id,
            name,
            actor=f"staff:{staff.id}" if staff else "cli:test",
            actor_name=staff.name if staff else None,
            staff_id=staff.id if staff else None,
            zone=SHANGHAI,
            review_months=12,
            note=note,
        )
        return view.status


async def refused(db: Database, certificate_id: int, name: str, **extra: object) -> str:
    with pytest.raises(CertificateError) as caught:
        await step(db, certificate_id, name, **extra)  # type: ignore[arg-type]
    return caught.value.reason


async def issue(db: Database, certificate_id: int, now: datetime = START) -> None:
    for name in FORWARD:
        await step(db, certificate_id, name, now)


async def certificate_messages(db: Database, member: Member) -> list[Delivery]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(Delivery)
                .where(Delivery.member_id == member.id, Delivery.kind == MessageKind.CERTIFICATE)
                .order_by(Delivery.id)
            )
        )


# --- the workflow -------------------------------------------------------------------------------


async def test_an_application_goes_through_every_step_to_a_numbered_certificate(
    db: Database, people: People
) -> None:
    certificate_id = await applied(db, people.zhang)
    for number, name in enumerate(FORWARD, 1):
        later = START + timedelta(days=number)
        assert await step(db, certificate_id, name, later, staff=people.liaison) == name
    async with db.session() as session:
        view = await get_certificate(session, certificate_id, staff_id=None)
        audits = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert view is not None
    assert view.number == "2026-0001"
    # Issued on 19 November 2026: reviewed a year later.
    assert view.review_due_on == date(2027, 11, 19)
    assert [(e.step, e.actor_name) for e in view.events] == [
        ("applied", "张伟"),
        ("checked", "李联络"),
        ("sent", "李联络"),
        ("verified", "李联络"),
        ("issued", "李联络"),
    ]
    assert [e.at for e in view.events] == [START + timedelta(days=n) for n in range(5)]
    assert audits == [f"certificate.{s}" for s in ("applied", *FORWARD)]
    # The member hears of each step taken by staff, once per step.
    messages = await certificate_messages(db, people.zhang)
    assert [m.payload["step"] for m in messages if m.payload] == list(FORWARD)
    assert len({m.topic for m in messages}) == 4
    # The next certificate of the year gets the next number.
    second = await applied(db, people.wang)
    await issue(db, second)
    async with db.session() as session:
        numbers = [line.number for line in await list_certificates(session, staff_id=None)]
    assert numbers == ["2026-0001", "2026-0002"]


async def test_numbers_start_again_each_year(db: Database, people: People) -> None:
    first = await applied(db, people.zhang)
    await issue(db, first)
    # 1 January 2027, 00:30 in Wuhan: already the new year there (16:30 UTC on 31 December).
    new_year = datetime(2027, 1, 1, 0, 30, tzinfo=SHANGHAI)
    second = await applied(db, people.wang, new_year)
    await issue(db, second, new_year)
    async with db.session() as session:
        view = await get_certificate(session, second, staff_id=None)
    assert view is not None
    assert view.number == "2027-0001"
    assert view.review_due_on == date(2028, 1, 1)


async def test_reverse_issuance_is_for_inflow_members(db: Database, people: People) -> None:
    certificate_id = await applied(
        db, people.wang, reverse=True, origin="四川省成都市武侯区委组织部"
    )
    await issue(db, certificate_id)
    async with db.session() as session:
        view = await member_certificate(session, people.wang.id)
    assert view is not None
    assert view.reverse
    assert view.status is CertificateStatus.ISSUED
    messages = await certificate_messages(db, people.wang)
    assert all(m.payload and m.payload["reverse"] is True for m in messages)
    with pytest.raises(CertificateError) as outflow:
        await applied(db, people.zhang, reverse=True)
    assert outflow.value.reason == "reverse_not_inflow"
    with pytest.raises(CertificateError) as local_member:
        await applied(db, people.local)
    assert local_member.value.reason == "not_mobile"


async def test_wrong_steps_are_refused_and_change_nothing(db: Database, people: People) -> None:
    certificate_id = await applied(db, people.zhang)
    assert await refused(db, certificate_id, "sent") == "wrong_step"
    assert await refused(db, certificate_id, "issued") == "wrong_step"
    assert await refused(db, certificate_id, "reviewed") == "wrong_step"
    assert await refused(db, certificate_id, "approve") == "unknown_step"
    assert await refused(db, certificate_id, "rejected") == "note_needed"
    assert await refused(db, certificate_id, "rejected", note="x" * 501) == "note_too_long"
    assert await refused(db, 999, "checked") == "not_found"
    with pytest.raises(CertificateError) as twice:
        await applied(db, people.zhang)
    assert twice.value.reason == "already_open"
    await issue(db, certificate_id)
    assert await refused(db, certificate_id, "rejected", note="太晚了") == "wrong_step"
    # Due in a year: too early to record the review.
    assert await refused(db, certificate_id, "reviewed") == "review_not_due"
    async with db.session() as session:
        with pytest.raises(CertificateError) as late:
            await withdraw(session, START, member_id=people.zhang.id)
        view = await get_certificate(session, certificate_id, staff_id=None)
    assert late.value.reason == "not_open"
    assert view is not None
    assert [e.step for e in view.events] == ["applied", *FORWARD]


async def test_rejected_with_a_reason_or_withdrawn_then_a_new_application(
    db: Database, people: People
) -> None:
    first = await applied(db, people.zhang)
    await step(db, first, "checked")
    assert await step(db, first, "rejected", note="材料不全，请补充") == "rejected"
    [*_, told] = await certificate_messages(db, people.zhang)
    assert told.payload == {
        "certificate_id": first,
        "step": "rejected",
        "reverse": False,
        "origin": "湖北省武汉市江汉区民族街道党工委",
        "number": None,
        "note": "材料不全，请补充",
        "review_due_on": None,
    }
    second = await applied(db, people.zhang)
    async with db.session() as session:
        view = await withdraw(session, START, member_id=people.zhang.id)
    assert view.id == second
    assert view.status is CertificateStatus.WITHDRAWN
    third = await applied(db, people.zhang)
    async with db.session() as session:
        mine = await member_certificate(session, people.zhang.id)
    assert mine is not None
    assert mine.id == third


@pytest.mark.parametrize(
    ("typed", "months"), [("12", 12), ("１８", 18), ("6个月", 6), ("24 months", 24), (3, 3)]
)
def test_expected_months_as_members_type_them(typed: str | int, months: int) -> None:
    assert parse_months(typed) == months


@pytest.mark.parametrize("typed", ["0", "121", "十二", "", "1.5", "99999999999999999999"])
def test_months_that_are_refused(typed: str) -> None:
    with pytest.raises(CertificateError) as caught:
        parse_months(typed)
    assert caught.value.reason == "bad_months"


async def test_applications_with_empty_or_overlong_answers_are_refused(
    db: Database, people: People
) -> None:
    for extra, reason in (
        ({"origin": "   "}, "organisation_empty"),
        ({"destination": "深" * 201}, "organisation_too_long"),
        ({"reason": ""}, "reason_empty"),
        ({"reason": "因" * 5000}, "reason_too_long"),
        ({"months": "0"}, "bad_months"),
    ):
        with pytest.raises(CertificateError) as caught:
            await applied(db, people.zhang, **extra)
        assert caught.value.reason == reason
    async with db.session() as session:
        assert await member_certificate(session, people.zhang.id) is None


def test_months_are_added_to_the_last_day_of_short_months() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 2, 29), 12) == date(2029, 2, 28)
    assert add_months(date(2026, 11, 15), 14) == date(2028, 1, 15)


# --- scope ----------------------------------------------------------------------------------------


async def test_a_liaison_sees_and_advances_only_certificates_in_scope(
    db: Database, people: People
) -> None:
    mine = await applied(db, people.zhang)
    theirs = await applied(db, people.lonely)
    async with db.session() as session:
        seen = [c.id for c in await list_certificates(session, staff_id=people.liaison.id)]
        other = [c.id for c in await list_certificates(session, staff_id=people.other.id)]
        admin = [c.id for c in await list_certificates(session, staff_id=people.admin.id)]
        hidden = await get_certificate(session, theirs, staff_id=people.liaison.id)
    assert seen == [mine]
    assert other == []
    assert admin == [mine, theirs]
    assert hidden is None
    assert await refused(db, theirs, "checked", staff=people.liaison) == "not_found"
    assert await refused(db, mine, "checked", staff=people.other) == "not_found"
    assert await step(db, mine, "checked", staff=people.liaison) == "checked"
    async with db.session() as session:
        letter = await letter_data(
            session,
            START,
            mine,
            staff_id=people.other.id,
            actor="staff:x",
            issuer=None,
            zone=SHANGHAI,
            form="pdf",
        )
    assert letter is None


# --- the yearly review --------------------------------------------------------------------------


async def reviews(db: Database, now: datetime) -> int:
    async with db.session() as session:
        return sum(r.messages for r in await enqueue_due_reviews(session, now, zone=SHANGHAI))


async def test_the_review_reminder_comes_once_per_period_and_again_after_a_review(
    db: Database, people: People
) -> None:
    certificate_id = await applied(db, people.zhang)
    await issue(db, certificate_id)  # 15 November 2026: due 15 November 2027
    assert await reviews(db, local(SHANGHAI, 2027, 11, 14, 23, 59)) == 0
    # The member and their liaison, once however often the job runs.
    assert await reviews(db, local(SHANGHAI, 2027, 11, 15, 9)) == 2
    assert await reviews(db, local(SHANGHAI, 2027, 11, 15, 9)) == 0
    assert await reviews(db, local(SHANGHAI, 2027, 11, 20, 9)) == 0
    # Reviewed five days late: the rhythm stays, due 15 November 2028.
    await step(db, certificate_id, "reviewed", local(SHANGHAI, 2027, 11, 20, 10))
    async with db.session() as session:
        view = await get_certificate(session, certificate_id, staff_id=None)
    assert view is not None
    assert view.review_due_on == date(2028, 11, 15)
    assert [e.step for e in view.events][-1] == "reviewed"
    assert await reviews(db, local(SHANGHAI, 2027, 11, 21, 9)) == 0
    assert await reviews(db, local(SHANGHAI, 2028, 11, 15, 9)) == 2
    async with db.session() as session:
        topics = sorted(
            set(
                await session.scalars(
                    select(Delivery.topic).where(Delivery.kind == MessageKind.CERT_REVIEW)
                )
            )
        )
    assert topics == [
        f"certreview:{certificate_id}:2027-11-15",
        f"certreview:{certificate_id}:2028-11-15",
    ]


async def test_a_member_without_liaisons_is_reviewed_by_the_admins(
    db: Database, people: People
) -> None:
    certificate_id = await applied(db, people.lonely)
    await issue(db, certificate_id)
    assert await reviews(db, local(SHANGHAI, 2027, 11, 16, 9)) == 2
    async with db.session() as session:
        staff = list(
            await session.scalars(
                select(Delivery.staff_id).where(Delivery.kind == MessageKind.CERT_REVIEW)
            )
        )
    assert staff == [None, people.admin.id]


async def test_the_review_job_reaches_people_in_their_language(
    services: Services,
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    clock: FakeClock,
    people: People,
) -> None:
    """run_due and the dispatcher a year on: the member in Chinese, the admin in English."""
    db = services.db
    certificate_id = await applied(db, people.lonely)
    await issue(db, certificate_id)
    english = await applied(db, people.wang)
    await issue(db, english)
    specs = await job_specs(db, services.settings, START)
    [spec] = [s for s in specs if s.id == "certificates:review"]
    assert spec.next_time(START) == local(SHANGHAI, 2026, 11, 16, 9)
    district = District(services, application, bot_api, clock)
    report = await district.at(local(SHANGHAI, 2027, 11, 15, 9))
    assert any("certificate review due 2027-11-15" in line for line in report.lines)
    by_chat = {o.chat_id: o for o in bot_api.sent}
    # 赵敏 has no Telegram: an SMS (beside the monthly cycle's).
    texts = [m.text for _, m in district.sms.sent if "活动证" in m.text]
    # The four steps of last year, then the reminder.
    assert len(texts) == 5
    assert "已发证，编号2026-0001，下次审验2027-11-15" in texts[3]
    assert texts[4] == "【活动证】您的活动证2026-0001应于2027-11-15年度审验，请联系联络员办理。"
    assert "Your activity certificate (no. 2026-0002) is due for its yearly review" in (
        by_chat[9202].text
    )
    admin = by_chat[people.admin.telegram_user_id]
    assert "yearly review" in admin.text
    assert "赵敏" in admin.text
    assert [b.callback_data for b in admin.flat_buttons] == [f"cert:step:{certificate_id}:reviewed"]
    again = await district.at(local(SHANGHAI, 2027, 11, 16, 9))
    assert not any("certificate review" in line for line in again.lines)


# --- what members are told ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "step_name", "fragments"),
    [
        ("zh_CN", "checked", ["联络员审核通过", "函告流出地党组织「成都&lt;武侯&gt;」"]),
        ("zh_CN", "issued", ["编号 <b>2026-0001</b>", "2027-11-15"]),
        ("zh_CN", "rejected", ["原因：材料 &lt;不全&gt;"]),
        ("zh_CN", "reviewed", ["年度审验", "2027-11-15"]),
        ("en", "sent", ['origin organisation "成都&lt;武侯&gt;"', "verifying"]),
        ("en", "verified", ["verified your details"]),
        ("en", "issued", ["number <b>2026-0001</b>", "2027-11-15"]),
        ("en", "rejected", ["Reason: 材料 &lt;不全&gt;"]),
    ],
)
def test_each_step_reads_well_and_escapes_what_was_typed(
    renderer: Renderer, locale: str, step_name: str, fragments: list[str]
) -> None:
    payload = CertificateStep(
        certificate_id=7,
        step=step_name,
        reverse=False,
        origin="成都<武侯>",
        number="2026-0001",
        note="材料 <不全>" if step_name == "rejected" else None,
        review_due_on="2027-11-15",
    )
    text, buttons = certificate_step(Reader(renderer, locale, SHANGHAI, TELEGRAM), payload)
    assert buttons == ()
    for fragment in fragments:
        assert fragment in text


def test_sms_versions_are_short_and_plain(renderer: Renderer) -> None:
    payload = CertificateStep(
        certificate_id=7, step="issued", number="2026-0001", review_due_on="2027-11-15"
    )
    due = CertificateReview(certificate_id=7, number="2026-0001", due_on="2027-11-15")
    for locale in ("zh_CN", "en"):
        sms = Reader(renderer, locale, SHANGHAI, ChannelName.SMS)
        text, _ = certificate_step(sms, payload)
        assert "2026-0001" in text
        assert len(text) < 120
        assert "2027-11-15" in review_reminder(sms, due)[0]
    chinese = Reader(renderer, "zh_CN", SHANGHAI, TELEGRAM)
    assert "年度审验" in review_reminder(chinese, due)[0]
    staff = review_reminder(chinese, due.model_copy(update={"name": "张<伟>", "staff": True}))
    assert "张&lt;伟&gt;" in staff[0]
    assert staff[1] == (("🔁 年度审验完成", "cert:step:7:reviewed"),)
    # A payload without its certificate is not a message (the dispatcher fails its row).
    for kind in (CertificateStep, CertificateReview):
        with pytest.raises(PayloadError, match="certificate_id: Field required"):
            kind.read({})


# --- the letter ---------------------------------------------------------------------------------


async def the_letter(db: Database, certificate_id: int, issuer: str | None = None) -> object:
    async with db.session() as session:
        return await letter_data(
            session,
            START,
            certificate_id,
            staff_id=None,
            actor="cli:test",
            issuer=issuer,
            zone=SHANGHAI,
            form="both",
            organisation="党组织",
        )


async def test_the_letter_in_html_and_pdf(
    db: Database, people: People, renderer: Renderer, caplog: pytest.LogCaptureFixture
) -> None:
    async with db.session() as session:
        zhang = await session.get(Member, people.zhang.id)
        assert zhang is not None
        zhang.workplace = "腾讯科技（深圳）有限公司"
        zhang.origin = "湖北省武汉市江汉区"
    # 01:00 on 15 November in Wuhan, still the 14th in UTC.
    certificate_id = await applied(
        db,
        people.zhang,
        datetime(2026, 11, 15, 1, 0, tzinfo=SHANGHAI),
        reason="外出务工<script>alert(1)</script>",
        months="18",
    )
    letter = await the_letter(db, certificate_id)
    html = letter_html(renderer, "zh_CN", letter)  # type: ignore[arg-type]
    # 张伟 left us (outflow): we, his own unit, write to where he went, not to ourselves.
    assert "关于接收流动党员参加组织生活的函" in html
    assert "<p>流入地党组织（广东省深圳市南山区）：</p>" in html
    assert "江汉区民族街道党工委（盖章）" in html
    assert "接收其参加组织生活" in html
    assert "湖北省武汉市江汉区民族街道党工委：" not in html
    assert "反向" not in html
    for fragment in (
        "张伟",
        "流出党员",
        "江汉区民族街道党工委",
        "广东省深圳市南山区",
        "腾讯科技（深圳）有限公司",
        "18 个月",
        f"第 {certificate_id} 号",
        "申请日期</td><td>2026-11-15",
        "2026年11月15日",
    ):
        assert fragment in html
    assert "<script>" not in html
    assert "外出务工&lt;script&gt;alert(1)&lt;/script&gt;" in html
    text = pdf_text(letter_pdf(html))
    assert "张伟" in text
    assert "流入地党组织（广东省深圳市南山区）" in text
    assert "腾讯科技" in text
    # Every character has a glyph: nothing comes out as a box.
    assert not [r for r in caplog.records if "No font" in r.getMessage()]
    async with db.session() as session:
        exported = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "certificate.letter")
        )
    assert exported is not None
    assert exported.subject == f"certificate:{certificate_id}"


async def test_the_pdf_letter_carries_its_chinese_font(
    db: Database, people: People, renderer: Renderer
) -> None:
    """A viewer with no Chinese font of its own (Chrome's, on a bare machine) shows the
    Chinese: the font is embedded, not named for the viewer to find."""
    certificate_id = await applied(db, people.zhang)
    letter = await the_letter(db, certificate_id, issuer="江汉区委组织部")
    for locale in ("zh_CN", "en"):
        pdf = letter_pdf(letter_html(renderer, locale, letter))  # type: ignore[arg-type]
        fonts = embedded_fonts(pdf)
        assert any("WenQuanYiMicroHei" in name for name in fonts), fonts
        # Only PDF's standard Latin fonts, which every viewer has, may stay outside.
        outside = {name for name, embedded in fonts.items() if not embedded}
        assert outside <= {"/Helvetica", "/Times-Roman", "/Courier"}, fonts
        assert ink_under(pdf, "张伟") > 50
        assert ink_under(pdf, "江汉区委组织部") > 150
        # Digits and Latin letters are in the same font: none prints blank.
        assert ink_under(pdf, f"{certificate_id}") > 10
        if locale == "en":
            assert ink_under(pdf, "Certificate") > 50
        if locale == "zh_CN":  # the heading too: no Latin-only bold font for it
            assert ink_under(pdf, "流动党员活动证") > 150
        # Lines of Chinese without spaces still break within the page.
        assert overflowing(pdf) == ""


async def test_the_reverse_issuance_letter_asks_for_the_form_back(
    db: Database, people: People, renderer: Renderer
) -> None:
    certificate_id = await applied(
        db, people.wang, reverse=True, origin="四川省成都市武侯区委组织部"
    )
    letter = await the_letter(db, certificate_id, issuer="江汉区委组织部")
    html = letter_html(renderer, "zh_CN", letter)  # type: ignore[arg-type]
    assert "关于反向办理《流动党员活动证》的函" in html
    assert "代为收集该同志的申请表" in html
    assert "加盖公章后寄回我单位" in html
    assert "流入党员" in html
    text = pdf_text(letter_pdf(html))
    assert "王芳" in text
    assert "四川省成都市武侯区委组织部" in text
    assert "江汉区委组织部" in text
    english = letter_html(renderer, "en", letter)  # type: ignore[arg-type]
    assert "reverse issuance" in english
    assert "To 四川省成都市武侯区委组织部:" in english
    assert "inflow member" in english
    assert "王芳" in pdf_text(letter_pdf(english))
    outflow = await applied(db, people.zhang)
    plain = letter_html(renderer, "en", await the_letter(db, outflow))  # type: ignore[arg-type]
    assert "Letter on receiving a mobile member" in plain
    assert "To the party organisation at 广东省深圳市南山区 (destination):" in plain
    assert "please receive them into your organisation's activities" in plain


async def test_the_normal_letter_of_an_inflow_member_asks_the_origin_to_issue(
    db: Database, people: People, renderer: Renderer
) -> None:
    certificate_id = await applied(
        db, people.wang, origin="四川省成都市武侯区委组织部", destination="武汉市江汉区民族街道"
    )
    letter = await the_letter(db, certificate_id, issuer="江汉区委组织部")
    html = letter_html(renderer, "zh_CN", letter)  # type: ignore[arg-type]
    assert "关于办理《流动党员活动证》的函" in html
    assert "<p>四川省成都市武侯区委组织部：</p>" in html
    assert "开具《流动党员活动证》" in html
    assert "江汉区委组织部（盖章）" in html
    english = letter_html(renderer, "en", letter)  # type: ignore[arg-type]
    assert "Letter on issuing an activity certificate" in english
    assert "issue the activity certificate when everything is in order" in english


@pytest.mark.parametrize(
    ("status", "reverse", "issuer", "unit", "expected"),
    [
        # An outflow member left us: we are the origin and write to the destination.
        (
            MemberStatus.OUTFLOW,
            False,
            None,
            "江汉区民族街道党工委",
            ("outflow", "深圳市南山区", "江汉区民族街道党工委"),
        ),
        (
            MemberStatus.OUTFLOW,
            False,
            "江汉区委组织部",
            "江汉区民族街道党工委",
            ("outflow", "深圳市南山区", "江汉区委组织部"),
        ),
        # An inflow member came to us: we are the destination and write to the origin.
        (
            MemberStatus.INFLOW,
            False,
            None,
            "江汉区民族街道党工委",
            ("inflow", "成都市武侯区委组织部", "江汉区民族街道党工委"),
        ),
        (MemberStatus.INFLOW, True, None, None, ("reverse", "成都市武侯区委组织部", "党组织")),
        (
            MemberStatus.INFLOW,
            True,
            "江汉区委组织部",
            None,
            ("reverse", "成都市武侯区委组织部", "江汉区委组织部"),
        ),
    ],
)
def test_the_letter_goes_from_our_side_to_the_other(
    status: MemberStatus,
    reverse: bool,
    issuer: str | None,
    unit: str | None,
    expected: tuple[str, str, str],
) -> None:
    view = CertificateView(
        id=1,
        member_id=1,
        member_name="张伟",
        member_status=status,
        member_phone=None,
        home_unit=unit,
        workplace=None,
        reverse=reverse,
        origin_organisation="成都市武侯区委组织部",
        destination="深圳市南山区",
        reason="务工",
        expected_months=12,
        status=CertificateStatus.APPLIED,
        number=None,
        created_at=START,
        issued_at=None,
        review_due_on=None,
    )
    assert letter_parties(view, issuer=issuer, organisation="党组织") == expected


async def test_a_letter_to_the_organisation_that_signs_it_is_refused(
    db: Database, people: People
) -> None:
    # An inflow member who gave our own unit as the origin: the letter would go to us.
    certificate_id = await applied(db, people.wang, origin="湖北省武汉市江汉区民族街道党工委")
    async with db.session() as session:
        wang = await session.get(Member, people.wang.id)
        assert wang is not None
        wang.home_unit_id = people.zhang.home_unit_id
    with pytest.raises(CertificateError) as refused:
        await the_letter(db, certificate_id)
    assert refused.value.reason == "letter_same_organisation"
    # With the issuer set to another body, it goes.
    letter = await the_letter(db, certificate_id, issuer="江汉区委组织部")
    assert (letter.addressee, letter.issuer) == (
        "湖北省武汉市江汉区民族街道党工委",
        "江汉区委组织部",
    )  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("locale", "fragment"),
    [("zh_CN", "先显示最早的 10 份"), ("en", "the oldest 10 shown")],
)
def test_a_long_list_says_how_to_reach_the_rest(
    renderer: Renderer, locale: str, fragment: str
) -> None:
    assert fragment in renderer.render(locale, "certificates/list", total=12, shown=10)
