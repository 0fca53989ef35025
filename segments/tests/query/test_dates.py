"""Date values in the store's time zone: month ends, leap days, DST and zones far apart."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from segments.query.ast import Literal, LiteralKind, Operator
from segments.query.dates import add_months, bounds, day_of, interval, within

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
AUCKLAND = ZoneInfo("Pacific/Auckland")
SANTIAGO = ZoneInfo("America/Santiago")


def offset(text):
    return Literal(LiteralKind.OFFSET, text)


def day(text):
    return Literal(LiteralKind.DATE, text)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2023, 3, 31), -1, date(2023, 2, 28)),
        (date(2024, 5, 31), -1, date(2024, 4, 30)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2024, 1, 15), -1, date(2023, 12, 15)),
        (date(2024, 2, 29), -12, date(2023, 2, 28)),
        (date(2024, 12, 31), 2, date(2025, 2, 28)),
        (date(2024, 3, 31), -25, date(2022, 2, 28)),
    ],
)
def test_months_clamp_to_the_end_of_the_month(start, months, expected):
    assert add_months(start, months) == expected


def test_offsets_count_from_today_in_the_shop_zone():
    # 23:30 UTC on March 31 is already April 1 in Paris and still March 31 in New York.
    now = datetime(2024, 3, 31, 23, 30, tzinfo=UTC)
    assert day_of(offset("-1m"), now=now, zone=PARIS) == date(2024, 3, 1)
    assert day_of(offset("-1m"), now=now, zone=NEW_YORK) == date(2024, 2, 29)
    assert day_of(offset("-1y"), now=now, zone=NEW_YORK) == date(2023, 3, 31)
    assert day_of(offset("-2w"), now=now, zone=PARIS) == date(2024, 3, 18)
    assert day_of(offset("+30d"), now=now, zone=PARIS) == date(2024, 5, 1)
    assert day_of(Literal(LiteralKind.NAMED_DATE, "today"), now=now, zone=AUCKLAND) == date(
        2024, 4, 1
    )
    assert day_of(Literal(LiteralKind.NAMED_DATE, "yesterday"), now=now, zone=NEW_YORK) == date(
        2024, 3, 30
    )


def test_a_day_is_local_midnight_to_local_midnight():
    now = datetime(2024, 6, 1, tzinfo=UTC)
    span = interval(day("2024-05-30"), now=now, zone=AUCKLAND)
    assert span.start == datetime(2024, 5, 29, 12, 0, tzinfo=UTC)  # NZST = UTC+12
    assert span.end - span.start == timedelta(hours=24)


def test_dst_days_are_23_and_25_hours_long():
    now = datetime(2024, 6, 1, tzinfo=UTC)
    spring = interval(day("2024-03-31"), now=now, zone=PARIS)
    autumn = interval(day("2024-10-27"), now=now, zone=PARIS)
    assert spring.end - spring.start == timedelta(hours=23)
    assert autumn.end - autumn.start == timedelta(hours=25)
    assert spring.start == datetime(2024, 3, 30, 23, 0, tzinfo=UTC)


def test_a_midnight_skipped_by_dst_starts_the_day_at_the_gap():
    # Santiago moved clocks from 00:00 to 01:00 on 2024-09-08.
    span = interval(day("2024-09-08"), now=datetime(2024, 9, 10, tzinfo=UTC), zone=SANTIAGO)
    assert span.start == datetime(2024, 9, 8, 4, 0, tzinfo=UTC)
    assert span.start.astimezone(SANTIAGO).hour == 1
    assert span.end - span.start == timedelta(hours=23)


def test_datetimes_are_local_seconds():
    span = interval(
        Literal(LiteralKind.DATETIME, "2020-05-30T16:00:00"), now=datetime.now(UTC), zone=NEW_YORK
    )
    assert span.start == datetime(2020, 5, 30, 20, 0, tzinfo=UTC)
    assert span.end - span.start == timedelta(seconds=1)


def test_comparisons_follow_the_whole_day_rule():
    now = datetime(2024, 5, 31, 12, tzinfo=UTC)
    zone = PARIS
    may_30_late = datetime(2024, 5, 30, 21, 59, tzinfo=UTC)  # 23:59 in Paris
    may_31_early = datetime(2024, 5, 30, 22, 0, tzinfo=UTC)  # 00:00 in Paris on the 31st
    value = (day("2024-05-30"),)

    def check(operator, instant):
        return within(instant, bounds(operator, value, now=now, zone=zone))

    assert check(Operator.EQ, may_30_late) and not check(Operator.EQ, may_31_early)
    assert check(Operator.GT, may_31_early) and not check(Operator.GT, may_30_late)
    assert check(Operator.LE, may_30_late) and not check(Operator.LE, may_31_early)
    assert check(Operator.LT, datetime(2024, 5, 29, 21, 59, tzinfo=UTC))
    assert not check(Operator.LT, datetime(2024, 5, 29, 22, 0, tzinfo=UTC))
    assert check(Operator.NE, may_31_early) and check(Operator.NE, None)
    assert not check(Operator.EQ, None) and not check(Operator.GT, None)


def test_between_is_inclusive_of_both_days_and_may_mix_kinds():
    now = datetime(2024, 5, 31, 12, tzinfo=UTC)
    limits = bounds(
        Operator.BETWEEN,
        (day("2024-01-01"), Literal(LiteralKind.NAMED_DATE, "today")),
        now=now,
        zone=NEW_YORK,
    )
    assert limits.lower == datetime(2024, 1, 1, 5, 0, tzinfo=UTC)
    assert limits.upper == datetime(2024, 6, 1, 4, 0, tzinfo=UTC)  # EDT = UTC-4
