"""Member-facing text: Jinja2 templates per locale (Telegram HTML) and short labels."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import cached_property
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from storage.models import ChannelName
from storage.settings import LOCALES, Locale
from storage.text import printable

TEMPLATES = Path(__file__).parent / "templates"
CATALOGUES = Path(__file__).parent / "locales"

DEFAULT_LOCALE: Locale = "zh_CN"

# A message as sent: its text and its buttons, (label, callback data) each.
Rendered = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads an outbox message and where: what its rendering depends on besides its
    payload (the language, the time zone dates are shown in, the channel's format)."""

    renderer: Renderer
    locale: str
    zone: tzinfo
    channel: ChannelName

    def render(self, name: str, /, **context: Any) -> str:
        """templates/<locale>/<name>.html, or <name>_sms.txt in plain text for SMS."""
        if self.channel is ChannelName.SMS:
            return self.renderer.render_text(self.locale, f"{name}_sms", **context)
        return self.renderer.render(self.locale, name, **context)

    def html(self, name: str, /, **context: Any) -> str:
        """templates/<locale>/<name>.html whatever the channel (messages to staff, who are
        reached on Telegram only)."""
        return self.renderer.render(self.locale, name, **context)

    def label(self, key: str, /, **context: Any) -> str:
        return self.renderer.label(self.locale, key, **context)

    @property
    def sms(self) -> bool:
        return self.channel is ChannelName.SMS


def normalize_locale(value: str | None, default: Locale = DEFAULT_LOCALE) -> Locale:
    """Map whatever we hold (zh, zh-hans, en-GB, None …) onto a supported locale."""
    if not value:
        return default
    lowered = value.replace("-", "_").lower()
    if lowered.startswith("zh"):
        return "zh_CN"
    if lowered.startswith("en"):
        return "en"
    return default


def format_date(value: datetime, zone: tzinfo | None = None) -> str:
    local = value.astimezone(zone) if zone is not None else value
    return local.strftime("%Y-%m-%d")


def format_datetime(value: datetime, zone: tzinfo | None = None) -> str:
    local = value.astimezone(zone) if zone is not None else value
    return local.strftime("%Y-%m-%d %H:%M")


class Renderer:
    """Renders templates/<locale>/<name>.html and labels from locales/<locale>/<feature>.toml."""

    def __init__(self, templates: Path = TEMPLATES, catalogues: Path = CATALOGUES) -> None:
        self._catalogue_root = catalogues
        self.env = Environment(
            loader=FileSystemLoader(templates),
            # Telegram HTML: every value a member or staff typed is escaped.
            autoescape=select_autoescape(
                enabled_extensions=("html",), disabled_extensions=("txt",), default=True
            ),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,
        )
        self.env.filters["date"] = format_date
        self.env.filters["datetime"] = format_datetime
        # Labels are plain text (buttons, command menu): no HTML escaping there.
        self._plain = Environment(undefined=StrictUndefined, autoescape=False)  # noqa: S701

    def render(self, locale: str, name: str, /, **context: Any) -> str:
        """Render templates/<locale>/<name>.html to Telegram HTML."""
        template = self.env.get_template(f"{normalize_locale(locale)}/{name}.html")
        return template.render(locale=normalize_locale(locale), **context).strip()

    def render_text(self, locale: str, name: str, /, **context: Any) -> str:
        """Render templates/<locale>/<name>.txt to plain text (SMS): nothing is escaped, and
        no control or bidi character of what someone wrote reaches the phone."""
        template = self.env.get_template(f"{normalize_locale(locale)}/{name}.txt")
        return printable(template.render(locale=normalize_locale(locale), **context)).strip()

    def label(self, locale: str, key: str, /, **context: Any) -> str:
        """A short plain-text label, key "feature.name" from locales/<locale>/<feature>.toml."""
        feature, _, name = key.partition(".")
        catalogue = self._catalogues[normalize_locale(locale)].get(feature)
        if catalogue is None or name not in catalogue:
            raise KeyError(f"no label {key!r} for locale {locale!r}")
        text = catalogue[name]
        if "{" in text:
            return self._plain.from_string(text).render(**context)
        return text

    def labels(self, locale: str, feature: str) -> Mapping[str, str]:
        """Every label of one feature, for building keyboards from a table."""
        return self._catalogues[normalize_locale(locale)].get(feature, {})

    @cached_property
    def _catalogues(self) -> dict[str, dict[str, dict[str, str]]]:
        loaded: dict[str, dict[str, dict[str, str]]] = {}
        for locale in LOCALES:
            loaded[locale] = {}
            for path in sorted((self._catalogue_root / locale).glob("*.toml")):
                with path.open("rb") as handle:
                    data = tomllib.load(handle)
                loaded[locale][path.stem] = {str(k): str(v) for k, v in data.items()}
        return loaded

    def template_names(self, locale: str, extension: str = "html") -> list[str]:
        """Every template of a locale, as names render() (html) or render_text() (txt) take."""
        prefix = f"{normalize_locale(locale)}/"
        return sorted(
            name[len(prefix) : -len(extension) - 1]
            for name in self.env.list_templates(extensions=[extension])
            if name.startswith(prefix)
        )
