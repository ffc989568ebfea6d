"""A sample district for `liaison demo` and `make run`: units, groups, members, staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import directory
from storage.checkins import Whereabouts, record_checkin
from storage.members import import_roster, member_by_phone
from storage.models import (
    Consent,
    Group,
    GroupKind,
    PartnerOrganisation,
    PartnerSide,
    Place,
    StaffRole,
    StudyMaterial,
    StudySchedule,
    WorkSituation,
)
from storage.places import SAMPLE_PLACES, import_places, read_places
from storage.regions import default_index
from storage.roster import ParsedRoster, RosterRow
from storage.study import list_materials

# The terminal chat talks as this Telegram account unless told otherwise.
SAMPLE_MEMBER_TELEGRAM_ID = 10001
SAMPLE_MEMBER_PHONE = "+8613871000001"
ADMIN_TELEGRAM_ID = 20000
LIAISON_TELEGRAM_IDS = (20001, 20002)

DISTRICT = "江汉区委组织部"
UNITS = (
    ("民族街道党工委", DISTRICT),
    ("花楼街道党工委", DISTRICT),
    ("万松街道党工委", DISTRICT),
    ("民意街道党工委", DISTRICT),
)

GROUPS = (
    ("泛海国际大厦楼宇党小组", GroupKind.WORKPLACE, "民族街道党工委"),
    ("汉正街市场党小组", GroupKind.WORKPLACE, "花楼街道党工委"),
    ("律师行业党小组", GroupKind.TRADE, "万松街道党工委"),
    ("驻深圳流动党员党小组", GroupKind.DESTINATION, "民意街道党工委"),
    ("青年流动党员联络群", GroupKind.OTHER, DISTRICT),
)


@dataclass(frozen=True, slots=True)
class _Person:
    name: str
    phone: str
    status: str
    unit: str
    origin: str | None
    destination: str | None
    groups: tuple[str, ...]
    workplace: str | None = None
    trade: str | None = None


_SZ = "驻深圳流动党员党小组"
_YOUTH = "青年流动党员联络群"
MEMBERS = (
    _Person(
        "张伟",
        SAMPLE_MEMBER_PHONE,
        "outflow",
        "民意街道党工委",
        "武汉市江汉区",
        "深圳市南山区",
        (_SZ, _YOUTH),
        "深圳某科技公司",
        "软件",
    ),
    _Person(
        "王芳",
        "+8613871000002",
        "outflow",
        "民意街道党工委",
        "武汉市江汉区",
        "深圳市福田区",
        (_SZ,),
        "福田区某贸易公司",
        "商贸",
    ),
    _Person(
        "李强",
        "+8613871000003",
        "outflow",
        "民意街道党工委",
        "武汉市江汉区",
        "深圳市宝安区",
        (_SZ, _YOUTH),
        "宝安区某电子厂",
        "制造",
    ),
    _Person(
        "刘洋",
        "+8613871000004",
        "outflow",
        "民族街道党工委",
        "武汉市江汉区",
        "广州市天河区",
        (_YOUTH,),
        "天河区某物流公司",
        "物流",
    ),
    _Person(
        "陈静",
        "+8613871000005",
        "outflow",
        "花楼街道党工委",
        "武汉市江汉区",
        "上海市浦东新区",
        (),
        "浦东某金融公司",
        "金融",
    ),
    _Person(
        "杨磊",
        "+8613871000006",
        "outflow",
        "万松街道党工委",
        "武汉市江汉区",
        "北京市海淀区",
        (_YOUTH,),
        "海淀区某研究所",
        "科研",
    ),
    _Person(
        "赵敏",
        "+8613871000007",
        "outflow",
        "民意街道党工委",
        "武汉市江汉区",
        "深圳市龙岗区",
        (_SZ,),
        "龙岗区某医院",
        "医疗",
    ),
    _Person(
        "黄勇",
        "+8613871000008",
        "inflow",
        "民族街道党工委",
        "湖北省孝感市",
        "武汉市江汉区",
        ("泛海国际大厦楼宇党小组",),
        "泛海国际大厦某律所",
        "法律",
    ),
    _Person(
        "周丽",
        "+8613871000009",
        "inflow",
        "民族街道党工委",
        "湖北省黄冈市",
        "武汉市江汉区",
        ("泛海国际大厦楼宇党小组",),
        "泛海国际大厦某茶业公司",
        "茶叶",
    ),
    _Person(
        "吴刚",
        "+8613871000010",
        "inflow",
        "花楼街道党工委",
        "浙江省温州市",
        "武汉市江汉区",
        ("汉正街市场党小组",),
        "汉正街服装批发市场",
        "商贸",
    ),
    _Person(
        "徐娟",
        "+8613871000011",
        "inflow",
        "花楼街道党工委",
        "福建省泉州市",
        "武汉市江汉区",
        ("汉正街市场党小组",),
        "汉正街小商品市场",
        "商贸",
    ),
    _Person(
        "孙杰",
        "+8613871000012",
        "inflow",
        "花楼街道党工委",
        "河南省信阳市",
        "武汉市江汉区",
        ("汉正街市场党小组",),
        "汉正街鞋业市场",
        "商贸",
    ),
    _Person(
        "胡斌",
        "+8613871000013",
        "inflow",
        "万松街道党工委",
        "湖南省长沙市",
        "武汉市江汉区",
        ("律师行业党小组",),
        "万松园某律师事务所",
        "法律",
    ),
    _Person(
        "朱琳",
        "+8613871000014",
        "inflow",
        "万松街道党工委",
        "江西省九江市",
        "武汉市江汉区",
        ("律师行业党小组",),
        "万松园某律师事务所",
        "法律",
    ),
    _Person(
        "高峰",
        "+8613871000015",
        "inflow",
        "民族街道党工委",
        "安徽省安庆市",
        "武汉市江汉区",
        ("泛海国际大厦楼宇党小组",),
        "泛海国际大厦某诊所",
        "医疗",
    ),
    _Person(
        "林涛",
        "+8613871000016",
        "local",
        "民族街道党工委",
        None,
        None,
        ("泛海国际大厦楼宇党小组",),
        "泛海国际大厦物业",
        "物业",
    ),
    _Person(
        "何敏",
        "+8613871000017",
        "local",
        "花楼街道党工委",
        None,
        None,
        ("汉正街市场党小组",),
        "汉正街市场管理处",
        "管理",
    ),
    _Person(
        "郭亮",
        "+8613871000018",
        "local",
        "万松街道党工委",
        None,
        None,
        ("律师行业党小组",),
        "万松街道社区",
        "社区",
    ),
    _Person(
        "马超",
        "+8613871000019",
        "outflow",
        "民意街道党工委",
        "武汉市江汉区",
        "德国柏林",
        (_YOUTH,),
        "柏林某汽车公司",
        "制造",
    ),
    _Person(
        "罗兰",
        "+8613871000020",
        "outflow",
        "民意街道党工委",
        "武汉市江汉区",
        "深圳市南山区",
        (_SZ, _YOUTH),
        "南山区某互联网公司",
        "互联网",
    ),
)

STAFF = (
    (ADMIN_TELEGRAM_ID, "钱主任", StaffRole.ADMIN, (), ()),
    (LIAISON_TELEGRAM_IDS[0], "郑联络", StaffRole.LIAISON, (_SZ, _YOUTH), ()),
    (
        LIAISON_TELEGRAM_IDS[1],
        "冯联络",
        StaffRole.LIAISON,
        (),
        ("民族街道党工委", "花楼街道党工委"),
    ),
)


# phone → (Telegram id to bind, consent, months ago of each past check-in, place typed).
HISTORY: dict[str, tuple[int, Consent, tuple[int, ...], str]] = {
    "+8613871000002": (10002, Consent.GIVEN, (1, 2, 3), "深圳市福田区"),
    "+8613871000003": (10003, Consent.GIVEN, (2, 3, 4), "深圳市宝安区"),
    "+8613871000004": (10004, Consent.DECLINED, (7, 8), "广州"),
    "+8613871000007": (10007, Consent.GIVEN, (0, 1, 2), "深圳市龙岗区"),
    "+8613871000019": (10019, Consent.GIVEN, (1,), "德国柏林"),
    "+8613871000020": (10020, Consent.GIVEN, (0, 1), "深圳市南山区"),
}


def _months_before(now: datetime, months: int, zone: ZoneInfo) -> datetime:
    """Now for 0; otherwise 10:00 on the 10th of the calendar month `months` back."""
    if months == 0:
        return now
    local = now.astimezone(zone)
    index = local.year * 12 + local.month - 1 - months
    return datetime(index // 12, index % 12 + 1, 10, 10, tzinfo=zone)


async def _history(session: AsyncSession, now: datetime) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    regions = default_index()
    for phone, (telegram_id, consent, months, place) in HISTORY.items():
        member = await member_by_phone(session, phone)
        if member is None:
            continue
        member.telegram_user_id = telegram_id
        member.bound_at = now - timedelta(days=400)
        member.registered_at = now - timedelta(days=400)
        member.consent = consent
        member.consent_at = member.bound_at
        if phone == "+8613871000019":
            member.timezone = "Europe/Berlin"  # gone abroad: months end in Berlin time
        for months_ago in sorted(months, reverse=True):
            await record_checkin(
                session,
                _months_before(now, months_ago, zone),
                member_id=member.id,
                zone=zone,
                location=Whereabouts.typed(place, regions.resolve_text(place)),
                work_situation=WorkSituation.STABLE,
            )


async def load_demo(session: AsyncSession, now: datetime) -> bool:
    """Load the sample district; running it again changes nothing. True if anything was new."""
    changed = False
    _, created = await directory.add_unit(session, now, DISTRICT)
    changed |= created
    for name, parent in UNITS:
        _, created = await directory.add_unit(session, now, name, parent=parent)
        changed |= created
    for name, kind, unit in GROUPS:
        _, created = await directory.add_group(session, now, name, kind=kind, unit=unit)
        changed |= created
    rows = tuple(
        RosterRow(
            row_number=index,
            name=p.name,
            phone=p.phone,
            status=p.status,
            home_unit=p.unit,
            origin=p.origin,
            destination=p.destination,
            groups=p.groups,
            workplace=p.workplace,
            trade=p.trade,
        )
        for index, p in enumerate(MEMBERS, start=2)
    )
    report = await import_roster(
        session,
        now,
        ParsedRoster(rows=rows, errors=()),
        actor="demo",
        source="demo",
        audit_no_change=False,
    )
    if report.errors:  # the sample data is ours: an error here is a bug
        raise RuntimeError(f"demo roster rejected: {report.errors}")
    changed |= report.created > 0 or report.updated > 0
    if report.created:
        # A district with a past: some members bound and checking in, some silent for months.
        await _history(session, now)
    sample = await member_by_phone(session, SAMPLE_MEMBER_PHONE)
    if sample is not None and sample.telegram_user_id is None:
        # The terminal chat is this member, so `make run` can check in straight away.
        sample.telegram_user_id = SAMPLE_MEMBER_TELEGRAM_ID
        sample.bound_at = now
        changed = True
    for telegram_id, name, role, groups, units in STAFF:
        _, created = await directory.add_staff(
            session,
            now,
            telegram_user_id=telegram_id,
            name=name,
            role=role,
            groups=groups,
            units=units,
        )
        changed |= created
    changed |= await _study(session, now)
    changed |= await _places(session, now)
    changed |= await _partners(session, now)
    return changed


# Partner organisations of the two-way agreements, so `liaison report letters` and the
# console's letters page have someone to write to in `make run`.
PARTNERS = (
    ("中共深圳市南山区委组织部", "广东省深圳市", PartnerSide.DESTINATION, "深圳市南山区南头街道"),
    ("中共温州市委组织部", "浙江省温州市", PartnerSide.ORIGIN, "温州市鹿城区市府路"),
    ("中共信阳市委组织部", "河南省信阳市", PartnerSide.ORIGIN, "信阳市浉河区新七大道"),
)


async def _partners(session: AsyncSession, now: datetime) -> bool:
    """Sample partner organisations, only when there are none (rows, not audited staff
    actions, like the sample library)."""
    if await session.scalar(select(PartnerOrganisation.id).limit(1)) is not None:
        return False
    index = default_index()
    for name, region, side, address in PARTNERS:
        found = index.resolve_text(region)
        if found is None:  # the sample data is ours: an error here is a bug
            raise RuntimeError(f"sample partner region not found: {region}")
        session.add(
            PartnerOrganisation(
                name=name,
                adcode=found.adcode,
                side=side,
                address=address,
                created_at=now,
                updated_at=now,
            )
        )
    await session.flush()
    return True


async def _places(session: AsyncSession, now: datetime) -> bool:
    """The sample members' homes and activity centres, so /places answers in `make run`."""
    if await session.scalar(select(Place.id).limit(1)) is not None:
        return False
    report = await import_places(
        session, now, read_places(SAMPLE_PLACES), actor="demo", source="demo"
    )
    if not report.ok:  # the sample file is ours: an error here is a bug
        raise RuntimeError(f"sample places rejected: {report.errors}")
    return report.added > 0


