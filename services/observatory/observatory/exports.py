"""CSV and XLSX files of the statistics, of a territory's lots with their progress, and of the declaration
lines (pseudonymous). French headers; a hidden figure is « s » (secret statistique)."""
import hashlib

from openpyxl import Workbook
from plumbing.spreadsheets import append_row, csv_bytes, xlsx_bytes

from . import domain

SECRET = "s"


def write_csv(headers: list[str], rows) -> bytes:
    """Risky text neutralised by plumbing's CSV writer; decimals with a French comma."""
    return csv_bytes([headers, *([_french_number(v) for v in row] for row in rows)])


def _french_number(value):
    if isinstance(value, float):
        return f"{value:.2f}".replace(".", ",")
    return "" if value is None else value


def write_xlsx(sheet: str, headers: list[str], rows) -> bytes:
    book = Workbook()
    page = book.active
    page.title = sheet[:31]
    page.append(headers)
    for row in rows:
        append_row(page, row)
    return xlsx_bytes(book)


def _secret(value):
    return SECRET if value is None else value


def statistics_table(stats: dict) -> tuple[list[str], list[list]]:
    """Rows, then each criterion's totals (two criteria), then the total."""
    dimensions = [d["code"] for d in stats["dimensions"]]
    headers = [d["label"] for d in stats["dimensions"]] + [
        "Heures exigées", "Heures réalisées", "Heures déclarées (en attente)", "Participants"] + [
        f"Sorties : {label}" for label in domain.OUTCOME_LABELS_FR.values()]
    rows = [*stats["rows"], *(r for margin in stats["margins"].values() for r in margin), stats["total"]]
    return headers, [[r["keys"][d]["label"] for d in dimensions] + [
        r["hours_required"], _secret(r["hours_realised"]), _secret(r["hours_declared"]), _secret(r["participants"]),
        *(_secret(r["outcomes"][o]) for o in domain.OUTCOMES)] for r in rows]


LOT_HEADERS = ["Marché", "Intitulé du marché", "Acheteur", "Type d'acheteur", "Secteur", "Type de clause", "Lot",
               "Intitulé du lot", "Corps de métier", "Titulaire", "Heures exigées", "Heures réalisées",
               "Heures déclarées (en attente)", "Avancement (%)"]


def lots_table(scope, lines) -> list[list]:
    realised, declared = {}, {}
    for line in lines:
        target = realised if line["status"] == "validated" else declared if line["status"] == "submitted" else None
        if target is not None:
            target[line["lot_id"]] = target.get(line["lot_id"], 0) + line["centihours"]
    rows = []
    for lot in sorted(scope.lots.values(), key=lambda lot: (lot.get("market_id") or "", lot.get("number") or 0)):
        market = scope.markets.get(lot.get("market_id"), {})
        quota, done = lot.get("quota_hours") or 0, realised.get(lot["_id"], 0) / 100
        rows.append([market.get("reference"), market.get("title"), market.get("buyer_name"),
                     domain.label("buyer_type", market.get("buyer_type")), domain.label("sector", market.get("nature")),
                     domain.label("clause_kind", market.get("clause_kind")), lot.get("number"), lot.get("title"),
                     lot.get("trade"), lot.get("contractor_name"), quota, done, declared.get(lot["_id"], 0) / 100,
                     round(100 * done / quota, 1) if quota else None])
    return rows


LINE_HEADERS = ["Ligne", "Marché", "Lot", "Mois", "Heures", "État", "Modalité", "Type de contrat", "Employeur",
                "Territoire", "Participant (pseudonyme)"]
STATUS_LABELS_FR = {"submitted": "en attente de validation", "validated": "validée", "rejected": "rejetée"}


def pseudonym(participant_id: str) -> str:
    """The same for every line of a person, and not the id the participants service knows them by."""
    return hashlib.sha256(f"observatoire:{participant_id}".encode()).hexdigest()[:16]


def lines_table(scope, lines, months) -> list[list]:
    rows = []
    for line in sorted(lines, key=lambda line: (line["month"], line["lot_id"], line["_id"])):
        if line["status"] not in domain.COUNTED or months and not months[0] <= line["month"] <= months[1]:
            continue  # a rejected line is in force nowhere
        lot = scope.lots.get(line["lot_id"], {})
        market = scope.markets.get(lot.get("market_id"), {})
        rows.append([line["_id"], market.get("reference"), lot.get("number"), line["month"], line["centihours"] / 100,
                     STATUS_LABELS_FR.get(line["status"], line["status"]), domain.label("mode", line.get("mode")),
                     domain.label("contract_type", line.get("contract_type")),
                     domain.label("employer_kind", line.get("employer_kind")), line.get("territory"),
                     pseudonym(line["participant_id"])])
    return rows
