"""Participants (facilitators): find a person, register them with their eligibility, follow their path and
exit, answer their rights (access export, erasure), import a file. Every figure and rule is the participants
service's; these pages only carry the facilitator's forms to it and show its answers."""
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from ..auth import signed_in
from .common import LOTS, Choice, choose, download, gather, get, names, paging, send

bp = Blueprint("participants", __name__)


@bp.context_processor
def field_labels():
    return {"field_labels": FIELD_LABELS}

API = "/api/v1/participants"
LABELS = ("participants", f"{API}/labels")
FILTERS = ("q", "statut", "public", "territoire", "tri")
IDENTITY = ("first_name", "last_name", "birth_date", "sex", "commune", "email", "phone")
EVIDENCE = ("kind", "reference", "date", "prescriber")
# What a criterion needs besides its code, as the form names it
CRITERION_DETAILS = {"minimum_benefit": ("benefit", "benefit"), "long_term_job_seeker": ("months", "months"),
                     "prescriber_derogation": ("reason", "derogation_reason")}
IMPORT_MODES = {"valid_only": "Importer les lignes valides, signaler les autres",
                "all_or_nothing": "Tout ou rien : n'importer que si toutes les lignes sont valides"}
# The fields' labels, for the error summary's links (the same words as the forms')
FIELD_LABELS = {
    "territory": "Territoire", "first_name": "Prénom", "last_name": "Nom", "birth_date": "Date de naissance",
    "sex": "Sexe", "commune": "Commune de résidence", "email": "Courriel", "phone": "Téléphone",
    "criteria": "Publics éligibles", "benefit": "Minimum social perçu",
    "months": "Mois d'inscription comme demandeur d'emploi", "derogation_reason": "Avis motivé du prescripteur",
    "evidence_kind": "Nature du justificatif", "evidence_reference": "Référence du justificatif",
    "evidence_date": "Date du justificatif", "evidence_prescriber": "Prescripteur",
    "eligible_from": "Date d'entrée dans la clause", "reason": "Motif", "revoked_on": "Date de la révocation",
    "lot_id": "Lot", "employer_siret": "SIRET de l'employeur", "contract_type": "Type de contrat",
    "start": "Début", "end": "Fin", "outcome": "Situation à la sortie", "exit_date": "Date de sortie",
    "file": "Fichier à importer", "mode": "Si des lignes sont refusées",
}
SORTS = {"last_name": "Nom", "window_end": "Fin de la période de comptage",
         "-registered_on": "Inscription la plus récente"}


@bp.get("/participants")
@signed_in("facilitator")
def index():
    asked = {name: request.args.get(name, "").strip() for name in FILTERS}
    found = gather(people=("participants", API, {
        "q": asked["q"], "status": asked["statut"], "public": asked["public"], "territory": asked["territoire"],
        "sort": asked["tri"] if asked["tri"] in SORTS else None, **paging()}), labels=LABELS)
    filters = {name: value for name, value in asked.items() if value}
    return render_template("pages/participants/index.html", found=found, asked=asked, filters=filters,
                           paging=paging(), sorts=SORTS, labels=_labels(found["labels"]), territories=territories())


# --- registration ----------------------------------------------------------------------------------
@bp.route("/participants/nouveau", methods=["GET", "POST"])
@signed_in("facilitator")
def new():
    if request.method == "GET":
        return _registration_form()
    body = {**_filled(request.form, IDENTITY), "qpv": "qpv" in request.form,
            "territory": request.form.get("territory") or _only_territory(),
            "confirm_new": request.form.get("confirm_new") == "true"}
    eligibility = eligibility_body(request.form)
    if eligibility:
        body["eligibility"] = eligibility
    answer = send("POST", "participants", API, body)
    if answer.ok:
        person = answer.data
        flash(f"{person['first_name']} {person['last_name']} est inscrit(e) : {person['status_label']}.", "success")
        return redirect(url_for("participants.show", participant_id=person["id"]))
    if answer.status == 409 and answer.problem.get("existing_id"):
        return _registration_form(lookalike=answer.problem["existing_id"], message=answer.message, status=409)
    return _registration_form(errors=form_errors(answer.field_errors), message=answer.message, status=422)


