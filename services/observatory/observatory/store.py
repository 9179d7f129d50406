"""MongoDB documents of the observatory: a read model built only from the other services' events.

Every fact is pseudonymous: a participant is the participants service's opaque id with statistical facts
only (sex, age band at entry, public categories, QPV, outcome); a line names its employer by kind. The
documents are declared for their collections and indexes; the handlers read and write them as plain dicts
(``collection(LineFact)``), in bulk. Statistics are counted in the web process from a columnar snapshot of
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


class LineFact(me.Document):
    """A declaration line: the version in force (corrections replace it, under the line's id)."""
    id = me.StringField(primary_key=True)
    declaration_id = me.StringField()
    version = me.IntField()
    status = me.StringField()
    lot_id = me.StringField()
    participant_id = me.StringField()
    month = me.StringField()
    territory = me.StringField()
    centihours = me.IntField()
    mode = me.StringField()
    contract_type = me.StringField()
    employer_kind = me.StringField()
    contractor_siret = me.StringField()
    meta = {"collection": "lines", "indexes": ["lot_id", "participant_id"], "strict": False}


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
    lines = me.ListField(me.StringField())
    meta = {"collection": "changes", "strict": False}


FACT_DOCUMENTS = {"markets": MarketFact, "lots": LotFact, "people": PersonFact, "lines": LineFact}
READ_MODEL = [*FACT_DOCUMENTS.values(), Change, Version]


def collection(document):
    return document._get_collection()
