"""The minutes as a PDF: fpdf2 with HarfBuzz text shaping and an embedded Unicode TTF font.

Rendering goes through a small list of blocks (``layout``), so the text the PDF shows can
also be had as plain text (``plain_text``): the tests extract the PDF's text with pypdf and
compare it with that, which is what proves that Vietnamese diacritics survive. All text is
NFC-normalised before it reaches the page.
"""

import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import TableBordersLayout

from meetings.errors import DomainError
from meetings.minutes.content import MinutesContent, PollRow, nfc

# Vietnam keeps UTC+7 all year (no daylight saving), so a fixed offset is exact.
VIETNAM = timezone(timedelta(hours=7), "ICT")
MOTTO = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")
FAMILY = "MinutesFont"
PAGE_FOOTER = "Trang {page}/{pages}"

_STATUS = {"present": "có mặt", "absent": "vắng mặt", "excused": "vắng có lý do"}
_MODE = {"online": "trực tuyến", "in_person": "trực tiếp"}
_OUTCOME = {
    "passed": "thông qua",
    "failed": "không thông qua",
    "invalid": "không có giá trị (không đủ túc số)",
}


class RenderUnavailable(DomainError):
    """The PDF cannot be made on this server (its font files are missing)."""

    code = "minutes_font_missing"


@dataclass(frozen=True, slots=True)
class FontSet:
    """The TTF files embedded in the PDF; ``bold`` falls back to ``regular``."""

    regular: Path
    bold: Path | None = None

    def missing(self) -> list[Path]:
        """Configured files that are not there (empty when rendering can work)."""
        return [p for p in (self.regular, self.bold) if p is not None and not p.is_file()]

    def check(self) -> None:
        """Raise ``RenderUnavailable`` saying how to fix it (the paths are in its details)."""
        missing = self.missing()
        if missing:
            raise RenderUnavailable(
                "the minutes PDF font is missing on this server: run `npm ci --prefix web`,"
                " or set PHONGHOP_MINUTES_FONT to a Unicode TTF file",
                missing=[str(p) for p in missing],
            )


# ---- blocks -------------------------------------------------------------------------------


@dataclass
class Paragraph:
    """Wrapped text."""

    text: str
    size: float = 11
    bold: bool = False
    align: str = "L"
    space_before: float = 0
    keep_with_next: float = 0  # mm that must fit below it on the page (headings)


@dataclass
class Table:
    """A bordered table; ``widths`` are fractions of the text width."""

    headings: list[str]
    rows: list[list[str]]
    widths: tuple[float, ...]
    size: float = 9.5


@dataclass
class BarChart:
    """Horizontal bars (one per option), each labelled with its count and share."""

    bars: list[tuple[str, int]]
    total: int


@dataclass
class Signatures:
    """The closing signature lines: (title, name) pairs printed side by side."""

    parties: list[tuple[str, str]] = field(default_factory=list)


Block = Paragraph | Table | BarChart | Signatures


# ---- formatting ---------------------------------------------------------------------------


def when(value: datetime | None) -> str:
    """``08:00 ngày 24/11/2026`` in Vietnam time ("" when unknown)."""
    if value is None:
        return ""
    local = value.astimezone(VIETNAM)
    return f"{local:%H:%M} ngày {local:%d/%m/%Y}"


def clock(value: datetime | None) -> str:
    """``08:00`` in Vietnam time."""
    return "" if value is None else f"{value.astimezone(VIETNAM):%H:%M}"


def day(value: date | None) -> str:
    """``24/11/2026``."""
    return "" if value is None else f"{value:%d/%m/%Y}"


def duration(seconds: int | None) -> str:
    """``3 phút 20 giây``."""
    if seconds is None:
        return ""
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} phút {rest} giây" if minutes else f"{rest} giây"


def share(votes: int, total: int) -> str:
    """``12 phiếu (40,0%)``: Vietnamese uses a decimal comma."""
    percent = 100.0 * votes / total if total else 0.0
    return f"{votes} phiếu ({percent:.1f}%)".replace(".", ",")


