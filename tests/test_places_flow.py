"""/places as members live it: share a location, choose a district, open a map pin."""

from __future__ import annotations

import itertools
import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.botapi import Button, LocalBotApi, Outgoing
from bot.context import LiaisonApplication
from bot.features.places import DISTRICT_MARK, KEYBOARD_DISTRICTS, LISTED_DISTRICTS
from messages.render import Renderer
from storage.db import Database
from storage.models import AuditEvent, Base, LocationReport, Place, PlaceKind
from storage.places import import_places, read_places
from storage.settings import LOCALES
from tests.chat import Person, said, talk
from tests.conftest import START
from tests.factories import make_member, make_place

SAMPLE = Path(__file__).parent.parent / "storage" / "data" / "places.csv"
ZHANG = 9301  # 张伟, Chinese
WANG = 9302  # 王芳, English
STRANGER = 434343  # not registered: places are for anyone who asks

# In Jianghan, a few hundred metres from three places of the sample file.
JIANGHAN = "/loc 30.59 114.27"


@pytest.fixture(autouse=True)
async def members(db: Database) -> None:
    await make_member(db, START, name="张伟", phone="+8613800000001", telegram_user_id=ZHANG)
    await make_member(
        db, START, name="王芳", phone="+8613800000002", telegram_user_id=WANG, locale="en"
    )


async def import_sample(db: Database) -> None:
    async with db.session() as session:
        report = await import_places(
            session, START, read_places(SAMPLE), actor="cli:test", source="places.csv"
        )
    assert report.added == 20


def venues(replies: list[Outgoing]) -> list[dict[str, object]]:
    return [
        {k: r.params[k] for k in ("title", "address", "latitude", "longitude")}
        for r in replies
        if r.method == "sendVenue"
    ]


async def press(who: Person, message: Outgoing, data: str) -> list[Outgoing]:
    """Press a button (maybe an old one) under message."""
    return await who.send_update(who.updates.press(who.user, message, Button("x", data)))


def toasts(api: LocalBotApi) -> list[str]:
    return [str(p["text"]) for m, p in api.calls if m == "answerCallbackQuery" and p.get("text")]


