"""The service catalogue: the shipped file, bad files, reloads, export and edits."""

from __future__ import annotations

import tomllib
from datetime import timedelta

import pytest
from sqlalchemy import select

from storage import catalogue as cat
from storage.catalogue import (
    SHIPPED,
    CatalogueError,
    add_entry,
    current_catalogue,
    dump_catalogue,
    load_catalogue,
    parse_catalogue,
    seed_if_empty,
    set_active,
    set_fields,
    shipped_catalogue,
)
from storage.db import Database
from storage.models import (
    AuditEvent,
    RequestStatus,
    ServiceCategory,
    ServiceDepartment,
    ServiceMeasure,
    ServiceRequest,
)
from tests.conftest import START
from tests.factories import make_member

LATER = START + timedelta(days=1)

SMALL = """
[[category]]
code = "legal"
name_zh = "法律维权"
name_en = "Legal rights"

[[department]]
code = "justice"
name_zh = "江汉区司法局"
name_en = "Jianghan District Justice Bureau"

[[measure]]
code = "legal-aid"
department = "justice"
category = "legal"
title_zh = "法律援助申请"
title_en = "Legal aid"
target_days = 7
"""


async def load(db: Database, text: str, *, dry_run: bool = False) -> cat.LoadReport:
    async with db.session() as session:
        return await load_catalogue(
            session,
            LATER,
            parse_catalogue(text),
            actor="cli:test",
            source="test.toml",
            dry_run=dry_run,
        )


async def snapshot(db: Database) -> list[tuple[object, ...]]:
    """Every catalogue row with every column: to show that nothing changed."""
    rows: list[tuple[object, ...]] = []
    async with db.session() as session:
        for model in (ServiceCategory, ServiceDepartment, ServiceMeasure):
            for row in await session.scalars(select(model).order_by(model.id)):
                rows.append(tuple(getattr(row, c.key) for c in model.__table__.columns))
    return rows


def problems(text: str) -> list[str]:
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text)
    return caught.value.problems


# --- the shipped catalogue ---------------------------------------------------------------------


async def test_the_shipped_catalogue_loads_whole(db: Database) -> None:
    async with db.session() as session:
        report = await seed_if_empty(session, START)
    assert report is not None
    assert (len(report.added), report.changed, report.deactivated) == (43, [], [])
    async with db.session() as session:
        needs = await cat.categories(session)
        departments = await cat.departments(session)
        measures = await cat.measures(session)
    assert [c.name_zh for c in needs] == [
        "商铺租赁续签",
        "居住登记",
        "就业",
        "法律维权",
        "子女入学",
        "其他",
    ]
    assert [c.name_en for c in needs][:2] == ["Shop lease renewal", "Residency registration"]
    assert len(departments) == 11
    codes = [d.code for d in departments]
    assert {"commerce", "police", "labour", "personnel", "justice", "education"} <= set(codes)
    # The six the source names, by their Chinese names too.
    names = " ".join(d.name_zh for d in departments)
    for word in ("商务", "公安", "人力资源和社会保障", "人事", "司法", "教育"):
        assert word in names
    assert len(measures) == 26
    for m in measures:
        for column in ("title", "summary", "handler", "documents", "where"):
            assert getattr(m, f"{column}_zh"), (m.code, column)
            assert getattr(m, f"{column}_en"), (m.code, column)
        assert len(m.documents_zh.split("\n")) == len(m.documents_en.split("\n")), m.code  # type: ignore[union-attr]
        assert m.contact
        assert m.target_days > 0
        assert m.active
    for d in departments:
        assert d.address_zh and d.address_en and d.phone and d.hours_zh and d.hours_en
        assert any(m.department_id == d.id for m in measures), d.code
    # Every named need has measures behind it.
    for need in needs[:5]:
        assert any(m.category_id == need.id for m in measures), need.code
    # The header says the contact details are made up.
    assert "ILLUSTRATIVE" in SHIPPED.read_text(encoding="utf-8")


