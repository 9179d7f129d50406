"""MongoDB documents of the observatory: a read model built only from the other services' events.

Every fact is pseudonymous: a participant is the participants service's opaque id with statistical facts
only (sex, age band at entry, public categories, QPV, outcome); a line names its employer by kind. The
documents are declared for their collections and indexes; the handlers read and write them as plain dicts
(``collection(LotFact)``), in bulk. Statistics are counted in the web process from a columnar snapshot of
the lines and people (``snapshot.py``), kept up to date from the changes the worker records.
"""
import mongoengine as me


class MarketFact(me.Document):
    id = me.StringField(primary_key=True)
    reference = me.StringField()
    title = me.StringField()
    buyer_id = me.StringField()
    buyer_name = me.StringField()
    buyer_type = me.StringField()
    nature = me.StringField()  # sector: works, services, supplies
    cpv_code = me.StringField()
    clause_kind = me.StringField()
    state_market = me.BooleanField()
    lead_territory = me.StringField()
    territories = me.ListField(me.StringField())
    status = me.StringField()
    start_date = me.StringField()
    end_date = me.StringField()
    meta = {"collection": "markets", "indexes": ["buyer_id"], "strict": False}


class LotFact(me.Document):
    id = me.StringField(primary_key=True)
    market_id = me.StringField()
    number = me.IntField()
    title = me.StringField()
    trade = me.StringField()
    quota_hours = me.IntField()
    territories = me.ListField(me.StringField())
    contractor_siret = me.StringField()
    contractor_name = me.StringField()
    start_date = me.StringField()
    end_date = me.StringField()
    meta = {"collection": "lots", "indexes": ["market_id"], "strict": False}


class PersonFact(me.Document):
    id = me.StringField(primary_key=True)  # the opaque participant id
    territory = me.StringField()
    sex = me.StringField()
    age_band = me.StringField()
    qpv = me.BooleanField()
    categories = me.ListField(me.StringField())
    outcome = me.StringField()
    meta = {"collection": "people", "strict": False}


LINE_FIELDS = ("declaration_id", "version", "status", "participant_id", "month", "territory", "centihours", "mode",
               "contract_type", "employer_kind", "contractor_siret")
_INT_FIELDS = ("version", "centihours")


class LotLines(me.Document):
    """The declaration lines of one lot, each the version in force (corrections replace it under the line's
    id), as columns: one string per field, a line per row ("" for none). Why: the store reads and writes one
    long string about a hundred times faster than as many documents or array items, and the web processes
    load every line (``snapshot.py``)."""
    id = me.StringField(primary_key=True)  # the lot's id
    ids = me.StringField()
    meta = {"collection": "lot_lines", "strict": False}


def encode_lines(lot_id: str, lines: list[dict]) -> dict:
    return {"_id": lot_id, "ids": "\n".join(line["_id"] for line in lines),
            **{name: "\n".join("" if line.get(name) is None else str(line[name]) for line in lines)
               for name in LINE_FIELDS}}


def line_columns(doc: dict) -> dict[str, list]:
    """A lot's lines as columns of values (None where empty; numbers as int)."""
    count = len(doc["ids"].split("\n")) if doc.get("ids") else 0
    columns = {"_id": doc["ids"].split("\n") if count else [], "lot_id": [doc["_id"]] * count}
    for name in LINE_FIELDS:
        values = doc.get(name, "").split("\n") if count else []
        columns[name] = [int(v) if v else None for v in values] if name in _INT_FIELDS else [v or None for v in values]
    return columns


def decode_lines(doc: dict) -> list[dict]:
    columns = line_columns(doc)
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


class Version(me.Document):
    """The read model's version: an epoch (a new one at each rebuild) and a generation the worker increments
    at each batch it writes; the web processes compare it with their snapshot's (``snapshot.py``)."""
    id = me.StringField(primary_key=True)  # "read_model"
    epoch = me.StringField()
    generation = me.IntField()
    meta = {"collection": "version", "strict": False}


class Change(me.Document):
    """What one batch of the worker changed (ids per kind of fact), under "<epoch>:<generation>"."""
    id = me.StringField(primary_key=True)
    markets = me.ListField(me.StringField())
    lots = me.ListField(me.StringField())
    people = me.ListField(me.StringField())
    lines = me.ListField(me.StringField())  # lots whose lines changed
    meta = {"collection": "changes", "strict": False}


class SavedPart(me.Document):
    """A part of a saved snapshot (``snapshot.save``): bytes of its .npz, under "<epoch>:<generation>:<n>"; the
    version document names the one to load and how many parts it has."""
    id = me.StringField(primary_key=True)
    data = me.BinaryField()
    meta = {"collection": "saved_snapshots", "strict": False}


class DrawnPdf(me.Document):
    """A PDF drawn today, under the SHA-256 of its HTML: every process of the service hands it over without
    drawing it again. Those of earlier days are deleted as the day's are kept (a document shows its day)."""
    id = me.StringField(primary_key=True)
    content = me.BinaryField()
    drawn_on = me.StringField()  # YYYY-MM-DD
    meta = {"collection": "drawn_pdfs", "indexes": ["drawn_on"], "strict": False}


FACT_DOCUMENTS = {"markets": MarketFact, "lots": LotFact, "people": PersonFact}
READ_MODEL = [*FACT_DOCUMENTS.values(), LotLines, Change, Version, SavedPart]


def collection(document):
    return document._get_collection()


def find_ids(document, ids) -> list[dict]:
    """The documents of these ids, in chunks of a thousand (the store's $in)."""
    ids = list(ids)
    return [doc for start in range(0, len(ids), 1000)
            for doc in collection(document).find({"_id": {"$in": ids[start:start + 1000]}})]