async def test_no_places_imported_yet(
    application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    await talk(
        Person(application, bot_api, ZHANG),
        [("/places", "还没有导入任何党员之家或活动中心"), (JIANGHAN, "暂时无法查找")],
    )
    await talk(
        Person(application, bot_api, WANG),
        [("/places", "No members' homes or activity centres have been imported yet")],
    )


async def test_share_a_location_for_the_nearest_three_in_chinese(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await import_sample(db)
    zhang = Person(application, bot_api, ZHANG)
    await talk(zhang, [("/places", ["找党员之家、活动中心", "共 20 处场所，分布在 3 个区"])])
    [keyboard] = zhang.last
    assert not keyboard.inline
    share, *districts = keyboard.flat_buttons
    assert (share.text, share.request_location) == ("📍 发送我的位置", True)
    assert [b.text for b in districts] == ["🏠 武汉市江汉区", "🏠 上海市闵行区", "🏠 深圳市南山区"]

    await talk(
        zhang,
        [
            (
                JIANGHAN,
                [
                    "离您最近的 3 处场所",
                    "1. 江汉区流动党员服务站（服务站点），距您 404 米",
                    "地址：武汉市江汉区解放大道 1101 号（示例地址）",
                    "开放时间：周一至周五 8:30-17:30",
                    "电话：027-85000002",
                    "2. 万松街道党员之家（党员之家），距您 574 米",
                    "3. 北湖街道党员之家（党员之家），距您 694 米",
                    "您的位置没有被保存",
                ],
            )
        ],
    )
    assert venues(zhang.last) == [
        {
            "title": "江汉区流动党员服务站",
            "address": "武汉市江汉区解放大道 1101 号（示例地址）",
            "latitude": 30.5868,
            "longitude": 114.268,
        },
        {
            "title": "万松街道党员之家",
            "address": "武汉市江汉区青年路 150 号（示例地址）",
            "latitude": 30.59,
            "longitude": 114.264,
        },
        {
            "title": "北湖街道党员之家",
            "address": "武汉市江汉区北湖正街 9 号（示例地址）",
            "latitude": 30.596,
            "longitude": 114.272,
        },
    ]
    # The summary comes first and takes the big buttons away.
    assert zhang.last[0].method == "sendMessage"
    assert "remove_keyboard" in str(zhang.last[0].params["reply_markup"])

    # Farther away, distances are in kilometres with one decimal.
    await talk(
        zhang, [("/loc 30.50 114.20", ["距您 10.1 公里", "距您 10.6 公里", "距您 10.9 公里"])]
    )


async def test_share_a_location_for_the_nearest_three_in_english(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await import_sample(db)
    wang = Person(application, bot_api, WANG)
    await talk(wang, [("/places", ["Find a members' home", "20 places in 3 districts"])])
    assert wang.button_texts[0] == "📍 Share my location"
    await talk(
        wang,
        [
            (
                JIANGHAN,
                [
                    "The 3 places nearest to you",
                    "1. 江汉区流动党员服务站 (service point), 404 m away",
                    "Opening hours: 周一至周五 8:30-17:30",
                    "Phone: 027-85000002",
                    "2. 万松街道党员之家 (members' home), 574 m away",
                    "Your location was not stored",
                ],
            ),
            ("/loc 30.50 114.20", "10.1 km away"),
        ],
    )
    assert len(venues(wang.last)) == 3


async def test_far_from_every_place(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await import_sample(db)
    await talk(
        Person(application, bot_api, ZHANG),
        [("/loc 39.90 116.40", ["您附近 50 公里内没有党员之家或活动中心", "距您 1049.1 公里"])],
    )
    wang = Person(application, bot_api, WANG)
    await talk(wang, [("/loc 39.90 116.40", ["no members' home or activity centre within 50 km"])])
    assert [v["title"] for v in venues(wang.last)] == [
        "江汉经济开发区党员之家",
        "常青街道党员之家",
        "唐家墩街道党员之家",
    ]
    # In Shenzhen, the members' home there is near; Wuhan's are far but not "none near".
    await talk(wang, [("/loc 22.54 113.93", ["The 3 places nearest to you", "驻深圳流动党员之家"])])


async def test_choose_a_district_and_open_a_pin(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await import_sample(db)
    zhang = Person(application, bot_api, ZHANG)
    await talk(
        zhang,
        [
            ("/places", "也可以点一个区"),
            ("🏠 深圳市南山区", ["深圳市南山区：1 处场所", "驻深圳流动党员之家（党员之家）"]),
        ],
    )
    assert zhang.button_texts == ["📍 驻深圳流动党员之家"]
    await zhang.say("1")
    assert venues(zhang.last) == [
        {
            "title": "驻深圳流动党员之家",
            "address": "深圳市南山区科技园南区（示例地址）",
            "latitude": 22.5333,
            "longitude": 113.9305,
        }
    ]
    await talk(
        zhang,
        [
            (
                "/places 江汉",
                ["武汉市江汉区：18 处场所", "1. 万松街道党员之家", "18. 江汉区流动党员服务站"],
            )
        ],
    )
    assert len(zhang.button_texts) == 18

    wang = Person(application, bot_api, WANG)
    await talk(
        wang,
        [
            ("/places", "Or press a district"),
            ("3", ["上海市闵行区: 1 place", "Address: 上海市闵行区莘庄镇（示例地址）"]),
            ("1", "驻上海流动党员之家"),
        ],
    )
    assert [v["title"] for v in venues(wang.last)] == ["驻上海流动党员之家"]


async def test_a_stranger_may_look_too(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await import_sample(db)
    await talk(
        Person(application, bot_api, STRANGER),
        [("/places", "发送我的位置"), (JIANGHAN, "距您 404 米")],
    )


async def test_many_districts_are_an_inline_list(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    for number in range(KEYBOARD_DISTRICTS + 2):
        await make_place(db, START, name=f"第{number}党员之家", district=f"第{number:02d}区")
    zhang = Person(application, bot_api, ZHANG)
    await talk(zhang, [("/places", ["在下一条消息里选择一个区", "或选择一个区（共 10 个）"])])
    keyboard, listing = zhang.last
    assert [b.text for b in keyboard.flat_buttons] == ["📍 发送我的位置"]
    assert listing.inline
    assert len(listing.flat_buttons) == 10
    assert all(len(b.callback_data or "") <= 64 for b in listing.flat_buttons)
    await talk(zhang, [("🏠 第03区", "第03区：1 处场所")])

    # Pressing a district that an import removed since: a toast, nothing else.
    async with db.session() as session:
        await session.execute(Place.__table__.delete().where(Place.district == "第05区"))
    before = len(bot_api.sent)
    await press(zhang, listing, str(listing.flat_buttons[5].callback_data))
    assert len(bot_api.sent) == before
    assert toasts(bot_api)[-1] == "这个区已没有场所，请重新发送 /places。"
    await press(zhang, listing, "places:d:not-a-key")
    assert toasts(bot_api)[-1] == "这个区已没有场所，请重新发送 /places。"
    # A district still there answers.
    replies = await press(zhang, listing, str(listing.flat_buttons[0].callback_data))
    assert "第00区：1 处场所" in said(replies)

    wang = Person(application, bot_api, WANG)
    await talk(wang, [("/places", ["Or choose a district in the next message", "(9 in all)"])])


async def test_very_many_districts_list_the_largest(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    async with db.session() as session:
        for number in range(LISTED_DISTRICTS + 5):
            # District 00 has the most places, then 01, …: the largest are listed.
            for copy in range(2 if number < LISTED_DISTRICTS else 1):
                session.add(
                    Place(
                        name=f"第{number}-{copy}党员之家",
                        kind=PlaceKind.MEMBERS_HOME,
                        address="某路",
                        district=f"第{number:02d}区",
                        latitude=30.5 + number / 100,
                        longitude=114.2,
                        imported_at=START,
                    )
                )
    zhang = Person(application, bot_api, ZHANG)
    await talk(
        zhang, [("/places", "共 55 个，这里列出场所最多的 50 个；其他区请发送 /places 加区名")]
    )
    listing = zhang.last[-1]
    assert [b.text for b in listing.flat_buttons] == [f"🏠 第{n:02d}区" for n in range(50)]
    await talk(zhang, [("/places 第52区", "第52区：1 处场所")])
    await talk(
        Person(application, bot_api, WANG),
        [("/places", "(55 in all; here are the 50 with the most places, for another send")],
    )


async def test_stale_and_forged_pins(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    place = await make_place(db, START)
    wang = Person(application, bot_api, WANG)
    await talk(wang, [("/places 武汉市江汉区", "民意街道党员之家")])
    listing = wang.last[0]
    async with db.session() as session:
        await session.delete(await session.get(Place, place.id))
    for data in (f"places:pin:{place.id}", "places:pin:999999999999", "places:pin:x"):
        before = len(bot_api.sent)
        await press(wang, listing, data)
        assert len(bot_api.sent) == before
        assert toasts(bot_api)[-1] == "This place is no longer listed."


async def test_bad_input_is_answered_and_escaped(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await make_place(
        db,
        START,
        name="<b>党员</b> & 之家",
        kind=PlaceKind.OTHER,
        address="<i>路</i>",
        hours=None,
        phone=None,
    )
    zhang = Person(application, bot_api, ZHANG)
    replies = await zhang.say("/places " + "很长" * 2500)
    text = said(replies)
    assert "没有找到“" + "很长" * 19 + "很…”这个区的场所" in text
    assert "• 武汉市江汉区（1 处）" in text
    assert len(replies[0].text) < 500

    await talk(
        Person(application, bot_api, WANG),
        [("/places <i>Atlantis</i>", ["I found no places in a district called “<i>Atlantis</i>”"])],
    )
    assert "“&lt;i&gt;Atlantis&lt;/i&gt;”" in bot_api.sent[-1].text

    await talk(zhang, [("🏠", "找党员之家、活动中心")])

    replies = await zhang.say("🏠 <b>江汉</b>")
    assert "&lt;b&gt;江汉&lt;/b&gt;" in replies[0].text

    replies = await zhang.say(JIANGHAN)
    assert "&lt;b&gt;党员&lt;/b&gt; &amp; 之家</b>（其他场所）" in replies[0].text
    assert "&lt;i&gt;路&lt;/i&gt;" in replies[0].text
    assert "开放时间" not in said(replies)
    assert venues(replies)[0]["title"] == "<b>党员</b> & 之家"


async def test_help_and_the_menu_offer_places(
    application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    await talk(Person(application, bot_api, ZHANG), [("/help", "/places")])
    menus = [c["command"] for menu in bot_api.commands.values() for c in menu]
    assert "places" in menus


def test_district_buttons_carry_the_mark_in_every_language() -> None:
    renderer = Renderer()
    for locale in LOCALES:
        assert renderer.label(locale, "places.district", name="江汉区").startswith(DISTRICT_MARK)


def numbers_near(text: str, value: float, within: float = 0.001) -> list[str]:
    """Decimal numbers in text within `within` of value, or two whose midpoint is (a box)."""
    numbers = [float(n) for n in re.findall(r"-?\d+\.\d+", text)]
    near = [str(n) for n in numbers if abs(n - value) < within]
    pairs = itertools.pairwise(numbers)
    return near + [f"({a}+{b})/2" for a, b in pairs if abs((a + b) / 2 - value) < within]


async def test_shared_coordinates_are_not_kept_anywhere(
    application: LiaisonApplication,
    bot_api: LocalBotApi,
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The member's exact position: not in the database, the audit log, logs or user data.

    Checked to 0.001° (about 100 m): not only the numbers as sent, but anything close, such
    as the centre of a search box a debug log of the SQL would show.
    """
    await import_sample(db)
    async with db.session() as session:
        audited_before = await session.scalar(select(func.count()).select_from(AuditEvent))
    zhang = Person(application, bot_api, ZHANG)
    # Between places of the sample (none within 0.001° of either number).
    latitude, longitude = 30.6063, 114.2583
    # Everything at DEBUG, SQLAlchemy's log of each statement and its parameters included.
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, "sqlalchemy.engine"):
        await talk(
            zhang,
            [
                ("/places", "发送我的位置"),
                (f"/loc {latitude} {longitude}", "1. 唐家墩街道党员之家"),
            ],
        )

    def leaks(text: str) -> list[str]:
        return numbers_near(text, latitude) + numbers_near(text, longitude)

    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(LocationReport)) == 0
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == audited_before
        # No row of any table holds the shared numbers.
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).all()
            assert leaks(repr(rows)) == [], table.name

    logged = [record.getMessage() for record in caplog.records]
    assert any("FROM places" in line for line in logged)  # the search's SQL was logged
    assert [leak for line in logged for leak in leaks(line)] == []

    kept = repr(vars(application.user_data[ZHANG])) + repr(application.chat_data.get(ZHANG))
    assert leaks(kept + repr(vars(application.bot_data))) == []

    # The bot sent the places' coordinates back, never the member's.
    assert leaks(repr(bot_api.calls)) == []
    assert venues(zhang.last)[0]["latitude"] == 30.614


async def test_a_location_inside_a_check_in_stays_with_the_check_in(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    await import_sample(db)
    zhang = Person(application, bot_api, ZHANG)
    await zhang.say("/checkin")
    if "同意" in zhang.last_text:  # consent first, as the check-in asks it
        await zhang.say("1")
    replies = await zhang.say(JIANGHAN)
    assert not venues(replies)
    assert "离您最近" not in said(replies)
    assert re.search("工作|位置|地点|武汉", said(replies))
