"""Markets: the list with its filters, creation and changes, the lifecycle's next step, a market's page with
its lots. A buyer's person sees their own markets only (the service narrows every answer to them)."""
from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from ..auth import signed_in
from .common import BUYERS, form_page, found_or_abort, gather, paging, query_filters, send

bp = Blueprint("markets", __name__)
READERS = ("facilitator", "operator", "buyer")
VOCABULARY = ("markets", "/api/v1/vocabulary")
FILTERS = {"q": "q", "statut": "status", "territoire": "territory", "acheteur": "buyer_id", "clause": "clause_kind",
           "tri": "sort"}
SORTS = [("reference", "Référence"), ("-start_date", "Début le plus récent"), ("end_date", "Fin la plus proche"),
         ("title", "Intitulé"), ("status", "Statut")]
# What a form sends as typed; an empty one is left out (the service says whether it was required).
TEXTS = ("reference", "title", "buyer_id", "nature", "cpv_code", "lead_territory", "notification_date", "start_date",
         "end_date")
# What a market's edit form may change (MarketUpdateSchema): its reference, buyer, nature and lead stay.
EDITABLE = ("title", "cpv_code", "clause_kind", "associated_territories", "state_market", "notification_date",
            "start_date", "end_date")


@bp.get("/marches")
@signed_in(*READERS)
def index():
    shown, asked = query_filters(FILTERS)
    pages = paging()
    calls = {"markets": ("markets", "/api/v1/markets", {**asked, **pages}), "vocabulary": VOCABULARY}
    if g.person.role != "buyer":
        calls["buyers"] = BUYERS
    return render_template("pages/markets/index.html", found=gather(**calls), filters=shown,
                           paging=pages, sorts=SORTS)


def market_body(form, names=TEXTS + ("clause_kind", "associated_territories", "state_market")) -> dict:
    """The JSON a market's form sends: texts as typed, no clause as null, the boxes as a list and a flag."""
    body = {name: form.get(name, "").strip() for name in TEXTS if name in names and form.get(name, "").strip()}
    if "clause_kind" in names:
        body["clause_kind"] = None if form.get("clause_kind") in (None, "", "none") else form["clause_kind"]
    if "associated_territories" in names:
        body["associated_territories"] = form.getlist("associated_territories")
    if "state_market" in names:
        body["state_market"] = form.get("state_market") == "true"
    return body


@bp.route("/marches/nouveau", methods=["GET", "POST"])
@signed_in("facilitator")
def new():
    found = gather(buyers=BUYERS, vocabulary=VOCABULARY)
    if request.method == "GET":
        return form_page("pages/markets/form.html", found=found, market=None)
    answer = send("POST", "markets", "/api/v1/markets", market_body(request.form))
    if not answer.ok:
        return form_page("pages/markets/form.html", answer, found=found, market=None)
    flash(f"Le marché « {answer.data['reference']} » est créé.", "success")
    return redirect(url_for("markets.show", market_id=answer.data["id"]))


@bp.route("/marches/<market_id>/modifier", methods=["GET", "POST"])
@signed_in("facilitator")
def edit(market_id: str):
    found = gather(market=("markets", f"/api/v1/markets/{market_id}"), vocabulary=VOCABULARY)
    market = found_or_abort(found["market"]).data
    if request.method == "GET":
        return form_page("pages/markets/form.html", found=found, market=market)
    answer = send("PATCH", "markets", f"/api/v1/markets/{market_id}", market_body(request.form, EDITABLE))
    if not answer.ok:
        return form_page("pages/markets/form.html", answer, found=found, market=market)
    flash("Les modifications du marché sont enregistrées.", "success")
    return redirect(url_for("markets.show", market_id=market_id))


@bp.post("/marches/<market_id>/statut")
@signed_in("facilitator")
def advance(market_id: str):
    """The market's next step, asked for on its page (the service refuses any other move, with a 409)."""
    answer = send("POST", "markets", f"/api/v1/markets/{market_id}/status", {"status": request.form.get("status")})
    if answer.ok:
        flash(f"Le marché est maintenant « {answer.data['status_label']} ».", "success")
    else:
        flash(f"Le statut n'a pas changé : {answer.message}", "error")
    return redirect(url_for("markets.show", market_id=market_id))


@bp.get("/marches/<market_id>")
@signed_in(*READERS)
def show(market_id: str):
    found = gather(market=("markets", f"/api/v1/markets/{market_id}"),
                   lots=("markets", f"/api/v1/markets/{market_id}/lots"))
    found_or_abort(found["market"])
    return render_template("pages/markets/show.html", found=found, market=found["market"].data or {})
