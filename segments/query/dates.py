"""Date values -> instants, in the store's time zone.

Every date value names an interval of time [start, end): a day (`2024-05-30`, `-7d`, `today`)
is the whole day from local midnight to the next local midnight in the shop's IANA zone (so a
DST day is 23 or 25 hours long); a date-time (`2024-05-30T16:00:00`) is that local second.
Comparisons then follow Shopify's whole-day rule:

    =  start <= x < end         >  x >= end       >=  x >= start
    <  x < start                <= x < end        BETWEEN a AND b   a.start <= x < b.end

Months and years move on the calendar and clamp to the month's last day, so -1m from March 31
is the last day of February, and -1y from February 29 is February 28.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from segments.query.ast import Literal, LiteralKind, Operator


@dataclass(frozen=True)
class Interval:
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC, exclusive


def add_months(day: date, months: int) -> date:
    month_index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(month_index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last_day))


def local_today(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of `day` in `zone`, in UTC (a midnight skipped by DST maps to the
    first local time that exists)."""
    naive = datetime.combine(day, time())
    instant = naive.replace(tzinfo=zone).astimezone(UTC)
    # zoneinfo reads a non-existent local time with the offset before the gap; that instant
    # is the gap's end, which is where the day really starts.
    return instant


def day_of(value: Literal, *, now: datetime, zone: ZoneInfo) -> date:
    """The calendar day a day-valued literal names (not for date-times)."""
    if value.kind == LiteralKind.DATE:
        return value.absolute_date
    today = local_today(now, zone)
    if value.kind == LiteralKind.NAMED_DATE:
        return today if value.text == "today" else today - timedelta(days=1)
    if value.kind == LiteralKind.OFFSET:
        amount = int(value.text[:-1])
        unit = value.text[-1]
        if unit == "d":
            return today + timedelta(days=amount)
        if unit == "w":
            return today + timedelta(weeks=amount)
        return add_months(today, amount * (12 if unit == "y" else 1))
    raise ValueError(f"{value.kind} is not a day")


def interval(value: Literal, *, now: datetime, zone: ZoneInfo) -> Interval:
    if value.kind == LiteralKind.DATETIME:
        start = value.absolute_datetime.replace(tzinfo=zone).astimezone(UTC)
        return Interval(start, start + timedelta(seconds=1))
    day = day_of(value, now=now, zone=zone)
    return Interval(local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone))


@dataclass(frozen=True)
class Bounds:
    """What a date condition allows: lower <= x < upper; `negate` for `!=`."""

    lower: datetime | None
    upper: datetime | None
    negate: bool = False


def bounds(operator: Operator, values, *, now: datetime, zone: ZoneInfo) -> Bounds:
    if operator == Operator.BETWEEN:
        low = interval(values[0], now=now, zone=zone)
        high = interval(values[1], now=now, zone=zone)
        return Bounds(low.start, high.end)
    span = interval(values[0], now=now, zone=zone)
    return {
        Operator.EQ: Bounds(span.start, span.end),
        Operator.NE: Bounds(span.start, span.end, negate=True),
        Operator.GT: Bounds(span.end, None),
        Operator.GE: Bounds(span.start, None),
        Operator.LT: Bounds(None, span.start),
        Operator.LE: Bounds(None, span.end),
    }[operator]


def within(instant: datetime | None, limits: Bounds) -> bool:
    """Python twin of the SQL condition (NULL never inside; `!=` includes NULL)."""
    inside = (
        instant is not None
        and (limits.lower is None or instant >= limits.lower)
        and (limits.upper is None or instant < limits.upper)
    )
    return not inside if limits.negate else inside