def _span(start: datetime | None, end: datetime | None) -> str:
    if start is None and end is None:
        return ""
    return f"{clock(start)} - {clock(end)}".strip(" -")


# ---- layout -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Approval:
    """Who approved the minutes and when (printed at the end)."""

    at: datetime
    chair: str
    secretary: str


def _heading(text: str) -> Paragraph:
    return Paragraph(text, size=12, bold=True, space_before=4, keep_with_next=25)


def _poll_blocks(number: int, poll: PollRow) -> list[Block]:
    counted = sum(o.votes for o in poll.options)
    total = poll.cast if poll.cast else counted
    facts = [f"Hình thức: {'bỏ phiếu kín' if poll.secret else 'biểu quyết công khai'}"]
    if poll.rule:
        facts.append(f"quy tắc: {poll.rule}")
    if poll.eligible is not None:
        facts.append(f"số người có quyền biểu quyết: {poll.eligible}")
    if poll.cast is not None:
        facts.append(f"số phiếu: {poll.cast}")
    if poll.valid is not None:
        facts.append("đủ túc số" if poll.valid else "không đủ túc số")
    blocks: list[Block] = [
        Paragraph(f"{number}. {poll.title}", bold=True, space_before=2),
    ]
    if poll.agenda_item:
        blocks.append(Paragraph(f"Nội dung: {poll.agenda_item}", size=10))
    blocks.append(Paragraph("; ".join(facts) + ".", size=10))
    if poll.options:
        blocks.append(BarChart([(o.label, o.votes) for o in poll.options], total))
    if poll.outcome:
        code, _, rest = poll.outcome.partition(":")
        text = _OUTCOME.get(code, code) + (f":{rest}" if rest else "")
        blocks.append(Paragraph(f"Kết quả: {text}.", bold=True))
    return blocks