async def test_seeding_happens_only_into_an_empty_catalogue(db: Database) -> None:
    await load(db, SMALL)
    async with db.session() as session:
        assert await seed_if_empty(session, LATER) is None
        assert len(await cat.measures(session)) == 1


async def test_reloading_the_same_file_changes_nothing(db: Database) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    await load(db, text)
    before = await snapshot(db)
    report = await load(db, text)
    assert (report.added, report.changed, report.deactivated) == ([], [], [])
    assert report.unchanged == 43
    # Not even the time of the last change moved.
    assert await snapshot(db) == before


async def test_an_export_loads_back_to_the_same_catalogue(db: Database) -> None:
    await load(db, SHIPPED.read_text(encoding="utf-8"))
    async with db.session() as session:
        await set_active(session, LATER, "stall-priority", False, actor="cli:test")
        exported = dump_catalogue(await current_catalogue(session), header="exported\nfor a test")
    assert exported.startswith("# exported\n# for a test\n")
    assert "active = false" in exported
    before = await snapshot(db)
    report = await load(db, exported)
    assert not report.has_changes
    assert await snapshot(db) == before
    # And the text is a fixed point: parsed and written again, it is the same text.
    assert dump_catalogue(parse_catalogue(exported), header="exported\nfor a test") == exported
    # Every value survives, including characters TOML must escape.
    async with db.session() as session:
        await set_fields(
            session,
            LATER,
            "legal-aid",
            [("summary_zh", 'a "quoted" \\ back\tslash\x7f'), ("summary_en", "line one\nline two")],
            actor="cli:test",
        )
        exported = dump_catalogue(await current_catalogue(session))
    entry = parse_catalogue(exported).find("legal-aid")
    assert entry is not None
    assert entry.values["summary_zh"] == 'a "quoted" \\ back\tslash\x7f'
    assert entry.values["summary_en"] == "line one\nline two"
    assert not (await load(db, exported)).has_changes


async def test_a_dry_run_reports_and_writes_nothing(db: Database) -> None:
    await load(db, SMALL)
    before = await snapshot(db)
    report = await load(db, SHIPPED.read_text(encoding="utf-8"), dry_run=True)
    assert len(report.added) == 5 + 10 + 25
    assert report.changed == [
        ("department justice", ["address_zh", "address_en", "phone", "hours_zh", "hours_en"]),
        (
            "measure legal-aid",
            [
                "summary_zh",
                "summary_en",
                "handler_zh",
                "handler_en",
                "documents_zh",
                "documents_en",
                "where_zh",
                "where_en",
                "contact",
            ],
        ),
    ]
    # "legal" is the fourth need in the shipped file.
    assert report.moved == ["category legal"]
    assert await snapshot(db) == before


# --- bad files --------------------------------------------------------------------------------


def test_broken_toml_says_where() -> None:
    [problem] = problems(SMALL.replace('name_en = "Legal rights"', "name_en = Legal rights"))
    assert problem.startswith("not valid TOML:")
    assert "line 5" in problem


