"""Half-yearly partner letters: 36 county partners in Henan, 3,600 inflow members from them
(each with six months of check-ins and a group activity), every letter drawn (SQLite)."""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from benchmarks.common import Timer, fresh_database, show
from messages.letters import FONT, letter_pdf, partner_letter_html
from messages.render import Renderer
from storage.models import (
    Activity,
    ActivityInvitation,
    ActivityKind,
    CheckIn,
    Group,
    GroupKind,
    Member,
    MemberStatus,
    PartnerOrganisation,
    PartnerSide,
    WorkSituation,
    activity_groups,
    member_groups,
)
from storage.partners import letter_data, memberships
from storage.regions import DEFAULT_DATA_PATH, default_index

PARTNERS = int(os.environ.get("BENCH_LETTERS_PARTNERS", "36"))
PER_PARTNER = int(os.environ.get("BENCH_LETTERS_MEMBERS", "100"))
ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
NOW = datetime(2027, 1, 5, 2, 0, tzinfo=UTC)


def _counties() -> list[tuple[str, str]]:
    """(adcode, "河南省 周口市 沈丘县"-like text) of Henan's counties, as many as PARTNERS."""
    found = []
    with DEFAULT_DATA_PATH.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["adcode"].startswith("41") and row["level"] == "district":
                found.append((row["adcode"], f"{row['province']}{row['city']}{row['name']}"))
    return found[:PARTNERS]


async def _fill(database: Any) -> None:
    counties = _counties()
    async with database.session() as session:
        await session.execute(
            insert(PartnerOrganisation),
            [
                {"id": p, "name": f"{text}委组织部", "adcode": adcode, "side": PartnerSide.ORIGIN,
                 "created_at": START, "updated_at": START}
                for p, (adcode, text) in enumerate(counties, 1)
            ],
        )  # fmt: skip
        await session.execute(
            insert(Group),
            [
                {"id": p, "name": f"{text}籍党员党小组", "kind": GroupKind.WORKPLACE,
                 "created_at": START}
                for p, (_, text) in enumerate(counties, 1)
            ],
        )  # fmt: skip
        members, links, checkins, invitations = [], [], [], []
        for p, (_, text) in enumerate(counties, 1):
            for n in range(PER_PARTNER):
                i = (p - 1) * PER_PARTNER + n + 1
                members.append(
                    {"id": i, "name": f"党员{i:05d}", "phone": f"+86138{i:08d}",
                     "status": MemberStatus.INFLOW, "origin": text, "workplace": "汉正街市场",
                     "registered_at": START, "updated_at": START}
                )  # fmt: skip
                links.append({"member_id": i, "group_id": p})
                for month in range(7, 13):
                    checkins.append(
                        {"member_id": i, "period": f"2026-{month:02d}",
                         "checked_in_at": datetime(2026, month, 3, tzinfo=UTC),
                         "work_situation": WorkSituation.STABLE, "needs_help": False}
                    )  # fmt: skip
                invitations.append(
                    {"activity_id": p, "member_id": i, "invited_at": START,
                     "attended_at": START + timedelta(days=100) if n % 2 else None}
                )  # fmt: skip
        await session.execute(insert(Member), members)
        await session.execute(insert(member_groups), links)
        await session.execute(insert(CheckIn), checkins)
        when = START + timedelta(days=100)
        await session.execute(
            insert(Activity),
            [
                {"id": p, "kind": ActivityKind.SERVICE, "title": f"志愿服务{p}", "starts_at": when,
                 "ends_at": when, "address": "民意四路", "radius_m": 300, "code": "123456",
                 "created_by": "bench", "organiser": "民意街道", "created_at": START,
                 "remind_at": when}
                for p in range(1, len(counties) + 1)
            ],
        )  # fmt: skip
        await session.execute(
            insert(activity_groups),
            [{"activity_id": p, "group_id": p} for p in range(1, len(counties) + 1)],
        )
        await session.execute(insert(ActivityInvitation), invitations)


async def run() -> dict[str, Any]:
    index = default_index()
    renderer = Renderer()
    results: dict[str, Any] = {"partners": PARTNERS, "members": PARTNERS * PER_PARTNER}
    async with fresh_database() as database:
        await _fill(database)
        with Timer() as bare:
            async with database.session() as session:
                texts = (await session.execute(select(Member.status, Member.origin))).all()
        assert len(texts) >= PARTNERS * PER_PARTNER
        results["baseline_select_s"] = bare.seconds
        show("bare SELECT of the members' places (baseline)", bare.seconds, "s")
        with Timer() as placing:
            async with database.session() as session:
                placed = await memberships(session, index)
        assert not placed.unmatched, placed.unmatched[:3]
        results["placing_s"] = placing.seconds
        show(
            f"placing {PARTNERS * PER_PARTNER:,} members with {PARTNERS} partners",
            placing.seconds,
            "s",
        )
        with Timer() as gathering:
            async with database.session() as session:
                letters = [
                    await letter_data(
                        session, NOW, p, "2026H2", index=index, zone=ZONE, issuer="民意街道党工委",
                        actor="bench", membership=placed,
                    )
                    for p in range(1, PARTNERS + 1)
                ]  # fmt: skip
        results["contents_s"] = gathering.seconds
        show("every letter's contents", gathering.seconds, "s")
        with Timer() as blank:
            letter_pdf(f'<html><body style="font-family: {FONT}"><p>函 2026H2</p></body></html>')
        results["pdf_blank_s"] = blank.seconds
        show("a PDF of one line in the same font (baseline)", blank.seconds, "s")
        drawn = []
        with Timer() as total:
            for letter in letters:
                assert letter is not None and len(letter.members) == PER_PARTNER
                with Timer() as one:
                    letter_pdf(partner_letter_html(renderer, "zh_CN", letter))
                drawn.append(one.seconds)
        results["pdf_each_s"] = sum(drawn) / len(drawn)
        results["pdf_all_s"] = total.seconds
        show(f"one PDF letter ({PER_PARTNER} members), mean", results["pdf_each_s"], "s")
        show(f"all {PARTNERS} PDF letters", total.seconds, "s")
    return results
