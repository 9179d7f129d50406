"""A company's staff (role contractor): their lots and progress, the payroll file sent (template, report per
row, the refused rows as a file to fix and send again), their lines and why any was refused, the reporting
calendar and « no hours this month »."""
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from ..auth import signed_in
from .common import API_PAGE_SIZE, download, gather, get, paging, send, with_every_page
from .declarations import lot_titles

bp = Blueprint("company", __name__)
LINE_STATUSES = (("submitted", "À valider"), ("validated", "Validées"), ("rejected", "Rejetées"))
TEMPLATES = {"csv": "modele-declarations-heures.csv", "xlsx": "modele-declarations-heures.xlsx"}
CALENDAR_LOTS = 10  # lots whose calendar a page shows: a big company holds hundreds
NO_HOURS_LABELS = {"lot_id": "Lot", "month": "Mois", "reason": "Motif"}
# every lot of the company, however many pages of the API: the table, and the months without hours to choose from
LOTS = ("markets", "/api/v1/lots", {"page_size": API_PAGE_SIZE, "sort": "end_date"})


def _page(report=None, errors=None, message=None, form=None, status=200):
    chosen = request.args.get("statut", "")
    calendar_paging = {"page": paging("lots")["page"], "page_size": CALENDAR_LOTS}
    found = gather(
        lots=LOTS, lines=("hours", "/api/v1/declarations", {"status": chosen} | paging()),
        calendar=("hours", f"/api/v1/contractors/{g.person.siret}/reporting", calendar_paging))
    found["lots"] = with_every_page(found["lots"], *LOTS)
    return render_template("pages/company/declarations.html", found=found, lots=lot_titles(found["lots"]),
                           chosen=chosen, statuses=LINE_STATUSES, paging=paging(), calendar_paging=calendar_paging,
                           report=report, errors=errors or {}, message=message, form=form or {},
                           labels=NO_HOURS_LABELS), status


@bp.get("/mon-entreprise/declarations")
@signed_in("contractor")
def declarations():
    return _page()


@bp.get("/mon-entreprise/declarations/modele.<extension>")
@signed_in("contractor")
def template(extension):
    return _file(f"/api/v1/declarations/template.{extension}", extension, TEMPLATES.get(extension))


@bp.post("/mon-entreprise/declarations/fichier")
@signed_in("contractor")
def upload():
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        return _page(errors={"file": ["Choisissez le fichier de paie à envoyer."]},
                     message="Aucun fichier choisi.", status=422)
    answer = send("POST", "hours", "/api/v1/declarations/upload",
                  files={"file": (sent.filename, sent.stream, sent.mimetype or "application/octet-stream")})
    if not answer.ok:
        return _page(message=answer.message, status=422)
    return _page(report=answer.data, status=200)


@bp.get("/mon-entreprise/declarations/envois/<upload_id>/lignes-refusees.<extension>")
@signed_in("contractor")
def error_file(upload_id, extension):
    return _file(f"/api/v1/declarations/uploads/{upload_id}/errors.{extension}", extension,
                 f"lignes-refusees.{extension}")


def _file(path: str, extension: str, filename: str | None):
    """A CSV or XLSX file of the hours service, handed over as it came; if it cannot be, why on the page."""
    if extension not in TEMPLATES:
        abort(404)
    answer = get("hours", path)
    if not answer.ok:
        flash(answer.message, "error")
        return redirect(url_for(".declarations"))
    return download(answer, filename)


@bp.post("/mon-entreprise/declarations/sans-heures")
@signed_in("contractor")
def no_hours():
    form = {name: request.form.get(name, "").strip() for name in ("lot_id", "month", "reason")}
    answer = send("POST", "hours", "/api/v1/declarations/no-hours", {k: v for k, v in form.items() if v})
    if not answer.ok:
        return _page(errors=answer.field_errors, message=answer.message, form=form, status=422)
    flash("Mois déclaré sans heures d'insertion.", "success")
    return redirect(url_for(".declarations"))
