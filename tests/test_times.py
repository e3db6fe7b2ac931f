"""kiosk/times.py: ISO times read the one way everywhere (the store, the sync, staff, doctor, HL7)."""

from datetime import datetime, timedelta, timezone

import pytest

from kiosk import times

PLUS_ONE = timezone(timedelta(hours=1))


def test_a_moment_keeps_its_offset_and_one_without_is_utc():
    assert times.moment("2026-11-27T14:05:00+01:00") == datetime(2026, 11, 27, 14, 5, tzinfo=PLUS_ONE)
    assert times.moment("2026-11-27T14:05:00+01:00").utcoffset() == timedelta(hours=1)
    assert times.moment("2026-11-27T14:05:00") == datetime(2026, 11, 27, 14, 5, tzinfo=timezone.utc)
    with pytest.raises(ValueError):
        times.moment("yesterday")


def test_utc_converts_and_takes_a_time_without_zone_as_utc():
    assert times.utc(datetime(2026, 11, 27, 14, 5, tzinfo=PLUS_ONE)).isoformat() == "2026-11-27T13:05:00+00:00"
    assert times.utc(datetime(2026, 11, 27, 14, 5)).isoformat() == "2026-11-27T14:05:00+00:00"
