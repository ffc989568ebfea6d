"""Splitting Telegram HTML into messages under the 4,096-character limit."""

from __future__ import annotations

import re

TELEGRAM_LIMIT = 4096

_TOKEN = re.compile(r"(<[^>]+>|&[#a-zA-Z0-9]+;|\n|[^<&\n]+)")
_TAG = re.compile(r"<\s*(/)?\s*([a-zA-Z-]+)[^>]*>")


def _visible_length(token: str) -> int:
    if token.startswith("<"):
        return 0
    if token.startswith("&"):
        return 1
    return len(token)


def split_html(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split at paragraph, then line, then character boundaries, keeping tags balanced.

    Telegram counts the characters left after parsing entities, so tags cost nothing and an
    entity like &amp; counts as one; a tag open across a cut is closed and reopened.
    """
    if limit < 100:
        raise ValueError("limit too small to keep tags balanced")
    if len(text) <= limit:
        return [text]  # nearly every message: even raw, it is within the limit
    parts: list[str] = []
    for token in _TOKEN.findall(text):
        if token.startswith(("<", "&")) or token == "\n":  # noqa: S105 (an HTML token)
            parts.append(token)
        else:
            # Long runs of text are cut into pieces no longer than the limit leaves room for.
            step = limit // 2
            parts.extend(token[i : i + step] for i in range(0, len(token), step))

    chunks: list[str] = []
    current: list[str] = []
    length = 0
    open_tags: list[tuple[str, str]] = []  # (name, opening tag as written)

    def flush() -> None:
        nonlocal current, length
        body = "".join(current)
        closing = "".join(f"</{name}>" for name, _ in reversed(open_tags))
        if body.strip():
            chunks.append((body + closing).strip("\n"))
        current = [tag for _, tag in open_tags]
        length = 0

    def break_point() -> int | None:
        # Prefer a blank line, then a newline, in the back half of the chunk.
        joined = "".join(current)
        for marker in ("\n\n", "\n"):
            index = joined.rfind(marker)
            if index > len(joined) // 3:
                return index
        return None

    for token in parts:
        size = _visible_length(token)
        if length + size > limit:
            cut = break_point()
            if cut is not None and not open_tags:
                joined = "".join(current)
                head, tail = joined[:cut], joined[cut:].lstrip("\n")
                current = [head]
                flush()
                current = [tail] if tail else []
                length = sum(_visible_length(t) for t in _TOKEN.findall(tail))
            else:
                flush()
        match = _TAG.fullmatch(token)
        if match:
            closing, name = match.group(1), match.group(2).lower()
            if closing:
                if open_tags and open_tags[-1][0] == name:
                    open_tags.pop()
            else:
                open_tags.append((name, token))
        current.append(token)
        length += size
    closing_tail = "".join(current)
    if closing_tail.strip():
        chunks.append(closing_tail.strip("\n"))
    return chunks or [text]