def _registration_form(errors=None, message=None, lookalike=None, status=200):
    labels = get(*LABELS)
    return render_template("pages/participants/new.html", form=request.form, errors=errors or {}, message=message,
                           lookalike=lookalike, labels=_labels(labels), labels_answer=labels,
                           territories=territories()), status


def territories() -> list[tuple[str, str]]:
    """The signed-in person's territories, as choices (id, name)."""
    from . import territory_name  # the package imports this module first
    return [(t, territory_name(t)) for t in sorted(g.person.territories)]


def _only_territory() -> str | None:
    territories = sorted(g.person.territories)
    return territories[0] if len(territories) == 1 else None


def _filled(form, names, prefix="") -> dict:
    """The fields the person filled in (an empty one is left for the service to call missing)."""
    return {name: form[prefix + name].strip() for name in names if form.get(prefix + name, "").strip()}


def eligibility_body(form) -> dict | None:
    """The eligibility part of a form as the service takes it; None when no criterion is ticked."""
    codes = form.getlist("criteria")
    if not codes:
        return None
    criteria = []
    for code in codes:
        criterion = {"code": code}
        if code in CRITERION_DETAILS:
            name, field = CRITERION_DETAILS[code]
            if form.get(field, "").strip():
                criterion[name] = form[field].strip()
        criteria.append(criterion)
    body = {"criteria": criteria, **_filled(form, ("eligible_from", "reason"))}
    evidence = _filled(form, EVIDENCE, prefix="evidence_")
    if evidence:
        body["evidence"] = evidence
    return body


def form_errors(errors: dict) -> dict:
    """The service's field errors under the names of the form's fields (eligibility.criteria.0.benefit ->
    benefit, eligibility.evidence.date -> evidence_date)."""
    named = {}
    for key, messages in errors.items():
        parts = key.split(".")
        if parts[0] == "eligibility" and len(parts) > 1:
            parts = parts[1:]
        if parts[0] == "criteria" and len(parts) == 3:
            name = dict(CRITERION_DETAILS.values()).get(parts[2], "criteria")
        elif parts[0] == "evidence":
            name = "evidence_" + (parts[1] if len(parts) > 1 else "kind")
        else:
            name = parts[0]
        named.setdefault(name, []).extend(messages)
    return named


def _labels(answer) -> dict:
    """code -> French label per list, as the service says them (empty when it does not answer)."""
    return answer.data if answer.ok else {}


# --- a person's page ---------------------------------------------------------------------------------
@bp.get("/participants/<participant_id>")
@signed_in("facilitator")
def show(participant_id):
    return _person_page(participant_id)


def _person_page(participant_id, errors=None, message=None, form_name=None, status=200):
    """The person's record, their access log and the labels, at once; a refused form is shown in its place."""
    lot = Choice("lot_id", LOTS)  # the path form's lot, found by words of its title
    found = gather(person=("participants", f"{API}/{participant_id}"), labels=LABELS,
                   log=("participants", f"{API}/{participant_id}/access-log"), **lot.calls())
    record = found["person"]
    if record.status in (403, 404):
        abort(record.status)
    if not record.ok:  # erased (410: the service says when), or the service does not answer
        title = "Données effacées" if record.status == 410 else "Fiche indisponible"
        return render_template("pages/participants/notice.html", title=title, answer=record), record.status or 503
    return render_template("pages/participants/show.html", found=found, participant=record.data,
                           labels=_labels(found["labels"]), errors=errors or {}, message=message,
                           form_name=form_name, form=request.form, blank=MultiDict(), choices=choose(found, lot),
                           lot_titles=names(LOTS, [entry["lot_id"] for entry in record.data.get("path") or []],
                                            dict(lot.options))), status