# The mobile party school: a small library, pushed to the Shenzhen group every Monday evening.
STUDY_MATERIALS = (
    (
        "党章学习：党员的八项义务",
        "党章规定，党员必须履行八项义务：认真学习，全心全意为人民服务，"
        "坚决执行党的决定，维护党的团结统一，切实开展批评和自我批评，"
        "密切联系群众，发扬社会主义新风尚，在危难时刻挺身而出。\n\n"
        "外出务工经商期间，请结合自己的工作，想一想每一条义务怎样落到实处。",
        ("党章", "必修"),
    ),
    (
        "流动党员须知：双联双管",
        "流出地和流入地党组织共同联系、共同管理流动党员。\n\n"
        "到达新的城市后，请尽快向当地党组织报到；地址、单位或手机号有变化，"
        "请及时在机器人里报到（/checkin）。每月报到一次，失联六个月将被标为失联党员。",
        ("流动党员", "必修"),
    ),
    (
        "江汉区流动党员服务指南（摘要）",
        "区里各部门为流动党员提供二十多项服务：商铺续租、居住登记、就业推荐、"
        "法律援助、子女入学等。需要帮助时，请联系您的联络员。",
        ("服务",),
    ),
)


async def _study(session: AsyncSession, now: datetime) -> bool:
    """Sample study materials and a weekly push, only into an empty library.

    Written as rows (like the sample staff), not through storage.study: sample data is
    not a staff action to audit.
    """
    if await list_materials(session, include_archived=True, limit=1):
        return False
    for minutes, (title, body, tags) in enumerate(STUDY_MATERIALS):
        # A minute apart: the weekly push sends them in this order.
        session.add(
            StudyMaterial(
                title=title,
                body=body,
                tags=",".join(tags),
                created_by="demo",
                created_at=now + timedelta(minutes=minutes),
            )
        )
    group = await session.scalar(select(Group).where(Group.name == _SZ))
    if group is not None:
        session.add(
            StudySchedule(
                group_id=group.id,
                weekday=0,
                at_time="19:00",
                active=True,
                created_by="demo",
                created_at=now,
            )
        )
    await session.flush()
    return True
