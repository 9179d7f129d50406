"""Declarations sent as a CSV or XLSX file, as small contractors keep them, and the template.

Rows become the same lines as the batch endpoint's (same schema, same rules, same report), named
by their line in the file. Nothing from a row is logged.
"""
import csv
import io
import unicodedata
from datetime import date, datetime

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font

from .domain import CONTRACT_TYPES, MODES
from .schemas import MAX_BATCH_LINES

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET = "Déclarations"

MODE_LABELS_FR = {"direct_hire": "Embauche directe", "etti": "ETTI", "geiq": "GEIQ", "ai": "Association intermédiaire",
                  "siae_subcontracting": "Sous-traitance SIAE", "siae_cocontracting": "Cotraitance SIAE",
                  "training": "Formation"}
CONTRACT_LABELS_FR = {"cdi": "CDI", "cdd": "CDD", "apprenticeship": "Apprentissage",
                      "professionalisation": "Contrat de professionnalisation", "temporary": "Intérim",
                      "insertion": "Contrat d'insertion", "other": "Autre"}
# field, French header (as in the template), what to write
COLUMNS = (
    ("lot_id", "Lot", "Obligatoire. L'identifiant du lot attribué à votre entreprise."),
    ("participant_id", "Référence du participant", "Obligatoire. La référence remise par le facilitateur."),
    ("month", "Mois", "AAAA-MM ou MM/AAAA (par exemple 2026-03) pour le mois entier. Obligatoire, sauf si la "
                      "ligne donne une date de début et une date de fin (alors laissez le mois vide)."),
    ("hours", "Heures", "Obligatoire. Nombre d'heures de la période, au plus deux décimales (151,67)."),
    ("mode", "Modalité", "Obligatoire. " + ", ".join(MODE_LABELS_FR.values()) + "."),
    ("employer_siret", "SIRET de l'employeur", "Si l'employeur n'est pas votre entreprise (ETTI, GEIQ, SIAE…)."),
    ("contract_type", "Type de contrat", "Facultatif. " + ", ".join(CONTRACT_LABELS_FR.values()) + "."),
    ("start_date", "Date de début", "Au lieu du mois, pour une partie du mois : premier jour travaillé, "
                                    "JJ/MM/AAAA ou AAAA-MM-JJ. Avec la date de fin, dans le même mois civil "
                                    "(une ligne par mois)."),
    ("end_date", "Date de fin", "Avec la date de début : dernier jour travaillé (inclus), JJ/MM/AAAA ou AAAA-MM-JJ."),
)
HEADERS = {field: header for field, header, _ in COLUMNS}


class UnreadableFile(Exception):
    """The file cannot be read as declarations; the message is French."""


