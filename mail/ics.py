"""Calendar invitations (RFC 5545 with the iTIP methods of RFC 5546), made with ``icalendar``.

One UID per engagement for its whole life: the first booking is ``METHOD:REQUEST`` at
``SEQUENCE:0``, each reschedule a new ``REQUEST`` with the sequence raised, the cancellation a
``METHOD:CANCEL`` with the sequence raised again, so that every calendar updates the one event
instead of adding another.

The advocate's calendar feed (``feed``) is a subscription, not an invitation: ``METHOD:PUBLISH``
with one event per call, under the same UID its invitations carry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event, vCalAddress, vDuration, vText

PRODUCT = "-//Vouch//Customer references//EN"


@dataclass(frozen=True)
class Person:
    name: str
    email: str


def invitation(
    *,
    uid: str,
    sequence: int,
    method: str,
    starts_at: datetime,
    ends_at: datetime,
    summary: str,
    description: str,
    location: str,
    organizer: Person,
    attendees: Iterable[Person],
    stamp: datetime,
) -> str:
    """The text of a one-event calendar: ``method`` is REQUEST or CANCEL."""
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unknown iTIP method {method!r}")
    calendar = Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)

    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", starts_at.astimezone(UTC))
    event.add("dtend", ends_at.astimezone(UTC))
    event.add("summary", summary)
    event.add("description", description)
    if location:
        event.add("location", location)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event["organizer"] = _address(organizer, organizer=True)
    for person in attendees:
        event.add("attendee", _address(person), encode=0)
    calendar.add_component(event)
    return calendar.to_ical().decode("utf-8")


def attachment(text: str, method: str) -> dict[str, str]:
    """The invitation as an outbox attachment (text/calendar with its method, as mail programs
    expect to offer "accept" and "decline")."""
    return {
        "filename": "invitation.ics" if method == "REQUEST" else "cancellation.ics",
        "content_type": f"text/calendar; method={method}; charset=UTF-8",
        "data": text,
    }


def _address(person: Person, *, organizer: bool = False) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    address.params["cn"] = vText(person.name or person.email)
    if not organizer:
        address.params["role"] = vText("REQ-PARTICIPANT")
        address.params["partstat"] = vText("NEEDS-ACTION")
        address.params["rsvp"] = vText("TRUE")
    return address


@dataclass(frozen=True)
class FeedEvent:
    """One call in a subscription calendar."""

    uid: str
    sequence: int
    starts_at: datetime
    ends_at: datetime
    summary: str
    description: str
    location: str


def feed(*, name: str, events: Iterable[FeedEvent], stamp: datetime,
         refresh_minutes: int = 60) -> str:
    """The text of a subscription calendar (``METHOD:PUBLISH``, as calendar apps expect of a
    feed): each event with the UID and sequence its invitations carry, its times in UTC, and a
    hint for how often to fetch the feed again."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", timedelta(minutes=refresh_minutes), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(timedelta(minutes=refresh_minutes)))
    for item in events:
        event = Event()
        event.add("uid", item.uid)
        event.add("sequence", item.sequence)
        event.add("dtstamp", stamp.astimezone(UTC))
        event.add("dtstart", item.starts_at.astimezone(UTC))
        event.add("dtend", item.ends_at.astimezone(UTC))
        event.add("summary", item.summary)
        event.add("description", item.description)
        if item.location:
            event.add("location", item.location)
        event.add("status", "CONFIRMED")
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    return calendar.to_ical().decode("utf-8")
