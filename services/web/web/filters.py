"""Jinja filters: French numbers and dates (labels of statuses come from the services' answers)."""
from datetime import date, datetime

MONTHS_FR = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre")


def number(value, decimals: int = 0) -> str:
    """12345.5 -> « 12 346 » (French grouping with a narrow no-break space)."""
    if value is None or value == "":
        return "—"
    text = f"{float(value):,.{decimals}f}"
    return text.replace(",", "\u202f").replace(".", ",")


def percent(value, decimals: int = 0) -> str:
    return "—" if value is None else f"{number(float(value) * 100, decimals)}\u00a0%"


def _day(value):
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return value


def french_date(value) -> str:
    day = _day(value)
    if not isinstance(day, (date, datetime)):
        return "—"
    return f"{day.day}{'er' if day.day == 1 else ''} {MONTHS_FR[day.month - 1]} {day.year}"


def french_datetime(value) -> str:
    moment = _day(value)
    if not isinstance(moment, datetime):
        return french_date(value)
    return f"{french_date(moment)} à {moment:%H:%M}"


def french_month(value) -> str:
    """'2026-03' -> « mars 2026 »."""
    try:
        year, month = str(value)[:7].split("-")
        return f"{MONTHS_FR[int(month) - 1]} {year}"
    except (ValueError, IndexError):
        return str(value or "—")


def choices(items, value: str | None = None, label: str = "label") -> list[tuple]:
    """A service's choices ``[{"value" or "code", "label"}]`` (or any items, by the names given) as a select's
    options."""
    return [(item[value or ("value" if "value" in item else "code")], item[label]) for item in items or ()]


def filled(values: dict) -> dict:
    """The filters a person set (to keep them in the links to other pages of a list)."""
    return {name: value for name, value in values.items() if value}


def register(app) -> None:
    app.add_template_filter(number)
    app.add_template_filter(percent)
    app.add_template_filter(french_date)
    app.add_template_filter(french_datetime)
    app.add_template_filter(french_month)
    app.add_template_filter(choices)
    app.add_template_filter(filled)
