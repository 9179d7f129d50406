"""Import of existing participants from the CSV or XLSX files facilitators keep today.

Every row is validated with the schemas of the single-participant API (and the eligibility rules
when the row carries eligibility columns), and the caller chooses: import the valid rows only, or
all rows or none. The report names each row by its line in the file, with French messages per
column. Nothing from a row (names, dates, references) is ever logged.
"""
import logging
from datetime import date
from typing import BinaryIO

import marshmallow as ma
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.datavalidation import DataValidation
from plumbing.spreadsheets import XLSX_MIMETYPE, UnreadableFile, append_row, csv_bytes, read_rows, xlsx_bytes

from . import domain, handlers
from .schemas import EligibilityRequestSchema, ParticipantCreateSchema

log = logging.getLogger(__name__)

__all__ = ["XLSX_MIMETYPE", "UnreadableFile"]
MAX_ROWS = 5000  # the default of PARTICIPANTS_IMPORT_MAX_ROWS, and the template's validated rows
SHEET = "Participants"

# field, French header (as in the template), what to write
COLUMNS = (
    ("first_name", "Prénom", "Obligatoire."),
    ("last_name", "Nom", "Obligatoire."),
    ("birth_date", "Date de naissance", "Obligatoire. JJ/MM/AAAA ou AAAA-MM-JJ."),
    ("sex", "Sexe", "Obligatoire. femme ou homme (F ou H)."),
    ("commune", "Commune de résidence", "Obligatoire."),
    ("qpv", "Résidence en QPV", "oui ou non (vide : non)."),
    ("email", "Courriel", "Facultatif."),
    ("phone", "Téléphone", "Facultatif. Exemple : 06 12 34 56 78."),
    ("criteria", "Critères d'éligibilité", "Facultatif : laissez vides toutes les colonnes d'éligibilité pour "
                                           "inscrire la personne sans valider son éligibilité. Codes séparés "
                                           "par « ; » : " + ", ".join(domain.CRITERIA) + "."),
    ("benefit", "Minimum social perçu", "Pour minimum_benefit : RSA, AAH, ASS ou other."),
    ("months", "Mois d'inscription comme demandeur d'emploi", "Pour long_term_job_seeker : 12 au moins."),
    ("reason", "Avis motivé du prescripteur", "Pour prescriber_derogation."),
    ("evidence_kind", "Justificatif : nature", "Avec des critères : par exemple attestation CAF."),
    ("evidence_reference", "Justificatif : référence", "Avec des critères : la référence du document vu."),
    ("evidence_date", "Justificatif : date", "Avec des critères : JJ/MM/AAAA ou AAAA-MM-JJ."),
    ("evidence_prescriber", "Prescripteur", "Facultatif : France Travail, Mission locale, Cap emploi…"),
    ("eligible_from", "Date d'entrée dans la clause", "Avec des critères : JJ/MM/AAAA ou AAAA-MM-JJ."),
)
HEADERS = {field: header for field, header, _ in COLUMNS}
REQUIRED = ("first_name", "last_name", "birth_date", "sex", "commune")
ELIGIBILITY_FIELDS = ("criteria", "benefit", "months", "reason", "evidence_kind", "evidence_reference",
                      "evidence_date", "evidence_prescriber", "eligible_from")
DATE_FIELDS = ("birth_date", "evidence_date", "eligible_from")
_HEADER_KEYS = {domain.normalise_name(header): field for field, header, _ in COLUMNS} | \
               {domain.normalise_name(field): field for field, _, _ in COLUMNS}
_SEXES = {"f": "female", "femme": "female", "female": "female", "h": "male", "m": "male", "homme": "male",
          "male": "male"}
_BOOLEANS = {"oui": True, "o": True, "x": True, "1": True, "vrai": True, "true": True, "yes": True,
             "non": False, "n": False, "0": False, "faux": False, "false": False, "no": False, "": False}
_CRITERIA = {domain.normalise_name(code): code for code in domain.CRITERIA} | \
            {domain.normalise_name(label): code for code, label in domain.CRITERIA_LABELS_FR.items()}


# --- templates ---------------------------------------------------------------------------------
def csv_template() -> bytes:
    """Header line only, separator « ; » and a byte-order mark: what a French spreadsheet opens right."""
    return csv_bytes([[header for _, header, _ in COLUMNS]])


def xlsx_template() -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET
    append_row(sheet, [header for _, header, _ in COLUMNS])
    for index, (_, header, _) in enumerate(COLUMNS, start=1):
        sheet.cell(row=1, column=index).font = Font(bold=True)
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = max(14, len(header) + 2)
    sheet.freeze_panes = "A2"
    for field, choices in (("sex", "femme,homme"), ("qpv", "oui,non")):
        letter = sheet.cell(row=1, column=[f for f, _, _ in COLUMNS].index(field) + 1).column_letter
        validation = DataValidation(type="list", formula1=f'"{choices}"', allow_blank=True)
        validation.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
        sheet.add_data_validation(validation)
    help_sheet = workbook.create_sheet("Mode d'emploi")
    append_row(help_sheet, ["Colonne", "Ce qu'il faut y écrire"])
    for _, header, explanation in COLUMNS:
        append_row(help_sheet, [header, explanation])
    append_row(help_sheet, [])
    append_row(help_sheet, ["Critères", "Codes acceptés et leur sens :"])
    for code, label in domain.CRITERIA_LABELS_FR.items():
        append_row(help_sheet, [code, label])
    help_sheet.column_dimensions["A"].width = 45
    help_sheet.column_dimensions["B"].width = 100
    return xlsx_bytes(workbook)


