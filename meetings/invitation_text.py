"""The words of an invitation e-mail: Vietnamese first, English below; plain text and HTML.

Kept apart from the SMTP code so the wording can be read and tested on its own.
"""

from dataclasses import dataclass
from html import escape

from meetings.calendar import CalendarEvent, local_time
from meetings.notifications import MailKind

_SUBJECT = {
    MailKind.INVITATION: ("Giấy mời họp", "Meeting invitation"),
    MailKind.UPDATE: ("Thay đổi lịch họp", "Meeting changed"),
    MailKind.CANCELLATION: ("Hủy cuộc họp", "Meeting cancelled"),
    MailKind.WITHDRAWAL: ("Rút giấy mời họp", "Invitation withdrawn"),
}
_LEAD_VI = {
    MailKind.INVITATION: "Trân trọng kính mời đồng chí tham dự cuộc họp:",
    MailKind.UPDATE: "Cuộc họp dưới đây đã được thay đổi (thời gian hoặc nội dung):",
    MailKind.CANCELLATION: "Cuộc họp dưới đây đã bị hủy:",
    MailKind.WITHDRAWAL: "Giấy mời của đồng chí đối với cuộc họp dưới đây đã được rút lại:",
}
_LEAD_EN = {
    MailKind.INVITATION: "You are invited to the meeting:",
    MailKind.UPDATE: "The meeting below has changed (time or details):",
    MailKind.CANCELLATION: "The meeting below has been cancelled:",
    MailKind.WITHDRAWAL: "Your invitation to the meeting below has been withdrawn:",
}


@dataclass(frozen=True, slots=True)
class MailText:
    """Subject and bodies of one invitation e-mail."""

    subject: str
    text: str
    html: str


def _facts(event: CalendarEvent, url: str, vietnamese: bool) -> list[tuple[str, str]]:
    labels = (
        ("Nội dung", "Thời gian", "Kết thúc", "Chủ trì", "Lý do hủy", "Tham gia tại")
        if vietnamese
        else ("Title", "Starts", "Ends", "Chair", "Reason", "Join at")
    )
    facts = [
        (labels[0], event.title),
        (labels[1], local_time(event.starts_at)),
        (labels[2], local_time(event.ends_at)),
        (labels[3], event.organizer.name),
    ]
    if event.cancelled and event.cancel_reason:
        facts.append((labels[4], event.cancel_reason))
    facts.append((labels[5], url))
    return facts


def compose(event: CalendarEvent, kind: MailKind, recipient_name: str, url: str) -> MailText:
    """The e-mail for one recipient; the .ics travels as an attachment (see ``signaling.mail``)."""
    vi_subject, en_subject = _SUBJECT[kind]
    subject = f"[{vi_subject} / {en_subject}] {event.title}"
    parts_text: list[str] = []
    parts_html: list[str] = []
    for vietnamese, greeting, lead, closing in (
        (True, f"Kính gửi: {recipient_name}", _LEAD_VI[kind], "Tệp lịch (.ics) được đính kèm."),
        (False, f"Dear {recipient_name},", _LEAD_EN[kind], "The calendar file (.ics) is attached."),
    ):
        facts = _facts(event, url, vietnamese)
        parts_text.append(
            "\n".join([greeting, "", lead, "", *(f"  {k}: {v}" for k, v in facts), "", closing])
        )
        rows = "".join(
            f"<tr><th align='left'>{escape(k)}</th><td>{escape(v)}</td></tr>"
            for k, v in facts
            if k not in ("Tham gia tại", "Join at")
        )
        link = "Vào phòng họp" if vietnamese else "Open the meeting"
        parts_html.append(
            f"<p>{escape(greeting)}</p><p>{escape(lead)}</p><table>{rows}</table>"
            f"<p><a href='{escape(url, quote=True)}'>{link}</a></p><p>{escape(closing)}</p>"
        )
    if event.description and kind is not MailKind.WITHDRAWAL:
        parts_text[0] += f"\n\n{event.description}"
        parts_html[0] += f"<p>{escape(event.description)}</p>"
    text = "\n\n---------- English ----------\n\n".join(parts_text) + "\n"
    html = (
        "<!DOCTYPE html><html lang='vi'><head><meta charset='utf-8'></head><body>"
        + "<hr>".join(parts_html)
        + "</body></html>"
    )
    return MailText(subject=subject, text=text, html=html)
