"""The printable journal: an A4 landscape communications log for the crisis team (fpdf2).

Every page repeats the box's identity, the period and the column heads, and its footer carries the page
number and the signed head hash, so a single page taken out of a binder still says where it belongs and
what checks it. Built with the PDF core fonts (Helvetica): nothing to embed, nothing to find on the box;
text outside Latin-1 is transliterated (arrows, dashes, ellipses), never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nspgw.journal.entry import Entry

COLUMNS_MM = (12, 32, 33, 20, 24, 152)  # Nr, time, clock, kind, who, description: 273 mm of 297 - 2 * 12
_ASCII = str.maketrans({"→": "->", "–": "-", "—": "-", "…": "...", "‘": "'", "’": "'", "“": '"', "”": '"',
                        "•": "*", "≈": "~"})


def latin1(text: str) -> str:
    return text.translate(_ASCII).encode("latin-1", "replace").decode("latin-1")


@dataclass(frozen=True, slots=True)
class Layout:
    """Everything on the page but the rows, already in the reader's language."""

    title: str
    box_line: str
    period_line: str
    head_line: str
    sig_line: str
    page_text: str  # with {page} and {pages}
    columns: tuple[str, ...]
    total_line: str


def render(layout: Layout, entries: Sequence[Entry], row: Callable[[Entry], tuple[str, ...]]) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    class Log(FPDF):  # type: ignore[misc]
        def header(self) -> None:
            self.set_font("helvetica", "B", 13)
            self.cell(0, 7, latin1(layout.title + " - " + layout.box_line), new_x="LMARGIN", new_y="NEXT")
            self.set_font("helvetica", "", 9)
            self.cell(0, 5, latin1(layout.period_line), new_x="LMARGIN", new_y="NEXT")
            self.ln(2)

        def footer(self) -> None:
            self.set_y(-16)
            self.set_font("helvetica", "", 7)
            self.cell(0, 4, latin1(layout.head_line), new_x="LMARGIN", new_y="NEXT")
            self.cell(200, 4, latin1(layout.sig_line))
            self.set_font("helvetica", "B", 8)
            self.cell(0, 4, latin1(layout.page_text.format(page=self.page_no(), pages="{nb}")), align="R")

    pdf = Log(orientation="L", unit="mm", format="A4")
    pdf.set_margins(12, 10, 12)
    pdf.set_auto_page_break(True, margin=20)
    pdf.set_title(latin1(layout.title))
    pdf.set_creator("nspgw")
    pdf.add_page()
    pdf.set_font("helvetica", "", 8)
    heading = FontFace(emphasis="BOLD", fill_color=(225, 225, 225))
    with pdf.table(col_widths=COLUMNS_MM, width=sum(COLUMNS_MM), line_height=4.2, headings_style=heading,
                   text_align=("RIGHT", "LEFT", "LEFT", "LEFT", "LEFT", "LEFT"), first_row_as_headings=True,
                   repeat_headings=1, borders_layout="HORIZONTAL_LINES", padding=1) as table:
        table.row([latin1(c) for c in layout.columns])
        for e in entries:
            table.row([latin1(c) for c in row(e)])
    pdf.ln(3)
    pdf.set_font("helvetica", "B", 9)
    pdf.cell(0, 5, latin1(layout.total_line))
    out: Any = pdf.output()
    return bytes(out)
