"""The yearly report drawn: a PDF (reportlab platypus, vector charts) and a workbook
(openpyxl, one sheet per section with native charts over its cells).

Every word comes from locales/<locale>/year_report.toml. The PDF is set in WenQuanYi Micro
Hei (CJK, Latin letters and digits in one font), registered with reportlab from
messages/fonts/ and embedded (as a subset), so the Chinese reads in any viewer (see
messages/letters.py for why not a CID font). Text from the
records (group names, categories, trades) is escaped for platypus' Paragraph markup in the
PDF and made inert (spreadsheet_safe) in the workbook.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Sequence
from datetime import tzinfo
from xml.sax.saxutils import escape

import openpyxl
from openpyxl.chart import BarChart, LineChart, PieChart, Reference
from openpyxl.worksheet.worksheet import Worksheet
from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from messages.letters import FONT_FILE
from messages.render import Renderer, normalize_locale
from storage.sheets import add_sheet, spreadsheet_safe
from storage.year_report import YearReport

__all__ = ["report_filename", "year_report_pdf", "year_report_xlsx"]

# reportlab's name for the font (the letters register the same file under their own name).
PDF_FONT = "WenQuanYiMicroHei"
# Charts show the provinces with the most members; the sheets list every one.
CHARTED = 10
INK = colors.HexColor("#b22222")
_draw_lock = threading.Lock()

Label = Callable[..., str]


def report_filename(year: int, unit: str | None, extension: str) -> str:
    """liaison-year-2026[-<unit>].<ext>; the unit's name kept only where a file name may."""
    tail = ""
    if unit:
        kept = "".join(c for c in unit if c.isalnum() or c in "-_")
        tail = f"-{kept}" if kept else ""
    return f"liaison-year-{year}{tail}.{extension}"


def _words(renderer: Renderer, locale: str) -> Label:
    def label(key: str, **values: object) -> str:
        feature = key if "." in key else f"year_report.{key}"
        return renderer.label(locale, feature, **values)

    return label


def _hours(value: float | None, label: Label) -> str:
    return label("none") if value is None else f"{value:.1f}"


def _place(name: str | None, label: Label) -> str:
    return name if name is not None else label("unknown")


def _scope(report: YearReport, label: Label) -> str:
    return report.unit or label("scope_district")


def _local(report: YearReport, zone: tzinfo) -> str:
    return report.made_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


# --- the workbook ------------------------------------------------------------------------------


def _safe(text: str) -> str:
    return spreadsheet_safe(text) if text else ""


def _sheet(book: openpyxl.Workbook, title: str) -> Worksheet:
    sheet = book[title]
    assert isinstance(sheet, Worksheet)  # add_sheet makes worksheets only
    return sheet


def _chart(
    sheet: Worksheet,
    title: str,
    *,
    values: tuple[int, int, int, int],
    categories: tuple[int, int, int, int] | None = None,
    anchor: str,
    horizontal: bool = False,
    line: bool = False,
) -> None:
    """A chart of the sheet's own cells: values (min_col, min_row incl. header, max_col,
    max_row), categories (the same, without header)."""
    chart: BarChart | LineChart = LineChart() if line else BarChart()
    if isinstance(chart, BarChart) and horizontal:
        chart.type = "bar"
        # Most first from the top, as the sheet lists them (Excel starts at the bottom).
        chart.x_axis.scaling.orientation = "maxMin"
    # openpyxl 3.1 marks both axes deleted unless told: Excel would show no scale at all.
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.title = title
    chart.height, chart.width = 7.5, 16
    min_col, min_row, max_col, max_row = values
    data = Reference(sheet, min_col=min_col, min_row=min_row, max_col=max_col, max_row=max_row)
    chart.add_data(data, titles_from_data=True)
    if categories is not None:
        c_min_col, c_min_row, c_max_col, c_max_row = categories
        chart.set_categories(
            Reference(
                sheet, min_col=c_min_col, min_row=c_min_row, max_col=c_max_col, max_row=c_max_row
            )
        )
    sheet.add_chart(chart, anchor)


