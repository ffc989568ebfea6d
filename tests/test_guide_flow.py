"""/guide: members, staff and strangers browse the service guide, in Chinese and English."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from telegram.constants import MessageLimit

from bot.botapi import BotApiError, Button, LocalBotApi, Outgoing
from bot.context import LiaisonApplication
from bot.terminal import html_to_text
from messages.guide import measure_view
from messages.render import Renderer
from messages.split import split_html
from storage.catalogue import FIELDS, MAX_DOCUMENTS, set_active, set_fields
from storage.db import Database
from storage.models import ServiceCategory, ServiceDepartment, ServiceMeasure
from tests.chat import Person, said, talk
from tests.conftest import START
from tests.factories import make_catalogue, make_member, make_staff

ZHANG = 9301  # 张伟, a member, Chinese
WANG = 9302  # 王芳, a member who reads English
LIAISON_EN = 9303  # Li Wei, a liaison who reads English
STRANGER = 9399  # not registered


@pytest.fixture(autouse=True)
async def district(db: Database) -> None:
    await make_catalogue(db, START)
    await make_member(db, START, name="张伟", phone="+8613800000001", telegram_user_id=ZHANG)
    await make_member(
        db, START, name="王芳", phone="+8613800000002", telegram_user_id=WANG, locale="en"
    )
    await make_staff(db, START, telegram_user_id=LIAISON_EN, name="Li Wei", locale="en")


def toast(api: LocalBotApi) -> str | None:
    """The text of the last answer to a button press, if it had one."""
    answers = [params for method, params in api.calls if method == "answerCallbackQuery"]
    return answers[-1].get("text") if answers else None


def showing(api: LocalBotApi, message: Outgoing) -> str:
    """What message says now, edits included, as the member reads it."""
    return html_to_text(api.current[(message.chat_id, message.message_id)][0])


async def press(who: Person, message: Outgoing, data: str) -> list[Outgoing]:
    """Press a button (maybe an old or forged one) under message."""
    return await who.send_update(who.updates.press(who.user, message, Button("x", data)))


async def test_a_member_finds_what_to_bring_for_residence_registration(
    application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    zhang = Person(application, bot_api, ZHANG)
    await talk(zhang, [("/guide", ["江汉区流动党员服务指南", "请选择查找方式"])])
    assert zhang.button_texts == ["🏛 按部门查找", "🙋 按需求查找"]
    guide = zhang.last[-1]
    await talk(
        zhang,
        [
            (
                "🏛 按部门查找",
                [
                    "按部门查找",
                    "1. 江汉区商务局",
                    "2. 江汉区公安分局人口管理科",
                    "11. 江汉区总工会",
                ],
            ),
            (
                "2. 江汉区公安分局人口管理科",
                [
                    "江汉区公安分局人口管理科",
                    "地址：江汉区新华路216号",
                    "办公时间：周一至周六",
                    "1. 流入人员居住登记（3 天内答复）",
                    "2. 办理、签注居住证（15 天内答复）",
                ],
            ),
            (
                "1. 流入人员居住登记",
                [
                    "流入人员居住登记",
                    "江汉区公安分局人口管理科 · 居住登记",
                    "承办：居住地派出所户籍窗口",
                    "需带材料：\n• 身份证\n• 房屋租赁合同或房屋所有权证明\n• 近期免冠照片1张",
                    "办理地点：居住地派出所户籍窗口",
                    "办公时间：周一至周六 9:00–12:00，14:00–17:00",
                    "联系电话：027-85602202",
                    "答复时限：3 天内",
                    "/request",
                ],
            ),
        ],
    )
    # Every page replaced the first message: the chat holds one guide, not four.
    assert {o.method for o in zhang.last} == {"editMessageText"}
    assert zhang.last[-1].message_id == guide.message_id
    assert zhang.button_texts == ["⬅️ 返回", "📘 服务指南首页"]
    # Back, level by level, to the first page.
    await talk(
        zhang,
        [
            ("⬅️ 返回", "本部门的服务措施"),
            ("⬅️ 返回", "请选择部门"),
            ("⬅️ 返回", "请选择查找方式"),
        ],
    )


async def test_an_english_reader_finds_schooling_by_need(
    application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    wang = Person(application, bot_api, WANG)
    await talk(
        wang,
        [
            ("/guide", ["Service guide for mobile members", "How would you like to look?"]),
            (
                "🙋 By need",
                ["By need", "1. Shop lease renewal", "5. Children's schooling", "6. Other"],
            ),
            (
                "5. Children's schooling",
                [
                    "Services that can help:",
                    "1. School places for children who moved with you"
                    " (Jianghan District Education Bureau)",
                ],
            ),
            (
                "1. School places for children who move…",
                [
                    "Jianghan District Education Bureau · Children's schooling",
                    "What to bring:",
                    "• the child's vaccination record",
                    "Where to go: Education Bureau, ground floor, school places window",
                    "Hours: Mon–Fri 9:00–12:00, 13:30–17:30",
                    "Phone: 027-85604404",
                    "Answer within: 15 days",
                    "Send /request",
                ],
            ),
            # Back from a card found by need goes to the need, not to the department.
            ("⬅️ Back", "Services that can help"),
            ("⬅️ Back", "what do you need help with?"),
        ],
    )
    # A card shows nothing in Chinese to an English reader.
    assert "需带材料" not in wang.last_text


async def test_staff_and_strangers_read_the_guide_too(
    application: LiaisonApplication, bot_api: LocalBotApi
) -> None:
    liaison = Person(application, bot_api, LIAISON_EN)
    await talk(
        liaison,
        [
            ("/guide", "Service guide"),
            ("🏛 By department", "Choose a department"),
            (
                "5. Jianghan District Justice Bureau",
                ["Phone: 12348", "3. Free legal advice (answer within 3 days)"],
            ),
            ("3. Free legal advice", ["Handled by: Duty lawyers", "Answer within: 3 days"]),
            ("📘 Guide home", "How would you like to look?"),
        ],
    )
    stranger = Person(application, bot_api, STRANGER, name="Visitor")
    await talk(
        stranger,
        [
            ("/guide", "江汉区流动党员服务指南"),
            ("🙋 按需求查找", "您需要哪方面的帮助"),
            (
                "1. 商铺租赁续签",
                ["市场商铺租赁续签协调（江汉区商务局）", "续租、换铺后的营业执照变更"],
            ),
            (
                "3. 续租、换铺后的营业执照变更",
                ["营业执照正、副本", "区政务服务中心2楼 市场监管窗口（12号）"],
            ),
        ],
    )
    # /lang switches the guide with everything else.
    await talk(stranger, [("/lang", None), ("English", None), ("/guide", "How would you like")])
    assert stranger.button_texts == ["🏛 By department", "🙋 By need"]


async def test_deactivated_entries_and_stale_buttons_get_a_clear_answer(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    zhang = Person(application, bot_api, ZHANG)
    await talk(
        zhang,
        [
            ("/guide", None),
            ("🏛 按部门查找", None),
            ("3. 江汉区人力资源和社会保障局（劳动就业）", "欠薪投诉与劳动保障监察"),
        ],
    )
    labour_page = zhang.last[-1]
    wage_button = next(b for b in zhang.buttons if "欠薪" in b.text)
    # An administrator stops offering the wage-arrears measure meanwhile.
    async with db.session() as session:
        await set_active(session, START, "wage-arrears", False, actor="cli:test")
    replies = await zhang.send_update(zhang.updates.press(zhang.user, labour_page, wage_button))
    assert toast(bot_api) == "这一项已不在服务指南中，已为您显示最新的目录。"
    # The department again, without the measure.
    assert "就业岗位推荐" in said(replies)
    assert "欠薪" not in said(replies)

    # A department that is gone altogether: the list of departments.
    async with db.session() as session:
        labour = await session.scalar(
            select(ServiceDepartment.id).where(ServiceDepartment.code == "labour")
        )
        await set_active(session, START, "labour", False, actor="cli:test")
    replies = await press(zhang, labour_page, f"guide:d:{labour}")
    assert toast(bot_api) == "这一项已不在服务指南中，已为您显示最新的目录。"
    assert "请选择部门" in said(replies)
    assert "人力资源" not in said(replies)
    # An old card of a measure under it, with "back" to it: the list as well.
    async with db.session() as session:
        jobs = await session.scalar(
            select(ServiceMeasure.id).where(ServiceMeasure.code == "job-matching")
        )
    replies = await press(zhang, labour_page, f"guide:m:{jobs}:d{labour}")
    # The list is on that message already: it stays as it is (Telegram refuses an edit that
    # changes nothing, and the bot takes that as done).
    assert replies == []
    assert "请选择部门" in showing(bot_api, labour_page)

    # Ids that never existed, and data no version of the guide makes.
    for data in ("guide:c:99999", "guide:m:99999:c99999"):
        replies = await press(zhang, labour_page, data)
        assert toast(bot_api) == "这一项已不在服务指南中，已为您显示最新的目录。"
        assert "您需要哪方面的帮助" in showing(bot_api, labour_page)
    for data in (
        "guide:",
        "guide:d:abc",
        "guide:m:1:x",
        "guide:d:1:2:3",
        "guide:d:²",
        "guide:" + "9" * 40,
    ):
        replies = await press(zhang, labour_page, data)
        assert toast(bot_api) == "这个按钮已经失效，已为您打开服务指南首页。"
        assert "请选择查找方式" in showing(bot_api, labour_page)


async def test_catalogue_text_is_shown_as_written_never_as_markup(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    async with db.session() as session:
        await set_fields(
            session,
            START,
            "legal-aid",
            [("title_en", "Legal aid <b>& more</b>"), ("documents_en", "ID card|<i>proof</i>")],
            actor="cli:test",
        )
    wang = Person(application, bot_api, WANG)
    await talk(
        wang,
        [
            ("/guide", None),
            ("🏛 By department", None),
            ("5. Jianghan District Justice Bureau", "1. Legal aid <b>& more</b>"),
            ("1. Legal aid <b>& more</b>", ["Legal aid <b>& more</b>", "• <i>proof</i>"]),
        ],
    )
    assert "&lt;b&gt;&amp; more&lt;/b&gt;" in wang.last[-1].text
    assert "<i>" not in wang.last[-1].text


async def test_an_empty_guide_says_so(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    async with db.session() as session:
        for department in await session.scalars(select(ServiceDepartment)):
            await set_active(session, START, department.code, False, actor="cli:test")
    wang = Person(application, bot_api, WANG)
    await talk(wang, [("/guide", None), ("🏛 By department", "The service guide is empty for now")])
    # A need without any measure (all were deactivated with their departments).
    await talk(
        wang,
        [("⬅️ Back", None), ("🙋 By need", None), ("6. Other", "No particular service is listed")],
    )
    zhang = Person(application, bot_api, ZHANG)
    await talk(
        zhang,
        [
            ("/guide", None),
            ("🏛 按部门查找", "服务指南暂时还没有内容"),
            ("⬅️ 返回", None),
            ("🙋 按需求查找", None),
            ("6. 其他", "这一类需求暂时没有列出具体的服务措施"),
        ],
    )


async def test_a_department_without_measures_and_a_page_pressed_twice(
    application: LiaisonApplication, bot_api: LocalBotApi, db: Database
) -> None:
    async with db.session() as session:
        await set_active(session, START, "licence-change", False, actor="cli:test")
    for user, expected in ((ZHANG, "这个部门目前没有列出服务措施"), (WANG, "lists no services")):
        reader = Person(application, bot_api, user)
        await talk(reader, [("/guide", None), ("1", None), ("10", expected)])
        page = reader.last[-1]
        # The same button again (a double tap): Telegram refuses the edit; nothing is sent.
        bot_api.fail_next(
            "editMessageText",
            BotApiError(400, "Bad Request: message is not modified: specified new message"),
        )
        replies = await press(reader, page, "guide:deps")
        assert replies == []
        # A message too old to edit: the page comes as a new message.
        bot_api.fail_next(
            "editMessageText", BotApiError(400, "Bad Request: message can't be edited")
        )
        replies = await press(reader, page, "guide:deps")
        assert [o.method for o in replies] == ["sendMessage"]
        assert reader.button_texts[0].startswith("1. ")


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_the_longest_card_the_catalogue_allows_fits_one_message(locale: str) -> None:
    """The catalogue's length limits keep every card within one Telegram message."""
    limits = {f.name: f.limit for f in FIELDS["measure"]}
    department = ServiceDepartment(
        code="d", name_zh="部" * 100, name_en="D" * 100, hours_zh="时" * 200, hours_en="h" * 200
    )
    category = ServiceCategory(code="c", name_zh="类" * 100, name_en="C" * 100)
    row = ServiceMeasure(code="m", target_days=365, contact="9" * limits["contact"])
    for name, limit in limits.items():
        if name.endswith(("_zh", "_en")):
            if name.startswith("documents"):
                value = "\n".join(["&" * limit] * MAX_DOCUMENTS)
            else:
                value = "<" * limit  # escaped: four characters each
            setattr(row, name, value)
    row.department = department
    row.category = category
    text = Renderer().render(locale, "guide/measure", measure=measure_view(row, locale))
    assert len(html_to_text(text)) > 3000
    # As Telegram counts (escapes as one character each), and as the guide decides to edit.
    assert len(html_to_text(text)) <= MessageLimit.MAX_TEXT_LENGTH
    assert split_html(text) == [text]
