"""The pages, one blueprint per use case; app.py registers every one listed in PAGES.

MENU is the main menu: an entry shows to the roles named, once its page exists."""
from flask import current_app, request, url_for

from . import home, public
from . import alerts
from . import buyers
from . import companies
from . import company
from . import declarations
from . import lots
from . import markets
from . import operators
from . import participants
from . import simulator
from . import statistics

PAGES = [
    public.bp,
    home.bp,
    alerts.bp,
    buyers.bp,
    companies.bp,
    company.bp,
    declarations.bp,
    lots.bp,
    markets.bp,
    operators.bp,
    participants.bp,
    simulator.bp,
    statistics.bp,
]

EVERYONE = ("facilitator", "buyer", "contractor", "operator")
MENU = [
    ("home.index", "Accueil", EVERYONE),
    ("markets.index", "Marchés", ("facilitator", "operator", "buyer")),
    ("buyers.index", "Acheteurs", ("facilitator", "operator")),
    ("participants.index", "Participants", ("facilitator",)),
    ("declarations.queue", "Déclarations", ("facilitator",)),
    ("company.declarations", "Déclarer les heures", ("contractor",)),
    ("companies.index", "Entreprises", ("facilitator",)),
    ("alerts.index", "Alertes", EVERYONE),
    ("simulator.index", "Simulateur", ("facilitator", "buyer")),
    ("statistics.index", "Statistiques", ("facilitator", "operator", "buyer")),
    ("operators.index", "Administration", ("operator",)),
]


def register(app) -> None:
    app.add_template_global(page_url)
    app.add_template_global(navigation)
    app.add_template_global(territory_name)
    app.add_template_global(territory_options)
    app.add_template_global(app.extensions["settings"].region, "region")


def page_url(endpoint: str, **values) -> str | None:
    """The address of a page, or None while that page does not exist (the link is then not shown)."""
    return url_for(endpoint, **values) if endpoint in current_app.view_functions else None


def navigation(person) -> list[dict]:
    entries = []
    for endpoint, label, roles in MENU:
        if person.role in roles and endpoint in current_app.view_functions:
            url = url_for(endpoint)
            entries.append({"url": url, "label": label,
                            "current": request.endpoint == endpoint
                            or (endpoint != "home.index" and request.endpoint and
                                request.endpoint.split(".")[0] == endpoint.split(".")[0])})
    return entries


def territory_name(territory_id: str) -> str:
    known = current_app.extensions["settings"].region.territories.get(territory_id)
    return known.name if known else territory_id


def territory_options(ids=None) -> list[tuple[str, str]]:
    """Territories as a select's options, by name: those given (a person's), else the region's."""
    territories = current_app.extensions["settings"].region.territories
    return sorted(((t, territory_name(t)) for t in (territories if ids is None else ids)), key=lambda o: o[1])
