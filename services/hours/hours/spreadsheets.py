"""Declarations sent as a CSV or XLSX file, as small contractors keep them, and the template.

Rows become the same lines as the batch endpoint's (same schema, same rules, same report), named
by their line in the file. Nothing from a row is logged.
"""
import unicodedata
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.styles import Font
from plumbing.spreadsheets import XLSX_MIMETYPE, UnreadableFile, append_row, csv_bytes, read_rows, xlsx_bytes

from .domain import CONTRACT_TYPES, MODE_LABELS_FR, MODES

__all__ = ["XLSX_MIMETYPE", "UnreadableFile"]
SHEET = "Déclarations"

CONTRACT_LABELS_FR = {"cdi": "CDI", "cdd": "CDD", "apprenticeship": "Apprentissage",
                      "professionalisation": "Contrat de professionnalisation", "temporary": "Intérim",
                      "insertion": "Contrat d'insertion", "other": "Autre"}
# field, French header (as in the template), what to write
COLUMNS = (
    ("lot_id", "Lot", "Obligatoire. L'identifiant du lot attribué à votre entreprise."),
    ("participant_id", "Référence du participant", "Obligatoire (sauf mois sans heures). La référence remise par le "
                                                         "facilitateur."),
    ("month", "Mois", "AAAA-MM ou MM/AAAA (par exemple 2026-03) pour le mois entier. Obligatoire, sauf si la "
                      "ligne donne une date de début et une date de fin (alors laissez le mois vide)."),
    ("hours", "Heures", "Obligatoire. Nombre d'heures de la période, au plus deux décimales (151,67)."),
    ("mode", "Modalité", "Obligatoire (sauf mois sans heures). " + ", ".join(MODE_LABELS_FR.values()) + "."),
    ("employer_siret", "SIRET de l'employeur", "Si l'employeur n'est pas votre entreprise (ETTI, GEIQ, SIAE…)."),
    ("contract_type", "Type de contrat", "Facultatif. " + ", ".join(CONTRACT_LABELS_FR.values()) + "."),
    ("start_date", "Date de début", "Au lieu du mois, pour une partie du mois : premier jour travaillé, "
                                    "JJ/MM/AAAA ou AAAA-MM-JJ. Avec la date de fin, dans le même mois civil "
                                    "(une ligne par mois)."),
    ("end_date", "Date de fin", "Avec la date de début : dernier jour travaillé (inclus), JJ/MM/AAAA ou AAAA-MM-JJ."),
    ("no_hours_reason", "Motif si aucune heure", "Seulement pour déclarer un mois sans heures d'insertion sur un lot : "
                                                 "le lot, le mois, 0 ou rien en heures, aucun participant, et ici "
                                                 "pourquoi (par exemple « chantier à l'arrêt »)."),
)
HEADERS = {field: header for field, header, _ in COLUMNS}


def _key(text: str) -> str:
    """Compare headers and labels without case, accents or punctuation."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower()
    return "".join(c for c in text if c.isalnum())


_HEADER_KEYS = {_key(h): f for f, h, _ in COLUMNS} | {_key(f): f for f, _, _ in COLUMNS}
_MODES = {_key(code): code for code in MODES} | {_key(label): code for code, label in MODE_LABELS_FR.items()}
_CONTRACTS = {_key(c): c for c in CONTRACT_TYPES} | {_key(label): c for c, label in CONTRACT_LABELS_FR.items()}


def csv_template() -> bytes:
    return csv_bytes([
        [header for _, header, _ in COLUMNS],
        ["lot-exemple", "participant-exemple", "2026-03", "151,67", MODE_LABELS_FR["direct_hire"], "",
         CONTRACT_LABELS_FR["cdd"], "", "", ""],
        ["lot-exemple", "participant-exemple-2", "", "35", MODE_LABELS_FR["etti"], "55210055400013",
         CONTRACT_LABELS_FR["temporary"], "02/03/2026", "13/03/2026", ""],
        ["lot-exemple-2", "", "2026-03", "0", "", "", "", "", "", "Chantier à l'arrêt tout le mois"]])


def xlsx_template() -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET
    append_row(sheet, [header for _, header, _ in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    help_sheet = workbook.create_sheet("Aide")
    append_row(help_sheet, ["Colonne", "Que saisir"])
    for _, header, help_text in COLUMNS:
        append_row(help_sheet, [header, help_text])
    append_row(help_sheet, [])
    append_row(help_sheet, ["Période", "Chaque ligne porte soit sur un mois entier (colonne Mois), soit sur une "
                                      "partie d'un mois (Date de début et Date de fin, sans le mois). Deux lignes "
                                      "d'un même lot et d'un même participant ne peuvent pas se chevaucher."])
    append_row(help_sheet, ["Mois sans heures", "Un lot sans aucune heure d'insertion un mois : une ligne avec le lot, "
                                               "le mois, 0 heure et le motif, sans participant. Le mois compte "
                                               "alors comme déclaré et aucune relance n'est envoyée."])
    return xlsx_bytes(workbook)


def _month(text: str) -> str:
    """MM/AAAA and AAAA-MM-JJ become AAAA-MM; anything else is left for the schema to judge."""
    parts = text.split("/")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return f"{parts[1]}-{int(parts[0]):02d}"
    if len(text) == 10 and text[4] == "-":
        return text[:7]
    return text


def _day(text: str) -> str:
    """JJ/MM/AAAA becomes AAAA-MM-JJ; anything else is left for the schema to judge."""
    parts = text.split("/")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return f"{parts[2]}-{int(parts[1]):02d}-{int(parts[0]):02d}"
    return text


def _line(values: dict) -> dict:
    """A row as the batch endpoint's line: French labels become codes, « 151,67 » becomes 151.67."""
    line = {field: value for field, value in values.items() if value != ""}
    if "month" in line:
        line["month"] = _month(line["month"])
    for field in ("start_date", "end_date"):
        if field in line:
            line[field] = _day(line[field])
    if "hours" in line:
        line["hours"] = line["hours"].replace(" ", "").replace(",", ".")
    if "mode" in line:
        line["mode"] = _MODES.get(_key(line["mode"]), line["mode"])
    if "contract_type" in line:
        line["contract_type"] = _CONTRACTS.get(_key(line["contract_type"]), line["contract_type"])
    return line