def test_every_problem_of_a_file_is_listed_with_its_place() -> None:
    text = (
        SMALL
        + """
[[measure]]
code = "legal-aid"
department = "comerce"
category = "legel"
title_zh = ""
target_days = 0
colour = "red"

[[measure]]
code = "Bad Code!"
department = "justice"
category = "legal"
title_zh = "调解"
title_en = "Mediation"
summary_zh = "只有中文"
documents_zh = "身份证"
target_days = "7"

[[department]]
code = "legal"
name_zh = "重复的代码"
name_en = "A duplicate code"

[[measure]]
code = "half-day"
department = "justice"
category = "legal"
title_zh = "半天"
title_en = "Half a day"
target_days = 1.5
active = "no"

[[measure]]
code = "a-year-and-more"
department = "justice"
category = "legal"
title_zh = "很久"
title_en = "Long"
contact = "0"""
        + "1" * 120
        + """"
target_days = 400

[[place]]
name = "not here"
"""
    )
    found = problems(text)
    assert found == [
        "unknown section 'place': a catalogue has [[category]], [[department]] and [[measure]]"
        " entries",
        "line 20, measure 2 'legal-aid': unknown key 'colour' (a measure has code, department,"
        " category, title_zh, title_en, summary_zh, summary_en, handler_zh, handler_en,"
        " documents_zh, documents_en, where_zh, where_en, contact, target_days, active)",
        "line 20, measure 2 'legal-aid': title_zh is missing",
        "line 20, measure 2 'legal-aid': title_en is missing",
        "line 20, measure 2 'legal-aid': target_days must be a whole number of days from 1 to 365",
        "line 28, measure 3 'Bad Code!': code 'Bad Code!' is not a code (lower-case letters,"
        " digits and hyphens, at most 40)",
        "line 28, measure 3 'Bad Code!': documents_zh must be a list of texts, one per document",
        "line 28, measure 3 'Bad Code!': target_days must be a whole number of days from 1 to 365",
        "line 28, measure 3 'Bad Code!': summary_en is missing (every text needs both languages)",
        "line 43, measure 4 'half-day': target_days must be a whole number of days from 1 to 365",
        "line 43, measure 4 'half-day': active must be true or false",
        "line 52, measure 5 'a-year-and-more': contact is 121 characters long; at most 100",
        "line 52, measure 5 'a-year-and-more': target_days must be a whole number of days from 1"
        " to 365",
        "line 38, department 2 'legal': code 'legal' is already used (line 2, category 1 'legal')",
        "line 20, measure 2 'legal-aid': code 'legal-aid' is already used (line 12, measure 1"
        " 'legal-aid')",
        "line 20, measure 2 'legal-aid': unknown department 'comerce'",
        "line 20, measure 2 'legal-aid': unknown category 'legel'",
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('title_zh = "法律援助申请"', ""), "line 12, measure 1 'legal-aid': title_zh is missing"),
        (('title_en = "Legal aid"', 'title_en = "  "'), "title_en is missing"),
        (('name_en = "Legal rights"', ""), "line 2, category 1 'legal': name_en is missing"),
        (("target_days = 7", "target_days = -3"), "target_days must be a whole number of days"),
        (("target_days = 7", "target_days = true"), "target_days must be a whole number of days"),
        (("target_days = 7", ""), "target_days is missing"),
        (('department = "justice"', 'department = "police"'), "unknown department 'police'"),
        (('category = "legal"\ntitle', 'category = "jobs"\ntitle'), "unknown category 'jobs'"),
        (("target_days = 7", "target_days = 7\nwhen = 3"), "unknown key 'when'"),
        (("[[category]]", "[category]"), "'category' must be written as [[category]] entries"),
        (('code = "justice"', 'code = "legal"'), "code 'legal' is already used"),
        (("target_days = 7", 'target_days = 7\ndocuments_zh = ["身份证"]'), "documents_en is"),
        (
            ('title_en = "Legal aid"', 'title_en = "Legal aid\\nand more"'),
            "title_en must be one line",
        ),
        (
            (
                "target_days = 7",
                'target_days = 7\nhandler_zh = "x"\nhandler_en = ' + '"' + "y" * 201 + '"',
            ),
            "handler_en is 201 characters long; at most 200",
        ),
        (
            (
                "target_days = 7",
                'target_days = 7\ndocuments_zh = ["a", ""]\ndocuments_en = ["a", "b"]',
            ),
            "documents_zh: each document is one non-empty line",
        ),
        (
            ("target_days = 7", 'target_days = 7\nactive = true\n[[department]]\ncode = "x"'),
            "department 2 'x': name_zh is missing",
        ),
    ],
)
def test_each_kind_of_mistake_is_reported(change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in SMALL
    found = problems(SMALL.replace(old, new, 1))
    assert any(expected in p for p in found), found


def test_an_active_measure_under_an_inactive_department_is_refused() -> None:
    text = SMALL.replace(
        'name_en = "Jianghan District Justice Bureau"',
        'name_en = "Jianghan District Justice Bureau"\nactive = false',
    )
    assert problems(text) == [
        "line 13, measure 1 'legal-aid': the measure is active but its department 'justice' is not"
    ]
    # Inactive together, they are fine.
    parse_catalogue(text.replace("target_days = 7", "target_days = 7\nactive = false"))


def test_an_empty_file_is_not_a_catalogue() -> None:
    assert problems("# nothing yet\n") == [
        "the catalogue has no category: it needs at least one [[category]]",
        "the catalogue has no department: it needs at least one [[department]]",
        "the catalogue has no measure: it needs at least one [[measure]]",
    ]


def test_a_file_that_is_not_utf8(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "gbk.toml"  # type: ignore[operator]
    path.write_bytes(SMALL.encode("gbk"))
    with pytest.raises(CatalogueError, match="is not UTF-8 text"):
        cat.read_catalogue(path)
    with pytest.raises(CatalogueError, match="cannot read"):
        cat.read_catalogue(path.parent / "missing.toml")


def test_the_shipped_file_is_in_the_documented_shape() -> None:
    data = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))
    assert set(data) == {"category", "department", "measure"}
    catalogue = shipped_catalogue()
    assert [len(catalogue.entries(k)) for k in cat.KINDS] == [6, 11, 26]


