"""The facilitators' validation queue: lines filtered by status, territory, lot, company and month, validated
in bulk; a line's page with its history, to reject it with a reason or correct it."""
from flask import Blueprint, flash, redirect, render_template, request, url_for

from ..auth import signed_in
from .common import COMPANIES, LOTS, Choice, choose, gather, names, paging, send

bp = Blueprint("declarations", __name__)
STATUSES = (("submitted", "À valider"), ("validated", "Validées"), ("rejected", "Rejetées"))
# The filters as the page names them, and the API's parameter for each.
FILTERS = {"statut": "status", "territoire": "territory", "lot": "lot_id", "entreprise": "contractor_siret",
           "mois": "month"}


def _filters() -> dict:
    chosen = {name: request.args.get(name, "").strip() for name in FILTERS}
    chosen["statut"] = chosen["statut"] or "submitted"
    return chosen


def lot_titles(lots) -> dict:
    return {lot["id"]: LOTS.label(lot) for lot in lots.items()}


@bp.get("/declarations")
@signed_in("facilitator")
def queue():
    chosen = _filters()
    lists = {"territory": chosen["territoire"] or None}
    lot, company = Choice("lot", LOTS, lists), Choice("entreprise", COMPANIES, lists)
    found = gather(lines=("hours", "/api/v1/declarations", {FILTERS[k]: v for k, v in chosen.items()} | paging()),
                   **lot.calls(), **company.calls())
    choices, lines = choose(found, lot, company), found["lines"].items()
    return render_template("pages/declarations/queue.html", found=found, chosen=chosen, statuses=STATUSES,
                           choices=choices, paging=paging(), args=chosen | {
                               choice.search_name: choice.typed for choice in choices.values() if choice.typed},
                           lots=names(LOTS, [line["lot_id"] for line in lines], dict(lot.options)),
                           companies=names(COMPANIES, [line["contractor_siret"] for line in lines],
                                           dict(company.options)))


def _back_to_queue():
    target = request.form.get("retour", "")
    return redirect(target if target.startswith("/declarations") else url_for(".queue"))


@bp.post("/declarations/validation")
@signed_in("facilitator")
def validate():
    ids = request.form.getlist("ids")
    if not ids:
        flash("Cochez au moins une ligne à valider.", "error")
        return _back_to_queue()
    answer = send("POST", "hours", "/api/v1/declarations/validate", {"ids": ids})
    if not answer.ok:
        flash(answer.message, "error")
    else:
        report = answer.data
        flash(f"{report['validated']} ligne(s) validée(s).", "success")
        for refused in (r for r in report["results"] if r["status"] == "refused"):
            flash(f"Ligne {refused['id']} non validée : {refused.get('detail', '')}", "error")
    return _back_to_queue()


FORM_LABELS = {"reason": "Motif du rejet", "hours": "Heures corrigées", "correction_reason": "Motif de la correction",
               "_schema": "Correction"}


def _line_page(declaration_id: str, errors=None, message=None, form=None, status=200):
    found = gather(line=("hours", f"/api/v1/declarations/{declaration_id}"),
                   history=("hours", f"/api/v1/declarations/{declaration_id}/history"))
    line = found["line"]
    if line.status in (403, 404):
        return render_template("pages/error.html", title="Déclaration introuvable", detail=line.message,
                               status=404), 404
    more = gather(lot=("markets", f"/api/v1/lots/{line.data['lot_id']}"),
                  company=("hours", f"/api/v1/contractors/{line.data['contractor_siret']}")) if line.ok else {}
    return render_template("pages/declarations/show.html", found=found | more, errors=errors or {},
                           message=message, form=form or {}, labels=FORM_LABELS), status


@bp.get("/declarations/<declaration_id>")
@signed_in("facilitator")
def show(declaration_id):
    return _line_page(declaration_id)


@bp.post("/declarations/<declaration_id>/rejet")
@signed_in("facilitator")
def reject(declaration_id):
    form = {"reason": request.form.get("reason", "").strip()}
    answer = send("POST", "hours", f"/api/v1/declarations/{declaration_id}/reject", form)
    if not answer.ok:
        return _line_page(declaration_id, answer.field_errors, answer.message, {"reject": form}, 422)
    flash("Ligne rejetée : l'entreprise lit le motif dans son espace.", "success")
    return redirect(url_for(".queue"))


@bp.post("/declarations/<declaration_id>/correction")
@signed_in("facilitator")
def correct(declaration_id):
    form = {name: request.form.get(name, "").strip() for name in ("hours", "correction_reason")}
    body = {"hours": form["hours"].replace(",", ".")} if form["hours"] else {}  # a French decimal comma
    if form["correction_reason"]:
        body["reason"] = form["correction_reason"]
    answer = send("POST", "hours", f"/api/v1/declarations/{declaration_id}/correct", body)
    if not answer.ok:  # the page's two forms each have a reason: this one's field is correction_reason
        errors = {"correction_reason" if name == "reason" else name: text
                  for name, text in answer.field_errors.items()}
        return _line_page(declaration_id, errors, answer.message, {"correct": form}, 422)
    flash("Ligne corrigée : la nouvelle version remplace l'ancienne, conservée dans l'historique.", "success")
    return redirect(url_for(".show", declaration_id=answer.data["id"]))