def _key(text: str) -> str:
    """Compare headers and labels without case, accents or punctuation."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower()
    return "".join(c for c in text if c.isalnum())


_HEADER_KEYS = {_key(h): f for f, h, _ in COLUMNS} | {_key(f): f for f, _, _ in COLUMNS}
_MODES = {_key(code): code for code in MODES} | {_key(label): code for code, label in MODE_LABELS_FR.items()}
_CONTRACTS = {_key(c): c for c in CONTRACT_TYPES} | {_key(label): c for c, label in CONTRACT_LABELS_FR.items()}


def csv_template() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow([header for _, header, _ in COLUMNS])
    writer.writerow(["lot-exemple", "participant-exemple", "2026-03", "151,67", MODE_LABELS_FR["direct_hire"], "",
                     CONTRACT_LABELS_FR["cdd"], "", ""])
    writer.writerow(["lot-exemple", "participant-exemple-2", "", "35", MODE_LABELS_FR["etti"], "55210055400013",
                     CONTRACT_LABELS_FR["temporary"], "02/03/2026", "13/03/2026"])
    return out.getvalue().encode("utf-8-sig")  # the BOM makes spreadsheets read the accents right


def xlsx_template() -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET
    sheet.append([header for _, header, _ in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    help_sheet = workbook.create_sheet("Aide")
    help_sheet.append(["Colonne", "Que saisir"])
    for _, header, help_text in COLUMNS:
        help_sheet.append([header, help_text])
    help_sheet.append([])
    help_sheet.append(["Période", "Chaque ligne porte soit sur un mois entier (colonne Mois), soit sur une partie "
                                  "d'un mois (Date de début et Date de fin, sans le mois). Deux lignes d'un même lot "
                                  "et d'un même participant ne peuvent pas se chevaucher."])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return f"{value:%Y-%m-%d}"  # a date cell; in the month column, _month keeps its month
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _rows(content: bytes) -> list[list[str]]:
    if content[:4] == b"PK\x03\x04":  # a zip: XLSX
        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception:  # noqa: BLE001 - whatever the reason, not a workbook we can read
            raise UnreadableFile("Fichier XLSX illisible : enregistrez-le à nouveau depuis votre tableur, "
                                 "ou utilisez le modèle.") from None
        try:
            sheet = workbook[SHEET] if SHEET in workbook.sheetnames else workbook.worksheets[0]
            return [[_cell(v) for v in row]
                    for row in sheet.iter_rows(values_only=True, max_row=MAX_BATCH_LINES + 2)]
        finally:
            workbook.close()
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("cp1252", errors="replace")  # what older French spreadsheets write
    delimiter = max((";", ",", "\t"), key=text.split("\n", 1)[0].count)
    try:
        return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    except csv.Error:
        raise UnreadableFile("Fichier CSV illisible : vérifiez les guillemets, ou utilisez le modèle.") from None


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


def read_lines(content: bytes) -> list[tuple[int, dict]]:
    """The data rows as (line number in the file, line)."""
    rows = _rows(content)
    if not rows or not any(rows[0]):
        raise UnreadableFile("Le fichier est vide : partez du modèle, dont la première ligne porte les en-têtes.")
    fields = [_HEADER_KEYS.get(_key(h)) for h in rows[0]]
    missing = [HEADERS[f] for f, _, help_text in COLUMNS if help_text.startswith("Obligatoire") and f not in fields]
    if "month" not in fields and not {"start_date", "end_date"} <= set(fields):  # the period, one way or the other
        missing.append(f"{HEADERS['month']} (ou {HEADERS['start_date']} et {HEADERS['end_date']})")
    if missing:
        raise UnreadableFile("Colonnes obligatoires absentes : " + ", ".join(missing) + ". Partez du modèle "
                             "(GET /api/v1/declarations/template.csv ou .xlsx).")
    lines = []
    for number, row in enumerate(rows[1:], start=2):
        values = {f: (row[i] if i < len(row) else "") for i, f in enumerate(fields) if f}
        if any(values.values()):
            lines.append((number, _line(values)))
    if not lines:
        raise UnreadableFile("Le fichier ne contient aucune ligne sous les en-têtes.")
    if len(lines) > MAX_BATCH_LINES:
        raise UnreadableFile(f"Le fichier compte plus de {MAX_BATCH_LINES} lignes : découpez-le.")
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


def _refused_table(rows: list[dict]) -> list[list]:
    """The template's columns, then the reason and the row's number in the uploaded file; the reader
    ignores these two, so the fixed file can be uploaded as it is."""
    table = [[header for _, header, _ in COLUMNS] + [REASON_HEADER, ROW_HEADER]]
    for row in rows:
        table.append([_shown(field, str(row["values"].get(field, ""))) for field, _, _ in COLUMNS]
                     + [row["reason"], row["row"]])
    return table


def refused_rows_csv(rows: list[dict]) -> bytes:
    """``rows``: {"row": number in the file, "values": {field: text as read}, "reason": French}."""
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows(_refused_table(rows))
    return out.getvalue().encode("utf-8-sig")


def refused_rows_xlsx(rows: list[dict]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET
    for values in _refused_table(rows):
        sheet.append(values)
        for cell in sheet[sheet.max_row]:
            if cell.data_type == "f":
                cell.data_type = "s"  # what the file held, shown as text: never run as a formula
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
