"""The yearly report: a district of two streets over 2026, its figures read back from the
workbook's cells and the PDF's text, its charts, its Chinese font, and what a unit's report
leaves out."""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pypdfium2 as pdfium  # type: ignore[import-untyped]
from pypdf import PdfReader
from sqlalchemy import select

from messages.render import Renderer
from messages.year_report import year_report_pdf, year_report_xlsx
from storage.db import Database
from storage.models import (
    Activity,
    ActivityAnswer,
    ActivityInvitation,
    ActivityKind,
    AuditEvent,
    Certificate,
    CertificateStatus,
    Group,
    GroupKind,
    Idea,
    IdeaKind,
    IdeaStatus,
    Member,
    MemberStatus,
    RequestEventKind,
    RequestStatus,
    ServiceRequest,
    ServiceRequestEvent,
    Unit,
)
from storage.regions import default_index
from storage.year_report import YearReport, year_report
from tests.factories import make_checkin, make_group, make_member, make_request_catalogue, make_unit
from tests.pdfs import ink_under

SHANGHAI = ZoneInfo("Asia/Shanghai")
JANUARY = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
NOW = datetime(2027, 1, 10, 2, 0, tzinfo=UTC)
# A group name that is markup to platypus and a formula to a spreadsheet: shown as typed.
TRICKY = "=SUM(1+1)<b>民意</b>党小组"


def utc(month: int, day: int, hour: int = 2, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=UTC)


@dataclass
class District:
    street: Unit  # 民意街道: 张伟, 王芳, 李强 in the tricky group
    other: Unit  # 花楼街道: 赵敏, 陈刚 in 驻深圳党小组
    tricky: Group
    shenzhen: Group
    zhang: Member
    wang: Member
    li: Member
    zhao: Member
    chen: Member


