"""What a PDF shows: its text, its fonts, what runs past the margin, the ink under words."""

from __future__ import annotations

import io

import pypdfium2 as pdfium  # type: ignore[import-untyped]
from pypdf import PdfReader


def pdf_text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def embedded_fonts(pdf: bytes) -> dict[str, bool]:
    """Each font the letter's pages draw with, and whether its file is inside the PDF."""
    fonts: dict[str, bool] = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            # A composite (CJK) font keeps its file in its one descendant's descriptor.
            face = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = face.get("/FontDescriptor")
            fonts[str(font["/BaseFont"])] = descriptor is not None and any(
                key in descriptor.get_object() for key in ("/FontFile", "/FontFile2", "/FontFile3")
            )
    return fonts


def overflowing(pdf: bytes) -> str:
    """The characters that run past the right margin (2.2 cm) of any page."""
    out = ""
    for page in pdfium.PdfDocument(pdf):
        text = page.get_textpage()
        edge = page.get_width() - 2.2 / 2.54 * 72
        for i in range(text.count_chars()):
            if text.get_charbox(i)[2] > edge + 1:
                out += text.get_text_range(i, 1)
    return out


def ink_under(pdf: bytes, words: str) -> int:
    """How many dark pixels the first page shows where `words` are written (at 150 dpi)."""
    page = pdfium.PdfDocument(pdf)[0]
    text = page.get_textpage()
    found = text.search(words).get_next()
    assert found is not None, f"{words!r} is not on the page"
    start, count = found
    boxes = [text.get_charbox(i) for i in range(start, start + count)]
    left, right = min(b[0] for b in boxes), max(b[2] for b in boxes)
    bottom, top = min(b[1] for b in boxes), max(b[3] for b in boxes)
    scale = 150 / 72
    image = page.render(scale=scale).to_pil().convert("L")
    height = page.get_height()
    region = image.crop(
        (
            int(left * scale),
            int((height - top) * scale),
            int(right * scale) + 1,
            int((height - bottom) * scale) + 1,
        )
    )
    return sum(region.histogram()[:128])