def layout(content: MinutesContent, free_text: str, approval: Approval | None) -> list[Block]:
    """The minutes as blocks, in reading order; sections without content are left out."""
    m = content.meeting
    blocks: list[Block] = [Paragraph(MOTTO[0], size=11, bold=True, align="C")]
    blocks.append(Paragraph(MOTTO[1], size=11, bold=True, align="C"))
    if m.organisation:
        blocks.append(Paragraph(m.organisation.upper(), size=11, align="C", space_before=4))
    blocks.append(Paragraph("BIÊN BẢN CUỘC HỌP", size=15, bold=True, align="C", space_before=6))
    if m.title:
        blocks.append(Paragraph(m.title, size=13, bold=True, align="C"))
    facts = []
    if m.starts_at is not None:
        facts.append(f"Thời gian triệu tập: {when(m.starts_at)}.")
    if m.started_at is not None or m.ended_at is not None:
        facts.append(f"Thời gian họp: từ {when(m.started_at)} đến {when(m.ended_at)}.".strip())
    if m.location:
        facts.append(f"Địa điểm: {m.location}.")
    if m.chair:
        facts.append(f"Chủ trì: {m.chair}.")
    if m.secretary:
        facts.append(f"Thư ký: {m.secretary}.")
    blocks += [Paragraph(text) for text in facts]
    if m.description:
        blocks.append(Paragraph(m.description))

    a = content.attendance
    if a.rows or a.members:
        blocks.append(_heading("I. THÀNH PHẦN THAM DỰ"))
        summary = f"Tổng số thành viên: {a.members}; có mặt: {a.present}"
        if a.quorum is not None:
            summary += f"; túc số cần thiết: {a.quorum}"
        if a.quorum_met is not None:
            summary += "; đủ túc số" if a.quorum_met else "; không đủ túc số"
        blocks.append(Paragraph(summary + "."))
        if a.rows:
            blocks.append(
                Table(
                    ["STT", "Họ và tên", "Đơn vị", "Tình trạng", "Hình thức"],
                    [
                        [
                            str(n),
                            r.name,
                            r.unit,
                            _STATUS.get(r.status, r.status)
                            + (f" ({r.reason})" if r.reason else ""),
                            _MODE.get(r.mode, r.mode),
                        ]
                        for n, r in enumerate(a.rows, start=1)
                    ],
                    (0.07, 0.3, 0.28, 0.2, 0.15),
                )
            )

    if content.agenda:
        blocks.append(_heading("II. CHƯƠNG TRÌNH HỌP"))
        blocks.append(
            Table(
                ["Mục", "Nội dung", "Trình bày", "Thời gian"],
                [
                    [r.number, r.title, r.presenter, _span(r.started_at, r.ended_at)]
                    for r in content.agenda
                ],
                (0.08, 0.5, 0.25, 0.17),
            )
        )

    if content.documents:
        blocks.append(_heading("III. TÀI LIỆU"))
        for n, d in enumerate(content.documents, start=1):
            line = f"{n}. {d.title} (phiên bản {d.version}"
            line += f", {d.pages} trang)" if d.pages is not None else ")"
            if d.agenda_item:
                line += f" - {d.agenda_item}"
            blocks.append(Paragraph(line, size=10))
            if d.sha256:
                blocks.append(Paragraph(f"SHA-256: {d.sha256}", size=7.5))

    if content.speakers:
        blocks.append(_heading("IV. Ý KIẾN PHÁT BIỂU"))
        blocks.append(
            Table(
                ["STT", "Người phát biểu", "Nội dung", "Thời gian", "Thời lượng"],
                [
                    [
                        str(n),
                        s.name + (f" ({s.unit})" if s.unit else ""),
                        " - ".join(x for x in (s.agenda_item, s.topic) if x),
                        _span(s.started_at, s.ended_at),
                        duration(s.seconds),
                    ]
                    for n, s in enumerate(content.speakers, start=1)
                ],
                (0.07, 0.28, 0.35, 0.15, 0.15),
            )
        )

    if content.polls:
        blocks.append(_heading("V. KẾT QUẢ BIỂU QUYẾT"))
        for n, poll in enumerate(content.polls, start=1):
            blocks += _poll_blocks(n, poll)

    if content.conclusions:
        blocks.append(_heading("VI. KẾT LUẬN"))
        for n, c in enumerate(content.conclusions, start=1):
            head = f"{n}. {c.agenda_item}: " if c.agenda_item else f"{n}. "
            blocks.append(Paragraph(head + c.text))
            extra = []
            if c.assignee:
                extra.append(f"Giao: {c.assignee}")
            if c.deadline is not None:
                extra.append(f"thời hạn: {day(c.deadline)}")
            if extra:
                blocks.append(Paragraph("; ".join(extra) + ".", size=10))

    if free_text.strip():
        blocks.append(_heading("VII. DIỄN BIẾN VÀ GHI CHÉP"))
        blocks.append(Paragraph(nfc(free_text.strip())))

    if approval is not None:
        blocks.append(
            Paragraph(f"Biên bản được chủ trì thông qua lúc {when(approval.at)}.", space_before=6)
        )
        blocks.append(Signatures([("THƯ KÝ", approval.secretary), ("CHỦ TRÌ", approval.chair)]))
    return blocks


def plain_text(blocks: list[Block]) -> str:
    """The words the PDF shows, in drawing order (page footers aside)."""
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Table):
            parts += block.headings
            for row in block.rows:
                parts += row
        elif isinstance(block, BarChart):
            for label, votes in block.bars:
                parts += [label, share(votes, block.total)]
        else:
            for title, _ in block.parties:
                parts.append(title)
            for _, name in block.parties:
                parts.append(name)
    return nfc("\n".join(p for p in parts if p))


# ---- drawing ------------------------------------------------------------------------------


class _Document(FPDF):
    """A4 portrait with a page-number footer."""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        self.cell(0, 5, PAGE_FOOTER.format(page=self.page_no(), pages="{nb}"), align="C")


def _draw_paragraph(pdf: FPDF, p: Paragraph) -> None:
    if p.keep_with_next and pdf.will_page_break(p.space_before + p.size * 0.5 + p.keep_with_next):
        pdf.add_page()
    elif p.space_before:
        pdf.ln(p.space_before)
    pdf.set_font(FAMILY, "B" if p.bold else "", p.size)
    pdf.multi_cell(0, p.size * 0.5, nfc(p.text), align=p.align, new_x="LMARGIN", new_y="NEXT")


