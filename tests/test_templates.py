"""Every member-facing text exists in both languages and is valid Telegram HTML."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from messages.render import Renderer, normalize_locale
from messages.split import split_html
from storage.calendar import CycleRule

ALLOWED_TAGS = {"b", "i", "u", "s", "code", "pre", "a", "blockquote", "tg-spoiler"}
TAG = re.compile(r"</?\s*([a-zA-Z-]+)")


def test_both_languages_have_the_same_templates_and_labels(renderer: Renderer) -> None:
    assert renderer.template_names("zh_CN") == renderer.template_names("en")
    assert renderer.template_names("zh_CN", "txt") == renderer.template_names("en", "txt")
    assert renderer.template_names("zh_CN"), "no templates found"
    features = {p.stem for p in Path("messages/locales/zh_CN").glob("*.toml")} | {
        p.stem for p in Path("messages/locales/en").glob("*.toml")
    }
    for feature in features:
        assert set(renderer.labels("zh_CN", feature)) == set(renderer.labels("en", feature)), (
            feature
        )


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_templates_use_only_tags_telegram_accepts(renderer: Renderer, locale: str) -> None:
    for name in renderer.template_names(locale):
        source, _, _ = renderer.env.loader.get_source(renderer.env, f"{locale}/{name}.html")  # type: ignore[union-attr]
        tags = set(TAG.findall(source))
        assert tags <= ALLOWED_TAGS, f"{locale}/{name}: {tags - ALLOWED_TAGS}"


def test_chinese_addresses_the_reader_as_nin() -> None:
    """The reader is 您 in every Chinese text: templates, button labels and the sample guide."""
    root = Path(__file__).resolve().parent.parent
    files = [
        *(root / "messages/templates/zh_CN").rglob("*.*"),
        *(root / "messages/locales/zh_CN").glob("*.toml"),
        root / "storage/demo.py",
    ]
    assert len(files) > 100
    familiar = [
        f"{path}: {line.strip()}"
        for path in files
        for line in path.read_text("utf-8").splitlines()
        if "你" in line
    ]
    assert familiar == []


def test_no_line_of_text_runs_into_the_next() -> None:
    """trim_blocks eats the newline after a block tag: a line of text that ends in one
    ("…{% endif %}") is joined to the next line unless a blank line follows it."""
    root = Path(__file__).resolve().parent.parent / "messages/templates"
    joined = []
    for path in root.rglob("*.*"):
        lines = path.read_text("utf-8").splitlines()
        for number, (line, after) in enumerate(itertools.pairwise(lines), start=1):
            text, following = line.strip(), after.strip()
            if (
                text.endswith("%}")
                and not re.fullmatch(r"(\{%[^%]*%\}\s*)+", text)  # a line of tags only
                and following
                and not following.startswith("{%")
            ):
                joined.append(f"{path.relative_to(root)}:{number}: {text}")
    assert joined == []


def test_the_staff_alert_of_an_unhappy_member_has_one_fact_a_line(renderer: Renderer) -> None:
    text = renderer.render(
        "en",
        "requests/staff_feedback",
        follow_up=False,
        id=7,
        member="杨磊",
        category="Employment",
        solved=False,
        satisfaction=1,
        comment="<b>busy</b>",
        assignee="郑联络",
    )
    assert text.splitlines()[:2] == [
        "👎 The member is not satisfied with service request <b>#7</b>:",
        "Member: 杨磊",
    ]
    assert "Comment: &lt;b&gt;busy&lt;/b&gt;" in text


def test_the_schedule_names_the_reminder_dates(renderer: Renderer) -> None:
    rule = CycleRule(prompt_day=1, reminder_days=(1, 2, 10, 20, 21), escalation_day=25)
    cycle = SimpleNamespace(rule=rule, group_name="律师行业党小组")
    zh = renderer.render("zh_CN", "cycle/schedule_group", cycle=cycle, own=True, saved=False)
    en = renderer.render("en", "cycle/schedule_group", cycle=cycle, own=True, saved=False)
    assert "2 日、3 日、11 日、21 日、22 日再次提醒" in zh
    assert "reminders on the 2nd, 3rd, 11th, 21st and 22nd;" in en


def test_a_late_comment_is_said_not_to_have_been_passed_on(renderer: Renderer) -> None:
    # The conversation is in tests/test_request_flow.py (in Chinese); English says the same.
    zh = renderer.render("zh_CN", "requests/feedback/expired", id=7)
    en = renderer.render("en", "requests/feedback/expired", id=7)
    assert "没有作为对服务申请 #7 的意见转出" in zh and "/request" in zh
    assert "not passed on as your comment on service request #7" in en and "/request" in en


def test_member_text_is_escaped(renderer: Renderer) -> None:
    html = renderer.render("zh_CN", "fallback/unknown_command", command="/x<b>&")
    assert "/x&lt;b&gt;&amp;" in html


def test_locales_are_normalised() -> None:
    assert normalize_locale("zh-hans") == "zh_CN"
    assert normalize_locale("en-GB") == "en"
    assert normalize_locale(None) == "zh_CN"
    assert normalize_locale("fr", "en") == "en"


def test_long_replies_are_split_under_the_limit_with_tags_balanced() -> None:
    paragraph = "<b>第{n}段</b> " + "字" * 900
    html = "\n\n".join(paragraph.format(n=n) for n in range(12))
    parts = split_html(html)
    assert len(parts) > 1
    for part in parts:
        visible = re.sub(r"<[^>]+>", "", part)
        assert len(visible) <= 4096
        assert part.count("<b>") == part.count("</b>")
    assert "".join(re.sub(r"<[^>]+>|\s", "", p) for p in parts) == re.sub(r"<[^>]+>|\s", "", html)


def test_a_single_huge_paragraph_is_cut_and_tags_reopened() -> None:
    html = "<i>" + "a&amp;" * 3000 + "</i>"
    parts = split_html(html)
    assert len(parts) == 2
    assert parts[0].startswith("<i>")
    assert parts[0].endswith("</i>")
    assert parts[1].startswith("<i>")
    assert all("&am" not in p.replace("&amp;", "") for p in parts)