# --- deactivation and edits -----------------------------------------------------------------------


async def test_a_measure_left_out_of_a_file_becomes_inactive_not_deleted(db: Database) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    await load(db, text)
    member = await make_member(db, START)
    async with db.session() as session:
        legal = await session.scalar(select(ServiceCategory).where(ServiceCategory.code == "legal"))
        wages = await session.scalar(
            select(ServiceMeasure).where(ServiceMeasure.code == "wage-arrears")
        )
        assert legal is not None and wages is not None
        request = ServiceRequest(
            member_id=member.id,
            category_id=legal.id,
            measure_id=wages.id,
            description="老板拖欠三个月工资",
            status=RequestStatus.RECEIVED,
            created_at=START,
            updated_at=START,
            due_at=START + timedelta(days=5),
        )
        session.add(request)
    start = text.index('[[measure]]\ncode = "wage-arrears"')
    end = text.index("[[measure]]", start + 1)
    report = await load(db, text[:start] + text[end:])
    assert report.deactivated == ["measure wage-arrears"]
    assert report.added == []
    async with db.session() as session:
        offered = [m.code for m in await cat.measures(session)]
        everything = [m.code for m in await cat.measures(session, include_inactive=True)]
        kept = await session.get(ServiceRequest, request.id)
        assert kept is not None and kept.measure_id == wages.id
    assert "wage-arrears" not in offered
    # Kept, and listed last: the file's order comes first.
    assert everything[-1] == "wage-arrears" and len(everything) == 26
    # Loading the whole file again offers it again, in its place.
    report = await load(db, text)
    assert report.changed == [("measure wage-arrears", ["active"])]
    # The measures after it in the file move down one place again.
    assert len(report.moved) == 17 and report.moved[0] == "measure insurance-transfer"
    async with db.session() as session:
        assert [m.code for m in await cat.measures(session)][8] == "wage-arrears"


async def test_a_department_or_category_left_out_becomes_inactive(db: Database) -> None:
    await load(db, SMALL)
    text = SMALL.replace('code = "justice"', 'code = "law"').replace(
        'department = "justice"', 'department = "law"'
    )
    report = await load(db, text)
    assert report.added == ["department law"]
    assert report.deactivated == ["department justice"]
    assert report.changed == [("measure legal-aid", ["department"])]
    async with db.session() as session:
        assert [d.code for d in await cat.departments(session)] == ["law"]
        assert len(await cat.departments(session, include_inactive=True)) == 2


