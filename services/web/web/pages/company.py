"""A company's staff (role contractor): their lots and progress, the payroll file sent (template, report per
row, the refused rows as a file to fix and send again), their lines and why any was refused, the reporting
calendar and « no hours this month »."""
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from ..auth import signed_in
from .common import LOTS, Choice, choose, download, gather, get, names, paging, send
from .declarations import lot_titles

bp = Blueprint("company", __name__)
LINE_STATUSES = (("submitted", "À valider"), ("validated", "Validées"), ("rejected", "Rejetées"))
TEMPLATES = {"csv": "modele-declarations-heures.csv", "xlsx": "modele-declarations-heures.xlsx"}
# lots a page shows, in the progress table and in the calendar: a big company holds hundreds
TABLE_LOTS, CALENDAR_LOTS = 20, 10
NO_HOURS_LABELS = {"lot_id": "Lot", "month": "Mois", "reason": "Motif"}


def _page(report=None, errors=None, message=None, form=None, status=200):
    chosen = request.args.get("statut", "")
    lines_paging = paging()
    table_paging = {"page": paging("avancement")["page"], "page_size": TABLE_LOTS}
    calendar_paging = {"page": paging("lots")["page"], "page_size": CALENDAR_LOTS}
    # the month without hours' lot, found by words of its title; without words, the table's first lots (one call)
    lot = Choice("lot_id", LOTS, params={"sort": "end_date"}, size=TABLE_LOTS)
    found = gather(
        lots=("markets", "/api/v1/lots", {"sort": "end_date"} | table_paging),
        lines=("hours", "/api/v1/declarations", {"status": chosen} | lines_paging),
        calendar=("hours", f"/api/v1/contractors/{g.person.siret}/reporting", calendar_paging), **lot.calls())
    choices = choose(found, lot)
    calendar_lots = found["calendar"].data.get("lots", []) if found["calendar"].ok else []
    titles = names(LOTS, [line["lot_id"] for line in found["lines"].items()] + [c["lot_id"] for c in calendar_lots],
                   lot_titles(found["lots"]) | dict(lot.options))
    # each list's page stays as it is when another list turns its own
    kept = {name: value for name, value in (("statut", chosen), ("page", lines_paging["page"]),
                                            ("par", lines_paging["page_size"]), ("lots", calendar_paging["page"]),
                                            ("avancement", table_paging["page"])) if value not in ("", 1)}
    return render_template("pages/company/declarations.html", found=found, lots=titles, choices=choices,
                           chosen=chosen, statuses=LINE_STATUSES, paging=lines_paging, table_paging=table_paging,
                           calendar_paging=calendar_paging, kept=kept, report=report, errors=errors or {},
                           message=message, form=form or {}, labels=NO_HOURS_LABELS), status


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
    if request.form.get("chercher"):  # the lot searched: the page again, the form as filled
        return _page(form=request.form)
    form = {name: request.form.get(name, "").strip() for name in ("lot_id", "month", "reason")}
    answer = send("POST", "hours", "/api/v1/declarations/no-hours", {k: v for k, v in form.items() if v})
    if not answer.ok:
        return _page(errors=answer.field_errors, message=answer.message, form=form, status=422)
    flash("Mois déclaré sans heures d'insertion.", "success")
    return redirect(url_for(".declarations"))