# --- reading files ----------------------------------------------------------------------------
def read_participants(stream: BinaryIO, max_rows: int) -> tuple[list[tuple[int, dict]], list[str]]:
    """The data rows as (line number, {field: text}), and the headers that were not recognised; read row by
    row, refused (UnreadableFile) as soon as the file passes ``max_rows`` rows."""
    rows = read_rows(stream, max_rows, SHEET)
    first = next(rows, None)
    if first is None:
        raise UnreadableFile("Le fichier est vide : partez du modèle, dont la première ligne porte les "
                             "en-têtes de colonnes.")
    header = first[1]
    fields = [_HEADER_KEYS.get(domain.normalise_name(h)) for h in header]
    ignored = [h for h, f in zip(header, fields) if h and f is None]
    missing = [HEADERS[f] for f in REQUIRED if f not in fields]
    if missing:
        raise UnreadableFile("Colonnes obligatoires absentes : " + ", ".join(missing) + ". Partez du modèle "
                             "(GET /api/v1/participants/import-template.csv ou .xlsx).")
    data = []
    for number, row in rows:
        values = {f: (row[i] if i < len(row) else "") for i, f in enumerate(fields) if f}
        if any(values.values()):
            data.append((number, values))
    if not data:
        raise UnreadableFile("Le fichier ne contient aucune ligne de participant sous les en-têtes.")
    return data, ignored


# --- validating rows --------------------------------------------------------------------------
def _iso_date(text: str) -> str:
    """JJ/MM/AAAA becomes AAAA-MM-JJ; anything else is left for the schema to judge."""
    parts = text.split("/")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and len(parts[2]) == 4:
        return f"{parts[2]}-{int(parts[1]):02d}-{int(parts[0]):02d}"
    return text


def _phone(text: str) -> str:
    # a spreadsheet that took the number for a number dropped its leading zero
    return "0" + text if text.isdigit() and len(text) == 9 and text[0] != "0" else text


def _add(errors: dict, field: str, messages) -> None:
    """Messages keyed by the file's French column header, each once."""
    column = errors.setdefault(HEADERS[field], [])
    column.extend(m for m in (messages if isinstance(messages, list) else [messages]) if m not in column)


def _participant_errors(messages: dict) -> dict:
    errors = {}
    for field, value in messages.items():
        _add(errors, field if field in HEADERS else "last_name", value)
    return errors


def _eligibility_errors(messages: dict) -> dict:
    """The eligibility schema's nested messages, on the columns the values came from."""
    errors = {}
    for field, value in messages.items():
        if field == "criteria" and isinstance(value, dict):
            for per_criterion in value.values():  # by position; the columns are shared by the criteria
                for name, msgs in per_criterion.items():
                    _add(errors, name if name in ("benefit", "months", "reason") else "criteria", msgs)
        elif field == "evidence" and isinstance(value, dict):
            for name, msgs in value.items():
                _add(errors, f"evidence_{name}", msgs)
        else:
            _add(errors, {"evidence": "evidence_kind", "eligible_from": "eligible_from"}.get(field, "criteria"),
                 value)
    return errors


def _participant_data(values: dict, territory: str) -> tuple[dict, dict]:
    errors = {}
    body = {"territory": territory}
    for field in ("first_name", "last_name", "commune", "email"):
        if values.get(field):
            body[field] = values[field]
    for field in ("birth_date",):
        if values.get(field):
            body[field] = _iso_date(values[field])
    if values.get("phone"):
        body["phone"] = _phone(values["phone"])
    if values.get("sex"):
        body["sex"] = _SEXES.get(values["sex"].strip().casefold(), values["sex"])
    qpv = _BOOLEANS.get(values.get("qpv", "").strip().casefold())
    if qpv is None:
        errors[HEADERS["qpv"]] = ["Valeur attendue : oui ou non."]
    else:
        body["qpv"] = qpv
    try:
        return ParticipantCreateSchema().load(body), errors
    except ma.ValidationError as exc:
        return None, {**_participant_errors(exc.messages), **errors}


def _criterion(raw: str, values: dict) -> dict | None:
    """A criterion from its code, its French label, or a benefit named alone (« RSA »)."""
    name = domain.normalise_name(raw)
    if name.upper() in domain.BENEFITS:
        return {"code": "minimum_benefit", "benefit": name.upper()}
    code = _CRITERIA.get(name)
    if code is None:
        return None
    extra = {"minimum_benefit": "benefit", "long_term_job_seeker": "months", "prescriber_derogation": "reason"}
    column = extra.get(code)
    return {"code": code, **({column: values[column]} if column and values.get(column) else {})}


