"""Companies and their API keys (facilitators): list, register, a company's keys created, rotated and
revoked, and their use per day. A new key is shown in the answer to the POST only: never kept, never again."""
from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from ..auth import signed_in
from .common import gather, paging, send

bp = Blueprint("companies", __name__)
USAGE_DAYS = 30


def _list_page(errors=None, message=None, form=None, status=200):
    query = {"q": request.args.get("q", "").strip(), **paging()}
    found = gather(companies=("hours", "/api/v1/contractors", query))
    return render_template("pages/companies/index.html", found=found, query=query, paging=paging(),
                           errors=errors or {}, message=message, form=form or {}), status


@bp.get("/entreprises")
@signed_in("facilitator")
def index():
    return _list_page()


@bp.post("/entreprises")
@signed_in("facilitator")
def create():
    form = {name: request.form.get(name, "").strip() for name in ("siret", "name", "territory")}
    if len(g.person.territories) == 1:
        form.pop("territory")
    answer = send("POST", "hours", "/api/v1/contractors", {k: v for k, v in form.items() if v})
    if not answer.ok:
        return _list_page(answer.field_errors, answer.message, form, 422)
    flash(f"Entreprise « {answer.data['name']} » enregistrée.", "success")
    return redirect(url_for(".show", siret=answer.data["siret"]))


def _company_page(siret: str, created_key=None, errors=None, message=None, status=200):
    lots_paging = paging()  # a big company holds hundreds of lots
    found = gather(company=("hours", f"/api/v1/contractors/{siret}"),
                   api_keys=("hours", f"/api/v1/contractors/{siret}/api-keys"),
                   lots=("markets", "/api/v1/lots", {"contractor_siret": siret, "sort": "end_date"} | lots_paging))
    if found["company"].status in (403, 404):
        return render_template("pages/error.html", title="Entreprise introuvable",
                               detail=found["company"].message, status=404), 404
    usage = gather(**{key["key_id"]: ("hours", f"/api/v1/contractors/{siret}/api-keys/{key['key_id']}/usage",
                                      {"days": USAGE_DAYS}) for key in found["api_keys"].items()})
    return render_template("pages/companies/show.html", siret=siret, found=found, usage=usage, days=USAGE_DAYS,
                           lots_paging=lots_paging, created_key=created_key, errors=errors or {}, message=message), status


@bp.get("/entreprises/<siret>")
@signed_in("facilitator")
def show(siret):
    return _company_page(siret)


def _new_key_shown(siret: str, answer, success: str):
    """The page with the new key, once (the answer to this POST is the only place it is ever shown)."""
    if not answer.ok:
        return _company_page(siret, errors=answer.field_errors, message=answer.message, status=422)
    flash(success, "success")
    return _company_page(siret, created_key=answer.data)


@bp.post("/entreprises/<siret>/cles")
@signed_in("facilitator")
def create_key(siret):
    answer = send("POST", "hours", f"/api/v1/contractors/{siret}/api-keys",
                  {"label": request.form.get("label", "").strip()})
    return _new_key_shown(siret, answer, "Clé d'API créée.")


@bp.post("/entreprises/<siret>/cles/<key_id>/renouvellement")
@signed_in("facilitator")
def rotate_key(siret, key_id):
    grace = request.form.get("grace_hours", "").strip()
    answer = send("POST", "hours", f"/api/v1/contractors/{siret}/api-keys/{key_id}/rotate",
                  {"grace_hours": grace} if grace else {})
    return _new_key_shown(siret, answer, "Clé d'API renouvelée : l'ancienne reste valable pendant le délai choisi.")


@bp.post("/entreprises/<siret>/cles/<key_id>/revocation")
@signed_in("facilitator")
def revoke_key(siret, key_id):
    answer = send("DELETE", "hours", f"/api/v1/contractors/{siret}/api-keys/{key_id}")
    if answer.ok:
        flash("Clé d'API révoquée : elle est refusée dès maintenant.", "success")
    else:
        flash(answer.message, "error")
    return redirect(url_for(".show", siret=siret))
