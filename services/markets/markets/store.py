"""MongoDB documents of the markets service (string ids: the identifiers the API shows)."""
import uuid

import mongoengine as me
from plumbing import search
from plumbing.months import month_of
from plumbing.outbox import OutboxDocument, VersionedDocument

from .domain import BUYER_TYPE_LABELS_FR, CLAUSE_KIND_LABELS_FR, MARKET_STATUSES, NATURE_LABELS_FR, Status


def new_id() -> str:
    return uuid.uuid4().hex


NATURES = tuple(NATURE_LABELS_FR)
BUYER_TYPES = tuple(BUYER_TYPE_LABELS_FR)
CLAUSE_KINDS = tuple(CLAUSE_KIND_LABELS_FR)
FACT_STATES = ("submitted", "validated", "rejected", "superseded")


class Buyer(VersionedDocument):
    """A public buyer (donneur d'ordre)."""
    id = me.StringField(primary_key=True, default=new_id)
    name = me.StringField(required=True)
    siret = me.StringField(required=True, unique=True)
    buyer_type = me.StringField(required=True, choices=BUYER_TYPES)
    territory = me.StringField(required=True)
    contacts = me.ListField(me.DictField())  # name, role, email, phone
    created_by = me.StringField()
    meta = {"collection": "buyers", "indexes": ["territory"]}


class Market(OutboxDocument):
    id = me.StringField(primary_key=True, default=new_id)
    reference = me.StringField(required=True)
    title = me.StringField(required=True)
    buyer_id = me.StringField(required=True)
    buyer_name = me.StringField(required=True)
    buyer_type = me.StringField(choices=BUYER_TYPES)  # copied from the buyer: the observatory breaks down by it
    nature = me.StringField(required=True, choices=NATURES)
    cpv_code = me.StringField()
    clause_kind = me.StringField(choices=CLAUSE_KINDS)  # None: the market carries no social clause
    lead_territory = me.StringField(required=True)
    territories = me.ListField(me.StringField(), required=True)  # lead first, then associated
    state_market = me.BooleanField(default=False)
    notification_date = me.DateField()
    start_date = me.DateField(required=True)
    end_date = me.DateField(required=True)
    status = me.StringField(default="draft", choices=MARKET_STATUSES)
    created_by = me.StringField()
    text_starts = me.ListField(me.StringField())  # the reference's and title's word starts (see clean): the search
    meta = {"collection": "markets", "indexes": ["territories", "buyer_id", ("lead_territory", "reference"),
                                                 "text_starts"]}
    # what clean() writes, from what (``refresh-derived-fields`` writes it in documents older than a field)
    derived_fields = {"text_starts": ("reference", "title")}

    def clean(self):
        """Run before every write, so that the search follows the reference and the title."""
        self.text_starts = search.word_starts(self.reference, self.title)


class Trade(VersionedDocument):
    """A line of the region's reference table: the defaults a lot of this trade starts from."""
    id = me.StringField(primary_key=True)  # a short code: "masonry", "interior_painting"…
    label = me.StringField(required=True)
    labour_share = me.DecimalField(precision=4, force_string=True, required=True)
    hourly_cost = me.DecimalField(precision=2, force_string=True, required=True)
    insertion_rate = me.DecimalField(precision=4, force_string=True, required=True)
    updated_by = me.StringField()
    updated_at = me.DateTimeField()
    meta = {"collection": "trades"}


class TerritorySettings(VersionedDocument):
    """How a territory judges progress, as its operators set it: ramp before hours are expected,
    tolerances. What is unset (None) takes the region file's defaults."""
    id = me.StringField(primary_key=True)  # the territory
    ramp_days = me.IntField(min_value=0)
    at_risk_tolerance = me.FloatField()
    behind_ratio = me.FloatField()
    updated_by = me.StringField()
    meta = {"collection": "territory_settings"}


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
    override_quota_hours = me.IntField()
    override_reason = me.StringField()
    quota_history = me.ListField(me.DictField())  # dated: creation, override, amendment
    amendments = me.ListField(me.DictField())
    territories = me.ListField(me.StringField(), required=True)
    start_date = me.DateField(required=True)
    end_date = me.DateField(required=True)
    contractor_siret = me.StringField()
    contractor_name = me.StringField()
    co_contractors = me.ListField(me.DictField())  # siret, name
    subcontractors = me.ListField(me.DictField())
    realised_centihours = me.IntField(default=0)
    declared_centihours = me.IntField(default=0)
    progress_status = me.StringField(default="not_started")
    status_history = me.ListField(me.DictField())  # each change of progress_status: date, from, to
    text_starts = me.ListField(me.StringField())  # the title's and number's word starts (see clean): the search
    # the lists' filters as equalities, which FerretDB finds by index (see clean and shortfall_condition)
    end_month = me.StringField()  # YYYY-MM of end_date: the lots ending soon
    has_quota = me.BooleanField()  # a quota of hours above zero
    meta = {"collection": "lots", "indexes": [("market_id", "number"), "territories", "contractor_siret",
                                              "progress_status", "text_starts", "end_month"]}
    derived_fields = {"text_starts": ("title", "number"), "end_month": ("end_date",),
                      "has_quota": ("computed_quota_hours", "override_quota_hours")}

    def clean(self):
        """Run before every write, so that the search follows the title, and the filters the dates and quota."""
        self.text_starts = search.word_starts(self.title, str(self.number))
        self.end_month = month_of(self.end_date)
        self.has_quota = (self.quota_hours or 0) > 0

    @property
    def quota_hours(self) -> int:
        """The quota in force: the facilitator's override when there is one, else the formula's."""
        return self.computed_quota_hours if self.override_quota_hours is None else self.override_quota_hours

    @property
    def realised_hours(self) -> float:
        return self.realised_centihours / 100

    @property
    def declared_hours(self) -> float:
        return self.declared_centihours / 100


def shortfall_condition(shortfall: bool) -> me.Q:
    """Lots whose realised hours are below a quota of hours (``shortfall``), or the others. A lot's progress
    status is judged with its realised hours and is ``reached`` exactly when they reach a quota above zero;
    FerretDB cannot compare two fields of a document, the status can be read."""
    if shortfall:
        return me.Q(has_quota=True, progress_status__in=[s.value for s in Status if s is not Status.REACHED])
    return me.Q(has_quota=False) | me.Q(progress_status=Status.REACHED.value)


class LotHours(me.Document):
    """One declaration's hours as the markets service knows them (the fact progress is summed from).

    Keyed by declaration id: applying the same declaration event twice writes the same fact.
    """
    id = me.StringField(primary_key=True)  # the declaration id
    lot_id = me.StringField(required=True)
    centihours = me.IntField(required=True)
    state = me.StringField(required=True, choices=FACT_STATES)
    month = me.StringField()  # YYYY-MM
    mode = me.StringField()
    territory = me.StringField()  # the participant's territory
    meta = {"collection": "lot_hours", "indexes": [("lot_id", "state")]}




def sum_hours_by_state(lot_id: str) -> dict[str, int]:
    rows = LotHours.objects(lot_id=lot_id).aggregate([
        {"$group": {"_id": "$state", "total": {"$sum": "$centihours"}}}])
    return {row["_id"]: row["total"] for row in rows}


OUTBOX_DOCUMENTS = [Market, Lot]
