"""Reading the open data on public contracts (DECP): the JSON of schema 2.0 and the consolidated CSV.

Plain Python: no Flask, no Mongo. Files are read as streams (ijson, csv), one record at a time, so a
national year's file never sits in memory. Each record becomes a ``Record`` or a ``Refusal`` whose
reason a French report shows.

JSON layouts read: ``{"marches": {"marche": [...], "contrat-concession": [...]}}`` (schema 2.0, as
data.economie.gouv.fr publishes it), ``{"marches": [...]}`` (the older consolidated file) and a bare
list. In the CSV each row is one version (``modification_id``) of a contract with one of its
contractors; the columns are those of the consolidated edition (``acheteur_id`` or ``acheteur.id``).
"""
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

import ijson

CLAUSE, CRITERION, RESERVED = "clause", "criterion", "reserved"
SOCIAL_VALUES = {"clause sociale": CLAUSE, "critère social": CRITERION, "marché réservé": RESERVED,
                 "concession réservée": RESERVED}
SOCIAL_LABELS_FR = {CLAUSE: "Clause sociale", CRITERION: "Critère social", RESERVED: "Marché réservé"}
MAX_AMOUNT = Decimal("1e12")  # above a thousand billion euros, a figure is a typing error
CPV = re.compile(r"^(\d{8})(-\d)?$")
SIRET_DIGITS = re.compile(r"^\d{14}$")
MAX_CONTRACTORS = 50


class UnreadableFile(ValueError):
    """The file is not a DECP file this reader knows (French message)."""


@dataclass
class Record:
    """One contract, or one version of it with one contractor (``complete`` False: a CSV row)."""
    decp_id: str
    buyer_siret: str
    buyer_name: str | None
    kind: str  # "marche" or "concession"
    nature: str | None
    object: str
    cpv: str  # 8 digits, and its check digit when published (45210000-2)
    amount_cents: int
    duration_months: int | None
    notification_date: str  # YYYY-MM-DD
    place_code: str | None
    place_type: str | None
    departement: str | None
    contractors: list[dict] = field(default_factory=list)  # id_type, id, name
    social: list[str] = field(default_factory=list)  # clause, criterion, reserved; empty: none
    version: int = 0  # the last modification applied
    modifications: list[int] = field(default_factory=list)
    complete: bool = True

    @property
    def key(self) -> str:
        return f"{self.buyer_siret}:{self.decp_id}"


@dataclass(frozen=True)
class Refusal:
    position: int  # the record's rank in the file (JSON) or its line (CSV)
    decp_id: str | None
    reason: str  # French


@dataclass(frozen=True)
class Head:
    """What the region filter needs before a record is checked further."""
    position: int
    decp_id: str
    buyer_siret: str
    departement: str | None


# --- values -----------------------------------------------------------------------------------
def _text(value, limit: int) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text[:limit] if text else None


def _amount_cents(value) -> int | None:
    try:
        amount = Decimal(str(value).replace(" ", "").replace(",", "."))
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT:
        return None
    return int((amount * 100).to_integral_value())


def _date(value) -> str | None:
    text = _text(value, 40)
    if not text:
        return None
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        return None
    return day.isoformat() if 2000 <= day.year <= 2100 else None


