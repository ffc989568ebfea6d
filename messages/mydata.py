"""A member's copy of their data as files: JSON (complete, machine-readable) and a readable
HTML page in their language (PIPL Art. 45)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from messages.render import Renderer, normalize_locale
from storage.mydata import MemberData, as_json

# A whole HTML document, not a Telegram message: not named .html, whose templates may use
# only Telegram's tags. Autoescaped all the same.
PAGE_TEMPLATE = "mydata/page.html.jinja"

# The labels of other features the summary and the page take their words from (one word
# per concept: a request's status reads the same here as in /myrequests).
WORD_FEATURES = (
    "mydata",
    "where",
    "checkin",
    "requests",
    "certificates",
    "ideas",
    "rights",
    "activities",
)


def words(renderer: Renderer, locale: str) -> dict[str, Mapping[str, str]]:
    """The labels the summary and the page pick words from, by feature."""
    return {feature: renderer.labels(locale, feature) for feature in WORD_FEATURES}


def view_what(record: str) -> tuple[str, str]:
    """ "request:12" → ("request", "12"): which kind of record was seen, and its number."""
    kind, _, number = record.partition(":")
    return kind, number


def data_json(data: MemberData) -> bytes:
    """The JSON file: UTF-8, Chinese kept readable, indented."""
    return json.dumps(as_json(data), ensure_ascii=False, indent=2).encode()


def data_page(renderer: Renderer, locale: str, data: MemberData, zone: tzinfo) -> bytes:
    """The readable HTML page, in locale, moments in zone."""
    locale = normalize_locale(locale)
    template = renderer.env.get_template(f"{locale}/{PAGE_TEMPLATE}")
    html = template.render(locale=locale, **context(renderer, locale, data, zone))
    return html.encode()


def context(renderer: Renderer, locale: str, data: MemberData, zone: tzinfo) -> dict[str, Any]:
    """What the summary and the page are rendered from."""
    return {
        "d": data,
        "r": data.registration,
        "zone": zone,
        "w": words(renderer, locale),
        "view_what": view_what,
    }


def filename(data: MemberData, extension: str, zone: tzinfo) -> str:
    """my-data-<date>.<ext>: ASCII, so every client and file system keeps it."""
    day = data.generated_at.astimezone(zone).strftime("%Y%m%d")
    return f"my-data-{day}.{extension}"
