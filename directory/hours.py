"""Opening hours of practice locations: the weekdays, what the location form accepts, the time
zone of a point, and whether a location is open at a given instant.

Hours are wall-clock times in the location's own IANA time zone (`PracticeLocation.time_zone`,
set whenever the location is placed on the map, from its coordinates). "Open now" converts the
instant to that zone with zoneinfo, so daylight saving time follows the zone's own rules; a
location without a time zone (not placed) or without hours is *unknown*, never guessed.

Plain code: no request, no template. It reads any object with the attributes of
`PracticeLocation` (time_zone, by_appointment, hours) and of `OpeningHours` (weekday, opens,
closes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from directory.models.base import utcnow

if TYPE_CHECKING:
    from timezonefinder import TimezoneFinder

# The weekdays as Python numbers them (date.weekday(): 0 Monday … 6 Sunday), which is also
# OpeningHours.weekday. Their keys (the API's "day") are these names in lower case.
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# How many opening ranges the location form offers per day (a lunch break makes two).
RANGES_PER_DAY = 2

# A week's hours as plain values: (weekday, opens, closes) ranges.
WeeklyHours = list[tuple[int, time, time]]

TIME_MESSAGE = "Enter a time as HH:MM on the 24-hour clock, for example 08:30."
CLOSES_BEFORE_OPENS_MESSAGE = "Closing time must be after opening time."
OPENS_MISSING_MESSAGE = "Enter the opening time as well, or clear the closing time."
CLOSES_MISSING_MESSAGE = "Enter the closing time as well, or clear the opening time."
OVERLAP_MESSAGE = "These hours overlap the day's other hours ({other}): they must not."

_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?")


class Opening(Protocol):
    """What an opening range offers (OpeningHours, or a test's stand-in)."""

    weekday: int
    opens: time
    closes: time


class HoursError(ValueError):
    """A time or range the form cannot accept; str(error) is the message for the person."""


def day_key(weekday: int) -> str:
    """The weekday's key ("monday"), as the API and the form's field names spell it."""
    return DAYS[weekday].lower()


def format_time(value: time | datetime) -> str:
    """A time as the site shows and the API gives it: 24-hour "HH:MM"."""
    return value.strftime("%H:%M")


def format_range(opens: time, closes: time) -> str:
    """"08:00–12:30"."""
    return f"{format_time(opens)}–{format_time(closes)}"


def parse_time(text: str | None) -> time | None:
    """A typed time ("8:30", "08:30", or "08:30:00" as a browser's time input may send it) on
    the 24-hour clock, to the minute; None when empty. Raises HoursError otherwise."""
    text = (text or "").strip()
    if not text:
        return None
    match = _TIME.fullmatch(text)
    if not match:
        raise HoursError(TIME_MESSAGE)
    hour, minute = int(match[1]), int(match[2])
    if hour > 23 or minute > 59 or int(match[3] or 0) > 59:
        raise HoursError(TIME_MESSAGE)
    return time(hour, minute)


def check_day(ranges: Sequence[tuple[str | None, str | None]]
              ) -> tuple[list[tuple[time, time]], dict[tuple[int, str], str]]:
    """One day's typed ranges [(opens, closes), ...] → the ranges it opens, in order of
    opening, and the problems by (range index, "opens" or "closes"): a time that is not a
    time, one of the pair missing, a closing not after its opening, ranges that overlap.
    An empty pair is no range."""
    problems: dict[tuple[int, str], str] = {}
    good: list[tuple[int, time, time]] = []
    for index, texts in enumerate(ranges):
        parsed: dict[str, time | None] = {}
        for part, text in zip(("opens", "closes"), texts, strict=True):
            try:
                parsed[part] = parse_time(text)
            except HoursError as exc:
                problems[index, part] = str(exc)
        if len(parsed) < 2:
            continue
        opens, closes = parsed["opens"], parsed["closes"]
        if opens is None and closes is None:
            continue
        if opens is None:
            problems[index, "opens"] = OPENS_MISSING_MESSAGE
        elif closes is None:
            problems[index, "closes"] = CLOSES_MISSING_MESSAGE
        elif closes <= opens:
            problems[index, "closes"] = CLOSES_BEFORE_OPENS_MESSAGE
        else:
            other = next(((o, c) for _, o, c in good if opens < c and o < closes), None)
            if other:
                problems[index, "opens"] = OVERLAP_MESSAGE.format(other=format_range(*other))
            else:
                good.append((index, opens, closes))
    return sorted((o, c) for _, o, c in good), problems


# ------------------------------------------------------------------------------- time zones

@cache
def _finder() -> TimezoneFinder:
    """The one TimezoneFinder of the process (it takes a moment to load its data)."""
    from timezonefinder import TimezoneFinder

    return TimezoneFinder(in_memory=True)  # no file left open for the life of the process


def nautical_zone(lng: float) -> str:
    """The nautical time zone of a longitude (whole hours from UTC; "Etc/GMT-10" is UTC+10:
    POSIX inverts the sign)."""
    offset = max(-12, min(12, round(lng / 15)))
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def time_zone_at(lat: float | None, lng: float | None) -> str | None:
    """The IANA time zone at a point ("America/Denver"): the land zone there, at sea the
    nautical zone of the longitude; None without a point."""
    if lat is None or lng is None:
        return None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return None
    try:
        found = _finder().timezone_at(lat=lat, lng=lng)
    except ValueError:
        found = None
    return found or nautical_zone(lng)


def zone(name: str | None) -> ZoneInfo | None:
    """The time zone of that name, or None (no name, or one this system does not know)."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


# ------------------------------------------------------------------------------ open or not

def weekly(openings: Iterable[Opening]) -> list[tuple[str, list[tuple[time, time]]]]:
    """Monday to Sunday: (day name, its ranges in order); an empty list is a closed day."""
    days: list[list[tuple[time, time]]] = [[] for _ in DAYS]
    for o in openings:
        days[o.weekday].append((o.opens, o.closes))
    return [(name, sorted(ranges)) for name, ranges in zip(DAYS, days, strict=True)]


def as_json(openings: Iterable[Opening]) -> list[dict[str, str]]:
    """[{"day": "monday", "opens": "08:00", "closes": "12:30"}, ...], Monday first."""
    return [{"day": day_key(o.weekday), "opens": format_time(o.opens),
             "closes": format_time(o.closes)}
            for o in sorted(openings, key=lambda o: (o.weekday, o.opens))]


@dataclass(frozen=True)
class Status:
    """Whether a location is open at an instant, in its own time zone.

    `open` is None when it is unknown (no time zone, or no hours given); then `local` is None
    as well when there is no time zone."""

    open: bool | None
    local: datetime | None = None  # the instant on the location's clock
    closes: time | None = None  # when open: the end of the current range
    next_day: int | None = None  # when closed: days from today to the next opening (0–7)
    next_opens: time | None = None

    @property
    def next_opening(self) -> str | None:
        """"Opens today 14:00", "Opens tomorrow 08:00", "Opens Tuesday 08:00", or None."""
        if self.next_day is None or self.next_opens is None or self.local is None:
            return None
        when = ("today" if self.next_day == 0 else "tomorrow" if self.next_day == 1
                else DAYS[(self.local.weekday() + self.next_day) % 7])
        return f"Opens {when} {format_time(self.next_opens)}"


def status(location: Any, at: datetime | None = None) -> Status:
    """Whether the location is open at the instant `at` (aware, or naive UTC; None: now), on
    its own clock."""
    if at is None:
        at = utcnow()
    tz = zone(location.time_zone)
    if tz is None:
        return Status(open=None)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    local = at.astimezone(tz)
    days = [ranges for _, ranges in weekly(location.hours)]
    if not any(days):
        return Status(open=None, local=local)
    now = local.time().replace(tzinfo=None)
    today = days[local.weekday()]
    for opens, closes in today:
        if opens <= now < closes:
            return Status(open=True, local=local, closes=closes)
    for offset in range(8):
        for opens, _ in days[(local.weekday() + offset) % 7]:
            if offset or opens > now:
                return Status(open=False, local=local, next_day=offset, next_opens=opens)
    return Status(open=False, local=local)  # unreachable: some day has hours


def open_now(location: Any, at: datetime | None = None) -> bool | None:
    """True or False at the instant `at` (None: now); None when unknown (no time zone or no
    hours)."""
    return status(location, at).open