def _eligibility_data(values: dict) -> tuple[dict | None, dict]:
    if not any(values.get(f) for f in ELIGIBILITY_FIELDS):
        return None, {}
    errors, criteria = {}, []
    for raw in filter(None, (c.strip() for c in values.get("criteria", "").replace(",", ";").split(";"))):
        criterion = _criterion(raw, values)
        if criterion is None:
            _add(errors, "criteria", f"Critère inconnu : « {raw} » ; codes acceptés : {', '.join(domain.CRITERIA)}.")
        else:
            criteria.append(criterion)
    body = {"criteria": criteria}
    evidence = {k: v for k, v in (("kind", values.get("evidence_kind")),
                                  ("reference", values.get("evidence_reference")),
                                  ("date", _iso_date(values.get("evidence_date", ""))),
                                  ("prescriber", values.get("evidence_prescriber"))) if v}
    if evidence:
        body["evidence"] = evidence
    else:
        _add(errors, "evidence_kind", "Justificatif requis (nature, référence, date) pour valider l'éligibilité.")
    if values.get("eligible_from"):
        body["eligible_from"] = _iso_date(values["eligible_from"])
    try:
        loaded = EligibilityRequestSchema().load(body)
    except ma.ValidationError as exc:
        for column, messages in _eligibility_errors(exc.messages).items():
            if column == HEADERS["criteria"] and column in errors:
                continue  # the unknown criterion says it already
            errors.setdefault(column, []).extend(messages)
        return None, errors
    return (None if errors else loaded), errors


def validate_row(values: dict, territory: str, window_months: int,
                 evidence_max_age_months: int = domain.EVIDENCE_MAX_AGE_MONTHS) -> tuple[dict | None, dict | None, dict]:
    """(participant data, eligibility data or None, errors by column) for one row of the file."""
    participant, errors = _participant_data(values, territory)
    eligibility, eligibility_errors = _eligibility_data(values)
    errors.update(eligibility_errors)
    if participant and eligibility:
        try:
            domain.grant(domain.REGISTERED, handlers.claimed_criteria(eligibility), participant["birth_date"],
                         eligibility["eligible_from"], window_months, evidence_max_age_months=evidence_max_age_months)
        except domain.RuleBroken as exc:
            errors.setdefault(HEADERS["criteria"], []).append(str(exc))
    return participant, eligibility, errors


# --- importing --------------------------------------------------------------------------------
def import_file(upload, territory: str, mode: str, actor, settings: dict, max_rows: int = MAX_ROWS,
                today: date | None = None) -> dict:
    """Validate every row, then create the valid ones (valid_only) or all of them only if all are valid."""
    today = today or date.today()
    window_months, evidence_max_age_months = settings["counting_window_months"], settings["evidence_max_age_months"]
    rows, ignored = read_participants(upload.stream, max_rows)
    report, accepted, seen = [], [], {}
    for number, values in rows:
        participant, eligibility, errors = validate_row(values, territory, window_months, evidence_max_age_months)
        line = {"row": number, "status": "invalid", "participant_id": None, "errors": errors}
        if participant and not errors:
            key = domain.lookalike_key(participant["first_name"], participant["last_name"],
                                       participant["birth_date"])
            existing = handlers.lookalikes(territory, key)
            if existing:
                line.update(status="duplicate", participant_id=existing[0], errors={
                    HEADERS["last_name"]: ["Une personne de mêmes nom, prénom et date de naissance est déjà "
                                           f"suivie sur ce territoire (référence {existing[0]}) : ligne non "
                                           "importée."]})
            elif key in seen:
                line.update(status="duplicate", errors={
                    HEADERS["last_name"]: [f"Même personne que la ligne {seen[key]} du fichier : ligne non "
                                           "importée."]})
            else:
                seen[key] = number
                line["status"] = "valid"
                accepted.append((line, participant, eligibility))
        report.append(line)
    rejected = len(report) - len(accepted)
    if mode == "valid_only" or not rejected:
        for line, participant, eligibility in accepted:
            line["participant_id"] = _create(participant, eligibility, actor, settings, today).id
            line["status"] = "created"
    created = sum(1 for line in report if line["status"] == "created")
    log.info("participants imported", extra={"territory": territory, "mode": mode, "rows": len(report),
                                             "rows_created": created, "rows_rejected": rejected})
    return {"mode": mode, "territory": territory, "rows_read": len(report), "created": created,
            "rejected": rejected, "ignored_columns": ignored, "rows": report}


def _create(data: dict, eligibility: dict | None, actor, settings: dict, today: date):
    """One participant, registered and (when the row says so) made eligible, in one document write."""
    participant = handlers.new_participant(data, actor, today)
    handlers.record_registration(participant, today, eligibility, actor, settings)
    participant.commit()
    handlers.log_access(participant, actor, "import")
    return participant