def _change(participant_id, path, body, done, form_name, method="POST"):
    """Send a change of the person's record; back to their page, saying it was done or why not."""
    answer = send(method, "participants", f"{API}/{participant_id}{path}", body)
    if answer.ok:
        flash(done, "success")
        return redirect(url_for("participants.show", participant_id=participant_id))
    if answer.status in (403, 404, 410):
        flash(answer.message, "error")
        return redirect(url_for("participants.show", participant_id=participant_id))
    return _person_page(participant_id, form_errors(answer.field_errors), answer.message, form_name,
                        status=answer.status if answer.status in (409, 422) else 422)


@bp.post("/participants/<participant_id>/eligibilite")
@signed_in("facilitator")
def grant(participant_id):
    body = eligibility_body(request.form) or {"criteria": []}  # none ticked: the service says one is needed
    return _change(participant_id, "/eligibility", body, "L'éligibilité est validée.", "eligibility")


# The changes made from a small form of the person's page: its address, the API's path, the form's fields and
# what is said once done
FORMS = {
    "revocation": ("/eligibility/revoke", ("reason", "revoked_on"), "L'éligibilité est révoquée."),
    "parcours": ("/path-entries", ("lot_id", "employer_siret", "start", "end", "contract_type"),
                 "L'étape de parcours est ajoutée."),
    "sortie": ("/exit", ("outcome", "exit_date"), "La sortie est enregistrée."),
}


@bp.post("/participants/<participant_id>/<any(revocation, parcours, sortie):form_name>")
@signed_in("facilitator")
def change(participant_id, form_name):
    if request.form.get("chercher"):  # the path form's lot searched: the page again, the form as filled
        return _person_page(participant_id, form_name=form_name)
    path, fields, done = FORMS[form_name]
    return _change(participant_id, path, _filled(request.form, fields), done, form_name)


@bp.post("/participants/<participant_id>/effacement")
@signed_in("facilitator")
def erase(participant_id):
    return _change(participant_id, "", None, "Les données personnelles de ce participant sont effacées.",
                   "erase", method="DELETE")


@bp.get("/participants/<participant_id>/droit-d-acces.<any(html, json):kind>")
@signed_in("facilitator")
def export(participant_id, kind):
    """The right-of-access document the service writes, handed over as a file (HTML to read, JSON to keep)."""
    answer = get("participants", f"{API}/{participant_id}/export" + (".html" if kind == "html" else ""))
    if not answer.ok:
        flash(answer.message, "error")
        return redirect(url_for("participants.show", participant_id=participant_id))
    return download(answer, f"droit-d-acces-{participant_id}.{kind}")


# --- import ------------------------------------------------------------------------------------------
@bp.route("/participants/import", methods=["GET", "POST"])
@signed_in("facilitator")
def import_file():
    if request.method == "GET":
        return _import_page()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _import_page(errors={"file": ["Choisissez le fichier à importer (CSV ou XLSX)."]},
                            message="Aucun fichier n'a été choisi.", status=422)
    answer = send("POST", "participants", f"{API}/import", files={"file": (
        upload.filename, upload.read(), upload.mimetype or "application/octet-stream")}, params={
        "territory": request.form.get("territory") or _only_territory(), "mode": request.form.get("mode")})
    report = answer.data if answer.ok else answer.problem if "rows" in answer.problem else None
    if answer.ok:
        return _import_page(report=report)
    return _import_page(report=report, errors=form_errors(answer.field_errors), message=answer.message,
                        status=422)


def _import_page(report=None, errors=None, message=None, status=200):
    return render_template("pages/participants/import.html", report=report, errors=errors or {}, message=message,
                           modes=IMPORT_MODES, form=request.form, territories=territories()), status


@bp.get("/participants/import/modele.<any(csv, xlsx):kind>")
@signed_in("facilitator")
def import_template(kind):
    answer = get("participants", f"{API}/import-template.{kind}")
    if not answer.ok:
        flash(answer.message, "error")
        return redirect(url_for("participants.import_file"))
    return download(answer, f"modele-import-participants.{kind}")