async def test_deactivating_a_department_takes_its_measures_along(db: Database) -> None:
    await load(db, SHIPPED.read_text(encoding="utf-8"))
    async with db.session() as session:
        report = await set_active(session, LATER, "labour", False, actor="cli:test")
    assert report.deactivated == [
        "department labour",
        "measure job-matching",
        "measure skills-training",
        "measure wage-arrears",
        "measure insurance-transfer",
    ]
    async with db.session() as session:
        assert len(await cat.measures(session)) == 22
        assert "labour" not in [d.code for d in await cat.departments(session)]
        # Again: nothing to do.
        assert not (await set_active(session, LATER, "labour", False, actor="cli:test")).has_changes
    # A measure cannot come back while its department is away.
    with pytest.raises(CatalogueError, match="its department 'labour' is not"):
        async with db.session() as session:
            await set_active(session, LATER, "job-matching", True, actor="cli:test")
    async with db.session() as session:
        await set_active(session, LATER, "labour", True, actor="cli:test")
        report = await set_active(session, LATER, "job-matching", True, actor="cli:test")
        assert report.changed == [("measure job-matching", ["active"])]
        assert len(await cat.measures(session)) == 23
    # A category likewise.
    async with db.session() as session:
        report = await set_active(session, LATER, "schooling", False, actor="cli:test")
        assert len(report.deactivated) == 4
        assert "schooling" not in [c.code for c in await cat.categories(session)]


async def test_edits_are_checked_like_a_file_and_audited(db: Database) -> None:
    await load(db, SMALL)
    before = await snapshot(db)
    refused = [
        ("legal-aid", [("target_days", "0")], "target_days must be a whole number"),
        ("legal-aid", [("target_days", "²")], "target_days must be a whole number"),
        ("legal-aid", [("summary_zh", "只有中文")], "summary_en is missing"),
        ("legal-aid", [("department", "police")], "unknown department 'police'"),
        ("legal-aid", [("code", "aid")], "a code cannot be changed"),
        ("legal-aid", [("active", "false")], "use activate or deactivate"),
        ("legal-aid", [("colour", "red")], "unknown field 'colour'"),
        ("justice", [("name_zh", "")], "name_zh is missing"),
        ("nothing", [("name_zh", "x")], "no category, department or measure has the code"),
    ]
    for code, pairs, expected in refused:
        with pytest.raises(CatalogueError, match=expected):
            async with db.session() as session:
                await set_fields(session, LATER, code, pairs, actor="cli:test")
    with pytest.raises(CatalogueError, match="is already used"):
        async with db.session() as session:
            await add_entry(
                session,
                LATER,
                "category",
                "justice",
                [("name_zh", "司法"), ("name_en", "J")],
                actor="cli:test",
            )
    assert await snapshot(db) == before

    async with db.session() as session:
        report = await set_fields(
            session,
            LATER,
            "legal-aid",
            [
                ("target_days", " 5 "),
                ("documents_zh", "身份证|证据"),
                ("documents_en", "ID\nevidence"),
            ],
            actor="cli:test",
        )
        assert report.changed == [
            ("measure legal-aid", ["documents_zh", "documents_en", "target_days"])
        ]
        report = await add_entry(
            session,
            LATER,
            "measure",
            "mediation",
            [
                ("department", "justice"),
                ("category", "legal"),
                ("title_zh", "人民调解"),
                ("title_en", "Mediation"),
                ("target_days", "5"),
            ],
            actor="cli:test",
        )
        assert report.added == ["measure mediation"]
        measures = await cat.measures(session)
        actions = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert [(m.code, m.target_days) for m in measures] == [("legal-aid", 5), ("mediation", 5)]
    assert measures[0].documents_zh == "身份证\n证据"
    assert measures[0].documents_en == "ID\nevidence"
    assert actions == ["service.load", "service.set", "service.add"]
    # Clearing an optional text clears both languages together.
    async with db.session() as session:
        await set_fields(
            session,
            LATER,
            "legal-aid",
            [("documents_zh", ""), ("documents_en", "")],
            actor="cli:test",
        )
        row = await cat.measure(session, measures[0].id)
        assert row is not None and row.documents_zh is None and row.documents_en is None