def _months(value) -> int | None:
    try:
        months = int(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return months if 0 <= months <= 1200 else None


def departement_of(code: str | None, type_code: str | None) -> str | None:
    """The département of a place of execution: from a postal code, a commune's INSEE code or a
    département's code; None for a region, a country or a code this reader cannot place."""
    code = (code or "").strip().upper()
    kind = (type_code or "").strip().lower()
    if "département" in kind or "departement" in kind:
        return code.zfill(2) if code.isdigit() and len(code) <= 3 else code if code in ("2A", "2B") else None
    if not ("postal" in kind or "commune" in kind) or len(code) != 5:
        return None
    if code.startswith("97"):
        return code[:3]
    if code[:2] in ("2A", "2B"):
        return code[:2]
    if not code.isdigit():
        return None
    if code.startswith("20"):  # Corsica's postal codes: 200xx and 201xx in 2A, the others in 2B
        return "2A" if code[2] in "01" else "2B"
    return code[:2]


def social_flags(values) -> list[str]:
    """The social considerations of a record: a list, ``{"considerationSociale": [...]}``, or one cell
    holding several values separated by commas or semicolons."""
    if isinstance(values, dict):
        values = values.get("considerationSociale")
    if isinstance(values, str):
        values = re.split(r"[,;]", values)
    if not isinstance(values, list):
        return []
    return sorted({SOCIAL_VALUES[v.strip().lower()] for v in values
                   if isinstance(v, str) and v.strip().lower() in SOCIAL_VALUES})


def _contractors(items) -> list[dict]:
    found = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            item = item.get("titulaire") or item.get("concessionnaire") or item
        if isinstance(item, dict) and _text(item.get("id"), 40):
            found.append({"id_type": _text(item.get("typeIdentifiant"), 20), "id": _text(item.get("id"), 40),
                          "name": _text(item.get("denominationSociale") or item.get("nom"), 200)})
    return found[:MAX_CONTRACTORS]


# --- JSON -------------------------------------------------------------------------------------
def _record_prefixes(stream) -> list[str]:
    """Where the records are in this file: found from its first events, then the stream is rewound."""
    start = stream.tell()
    try:
        for prefix, event, value in ijson.parse(stream):
            if event == "start_array" and prefix == "":
                return ["item"]
            if event == "start_array" and prefix == "marches":
                return ["marches.item"]
            if event == "map_key" and prefix == "marches":
                return ["marches.marche.item", "marches.contrat-concession.item"]
            if event == "end_map" and prefix == "":
                break
    except ijson.JSONError:
        raise UnreadableFile("Fichier JSON illisible : vérifiez qu'il s'agit bien d'un fichier des données "
                             "essentielles (DECP).") from None
    finally:
        stream.seek(start)
    raise UnreadableFile("Fichier JSON sans marchés : la racine doit être {\"marches\": {\"marche\": [...]}}, "
                         "{\"marches\": [...]} ou une liste de marchés.")


def _contains(stream, needle: bytes, chunk: int = 1 << 22) -> bool:
    """Whether the stream holds these bytes (a plain scan, far quicker than parsing), rewound after."""
    stream.seek(0)
    tail = b""
    try:
        while block := stream.read(chunk):
            if needle in tail + block:
                return True
            tail = block[-len(needle):]
        return False
    finally:
        stream.seek(0)


def json_items(stream):
    """Each record of a DECP JSON file, as parsed objects, with its rank. Concessions are read in a second
    pass over the file, only when it has some."""
    position = 0
    for prefix in _record_prefixes(stream):
        if prefix == "marches.contrat-concession.item" and not _contains(stream, b'"contrat-concession"'):
            continue
        stream.seek(0)
        try:
            for item in ijson.items(stream, prefix, use_float=True):
                position += 1
                yield position, item
        except ijson.JSONError:
            raise UnreadableFile(f"Fichier JSON mal formé ou interrompu après {position} marché(s) lu(s) : "
                                 "rien n'a été importé au-delà.") from None


def json_head(position: int, item) -> Head | Refusal:
    if not isinstance(item, dict):
        return Refusal(position, None, "Enregistrement illisible : un objet JSON est attendu.")
    decp_id = _text(item.get("id"), 100)
    buyer = item.get("acheteur") or item.get("autoriteConcedante")
    siret = _text(buyer.get("id"), 40) if isinstance(buyer, dict) else None
    if not decp_id:
        return Refusal(position, None, "Identifiant du marché (id) manquant.")
    if not siret or not SIRET_DIGITS.match(siret):
        return Refusal(position, decp_id, "SIRET de l'acheteur manquant ou invalide (14 chiffres attendus).")
    place = item.get("lieuExecution") if isinstance(item.get("lieuExecution"), dict) else {}
    return Head(position, decp_id, siret, departement_of(_text(place.get("code"), 20),
                                                         _text(place.get("typeCode"), 40)))


def json_record(head: Head, item: dict) -> Record | Refusal:
    """A whole record, its modifications applied in order (each gives the new amount, duration or
    contractors)."""
    buyer = item.get("acheteur") or item.get("autoriteConcedante")
    concession = "autoriteConcedante" in item and "acheteur" not in item
    amount = item.get("montant", item.get("valeurGlobale"))
    months = _months(item.get("dureeMois"))
    contractors = _contractors(item.get("titulaires") or item.get("concessionnaires"))
    applied = []
    modifications = item.get("modifications") if isinstance(item.get("modifications"), list) else []
    for rank, modification in enumerate(modifications, start=1):
        if isinstance(modification, dict) and isinstance(modification.get("modification"), dict):
            modification = modification["modification"]
        if not isinstance(modification, dict):
            continue
        number = _months(modification.get("id"))
        applied.append((number if number is not None else rank, modification))
    applied.sort(key=lambda pair: pair[0])
    for _, modification in applied:
        if modification.get("montant", modification.get("valeurGlobale")) is not None:
            amount = modification.get("montant", modification.get("valeurGlobale"))
        if _months(modification.get("dureeMois")) is not None:
            months = _months(modification.get("dureeMois"))
        if _contractors(modification.get("titulaires")):
            contractors = _contractors(modification.get("titulaires"))
    place = item.get("lieuExecution") if isinstance(item.get("lieuExecution"), dict) else {}
    return _checked(head, buyer_name=_text(buyer.get("nom"), 200), kind="concession" if concession else "marche",
                    nature=_text(item.get("nature"), 80), object_=item.get("objet"), cpv=item.get("codeCPV"),
                    amount=amount, months=months,
                    notified=item.get("dateNotification", item.get("dateSignature")),
                    place=place, contractors=contractors, social=social_flags(item.get("considerationsSociales")),
                    version=applied[-1][0] if applied else 0, modifications=[n for n, _ in applied], complete=True)


def _checked(head: Head, *, buyer_name, kind, nature, object_, cpv, amount, months, notified, place, contractors,
             social, version, modifications, complete) -> Record | Refusal:
    def refused(reason):
        return Refusal(head.position, head.decp_id, reason)
    title = _text(object_, 1000)
    if not title:
        return refused("Objet du marché manquant.")
    cpv_match = CPV.match(_text(cpv, 20) or "")
    if not cpv_match:
        return refused("Code CPV manquant ou invalide (8 chiffres attendus, par exemple 45210000-2).")
    cents = _amount_cents(amount)
    if cents is None:
        return refused("Montant manquant ou invalide (nombre positif attendu).")
    notified_on = _date(notified)
    if notified_on is None:
        return refused("Date de notification manquante, invalide ou hors de 2000–2100 (AAAA-MM-JJ attendu).")
    return Record(decp_id=head.decp_id, buyer_siret=head.buyer_siret, buyer_name=buyer_name, kind=kind,
                  nature=nature, object=title, cpv=cpv_match.group(0), amount_cents=cents, duration_months=months,
                  notification_date=notified_on, place_code=_text(place.get("code"), 20),
                  place_type=_text(place.get("typeCode"), 40), departement=head.departement,
                  contractors=contractors, social=social, version=version, modifications=modifications,
                  complete=complete)


# --- CSV --------------------------------------------------------------------------------------
CSV_REQUIRED = ("id", "acheteur_id", "objet", "codeCPV", "montant", "dateNotification")


def csv_rows(stream):
    """Each row of the consolidated CSV (separator ``,`` or ``;``), as a dict, with its line number.
    ``stream`` is binary; the text is UTF-8 (a BOM is ignored)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    header_line = text.readline()
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    header = [name.strip().replace(".", "_") for name in next(csv.reader([header_line], delimiter=delimiter), [])]
    missing = [name for name in CSV_REQUIRED if name not in header]
    if missing:
        raise UnreadableFile(f"Colonnes manquantes dans le fichier CSV : {', '.join(missing)}. Attendu : "
                             "l'édition consolidée des DECP (id, acheteur_id, objet, codeCPV, montant, "
                             "dateNotification, lieuExecution_code, considerationsSociales…).")
    try:
        for line, row in enumerate(csv.DictReader(text, fieldnames=header, delimiter=delimiter), start=2):
            yield line, row
    except csv.Error as exc:
        raise UnreadableFile(f"Fichier CSV illisible : {exc}.") from None


def csv_head(line: int, row: dict) -> Head | Refusal:
    decp_id, siret = _text(row.get("id"), 100), _text(row.get("acheteur_id"), 40)
    if not decp_id:
        return Refusal(line, None, "Identifiant du marché (id) manquant.")
    if not siret or not SIRET_DIGITS.match(siret):
        return Refusal(line, decp_id, "SIRET de l'acheteur manquant ou invalide (14 chiffres attendus).")
    return Head(line, decp_id, siret, departement_of(row.get("lieuExecution_code"),
                                                     row.get("lieuExecution_typeCode")))


def csv_record(head: Head, row: dict) -> Record | Refusal:
    contractor = _contractors([{"id": row.get("titulaire_id"), "typeIdentifiant": row.get("titulaire_typeIdentifiant"),
                                "denominationSociale": row.get("titulaire_nom")}])
    version = _months(row.get("modification_id")) or 0
    return _checked(head, buyer_name=_text(row.get("acheteur_nom"), 200), kind="marche",
                    nature=_text(row.get("nature"), 80), object_=row.get("objet"), cpv=row.get("codeCPV"),
                    amount=row.get("montant"), months=_months(row.get("dureeMois")),
                    notified=row.get("dateNotification"),
                    place={"code": row.get("lieuExecution_code"), "typeCode": row.get("lieuExecution_typeCode")},
                    contractors=contractor, social=social_flags(row.get("considerationsSociales") or ""),
                    version=version, modifications=list(range(1, version + 1)), complete=False)


def sniff_format(stream) -> str:
    """``json`` when the file starts (after blanks) with ``{`` or ``[``, else ``csv``."""
    start = stream.tell()
    head = stream.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    stream.seek(start)
    return "json" if head[:1] in (b"{", b"[") else "csv"


def records(stream, format_: str | None = None):
    """(head or refusal, then a function giving the whole record) for each record of the file.

    The whole record is built only for what the caller keeps: the region filter runs on the head."""
    if (format_ or sniff_format(stream)) == "json":
        for position, item in json_items(stream):
            head = json_head(position, item)
            yield head, (lambda h=head, i=item: json_record(h, i))
    else:
        for line, row in csv_rows(stream):
            head = csv_head(line, row)
            yield head, (lambda h=head, r=row: csv_record(h, r))
