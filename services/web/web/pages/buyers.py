"""Buyers (donneurs d'ordre): the directory of a person's territories, a buyer's registration, a buyer's page
with its markets and how much they use the clause."""
from flask import Blueprint, flash, redirect, render_template, request, url_for

from ..auth import signed_in
from .common import EveryPage, form_page, found_or_abort, gather, get, paging, query_filters, send

bp = Blueprint("buyers", __name__)
VOCABULARY = ("markets", "/api/v1/vocabulary")
FILTERS = {"q": "q", "type": "buyer_type", "territoire": "territory"}
FIELDS = ("name", "siret", "buyer_type", "territory")


@bp.get("/acheteurs")
@signed_in("facilitator", "operator")
def index():
    shown, asked = query_filters(FILTERS)
    pages = paging()
    found = gather(buyers=("markets", "/api/v1/buyers", {**asked, **pages}), vocabulary=VOCABULARY)
    return render_template("pages/buyers/index.html", found=found, filters=shown, paging=pages)


@bp.route("/acheteurs/nouveau", methods=["GET", "POST"])
@signed_in("facilitator")
def new():
    vocabulary = get(*VOCABULARY)
    if request.method == "GET":
        return form_page("pages/buyers/new.html", vocabulary=vocabulary)
    answer = send("POST", "markets", "/api/v1/buyers", {name: request.form.get(name, "").strip() for name in FIELDS})
    if not answer.ok:
        return form_page("pages/buyers/new.html", answer, vocabulary=vocabulary)
    flash(f"L'acheteur « {answer.data['name']} » est enregistré.", "success")
    return redirect(url_for("buyers.show", buyer_id=answer.data["id"]))


@bp.get("/acheteurs/<buyer_id>")
@signed_in("facilitator", "operator", "buyer")
def show(buyer_id: str):
    found = gather(buyer=("markets", f"/api/v1/buyers/{buyer_id}"),
                   markets=EveryPage("markets", "/api/v1/markets", {"buyer_id": buyer_id, "sort": "-start_date"}))
    found_or_abort(found["buyer"])
    return render_template("pages/buyers/show.html", found=found, buyer=found["buyer"].data or {})
