"""The quota simulator: amount, trade and hourly cost → hours at 5, 10, 15 and 20 %, for buyers and facilitators,
and for anyone without signing in. The markets service computes (the formula lives there only); these pages
read what the person typed and show its answer, as they type (htmx) or on sending the form."""
import re
from decimal import Decimal, InvalidOperation

from flask import Blueprint, render_template, request

from ..auth import signed_in
from .common import get, send, services

bp = Blueprint("simulator", __name__)

SIZING_FIELDS = ("amount_excl_vat", "trade", "labour_share", "insertion_rate", "hourly_cost")
PERCENTS = ("labour_share", "insertion_rate")  # typed as percentages, sent as fractions
SIZING_LABELS = {"amount_excl_vat": "Montant HT", "trade": "Métier", "labour_share": "Part de main-d'œuvre",
                 "insertion_rate": "Taux d'insertion", "hourly_cost": "Coût horaire"}
PUBLIC_API = "/api/v1/quota/public"
ROLES = ("facilitator", "buyer")


def sizing_request(form) -> dict:
    """What the person typed, as the simulation reads it: French numbers (« 1 000 000 », « 0,5 »), percentages
    as fractions. A value that is not a number goes as typed: the service says why."""
    body = {}
    for name in SIZING_FIELDS:
        value = (form.get(name) or "").strip()
        if value and name != "trade":
            value = french_number(value, percent=name in PERCENTS)
        if value:
            body[name] = value
    return body


def french_number(text: str, percent: bool) -> str:
    try:
        number = Decimal(re.sub(r"[\s\u00a0\u202f€%]", "", text).replace(",", "."))
    except InvalidOperation:
        return text
    return str(number / 100 if percent and number.is_finite() else number)


def simulate(body: dict, public: bool = False):
    """The markets service's simulation, or None while there is no amount to size."""
    if not body.get("amount_excl_vat"):
        return None
    if public:
        return services().call(None, "markets", "POST", f"{PUBLIC_API}/simulations", json_body=body)
    return send("POST", "markets", "/api/v1/quota/simulations", body)


def _page(public: bool):
    trades = services().call(None, "markets", "GET", f"{PUBLIC_API}/trades") if public else \
        get("markets", "/api/v1/trades")
    answer = simulate(sizing_request(request.args), public)
    return render_template("pages/simulator/index.html", trades=trades, answer=answer, values=request.args,
                           public=public)


def _result(public: bool):
    return render_template("pages/simulator/_result.html", answer=simulate(sizing_request(request.args), public))


@bp.get("/simulateur")
@signed_in(*ROLES)
def index():
    return _page(public=False)


@bp.get("/simulateur/resultat")
@signed_in(*ROLES)
def result():
    """The result alone, re-rendered as one types (htmx)."""
    return _result(public=False)


@bp.get("/simulateur-public")
def public():
    return _page(public=True)


@bp.get("/simulateur-public/resultat")
def public_result():
    return _result(public=True)