def year_report_xlsx(report: YearReport, renderer: Renderer, locale: str, zone: tzinfo) -> bytes:
    """The workbook: a summary sheet, then one sheet per section with its charts."""
    locale = normalize_locale(locale)
    label = _words(renderer, locale)
    book = openpyxl.Workbook()
    book.remove(book.worksheets[0])

    add_sheet(
        book,
        label("summary"),
        [label("col_item"), label("col_count")],
        [
            [_safe(label("title", year=report.year)), ""],
            [_safe(label("scope_line", scope=_scope(report, label))), ""],
            [label("made", at=_local(report, zone)), ""],
            *_summary_rows(report, label),
            [label("note_scope"), ""],
        ],
    )

    statuses = list(report.by_status.items())
    add_sheet(
        book,
        label("sec_members"),
        [label("col_status"), label("col_members")],
        [[label(f"status_{status}"), count] for status, count in statuses],
    )
    sheet = _sheet(book, label("sec_members"))
    pie = PieChart()
    pie.title = label("chart_status")
    pie.add_data(Reference(sheet, min_col=2, min_row=1, max_row=1 + len(statuses)), True)
    pie.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=1 + len(statuses)))
    sheet.add_chart(pie, "D2")

    for key, rows, chart in (
        ("sec_origin", report.by_origin, "chart_origin"),
        ("sec_destination", report.by_destination, "chart_destination"),
    ):
        add_sheet(
            book,
            label(key),
            [label("col_province"), label("col_members")],
            [[_safe(_place(name, label)), count] for name, count in rows],
        )
        if rows:
            shown = min(len(rows), CHARTED)
            _chart(
                _sheet(book, label(key)),
                label(chart),
                values=(2, 1, 2, 1 + shown),
                categories=(1, 2, 1, 1 + shown),
                anchor="D2",
                horizontal=True,
            )
    add_sheet(
        book,
        label("sec_trade"),
        [label("col_trade"), label("col_members")],
        [[_safe(_place(name, label)), count] for name, count in report.by_trade],
    )

    add_sheet(
        book,
        label("sec_checkins"),
        [label("col_month"), label("col_due"), label("col_checked_in"), label("col_percent")],
        [[m.period, m.members, m.checked_in, m.percent] for m in report.months],
    )
    _chart(
        _sheet(book, label("sec_checkins")),
        label("chart_checkins"),
        values=(4, 1, 4, 13),
        categories=(1, 2, 1, 13),
        anchor="F2",
        line=True,
    )

    periods = [m.period for m in report.months]
    add_sheet(
        book,
        label("sec_groups"),
        [
            label("col_group"),
            *periods,
            label("col_year"),
            label("col_due"),
            label("col_checked_in"),
        ],
        [
            [
                _safe(group.name),
                *(m.percent for m in group.months),
                group.percent,
                group.due,
                group.checked_in,
            ]
            for group in report.groups
        ],
    )

    kinds = [label(f"activities.kind_{a.kind}") for a in report.activities]
    add_sheet(
        book,
        label("sec_activities"),
        [
            label("col_kind"),
            label("col_held"),
            label("col_invited"),
            label("col_said_yes"),
            label("col_attended"),
        ],
        [
            [kind, a.held, a.invited, a.said_yes, a.attended]
            for kind, a in zip(kinds, report.activities, strict=True)
        ],
    )
    if report.activities:
        _chart(
            _sheet(book, label("sec_activities")),
            label("chart_activities"),
            values=(3, 1, 5, 1 + len(kinds)),
            categories=(1, 2, 1, 1 + len(kinds)),
            anchor="G2",
        )

    add_sheet(
        book,
        label("sec_services"),
        [
            label("col_category"),
            label("col_requests"),
            label("col_resolved"),
            label("col_cannot_help"),
            label("col_referred"),
            label("col_open"),
            label("col_answer_median"),
            label("col_answer_p90"),
            label("col_close_median"),
            label("col_close_p90"),
            label("col_rated"),
            label("col_average"),
            *(label("col_score", score=n) for n in range(1, 6)),
        ],
        [
            [
                _safe(s.name(locale)),
                s.requests,
                s.resolved,
                s.cannot_help,
                s.referred,
                s.still_open,
                s.answer_median_hours,
                s.answer_p90_hours,
                s.close_median_hours,
                s.close_p90_hours,
                s.rated,
                s.satisfaction_average,
                *s.satisfaction,
            ]
            for s in report.services
        ],
    )
    if report.services:
        _chart(
            _sheet(book, label("sec_services")),
            label("chart_services"),
            values=(2, 1, 2, 1 + len(report.services)),
            categories=(1, 2, 1, 1 + len(report.services)),
            anchor="B" + str(len(report.services) + 4),
        )

    ideas = report.ideas
    lost = report.lost_contact
    add_sheet(
        book,
        label("sec_ideas"),
        [label("col_item"), label("col_count")],
        [
            [label("ideas_ideas"), ideas.ideas],
            [label("ideas_opinions"), ideas.opinions],
            [label("ideas_replied"), ideas.replied],
            [label("ideas_adopted"), ideas.adopted],
        ],
    )
    add_sheet(
        book,
        label("sec_certificates"),
        [label("col_month"), label("col_certificates")],
        [[p, n] for p, n in zip(periods, report.certificates, strict=True)],
    )
    _chart(
        _sheet(book, label("sec_certificates")),
        label("chart_certificates"),
        values=(2, 1, 2, 13),
        categories=(1, 2, 1, 13),
        anchor="D2",
    )
    add_sheet(
        book,
        label("sec_lost"),
        [label("col_item"), label("col_members")],
        [
            [label("lost_flagged"), lost.flagged],
            [label("lost_confirmed"), lost.confirmed],
            [label("lost_at_year_end"), lost.at_year_end],
        ],
    )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _summary_rows(report: YearReport, label: Label) -> list[list[object]]:
    return [
        [label("summary_members"), report.members],
        [label("summary_checkin"), report.checkin_percent],
        [label("summary_activities"), sum(a.held for a in report.activities)],
        [label("summary_requests"), sum(s.requests for s in report.services)],
        [label("summary_certificates"), sum(report.certificates)],
        [label("summary_lost"), report.lost_contact.at_year_end],
    ]