async def build_district(db: Database) -> District:
    street = await make_unit(db, JANUARY, "民意街道")
    other = await make_unit(db, JANUARY, "花楼街道")
    tricky = await make_group(db, JANUARY, TRICKY, GroupKind.WORKPLACE, street)
    shenzhen = await make_group(db, JANUARY, "驻深圳党小组", GroupKind.DESTINATION, other)

    async def member(
        name: str, phone: str, status: MemberStatus, unit: Unit, group: Group, **values: object
    ) -> Member:
        made = await make_member(
            db, JANUARY, name=name, phone=phone, status=status, unit=unit, groups=[group]
        )
        async with db.session() as session:
            row = await session.get(Member, made.id)
            assert row is not None
            for key, value in values.items():
                setattr(row, key, value)
        return made

    zhang = await member(
        "张伟",
        "+8613800000001",
        MemberStatus.OUTFLOW,
        street,
        tricky,
        origin="湖北省武汉市",
        destination="广东省深圳市",
        trade="律师",
    )
    wang = await member(
        "王芳",
        "+8613800000002",
        MemberStatus.OUTFLOW,
        street,
        tricky,
        destination="深圳",
        trade="律师",
    )
    # Inflow all year; the roster made her local in January 2027 (after the year).
    li = await member(
        "李强",
        "+8613800000003",
        MemberStatus.LOCAL,
        street,
        tricky,
        origin="四川成都",
        trade="@茶叶",
    )
    zhao = await member("赵敏", "+8613800000004", MemberStatus.LOCAL, other, shenzhen)
    chen = await member(
        "陈刚",
        "+8613800000005",
        MemberStatus.OUTFLOW,
        other,
        shenzhen,
        destination="上海",
        lost_contact_at=utc(8, 1),
        lost_contact_confirmed_at=utc(9, 1),
    )
    # Registered after the year: in no figure of it.
    await make_member(
        db,
        JANUARY,
        name="新人",
        phone="+8613800000006",
        groups=[tricky],
        unit=street,
        registered_at=utc(2, 1, year=2027),
    )
    for month in range(1, 13):
        await make_checkin(db, zhang, utc(month, 10))
    for month in range(1, 7):
        await make_checkin(db, wang, utc(month, 12))
    await make_checkin(db, wang, utc(3, 20))  # twice in a month counts once
    await make_checkin(db, zhao, utc(3, 15))

    lease, _ = await make_request_catalogue(db, JANUARY)
    async with db.session() as session:
        session.add(
            AuditEvent(
                at=utc(1, 5, year=2027),
                actor="cli:test",
                action="member.status",
                subject=f"member:{li.id}",
                detail={"previous": "inflow", "status": "local"},
            )
        )
        forum = Activity(
            kind=ActivityKind.FORUM,
            title="年度座谈会",
            starts_at=utc(5, 10),
            ends_at=utc(5, 10, 4),
            address="江汉区",
            radius_m=200,
            code="1234",
            created_by="cli:test",
            organiser="区委",
            created_at=utc(5, 1),
            remind_at=utc(5, 9),
        )
        later = Activity(
            kind=ActivityKind.CLASS,
            title="来年课程",
            starts_at=utc(1, 20, year=2027),
            ends_at=utc(1, 20, 4, year=2027),
            address="江汉区",
            radius_m=200,
            code="5678",
            created_by="cli:test",
            organiser="区委",
            created_at=utc(12, 1),
            remind_at=utc(1, 19, year=2027),
        )
        session.add_all([forum, later])
        await session.flush()
        session.add_all(
            [
                ActivityInvitation(
                    activity_id=forum.id,
                    member_id=zhang.id,
                    invited_at=utc(5, 1),
                    answer=ActivityAnswer.YES,
                    attended_at=utc(5, 10),
                ),
                ActivityInvitation(
                    activity_id=forum.id,
                    member_id=wang.id,
                    invited_at=utc(5, 1),
                    answer=ActivityAnswer.YES,
                ),
                ActivityInvitation(
                    activity_id=forum.id,
                    member_id=zhao.id,
                    invited_at=utc(5, 1),
                    answer=ActivityAnswer.NO,
                ),
                ActivityInvitation(activity_id=later.id, member_id=zhang.id, invited_at=utc(12, 1)),
            ]
        )

        def request(
            whom: Member, created: datetime, status: RequestStatus, **values: object
        ) -> ServiceRequest:
            return ServiceRequest(
                member_id=whom.id,
                category_id=lease,
                description="门面续租",
                status=status,
                created_at=created,
                updated_at=created,
                due_at=created + timedelta(days=14),
                **values,
            )

        resolved = request(
            zhang,
            utc(3, 1),
            RequestStatus.RESOLVED,
            closed_at=utc(3, 1) + timedelta(hours=50),
            satisfaction=5,
        )
        refused = request(
            zhao,
            utc(4, 1),
            RequestStatus.CANNOT_HELP,
            closed_at=utc(4, 1) + timedelta(hours=20),
            satisfaction=2,
        )
        session.add_all([resolved, refused, request(wang, utc(6, 1), RequestStatus.RECEIVED)])
        await session.flush()
        for made, hours in ((resolved, 2), (refused, 10)):
            session.add(
                ServiceRequestEvent(
                    request_id=made.id,
                    at=made.created_at + timedelta(hours=hours),
                    kind=RequestEventKind.TAKEN,
                    actor="staff:1",
                )
            )
        session.add_all(
            [
                Idea(
                    member_id=zhang.id,
                    kind=IdeaKind.IDEA,
                    body="建议",
                    status=IdeaStatus.ADOPTED,
                    created_at=utc(2, 1),
                    adopted_at=utc(3, 1),
                ),
                Idea(
                    member_id=zhao.id,
                    kind=IdeaKind.OPINION,
                    body="意见",
                    status=IdeaStatus.REPLIED,
                    created_at=utc(7, 1),
                    replied_at=utc(7, 3),
                ),
            ]
        )
        for whom, issued in ((zhang, utc(4, 10)), (li, utc(4, 20)), (zhao, utc(12, 10, year=2025))):
            session.add(
                Certificate(
                    member_id=whom.id,
                    origin_organisation="武汉市江汉区委",
                    destination="深圳",
                    reason="外出务工",
                    expected_months=12,
                    status=CertificateStatus.ISSUED,
                    created_at=issued,
                    updated_at=issued,
                    issued_at=issued,
                )
            )
    return District(street, other, tricky, shenzhen, zhang, wang, li, zhao, chen)


