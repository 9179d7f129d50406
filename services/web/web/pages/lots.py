"""A lot: its creation from a market's page with the sizing computed as one types, and its page — quota and
breakdown, override, amendments, award, and progress month by month, by territory and mode, its status
history and its declarations."""
from datetime import date

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from ..auth import signed_in
from .common import gather, paging, send
from .simulator import SIZING_LABELS, french_number, sizing_request, simulate

bp = Blueprint("lots", __name__)

LABELS = {**SIZING_LABELS, "number": "Numéro du lot", "title": "Intitulé", "hours": "Quota retenu",
          "override_reason": "Motif de la modification", "amendment_reason": "Motif de l'avenant", "signed_on": "Date de signature", "start_date": "Début", "end_date": "Fin",
          "contractor_siret": "SIRET de l'entreprise", "contractor_name": "Nom de l'entreprise"}
READERS = ("facilitator", "operator", "buyer", "contractor")


@bp.route("/marches/<market_id>/lots/nouveau", methods=["GET", "POST"])
@signed_in("facilitator")
def new(market_id):
    if request.method == "POST":
        body = {**sizing_request(request.form), "number": request.form.get("number", "").strip(),
                "title": request.form.get("title", "").strip()}
        answer = send("POST", "markets", f"/api/v1/markets/{market_id}/lots", body)
        if answer.ok:
            flash(f"Lot n° {answer.data['number']} créé : {answer.data['quota']['hours']} heures d'insertion.",
                  "success")
            return redirect(url_for("lots.show", lot_id=answer.data["id"]))
        return _new_form(market_id, answer), 422 if not answer.unavailable else 503
    return _new_form(market_id)


def _new_form(market_id, refused=None):
    found = gather(market=("markets", f"/api/v1/markets/{market_id}"), trades=("markets", "/api/v1/trades"))
    if found["market"].status in (403, 404):  # another territory's market, or none
        abort(found["market"].status)
    values = request.form if refused else request.args
    return render_template("pages/lots/new.html", market_id=market_id, found=found, values=values,
                           refused=refused, labels=LABELS, answer=simulate(sizing_request(values)))


@bp.get("/lots/<lot_id>")
@signed_in(*READERS)
def show(lot_id):
    return _page(lot_id)


def _page(lot_id, refused=None, form=None, errors=None, status=200):
    """The lot's page; ``refused``: the answer to its form ``form`` (award, override, amendment), whose
    ``errors`` show under that form's fields."""
    calls = {"lot": ("markets", f"/api/v1/lots/{lot_id}"), "progress": ("markets", f"/api/v1/lots/{lot_id}/progress")}
    if g.person.role == "facilitator":
        calls["declarations"] = ("hours", "/api/v1/declarations", {"lot_id": lot_id, **paging()})
    found = gather(**calls)
    if found["lot"].status in (403, 404):
        abort(found["lot"].status)
    progress = found["progress"]
    return render_template("pages/lots/show.html", found=found, lot_id=lot_id, refused=refused, form=form,
                           errors=errors or {}, values=request.form, labels=LABELS, paging=paging(),
                           chart=chart(progress.data["series"]) if progress.ok else None), status


def _change(lot_id, form: str, path: str, names: dict[str, str], done: str):
    """Send the form's fields (``names``: the form's name of each → the API's), blank ones left out: the
    service says which it needs. Its refusal shows under the form that was sent, field by field."""
    body = {api: request.form[name].strip() for name, api in names.items() if request.form.get(name, "").strip()}
    if "amount_excl_vat" in body:
        body["amount_excl_vat"] = french_number(body["amount_excl_vat"], percent=False)
    if "contractor_siret" in body:
        body["contractor_siret"] = body["contractor_siret"].replace(" ", "")
    answer = send("POST", "markets", f"/api/v1/lots/{lot_id}/{path}", body)
    if answer.ok:
        flash(done, "success")
        return redirect(url_for("lots.show", lot_id=lot_id))
    form_name = {api: name for name, api in names.items()}
    errors = {form_name.get(api, api): messages for api, messages in answer.field_errors.items()}
    return _page(lot_id, refused=answer, form=form, errors=errors, status=503 if answer.unavailable else 422)


@bp.post("/lots/<lot_id>/attribution")
@signed_in("facilitator")
def award(lot_id):
    return _change(lot_id, "award", "award", {"contractor_siret": "contractor_siret",
                                              "contractor_name": "contractor_name"}, "Lot attribué.")


@bp.post("/lots/<lot_id>/quota")
@signed_in("facilitator")
def override(lot_id):
    # the page has two forms with a reason: each its own field name
    return _change(lot_id, "override", "quota-override", {"hours": "hours", "override_reason": "reason"},
                   "Quota modifié ; le quota calculé reste visible dans l'historique.")


@bp.post("/lots/<lot_id>/avenants")
@signed_in("facilitator")
def amend(lot_id):
    return _change(lot_id, "amendment", "amendments", {
        "signed_on": "signed_on", "amendment_reason": "reason", "amount_excl_vat": "amount_excl_vat",
        "start_date": "start_date", "end_date": "end_date"}, "Avenant enregistré ; le quota est recalculé.")


# --- the chart: expected against realised hours, cumulated month by month -------------------------------
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 720, 300, 64, 16, 16, 48


def chart(series: list[dict], today: date | None = None) -> dict | None:
    """Where to draw the two curves of the progress ``series`` (the service's figures, drawn as they are):
    the expected one over the whole period, the realised one up to this month."""
    if not series:
        return None
    this_month = f"{today or date.today():%Y-%m}"
    done = [m for m in series if m["month"] <= this_month]
    top = max([m["cumulative_expected_hours"] for m in series] + [m["cumulative_realised_hours"] for m in done]
              + [1])
    width, height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = width / max(len(series) - 1, 1)

    def x(index):
        return round(LEFT + index * step, 1)

    def y(value):
        return round(TOP + height * (1 - value / top), 1)

    def line(name):
        return " ".join(f"{x(i)},{y(m[name])}" for i, m in enumerate(series[:len(done)] if "realised" in name
                                                                  else series))
    every = max(1, -(-len(series) // 8))  # at most about 8 month labels under the axis
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "bottom": TOP + height,
            "expected": line("cumulative_expected_hours"), "realised": line("cumulative_realised_hours"),
            "ticks": [{"y": y(top * k / 4), "value": top * k / 4} for k in range(5)],
            "months": [{"x": x(i), "month": m["month"]} for i, m in enumerate(series) if i % every == 0]}