# --- the PDF ---------------------------------------------------------------------------------


def _font() -> str:
    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(PDF_FONT, str(FONT_FILE)))
    return PDF_FONT


def _markup(text: str) -> str:
    """text as Paragraph markup: escaped, so a name from the records is never markup."""
    return escape(text)


class _Styles:
    def __init__(self, font: str) -> None:
        base = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=13, wordWrap="CJK")
        self.body = base
        self.title = ParagraphStyle("title", parent=base, fontSize=18, leading=24, spaceAfter=4)
        self.heading = ParagraphStyle(
            "heading",
            parent=base,
            fontSize=13,
            leading=18,
            spaceBefore=10,
            spaceAfter=4,
            keepWithNext=1,  # a heading goes with the table after it
        )
        self.cell = ParagraphStyle("cell", parent=base, fontSize=8.5, leading=11)
        # A heading already kept with its chart (a KeepTogether) needs no keepWithNext.
        self.kept_heading = ParagraphStyle("kept_heading", parent=self.heading, keepWithNext=0)
        self.chart_title = ParagraphStyle(
            "chart_title", parent=base, fontSize=10, leading=14, alignment=1, spaceBefore=6
        )
        self.small = ParagraphStyle(
            "small", parent=base, fontSize=8, leading=11, textColor=colors.grey
        )


def _table(
    header: Sequence[str], rows: Sequence[Sequence[object]], styles: _Styles, widths: list[float]
) -> Table:
    """A table whose every cell is a Paragraph (escaped: record text is never markup)."""

    def cell(value: object) -> Paragraph:
        return Paragraph(_markup(str(value)), styles.cell)

    data = [[cell(h) for h in header], *([cell(v) for v in row] for row in rows)]
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.3, colors.lightgrey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3e6e6")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def _titled(
    title: str, drawing: Drawing, styles: _Styles, heading: str | None = None
) -> KeepTogether:
    """A chart under its title (set as a paragraph: a drawing's string has one font), and
    under its section's heading if given, all on one page. One KeepTogether, not nested:
    reportlab moves a nested one to the next page even where it fits."""
    parts: list[Flowable] = [Paragraph(_markup(title), styles.chart_title), drawing]
    if heading is not None:
        parts.insert(0, Paragraph(_markup(heading), styles.kept_heading))
    return KeepTogether(parts)


def _category_labels(chart: VerticalBarChart | HorizontalLineChart | HorizontalBarChart,
                     names: Sequence[str], size: float) -> None:  # fmt: skip
    chart.categoryAxis.categoryNames = list(names)
    chart.categoryAxis.labels.fontSize = size
    chart.categoryAxis.labels.fontName = _font()
    chart.valueAxis.labels.fontName = _font()
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0


def _whole_steps(chart: VerticalBarChart | HorizontalBarChart, values: Sequence[float]) -> None:
    """Counts are whole: a small scale steps by one, not by 0.2."""
    top = max(values, default=0)
    if top <= 10:
        chart.valueAxis.valueMax = max(top, 1)
        chart.valueAxis.valueStep = 1