def read_lines(stream: BinaryIO, max_rows: int) -> list[tuple[int, dict]]:
    """The data rows as (line number in the file, line), read row by row; refuses (UnreadableFile) a file
    of more than ``max_rows`` rows as soon as it gets there."""
    rows = read_rows(stream, max_rows, SHEET)
    header = next(rows, None)
    if header is None:
        raise UnreadableFile("Le fichier est vide : partez du modèle, dont la première ligne porte les en-têtes.")
    fields = [_HEADER_KEYS.get(_key(h)) for h in header[1]]
    missing = [HEADERS[f] for f, _, help_text in COLUMNS if help_text.startswith("Obligatoire") and f not in fields]
    if "month" not in fields and not {"start_date", "end_date"} <= set(fields):  # the period, one way or the other
        missing.append(f"{HEADERS['month']} (ou {HEADERS['start_date']} et {HEADERS['end_date']})")
    if missing:
        raise UnreadableFile("Colonnes obligatoires absentes : " + ", ".join(missing) + ". Partez du modèle "
                             "(GET /api/v1/declarations/template.csv ou .xlsx).")
    lines = []
    for number, row in rows:
        values = {f: (row[i] if i < len(row) else "") for i, f in enumerate(fields) if f}
        if any(values.values()):
            lines.append((number, _line(values)))
    if not lines:
        raise UnreadableFile("Le fichier ne contient aucune ligne sous les en-têtes.")
    return lines


# --- the refused rows of an upload, written back to be fixed and sent again -----------------------
REASON_HEADER = "Motif du refus"
ROW_HEADER = "Ligne d'origine"
_LABELS = {"mode": MODE_LABELS_FR, "contract_type": CONTRACT_LABELS_FR}


def _shown(field: str, value: str) -> str:
    """A value as the contractor would type it: French labels rather than codes, a decimal comma."""
    if field == "hours":
        return value.replace(".", ",")
    return _LABELS.get(field, {}).get(value, value)


def _refused_table(rows: list[dict], omitted: int) -> list[list]:
    """The template's columns, then the reason and the row's number in the uploaded file; the reader
    ignores these two, so the fixed file can be uploaded as it is (the line on the rows left out too)."""
    table = [[header for _, header, _ in COLUMNS] + [REASON_HEADER, ROW_HEADER]]
    for row in rows:
        table.append([_shown(field, str(row["values"].get(field, ""))) for field, _, _ in COLUMNS]
                     + [row["reason"], row["row"]])
    if omitted:
        table.append([""] * len(COLUMNS) + [
            f"… et {omitted} autre(s) ligne(s) refusée(s), non reprises ici : corrigez et renvoyez d'abord "
            "celles-ci, puis renvoyez votre fichier d'origine (les lignes déjà enregistrées y seront refusées "
            "comme doublons).", ""])
    return table


def refused_rows_csv(rows: list[dict], omitted: int = 0) -> bytes:
    """``rows``: {"row": number in the file, "values": {field: text as read}, "reason": French};
    ``omitted``: refused rows left out of the report (it is bounded)."""
    return csv_bytes(_refused_table(rows, omitted))


def refused_rows_xlsx(rows: list[dict], omitted: int = 0) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET
    for values in _refused_table(rows, omitted):
        append_row(sheet, values)  # what the file held, shown as text: never run as a formula
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    return xlsx_bytes(workbook)
