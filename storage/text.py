"""Clean text at the edges: what a person types on the way in, what reaches a terminal or
a phone on the way out.

Telegram HTML needs neither: the templates escape what they show, and a Telegram client
draws control characters harmlessly. A terminal obeys them (an escape sequence can clear
the screen or retitle the window) and bidi overrides reorder what an operator or a phone
shows ("‮gpj.exe" reads as "exe.jpg").
"""

from __future__ import annotations

import re
import unicodedata

# Whole escape sequences first, so that no "]0;title" is left behind once the ESC is gone:
# CSI (ESC [ … final byte), OSC / DCS / APC / PM / SOS strings (up to BEL or ST, or to the
# end when unterminated), and two-character escapes (ESC and one byte).
_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|[\x1b][\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]?"
)

# The embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): they reorder
# the text around them until the end of the line ("Trojan Source", CVE-2021-42574).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

# Line breaks and tabs are part of what people write; every other control character goes.
_KEPT = frozenset("\n\t")


def strip_nul(text: str) -> str:
    """Text a person typed, as it may be stored: without NUL characters.

    PostgreSQL cannot store a NUL in text (SQLite can): dropping it here makes both
    databases keep the same words, and nobody meant to type it.
    """
    return text.replace("\x00", "")


def printable(text: str) -> str:
    """Someone's text as a terminal or an SMS may show it: no escape sequences, control
    characters (line breaks and tabs kept) or bidi controls."""
    text = _ESCAPE.sub("", text.replace("\r\n", "\n"))
    return "".join(
        c
        for c in text
        if c in _KEPT or (c not in BIDI_CONTROLS and unicodedata.category(c) != "Cc")
    )