async def report_of(
    db: Database, *, unit: Unit | None = None, staff_id: int | None = None
) -> YearReport:
    async with db.session() as session:
        return await year_report(
            session,
            NOW,
            2026,
            zone=SHANGHAI,
            regions=default_index(),
            unit=unit,
            staff_id=staff_id,
            actor="cli:test",
            subject="test",
        )


def rows_of(book: openpyxl.Workbook, title: str) -> list[list[object]]:
    sheet = book[title]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


async def test_the_years_figures_of_the_district(db: Database) -> None:
    await build_district(db)
    report = await report_of(db)
    assert report.members == 5
    # 李强 was inflow at the year's end, local only since.
    assert report.by_status == {"inflow": 1, "outflow": 3, "local": 1}
    assert report.by_origin == [("四川省", 1), ("湖北省", 1), (None, 3)]
    assert report.by_destination == [("广东省", 2), ("上海市", 1), (None, 2)]
    assert report.by_trade == [("律师", 2), ("@茶叶", 1), (None, 2)]
    january, march = report.months[0], report.months[2]
    assert (january.period, january.members, january.checked_in) == ("2026-01", 5, 2)
    assert (march.members, march.checked_in, march.percent) == (5, 3, 60.0)
    assert report.checkin_percent == round(100 * 19 / 60, 1)
    by_group = {g.name: (g.due, g.checked_in) for g in report.groups}
    assert by_group == {TRICKY: (36, 18), "驻深圳党小组": (24, 1)}
    [forum] = report.activities
    assert (forum.kind, forum.held, forum.invited, forum.said_yes, forum.attended) == (
        "forum",
        1,
        3,
        2,
        1,
    )
    [lease] = report.services
    assert (lease.name_zh, lease.requests, lease.resolved, lease.cannot_help) == (
        "门面续租",
        3,
        1,
        1,
    )
    assert (lease.still_open, lease.referred) == (1, 0)
    assert (lease.answer_median_hours, lease.answer_p90_hours) == (6.0, 9.2)
    assert (lease.close_median_hours, lease.close_p90_hours) == (35.0, 47.0)
    assert (lease.satisfaction, lease.satisfaction_average) == ((0, 1, 0, 0, 1), 3.5)
    ideas = report.ideas
    assert (ideas.ideas, ideas.opinions, ideas.replied, ideas.adopted) == (1, 1, 1, 1)
    assert report.certificates == [0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]
    lost = report.lost_contact
    assert (lost.flagged, lost.confirmed, lost.at_year_end) == (1, 1, 1)


async def test_a_units_report_leaves_the_other_street_out(db: Database) -> None:
    district = await build_district(db)
    report = await report_of(db, unit=district.street)
    assert report.unit == "民意街道"
    assert report.members == 3
    assert report.by_status == {"inflow": 1, "outflow": 2, "local": 0}
    assert [g.name for g in report.groups] == [TRICKY]
    assert report.months[2].checked_in == 2  # 赵敏's March check-in is the other street's
    [forum] = report.activities
    assert (forum.invited, forum.said_yes, forum.attended) == (2, 2, 1)
    [lease] = report.services
    assert (lease.requests, lease.cannot_help, lease.satisfaction) == (2, 0, (0, 0, 0, 0, 1))
    assert (report.ideas.ideas, report.ideas.opinions) == (1, 0)
    assert sum(report.certificates) == 2
    assert report.lost_contact.at_year_end == 0
    async with db.session() as session:
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "report.year"))
    assert event is not None and event.detail is not None
    assert (event.subject, event.detail["unit"], event.detail["year"]) == ("test", "民意街道", 2026)


