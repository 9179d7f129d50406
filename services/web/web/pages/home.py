"""The home page of a signed-in person: what needs their attention today, in their territories."""
from datetime import date, timedelta

from flask import Blueprint, g, render_template, request, session

from ..auth import signed_in
from .common import gather

bp = Blueprint("home", __name__)


def current_territory() -> str | None:
    """The territory a person who follows several chose to look at (None: all of theirs)."""
    chosen = request.args.get("territoire")
    if chosen is not None:
        session["territory"] = chosen if chosen in g.person.territories else None
    territory = session.get("territory")
    return territory if territory in g.person.territories else None


@bp.get("/accueil")
@signed_in()
def index():
    person, today = g.person, date.today()
    territory = current_territory() if person.role in ("facilitator", "operator") else None
    calls = {
        "at_risk": ("markets", "/api/v1/lots", {"at_risk": "true", "territory": territory, "page_size": 20}),
        "ending": ("markets", "/api/v1/lots", {"ending_after": today.isoformat(),
                                               "ending_before": (today + timedelta(days=60)).isoformat(),
                                               "shortfall": "true", "territory": territory, "page_size": 20,
                                               "sort": "end_date"}),
        "alerts": ("notifications", "/api/v1/alerts", {"unread": "true", "status": "open", "territory": territory,
                                                       "page_size": 10}),
    }
    if person.role == "facilitator":
        calls["waiting"] = ("hours", "/api/v1/declarations", {"status": "submitted", "territory": territory,
                                                               "page_size": 1})
        calls["windows"] = ("participants", "/api/v1/participants", {
            "status": "eligible", "window_ends_after": today.isoformat(),
            "window_ends_before": (today + timedelta(days=30)).isoformat(),
            "territory": territory, "page_size": 20, "sort": "window_end"})
    if person.role in ("buyer", "contractor"):
        calls["lots"] = ("markets", "/api/v1/lots", {"page_size": 50, "sort": "end_date"})
    return render_template("pages/home.html", found=gather(**calls), territory=territory, today=today)
