"""The letter (函) to a member's origin organisation: HTML from a template, and a PDF of it.

The PDF is drawn by xhtml2pdf (pure Python, on reportlab) with reportlab's built-in CID font
STSong-Light, which needs no font file: the letter prints in Chinese on a machine without
any CJK fonts installed.
"""

from __future__ import annotations

import io
import threading

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from xhtml2pdf import pisa

from messages.render import Renderer, normalize_locale
from storage.certificates import LetterData

FONT = "STSong-Light"
LETTER_TEMPLATE = "certificates/letter.html.jinja"
_font_lock = threading.Lock()
_font_ready = False


class LetterError(RuntimeError):
    """The PDF could not be drawn (xhtml2pdf reported errors)."""


def _register_font() -> None:
    global _font_ready
    with _font_lock:
        if not _font_ready:
            pdfmetrics.registerFont(UnicodeCIDFont(FONT))
            _font_ready = True


def letter_html(renderer: Renderer, locale: str, letter: LetterData) -> str:
    """The letter as a whole HTML page (the normal and the reverse-issuance letter differ).

    The template is a document, not a Telegram message, so it is not named .html (whose
    templates may use only Telegram's tags); it is autoescaped all the same.
    """
    certificate = letter.certificate
    template = renderer.env.get_template(f"{normalize_locale(locale)}/{LETTER_TEMPLATE}")
    return template.render(
        locale=normalize_locale(locale),
        letter=letter,
        certificate=certificate,
        status_name=renderer.label(locale, f"certificates.member_{certificate.member_status}"),
        font=FONT,
    )


def letter_pdf(html: str) -> bytes:
    """The letter's HTML drawn as a PDF (CPU-bound: run it off the event loop)."""
    _register_font()
    out = io.BytesIO()
    with _font_lock:
        # reportlab keeps module-level state while drawing: one letter at a time.
        result = pisa.CreatePDF(html, dest=out, encoding="utf-8")
    if result.err:
        raise LetterError(f"the letter could not be drawn ({result.err} errors)")
    return out.getvalue()


def letter_filename(letter: LetterData, extension: str) -> str:
    """letter-<id>.<ext>: ASCII, so every mail client and file system keeps it."""
    return f"certificate-letter-{letter.certificate.id}.{extension}"
