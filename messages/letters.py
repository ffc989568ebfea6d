"""Letters (函): the certificate letter to a member's origin organisation, and the
half-yearly letter to a partner organisation; HTML from a template, and a PDF of it.

The PDF is drawn by xhtml2pdf (pure Python, on reportlab) in WenQuanYi Micro Hei, a
TrueType font shipped with the code (messages/fonts/, Apache-2.0, 4.6 MB: Droid Sans
Fallback's CJK with Droid Sans' Latin letters and digits) and embedded in the
PDF (the characters used, as a subset): the letter reads in Chinese on a machine, or in a
viewer, without any CJK font. reportlab's built-in
CID fonts (STSong-Light) are never embedded, and a viewer without Chinese fonts shows them
blank; reportlab cannot embed the CFF outlines of Noto Sans CJK's .otf/.ttc files.
"""

from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path

from xhtml2pdf import pisa
from xhtml2pdf.config.resources import ResourceAccessPolicy
from xhtml2pdf.default import DEFAULT_CSS

from messages.render import Renderer, normalize_locale
from storage.certificates import LetterData
from storage.partners import LetterData as PartnerLetterData

# The family the letter's CSS names (a browser showing the HTML letter falls back to its own
# Chinese font when it has no WenQuanYi Micro Hei).
FONT = "WenQuanYi Micro Hei"
FONT_FILE = Path(__file__).resolve().parent / "fonts" / "wqy-microhei.ttf"
LETTER_TEMPLATE = "certificates/letter.html.jinja"
PARTNER_TEMPLATE = "partners/letter.html.jinja"
# xhtml2pdf registers the file with reportlab on the first letter and reuses it after; the
# path stays out of the HTML letter, which leaves the machine.
# The font has one weight and no italic: bold or italic text would be drawn in a standard
# Latin font instead, and Chinese headings would print blank. So everything is upright and
# regular (the headings stand out by their size).
_PDF_CSS = (
    f'{DEFAULT_CSS}\n@font-face {{ font-family: {FONT}; src: url("{FONT_FILE}"); }}\n'
    "h1, h2, h3, h4, h5, h6, b, strong, th, em, i { font-weight: normal; font-style: normal; }\n"
)
# The letter reads nothing but the font: no network, no other file.
_POLICY = ResourceAccessPolicy(allow_remote=False, base_dir=FONT_FILE.parent)
_draw_lock = threading.Lock()


class LetterError(RuntimeError):
    """The PDF could not be drawn (xhtml2pdf reported errors)."""


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


def partner_letter_html(renderer: Renderer, locale: str, letter: PartnerLetterData) -> str:
    """The half-yearly letter to a partner organisation as a whole HTML page (autoescaped:
    members' names and what staff typed stay text)."""
    chosen = normalize_locale(locale)
    template = renderer.env.get_template(f"{chosen}/{PARTNER_TEMPLATE}")

    def label(key: str) -> str:
        return renderer.label(chosen, key)

    return template.render(locale=chosen, letter=letter, label=label, font=FONT)


def letter_pdf(html: str) -> bytes:
    """A letter's HTML (either kind) drawn as a PDF (CPU-bound: run it off the event loop)."""
    out = io.BytesIO()
    with _draw_lock:
        # reportlab keeps module-level state while drawing: one letter at a time.
        result = pisa.CreatePDF(
            html, dest=out, encoding="utf-8", default_css=_PDF_CSS, resource_policy=_POLICY
        )
    if result.err:
        raise LetterError(f"the letter could not be drawn ({result.err} errors)")
    return out.getvalue()


def letter_filename(letter: LetterData, extension: str) -> str:
    """letter-<id>.<ext>: ASCII, so every mail client and file system keeps it."""
    return f"certificate-letter-{letter.certificate.id}.{extension}"


def partner_letter_filename(letter: PartnerLetterData, extension: str) -> str:
    """partner-<id>-<half>.<ext>: ASCII, like the certificate letter's."""
    return f"partner-{letter.partner.id}-{letter.half}.{extension}"


def pdf_digest(pdf: bytes) -> str:
    """The SHA-256 a drawn letter is recorded by (so the copy sent can be told apart)."""
    return hashlib.sha256(pdf).hexdigest()