def _vertical_bars(
    title: str,
    names: Sequence[str],
    values: Sequence[float],
    styles: _Styles,
    *,
    line: bool = False,
    heading: str | None = None,
) -> KeepTogether:
    width, height = 16 * cm, 5.5 * cm
    drawing = Drawing(width, height)
    chart: VerticalBarChart | HorizontalLineChart = (
        HorizontalLineChart() if line else VerticalBarChart()
    )
    chart.x, chart.y = 40, 30
    chart.width, chart.height = width - 60, height - 40
    chart.data = [list(values)]
    _category_labels(chart, names, 7)
    chart.categoryAxis.labels.angle = 30 if len(names) > 6 and not line else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(names) > 6 and not line else "n"
    if isinstance(chart, HorizontalLineChart):
        chart.lines[0].strokeColor = INK
        chart.lines[0].strokeWidth = 1.5
        chart.valueAxis.valueMax = 100
    else:
        chart.bars[0].fillColor = INK
        _whole_steps(chart, values)
    drawing.add(chart)
    return _titled(title, drawing, styles, heading)


def _horizontal_bars(
    title: str,
    names: Sequence[str],
    values: Sequence[float],
    styles: _Styles,
    heading: str | None = None,
) -> KeepTogether:
    width = 16 * cm
    height = max(3 * cm, 0.55 * cm * len(names) + 1 * cm)
    drawing = Drawing(width, height)
    chart = HorizontalBarChart()
    chart.x, chart.y = 110, 20
    chart.width, chart.height = width - 140, height - 25
    # Top to bottom, most first: reportlab draws the first category at the bottom.
    chart.data = [list(values)[::-1]]
    _category_labels(chart, list(names)[::-1], 7.5)
    _whole_steps(chart, values)
    chart.bars[0].fillColor = INK
    drawing.add(chart)
    return _titled(title, drawing, styles, heading)


def year_report_pdf(report: YearReport, renderer: Renderer, locale: str, zone: tzinfo) -> bytes:
    """The report as a PDF (CPU-bound: run it off the event loop)."""
    locale = normalize_locale(locale)
    label = _words(renderer, locale)
    with _draw_lock:
        # reportlab keeps module-level state while drawing: one document at a time.
        font = _font()
        styles = _Styles(font)
        story = _story(report, label, locale, zone, styles, font)
        out = io.BytesIO()
        document = SimpleDocTemplate(
            out,
            pagesize=A4,
            leftMargin=2 * cm,
            rightMargin=2 * cm,
            topMargin=1.8 * cm,
            bottomMargin=1.8 * cm,
            title=label("title", year=report.year),
            author="Liaison",
        )
        document.build(story)
    return out.getvalue()


