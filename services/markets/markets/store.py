"""MongoDB documents of the markets service (string ids: portable across MongoDB servers)."""
import uuid

import mongoengine as me
from plumbing.outbox import OutboxDocument


def new_id() -> str:
    return uuid.uuid4().hex


NATURES = ("works", "services", "supplies")
MARKET_STATUSES = ("draft", "awarded", "in_execution", "completed", "closed")


class Market(OutboxDocument):
    id = me.StringField(primary_key=True, default=new_id)
    reference = me.StringField(required=True)
    title = me.StringField(required=True)
    buyer_name = me.StringField(required=True)
    nature = me.StringField(required=True, choices=NATURES)
    lead_territory = me.StringField(required=True)
    territories = me.ListField(me.StringField(), required=True)  # lead first, then associated
    state_market = me.BooleanField(default=False)
    start_date = me.DateField(required=True)
    end_date = me.DateField(required=True)
    status = me.StringField(default="draft", choices=MARKET_STATUSES)
    created_by = me.StringField()
    meta = {"collection": "markets", "indexes": ["territories", ("lead_territory", "reference")]}


class Lot(OutboxDocument):
    id = me.StringField(primary_key=True, default=new_id)
    market_id = me.StringField(required=True)
    number = me.IntField(required=True, min_value=1)
    title = me.StringField(required=True)
    trade = me.StringField()
    amount_excl_vat = me.DecimalField(precision=2, force_string=True, required=True)
    labour_share = me.DecimalField(precision=4, force_string=True, required=True)
    insertion_rate = me.DecimalField(precision=4, force_string=True, required=True)
    hourly_cost = me.DecimalField(precision=2, force_string=True, required=True)
    computed_quota_hours = me.IntField(required=True)
    quota_hours = me.IntField(required=True)
    territories = me.ListField(me.StringField(), required=True)
    start_date = me.DateField(required=True)
    end_date = me.DateField(required=True)
    contractor_siret = me.StringField()
    contractor_name = me.StringField()
    realised_centihours = me.IntField(default=0)
    declared_centihours = me.IntField(default=0)
    progress_status = me.StringField(default="not_started")
    meta = {"collection": "lots", "indexes": [("market_id", "number"), "territories"]}

    @property
    def realised_hours(self) -> float:
        return self.realised_centihours / 100

    @property
    def declared_hours(self) -> float:
        return self.declared_centihours / 100


class LotHours(me.Document):
    """One declaration's hours as the markets service knows them (the fact progress is summed from).

    Keyed by declaration id: applying the same declaration event twice writes the same fact.
    """
    id = me.StringField(primary_key=True)  # the declaration id
    lot_id = me.StringField(required=True)
    centihours = me.IntField(required=True)
    state = me.StringField(required=True, choices=("submitted", "validated", "rejected"))
    month = me.StringField()
    mode = me.StringField()
    territory = me.StringField()
    meta = {"collection": "lot_hours", "indexes": [("lot_id", "state")]}


def sum_hours_by_state(lot_id: str) -> dict[str, int]:
    rows = LotHours.objects(lot_id=lot_id).aggregate([
        {"$group": {"_id": "$state", "total": {"$sum": "$centihours"}}}])
    return {row["_id"]: row["total"] for row in rows}


OUTBOX_DOCUMENTS = [Market, Lot]
