"""Months as the documents keep them (YYYY-MM): a date filter FerretDB serves by index is an equality on a month,
not a range on a date (its range conditions check each document's types, which no index serves)."""
from datetime import date

MONTHS_FOUND_BY_INDEX = 24  # a longer span is filtered by its dates alone


def month_of(day: date | None) -> str | None:
    return f"{day:%Y-%m}" if day else None


def months_spanned(after: date, before: date) -> list[str] | None:
    """The months from ``after``'s to ``before``'s, when they are a few; None otherwise."""
    months, year, month = [], after.year, after.month
    while (year, month) <= (before.year, before.month):
        if len(months) == MONTHS_FOUND_BY_INDEX:
            return None
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def spanned_months_filter(month_field: str, after: date, before: date) -> dict:
    """A mongoengine filter on ``month_field`` (YYYY-MM) to the months spanned, found by its index; empty when
    they are too many (the query's own date filter then does the work alone)."""
    months = months_spanned(after, before)
    return {} if months is None else {f"{month_field}__in": months}