def _draw_table(pdf: FPDF, t: Table) -> None:
    pdf.ln(1)
    pdf.set_font(FAMILY, "", t.size)
    width = pdf.epw
    with pdf.table(
        width=width,
        align="LEFT",
        col_widths=tuple(w * width for w in t.widths),
        line_height=t.size * 0.5,
        headings_style=None,
        repeat_headings=0,  # a heading repeated per page would be extra text in the record
        borders_layout=TableBordersLayout.ALL,
        text_align="LEFT",
        first_row_as_headings=False,
    ) as table:
        pdf.set_font(FAMILY, "B", t.size)
        row = table.row()
        for heading in t.headings:
            row.cell(nfc(heading))
        pdf.set_font(FAMILY, "", t.size)
        for cells in t.rows:
            row = table.row()
            for cell in cells:
                row.cell(nfc(cell))
    pdf.ln(1)


BAR_MAX_MM = 110.0
BAR_HEIGHT_MM = 4.5


def _draw_chart(pdf: FPDF, chart: BarChart) -> None:
    pdf.set_draw_color(60, 60, 60)
    for label, votes in chart.bars:
        # Keep an option's label and its bar on one page.
        if pdf.will_page_break(6 + BAR_HEIGHT_MM + 2):
            pdf.add_page()
        pdf.set_font(FAMILY, "", 9.5)
        pdf.multi_cell(0, 5, nfc(label), new_x="LMARGIN", new_y="NEXT")
        x, y = pdf.l_margin, pdf.get_y()
        length = BAR_MAX_MM * votes / chart.total if chart.total else 0.0
        pdf.set_fill_color(220, 220, 220)
        pdf.rect(x, y, BAR_MAX_MM, BAR_HEIGHT_MM, style="D")  # the scale: 100%
        if length > 0:
            pdf.set_fill_color(40, 90, 160)
            pdf.rect(x, y, length, BAR_HEIGHT_MM, style="F")
        pdf.set_xy(x + BAR_MAX_MM + 2, y)
        pdf.cell(0, BAR_HEIGHT_MM, share(votes, chart.total), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)


def _draw_signatures(pdf: FPDF, s: Signatures) -> None:
    if pdf.will_page_break(40):
        pdf.add_page()
    pdf.ln(6)
    column = pdf.epw / max(len(s.parties), 1)
    pdf.set_font(FAMILY, "B", 11)
    for title, _ in s.parties:
        pdf.cell(column, 6, title, align="C")
    pdf.ln(24)  # room for handwritten signatures
    pdf.set_font(FAMILY, "", 11)
    for _, name in s.parties:
        pdf.cell(column, 6, nfc(name), align="C")
    pdf.ln(6)


def draw(blocks: list[Block], fonts: FontSet, *, title: str, created: datetime) -> bytes:
    """The PDF bytes of ``blocks``, with the fonts embedded (subset) and shaped text."""
    fonts.check()
    pdf = _Document(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(20, 15, 15)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_font(FAMILY, "", str(fonts.regular))
    pdf.add_font(FAMILY, "B", str(fonts.bold or fonts.regular))
    pdf.set_text_shaping(True)
    pdf.set_lang("vi")
    pdf.set_title(nfc(title))
    pdf.set_subject("Biên bản cuộc họp")
    pdf.set_creator("phonghop")
    pdf.set_creation_date(created)
    pdf.add_page()
    for block in blocks:
        if isinstance(block, Paragraph):
            _draw_paragraph(pdf, block)
        elif isinstance(block, Table):
            _draw_table(pdf, block)
        elif isinstance(block, BarChart):
            _draw_chart(pdf, block)
        else:
            _draw_signatures(pdf, block)
    out = io.BytesIO()
    pdf.output(out)
    return out.getvalue()


def render(
    content: MinutesContent, free_text: str, approval: Approval | None, fonts: FontSet
) -> bytes:
    """The minutes PDF (CPU-bound: call it from a worker thread in a server)."""
    created = approval.at if approval is not None else datetime.now(VIETNAM)
    return draw(
        layout(content, free_text, approval), fonts, title=content.meeting.title, created=created
    )
