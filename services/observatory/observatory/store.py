"""MongoDB documents of the observatory: a read model built only from the other services' events.

Every fact is pseudonymous: a participant is the participants service's opaque id with statistical facts
only (sex, age band at entry, public categories, QPV, outcome); a line names its employer by kind. The
documents are declared for their collections and indexes; the handlers read and write them as plain dicts
(``collection(Cell)``), in bulk.
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


class Cell(me.Document):
    """Hours and people of one lot, month and profile (domain.CELL_KEY): what statistics read."""
    id = me.StringField(primary_key=True)
    lot_id = me.StringField()
    month = me.StringField()
    realised = me.IntField()
    declared = me.IntField()
    people = me.ListField(me.StringField())
    meta = {"collection": "cells", "indexes": ["lot_id"], "strict": False}


FACT_DOCUMENTS = {"markets": MarketFact, "lots": LotFact, "people": PersonFact, "lines": LineFact}
READ_MODEL = [*FACT_DOCUMENTS.values(), Cell]


def collection(document):
    return document._get_collection()
