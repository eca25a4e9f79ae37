"""iCalendar (RFC 5545 / iTIP RFC 5546) invitations of a meeting, built with ``icalendar``.

A meeting is one VEVENT whose UID never changes; its SEQUENCE (``Meeting.calendar_sequence``)
rises with every change calendar clients must apply, so Outlook, Thunderbird or a phone replace
the entry they already have. Times are written in UTC (no VTIMEZONE to get wrong); the
calendar says ``X-WR-TIMEZONE:Asia/Ho_Chi_Minh`` and the description gives the local time,
which is how people in Vietnam read it.

An invitation is rendered from a ``CalendarEvent``: a frozen copy of what the meeting looked
like at the change, so a mail queued in the outbox says exactly what was decided then.
"""

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

from meetings.clock import as_utc
from meetings.models import Account, Meeting, MeetingState

LOCAL_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
PRODID = "-//phonghop//phong hop khong giay//VI"


class Method(StrEnum):
    """iTIP method of a calendar object."""

    REQUEST = "REQUEST"  # a new or changed invitation
    CANCEL = "CANCEL"  # the meeting (or the recipient's invitation) is cancelled


@dataclass(frozen=True, slots=True)
class Person:
    """An organizer or attendee: a name and, when known, an e-mail address."""

    name: str
    email: str | None = None


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """What an invitation says about a meeting, frozen at the moment of a change."""

    meeting_id: int
    uid: str
    sequence: int
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    organizer: Person
    cancelled: bool
    cancel_reason: str
    stamped_at: datetime  # DTSTAMP: when this version of the invitation was made

    def to_json(self) -> str:
        """Serialise for the outbox (ISO timestamps)."""
        data = asdict(self)
        for key in ("starts_at", "ends_at", "stamped_at"):
            data[key] = as_utc(data[key]).isoformat()
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "CalendarEvent":
        """The inverse of ``to_json``."""
        data = json.loads(text)
        for key in ("starts_at", "ends_at", "stamped_at"):
            data[key] = as_utc(datetime.fromisoformat(data[key]))
        data["organizer"] = Person(**data["organizer"])
        return cls(**data)


def meeting_uid(meeting: Meeting) -> str:
    """Stable per meeting: its id plus its creation instant (unique across installations)."""
    created = as_utc(meeting.created_at)
    return f"phonghop-meeting-{meeting.id}-{created:%Y%m%dT%H%M%S%f}Z@phonghop"


def event_for(meeting: Meeting, chair: Account | None, stamped_at: datetime) -> CalendarEvent:
    """The event as the meeting stands now; the chair is the organizer."""
    organizer = Person(chair.full_name, chair.email) if chair is not None else Person("phonghop")
    return CalendarEvent(
        meeting_id=meeting.id or 0,
        uid=meeting_uid(meeting),
        sequence=meeting.calendar_sequence,
        title=meeting.title,
        description=meeting.description,
        starts_at=as_utc(meeting.starts_at),
        ends_at=as_utc(meeting.ends_at),
        organizer=organizer,
        cancelled=meeting.state == MeetingState.CANCELLED.value,
        cancel_reason=meeting.cancel_reason,
        stamped_at=as_utc(stamped_at),
    )


def local_time(value: datetime) -> str:
    """``08:00 thứ Ba, 24/11/2026`` style display in Vietnam's time zone."""
    local = as_utc(value).astimezone(LOCAL_ZONE)
    weekday = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
    return f"{local:%H:%M} {weekday[local.weekday()]}, {local:%d/%m/%Y} (GMT+7)"


def _address(person: Person, fallback_email: str, role: str | None = None) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email or fallback_email}")
    address.params["CN"] = vText(person.name)
    if role is not None:
        address.params["ROLE"] = vText(role)
        address.params["PARTSTAT"] = vText("NEEDS-ACTION")
        address.params["RSVP"] = vText("FALSE")  # replies are not processed by phonghop
    return address


def build_ics(
    event: CalendarEvent,
    method: Method,
    *,
    url: str,
    attendees: list[Person],
    sender_email: str,
) -> bytes:
    """The ``.ics`` file: one VEVENT, UTC times, METHOD REQUEST or CANCEL.

    ``sender_email`` stands in for an organizer without an address of their own (calendar
    clients require ORGANIZER to be a calendar address).
    """
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method.value)
    cal.add("x-wr-timezone", str(LOCAL_ZONE))
    vevent = Event()
    vevent.add("uid", event.uid)
    vevent.add("sequence", event.sequence)
    vevent.add("dtstamp", event.stamped_at)
    vevent.add("dtstart", event.starts_at)
    vevent.add("dtend", event.ends_at)
    vevent.add("summary", event.title)
    lines = [f"Thời gian: {local_time(event.starts_at)}"]
    if event.description:
        lines.append(event.description)
    if event.cancelled and event.cancel_reason:
        lines.append(f"Lý do hủy: {event.cancel_reason}")
    lines.append(url)
    vevent.add("description", "\n\n".join(lines))
    vevent.add("url", url)
    vevent.add("location", url)  # clients show LOCATION, many ignore URL
    cancelled = method is Method.CANCEL
    vevent.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    vevent.add("transp", "OPAQUE")
    vevent["organizer"] = _address(event.organizer, sender_email)
    for person in attendees:
        if person.email:
            vevent.add("attendee", _address(person, sender_email, role="REQ-PARTICIPANT"))
    cal.add_component(vevent)
    return cal.to_ical()
