"""The minutes PDF: text comes back out exactly (Vietnamese, NFC), fonts embedded, bars drawn."""

import io
import unicodedata
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from meetings.minutes.content import (
    AgendaRow,
    Attendance,
    AttendanceRow,
    ConclusionRow,
    DocumentRow,
    MeetingInfo,
    MinutesContent,
    PollOption,
    PollRow,
    SpeakerRow,
)
from meetings.minutes.render import (
    MOTTO,
    Approval,
    FontSet,
    RenderUnavailable,
    layout,
    plain_text,
    render,
    share,
)
from tests.meetings.minutes_support import FONTS, pdf_text

T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
NAMES = [
    "Nguyễn Thị Hương",
    "Trần Văn Đức",
    "Lê Hoàng Yến",
    "Phạm Quốc Huy",
    "Vũ Thị Ánh Tuyết",
    "Đặng Ngọc Quỳnh",
    "Bùi Thế Hiển",
    "Hồ Xuân Hương",
]


def _norm(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).split())


def rich_content(rows: int = 60) -> MinutesContent:
    """Every section, long enough to run over several pages; some input decomposed (NFD)."""
    nfd = lambda s: unicodedata.normalize("NFD", s)  # noqa: E731
    return MinutesContent(
        meeting=MeetingInfo(
            title=nfd("Kỳ họp thứ mười hai Hội đồng nhân dân tỉnh khóa XV"),
            description="Xem xét, quyết định các nội dung quan trọng về kinh tế - xã hội.",
            organisation="Hội đồng nhân dân tỉnh Quảng Ninh",
            location="Trung tâm Hội nghị tỉnh",
            starts_at=T0,
            started_at=T0,
            ended_at=T0 + timedelta(hours=3),
            chair="Nguyễn Xuân Ký",
            secretary="Trịnh Thị Minh Thanh",
        ),
        attendance=Attendance(
            rows=[
                AttendanceRow(
                    name=f"{NAMES[i % len(NAMES)]} {i}",
                    unit=f"Xã Đồn Đạc {i}",
                    status=("present", "absent", "excused")[i % 3],
                    mode=("online", "in_person", "")[i % 3],
                    reason="Ốm, có giấy xác nhận" if i % 3 == 2 else "",
                )
                for i in range(rows)
            ],
            members=rows,
            present=rows // 3,
            quorum=2 * rows // 3,
            quorum_met=False,
        ),
        agenda=[
            AgendaRow(
                number=str(i + 1),
                title=f"Tờ trình số {i + 1} về chính sách hỗ trợ đồng bào dân tộc thiểu số",
                presenter="Ban Dân tộc tỉnh",
                started_at=T0 + timedelta(minutes=10 * i),
                ended_at=T0 + timedelta(minutes=10 * i + 9),
            )
            for i in range(8)
        ],
        documents=[
            DocumentRow(title="Nghị quyết về ngân sách", version=3, sha256="0f" * 32, pages=41)
        ],
        speakers=[
            SpeakerRow(
                name=NAMES[i % len(NAMES)],
                unit="Huyện Ba Chẽ",
                topic="Ý kiến về đường giao thông liên xã, thủy lợi và trường học vùng cao",
                started_at=T0,
                ended_at=T0 + timedelta(minutes=4),
                seconds=245 + i,
            )
            for i in range(12)
        ],
        polls=[
            PollRow(
                title="Biểu quyết thông qua Nghị quyết về kế hoạch đầu tư công trung hạn",
                agenda_item="3. Tờ trình số 3",
                secret=True,
                rule="ít nhất hai phần ba tổng số thành viên, cần 40/60",
                options=[
                    PollOption(label="Tán thành", votes=47),
                    PollOption(label="Không tán thành", votes=5),
                    PollOption(label="Không biểu quyết", votes=0),
                ],
                eligible=55,
                cast=52,
                valid=True,
                outcome="passed",
            ),
            PollRow(
                title="Chọn địa điểm xây dựng trường trung học phổ thông",
                kind="single",
                options=[
                    PollOption(label="Xã Thanh Sơn", votes=30),
                    PollOption(label="Xã Quảng La", votes=22),
                ],
                outcome="passed: Xã Thanh Sơn",
            ),
        ],
        conclusions=[
            ConclusionRow(
                agenda_item="1. Tờ trình số 1",
                text="Giao Ủy ban nhân dân tỉnh hoàn thiện hồ sơ, trình kỳ họp gần nhất.",
                assignee="Ủy ban nhân dân tỉnh",
                deadline=date(2027, 1, 15),
            )
        ],
    )