def _story(
    report: YearReport, label: Label, locale: str, zone: tzinfo, styles: _Styles, font: str
) -> list[Flowable]:
    def para(text: str, style: ParagraphStyle = styles.body) -> Paragraph:
        return Paragraph(_markup(text), style)

    full = 17 * cm
    story: list[Flowable] = [
        para(label("title", year=report.year), styles.title),
        para(label("scope_line", scope=_scope(report, label))),
        para(label("made", at=_local(report, zone)), styles.small),
        para(label("summary"), styles.heading),
        _table(
            [label("col_item"), label("col_count")],
            _summary_rows(report, label),
            styles,
            [9 * cm, 4 * cm],
        ),
        Spacer(1, 0.3 * cm),
        _vertical_bars(
            label("chart_checkins"),
            [m.period[5:] for m in report.months],
            [m.percent for m in report.months],
            styles,
            line=True,
        ),
        para(label("note_scope"), styles.small),
    ]

    story.append(para(label("sec_members"), styles.heading))
    story.append(
        _table(
            [label("col_status"), label("col_members")],
            [[label(f"status_{s}"), n] for s, n in report.by_status.items()],
            styles,
            [9 * cm, 4 * cm],
        )
    )
    for key, rows, chart in (
        ("sec_origin", report.by_origin, "chart_origin"),
        ("sec_destination", report.by_destination, "chart_destination"),
    ):
        if not rows:
            continue
        shown = rows[:CHARTED]
        # The heading goes with its chart: never alone at the foot of a page.
        story.append(
            _horizontal_bars(
                label(chart),
                [_place(n, label) for n, _ in shown],
                [c for _, c in shown],
                styles,
                heading=label(key),
            )
        )
        story.append(
            _table(
                [label("col_province"), label("col_members")],
                [[_place(n, label), c] for n, c in rows],
                styles,
                [9 * cm, 4 * cm],
            )
        )
    if report.by_trade:
        story.append(para(label("sec_trade"), styles.heading))
        story.append(
            _table(
                [label("col_trade"), label("col_members")],
                [[_place(n, label), c] for n, c in report.by_trade],
                styles,
                [9 * cm, 4 * cm],
            )
        )

    story.append(para(label("sec_checkins"), styles.heading))
    story.append(
        _table(
            [label("col_month"), label("col_due"), label("col_checked_in"), label("col_percent")],
            [[m.period, m.members, m.checked_in, f"{m.percent:.1f}"] for m in report.months],
            styles,
            [4 * cm, 4 * cm, 4 * cm, 4 * cm],
        )
    )
    if report.groups:
        story.append(para(label("sec_groups"), styles.heading))
        story.append(
            _table(
                [
                    label("col_group"),
                    label("col_due"),
                    label("col_checked_in"),
                    label("col_percent"),
                ],
                [[g.name, g.due, g.checked_in, f"{g.percent:.1f}"] for g in report.groups],
                styles,
                [8 * cm, 3 * cm, 3 * cm, 3 * cm],
            )
        )

    story.append(para(label("sec_activities"), styles.heading))
    kinds = [label(f"activities.kind_{a.kind}") for a in report.activities]
    story.append(
        _table(
            [
                label("col_kind"),
                label("col_held"),
                label("col_invited"),
                label("col_said_yes"),
                label("col_attended"),
            ],
            [
                [k, a.held, a.invited, a.said_yes, a.attended]
                for k, a in zip(kinds, report.activities, strict=True)
            ],
            styles,
            [5 * cm, 3 * cm, 3 * cm, 3 * cm, 3 * cm],
        )
    )
    if report.activities:
        story.append(
            _vertical_bars(
                label("chart_activities"), kinds, [a.attended for a in report.activities], styles
            )
        )

    story.append(para(label("sec_services"), styles.heading))
    none = label("none")
    story.append(
        _table(
            [
                label("col_category"),
                label("col_requests"),
                label("col_resolved"),
                label("col_cannot_help"),
                label("col_referred"),
                label("col_answer_median"),
                label("col_answer_p90"),
                label("col_close_median"),
                label("col_close_p90"),
            ],
            [
                [
                    s.name(locale),
                    s.requests,
                    s.resolved,
                    s.cannot_help,
                    s.referred,
                    _hours(s.answer_median_hours, label),
                    _hours(s.answer_p90_hours, label),
                    _hours(s.close_median_hours, label),
                    _hours(s.close_p90_hours, label),
                ]
                for s in report.services
            ],
            styles,
            [3.4 * cm, *([1.7 * cm] * 8)],
        )
    )
    if report.services:
        story.append(
            _horizontal_bars(
                label("chart_services"),
                [s.name(locale) for s in report.services],
                [s.requests for s in report.services],
                styles,
            )
        )
    story.append(para(label("sec_satisfaction"), styles.heading))
    story.append(
        _table(
            [
                label("col_category"),
                label("col_rated"),
                label("col_average"),
                *(label("col_score", score=n) for n in range(1, 6)),
            ],
            [
                [
                    s.name(locale),
                    s.rated,
                    none if s.satisfaction_average is None else f"{s.satisfaction_average:.2f}",
                    *s.satisfaction,
                ]
                for s in report.services
            ],
            styles,
            [4 * cm, 2 * cm, 3 * cm, *([1.6 * cm] * 5)],
        )
    )

    ideas, lost = report.ideas, report.lost_contact
    story.append(
        KeepTogether(
            [
                para(label("sec_ideas"), styles.heading),
                _table(
                    [label("col_item"), label("col_count")],
                    [
                        [label("ideas_ideas"), ideas.ideas],
                        [label("ideas_opinions"), ideas.opinions],
                        [label("ideas_replied"), ideas.replied],
                        [label("ideas_adopted"), ideas.adopted],
                    ],
                    styles,
                    [9 * cm, 4 * cm],
                ),
            ]
        )
    )
    story.append(
        _vertical_bars(
            label("chart_certificates"),
            [m.period[5:] for m in report.months],
            report.certificates,
            styles,
            heading=label("sec_certificates"),
        )
    )
    story.append(
        _table(
            [label("col_month"), *(m.period[5:] for m in report.months)],
            [[label("col_certificates"), *report.certificates]],
            styles,
            [full - 12 * 1.15 * cm, *([1.15 * cm] * 12)],
        )
    )
    story.append(
        KeepTogether(
            [
                para(label("sec_lost"), styles.heading),
                _table(
                    [label("col_item"), label("col_members")],
                    [
                        [label("lost_flagged"), lost.flagged],
                        [label("lost_confirmed"), lost.confirmed],
                        [label("lost_at_year_end"), lost.at_year_end],
                    ],
                    styles,
                    [9 * cm, 4 * cm],
                ),
            ]
        )
    )
    return story