async def test_the_workbook_holds_the_figures_and_native_charts(
    db: Database, renderer: Renderer
) -> None:
    await build_district(db)
    data = year_report_xlsx(await report_of(db), renderer, "zh_CN", SHANGHAI)
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames[:3] == ["概况", "党员情况", "流出地"]
    assert rows_of(book, "党员情况")[1:] == [["流入党员", 1], ["流出党员", 3], ["本地党员", 1]]
    assert rows_of(book, "流出地")[1:] == [["四川省", 1], ["湖北省", 1], ["未知", 3]]
    checkins = rows_of(book, "月度报到")
    assert checkins[0] == ["月份", "应报到", "已报到", "报到率（%）"]
    assert checkins[3] == ["2026-03", 5, 3, 60.0]
    groups = rows_of(book, "各党小组报到")
    # The formula-looking group name stays text, as typed.
    assert groups[1][0] == "'" + TRICKY and groups[1][-2:] == [36, 18]
    assert book["各党小组报到"]["A2"].data_type == "s"
    assert rows_of(book, "行业")[1:] == [["律师", 2], ["'@茶叶", 1], ["未知", 2]]
    services = rows_of(book, "服务请求")
    assert services[1][:8] == ["门面续租", 3, 1, 1, 0, 1, 6.0, 9.2]
    assert services[1][-5:] == [0, 1, 0, 0, 1]
    assert rows_of(book, "活动证发放")[4] == ["2026-04", 2]
    assert rows_of(book, "失联党员")[3] == ["年末仍失联", 1]
    # Native charts, each over its sheet's cells.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        charts = [archive.read(n).decode() for n in archive.namelist() if "xl/charts/chart" in n]
    kinds = {
        kind
        for chart in charts
        for kind in ("lineChart", "barChart", "pieChart")
        if f"<{kind}>" in chart
    }
    assert kinds == {"lineChart", "barChart", "pieChart"}
    line = next(chart for chart in charts if "<lineChart>" in chart)
    assert "'月度报到'!$D$2:$D$13" in line
    # Each chart shows its scales (openpyxl would mark the axes deleted).
    assert not any('<delete val="1"/>' in chart for chart in charts)


async def test_the_pdf_reads_in_chinese_with_its_numbers(db: Database, renderer: Renderer) -> None:
    await build_district(db)
    pdf = year_report_pdf(await report_of(db), renderer, "zh_CN", SHANGHAI)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "2026年度流动党员工作统计" in text
    for words in ("全区", "月度报到", "各党小组报到", "门面续租", "座谈会", "失联党员", "四川省"):
        assert words in text, words
    assert "31.7" in text and "60.0" in text  # the year's and March's rate
    # The group's name as typed, not bold markup.
    assert "<b>民意</b>" in text
    fonts = {
        str(font.get_object()["/BaseFont"])
        for page in PdfReader(io.BytesIO(pdf)).pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert any("WenQuanYiMicroHei" in name for name in fonts), fonts
    # Page 1 has ink where its Chinese title is: the font is embedded, not named.
    assert ink_under(pdf, "流动党员工作统计") > 150
    assert ink_under(pdf, "2026") > 30  # and where its digits are (the one font has them)
    if shots := os.environ.get("CONSOLE_SCREENSHOTS"):
        # The README's picture (make screenshots): page 1 at 110 dpi.
        page = pdfium.PdfDocument(pdf)[0]
        page.render(scale=110 / 72).to_pil().save(Path(shots) / "year-report.png")


async def test_the_report_in_english(db: Database, renderer: Renderer) -> None:
    await build_district(db)
    report = await report_of(db)
    pdf = year_report_pdf(report, renderer, "en", SHANGHAI)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Mobile members: 2026 in figures" in text and "Monthly check-in" in text
    assert "Shop lease" in text and "Forum" in text
    book = openpyxl.load_workbook(io.BytesIO(year_report_xlsx(report, renderer, "en", SHANGHAI)))
    assert rows_of(book, "Members")[1:] == [["Inflow", 1], ["Outflow", 3], ["Local", 1]]
    assert rows_of(book, "Origin")[-1] == ["Unknown", 3]
