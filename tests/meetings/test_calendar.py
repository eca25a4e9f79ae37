"""The .ics of a meeting and the words of its e-mail, parsed back (no database needed)."""

from datetime import UTC, datetime, timedelta

from icalendar import Calendar

from meetings.calendar import CalendarEvent, Method, Person, build_ics, local_time
from meetings.invitation_text import compose
from meetings.notifications import MailKind

STARTS = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)  # 08:30 in Hà Nội


def _event(**changes: object) -> CalendarEvent:
    values: dict[str, object] = {
        "meeting_id": 42,
        "uid": "phonghop-meeting-42-20261124T090000000000Z@phonghop",
        "sequence": 3,
        "title": "Họp giao ban UBND tỉnh tháng 12",
        "description": "Đánh giá tình hình kinh tế – xã hội",
        "starts_at": STARTS,
        "ends_at": STARTS + timedelta(hours=2),
        "organizer": Person("Nguyễn Văn Chủ Trì", "chutri@quangninh.gov.vn"),
        "cancelled": False,
        "cancel_reason": "",
        "stamped_at": datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
    }
    values.update(changes)
    return CalendarEvent(**values)  # type: ignore[arg-type]


def _parse(ics: bytes) -> tuple[Calendar, object]:
    cal = Calendar.from_ical(ics)
    (event,) = cal.walk("VEVENT")
    return cal, event


def test_request_parses_back_with_utc_times_and_a_stable_uid():
    ics = build_ics(
        _event(),
        Method.REQUEST,
        url="https://hop.quangninh.gov.vn/meetings/42",
        attendees=[Person("Lê Thị Đại Biểu", "daibieu@thanhson.gov.vn"), Person("Không thư")],
        sender_email="phonghop@quangninh.gov.vn",
    )
    cal, event = _parse(ics)
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(cal["X-WR-TIMEZONE"]) == "Asia/Ho_Chi_Minh"
    assert str(event["UID"]) == "phonghop-meeting-42-20261124T090000000000Z@phonghop"
    assert int(event["SEQUENCE"]) == 3
    assert event.decoded("DTSTART") == STARTS
    assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert b"DTSTART:20261201T013000Z" in ics  # UTC form, no VTIMEZONE needed
    assert event.decoded("DTEND") == STARTS + timedelta(hours=2)
    assert str(event["SUMMARY"]) == "Họp giao ban UBND tỉnh tháng 12"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["URL"]) == "https://hop.quangninh.gov.vn/meetings/42"
    assert "08:30 thứ Ba, 01/12/2026" in str(event["DESCRIPTION"])
    organizer = event["ORGANIZER"]
    assert str(organizer) == "mailto:chutri@quangninh.gov.vn"
    assert organizer.params["CN"] == "Nguyễn Văn Chủ Trì"
    # Only people with an address can be calendar attendees.
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:daibieu@thanhson.gov.vn"
    assert attendee.params["CN"] == "Lê Thị Đại Biểu"


def test_cancel_and_an_organizer_without_an_address():
    ics = build_ics(
        _event(cancelled=True, cancel_reason="Trùng lịch họp HĐND", organizer=Person("Chủ trì")),
        Method.CANCEL,
        url="https://hop.example/meetings/42",
        attendees=[],
        sender_email="phonghop@quangninh.gov.vn",
    )
    cal, event = _parse(ics)
    assert str(cal["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"
    assert "Trùng lịch họp HĐND" in str(event["DESCRIPTION"])
    assert str(event["ORGANIZER"]) == "mailto:phonghop@quangninh.gov.vn"
    assert "ATTENDEE" not in event


def test_the_outbox_copy_of_an_event_round_trips():
    event = _event()
    again = CalendarEvent.from_json(event.to_json())
    assert again == event
    assert again.starts_at.tzinfo is not None


def test_local_time_is_hanoi_time():
    assert (
        local_time(datetime(2026, 11, 29, 17, 0, tzinfo=UTC)) == "00:00 thứ Hai, 30/11/2026 (GMT+7)"
    )


def test_mail_text_is_vietnamese_first_then_english():
    url = "https://hop.example/meetings/42"
    words = compose(_event(), MailKind.INVITATION, "Lê Thị Đại Biểu", url)
    assert words.subject == "[Giấy mời họp / Meeting invitation] Họp giao ban UBND tỉnh tháng 12"
    vi, en = words.text.index("Kính gửi: Lê Thị Đại Biểu"), words.text.index("Dear Lê Thị")
    assert vi < en
    assert words.text.count(url) == 2
    assert "08:30 thứ Ba, 01/12/2026 (GMT+7)" in words.text
    assert f"href='{url}'" in words.html
    cancelled = compose(
        _event(cancelled=True, cancel_reason="Hoãn <vô thời hạn>"),
        MailKind.CANCELLATION,
        "A",
        url,
    )
    assert cancelled.subject.startswith("[Hủy cuộc họp / Meeting cancelled]")
    assert "Lý do hủy: Hoãn <vô thời hạn>" in cancelled.text
    assert "Hoãn &lt;vô thời hạn&gt;" in cancelled.html  # escaped in HTML
    assert "<vô" not in cancelled.html