FREE_TEXT = unicodedata.normalize(
    "NFD",
    "Đại biểu thảo luận sôi nổi, thẳng thắn.\n\nChủ tọa kỳ họp tiếp thu, giải trình ý kiến.",
)


def test_pdf_text_equals_the_vietnamese_source_over_several_pages():
    content = rich_content()
    approval = Approval(T0 + timedelta(hours=3), "Nguyễn Xuân Ký", "Trịnh Thị Minh Thanh")
    pdf = render(content, FREE_TEXT, approval, FONTS)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) > 2
    extracted = pdf_text(pdf)
    expected = plain_text(layout(content, FREE_TEXT, approval))
    assert _norm(extracted) == _norm(expected)
    # Decomposed input came out composed (NFC), and so did everything else.
    assert "Kỳ họp thứ mười hai Hội đồng nhân dân tỉnh khóa XV" in extracted
    assert "Đại biểu thảo luận sôi nổi" in extracted
    assert unicodedata.normalize("NFC", extracted) == extracted
    for line in MOTTO:
        assert line in extracted
    assert "47 phiếu (90,4%)" in extracted and "0 phiếu (0,0%)" in extracted
    assert "Kết quả: thông qua: Xã Thanh Sơn." in extracted
    assert "0f" * 32 in extracted
    assert reader.metadata.title == "Kỳ họp thứ mười hai Hội đồng nhân dân tỉnh khóa XV"


def test_the_font_is_embedded_and_the_chart_is_drawn():
    content = rich_content(rows=3)
    pdf = render(content, "", None, FONTS)
    reader = PdfReader(io.BytesIO(pdf))
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object()
            assert "/FontFile2" in descendant["/FontDescriptor"]  # embedded TrueType
            fonts.add(str(font["/BaseFont"]))
    assert any("DejaVuSans" in f for f in fonts), fonts
    # Bars are filled rectangles: one outline per option and one fill per non-zero count.
    streams = b"".join(page.get_contents().get_data() for page in reader.pages)
    assert streams.count(b" re f") + streams.count(b" re\nf") >= 4
    assert share(47, 52) == "47 phiếu (90,4%)" and share(0, 0) == "0 phiếu (0,0%)"


def test_empty_sections_are_left_out():
    content = MinutesContent(meeting=MeetingInfo(title="Họp giao ban"))
    text = plain_text(layout(content, "", None))
    assert "Họp giao ban" in text and "THÀNH PHẦN THAM DỰ" not in text and "KẾT LUẬN" not in text
    assert _norm(pdf_text(render(content, "", None, FONTS))) == _norm(text)


def test_a_missing_font_is_a_clear_error(tmp_path: Path):
    fonts = FontSet(tmp_path / "nothing.ttf")
    assert fonts.missing() == [tmp_path / "nothing.ttf"]
    with pytest.raises(RenderUnavailable, match="npm ci --prefix web") as missing:
        render(MinutesContent(), "", None, fonts)
    assert missing.value.code == "minutes_font_missing"
    assert missing.value.details == {"missing": [str(tmp_path / "nothing.ttf")]}
    assert FONTS.missing() == []


def test_content_is_validated():
    with pytest.raises(ValueError):
        MinutesContent.model_validate({"meeting": {"title": "x", "typo": 1}})
    with pytest.raises(ValueError):
        MinutesContent.model_validate({"documents": [{"title": "x", "sha256": "not-a-hash"}]})
    with pytest.raises(ValueError):
        MinutesContent.model_validate({"meeting": {"title": "x" * 1001}})
    decomposed = unicodedata.normalize("NFD", "Biên bản")
    assert MinutesContent.model_validate({"meeting": {"title": decomposed}}).meeting.title == (
        "Biên bản"
    )
