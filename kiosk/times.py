"""Moments as the kiosk writes and reads them: ISO 8601 text, and times in UTC."""

from __future__ import annotations

from datetime import datetime, timezone


def moment(text: str) -> datetime:
    """An ISO 8601 time (the store's, a hospital system's) as an aware datetime with the offset it has;
    one without a time zone is UTC. :raises ValueError: not an ISO 8601 time"""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def utc(value: datetime) -> datetime:
    """A time in UTC; one without a time zone is taken as UTC already."""
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
