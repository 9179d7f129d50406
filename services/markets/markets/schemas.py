"""Request and response schemas of the markets API (validation, serialisation and docs at once)."""
import marshmallow as ma
from marshmallow import fields, validate
from plumbing.vocabulary import MODE_LABELS_FR
from plumbing.validation import (MAX_AMOUNT, MAX_HOURLY_COST, MAX_LOT_NUMBER, MAX_QUOTA_HOURS, Day, Number, Siret,
                                 Territory, count, identifier, listing, text)

from .domain import (BUYER_TYPE_LABELS_FR, CLAUSE_KIND_LABELS_FR, MARKET_STATUS_LABELS_FR, MARKET_STATUSES,
                     NATURE_LABELS_FR, NO_CLAUSE_LABEL_FR, STATUS_LABELS_FR, Status, next_status)
from .handlers import progress_view
from .store import BUYER_TYPES, CLAUSE_KINDS, NATURES

PROGRESS_STATUSES = [s.value for s in Status]
NO_CLAUSE = "none"
QUOTA_SOURCE_LABELS_FR = {"creation": "création du lot", "override": "modification du quota",
                          "amendment": "avenant"}


def _one_of(choices, what: str):
    return validate.OneOf(choices, error=f"{what} inconnu ; valeurs possibles : {', '.join(choices)}.")


def fraction_field(what: str, **kwargs) -> Number:
    # four decimals at most, as stored: 0.00001 would be kept as 0, out of its own bounds
    return Number(minimum=0, maximum=1, min_inclusive=False, decimals=4,
                  error=f"{what} est une fraction entre 0 et 1 (0,05 pour 5 %).", **kwargs)


def amount_field(**kwargs) -> Number:
    return Number(minimum=0, maximum=MAX_AMOUNT, places=2, error=(
        f"Le montant HT est un nombre d'euros de 0 à {MAX_AMOUNT:,.0f}.".replace(",", " ")), **kwargs)


def hourly_cost_field(**kwargs) -> Number:
    return Number(minimum=1, maximum=MAX_HOURLY_COST, places=2, error=(
        f"Le coût horaire est un nombre d'euros de 1 à {MAX_HOURLY_COST}."), **kwargs)


def _label(name: str, labels: dict, none: str | None = None) -> fields.Function:
    """The French label of the field ``name`` (of a document or of a dict already dumped)."""
    return fields.Function(lambda obj: labels.get(ma.utils.get_value(obj, name), none), dump_only=True,
                           metadata={"description": f"{name}, in French"})


def _cpv_code(**kwargs):
    return fields.String(validate=validate.Regexp(r"^\d{8}-\d$", error="Code CPV attendu au format 45000000-7."),
                         **kwargs)


class PageQuerySchema(ma.Schema):
    sort = text(40, load_default="reference", metadata={"description": "a field; prefix with - to reverse"})


# --- buyers -----------------------------------------------------------------------------------
class ContactSchema(ma.Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = text(120)
    email = fields.Email(error_messages={"invalid": "Adresse e-mail invalide."}, validate=validate.Length(max=254))
    phone = text(40)


class BuyerCreateSchema(ma.Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    siret = Siret(required=True)
    buyer_type = fields.String(required=True, validate=_one_of(BUYER_TYPES, "Type d'acheteur"))
    territory = Territory(required=True)
    contacts = listing(fields.Nested(ContactSchema), 20, load_default=list)


class BuyerSchema(BuyerCreateSchema):
    id = fields.String()
    siret = fields.String()
    buyer_type_label = _label("buyer_type", BUYER_TYPE_LABELS_FR)


class BuyerWithStatisticsSchema(BuyerSchema):
    statistics = fields.Dict(metadata={"description": "markets, markets_with_clause, clause_share, "
                                                      "realised_hours"})


def _search_text(what: str) -> fields.String:
    return text(100, metadata={"description": f"{what}: each word typed starts a word of it, whatever the case "
                                              "and accents"})


class BuyerQuerySchema(PageQuerySchema):
    territory = Territory()
    buyer_type = fields.String(validate=_one_of(BUYER_TYPES, "Type d'acheteur"))
    q = _search_text("name, or the start of the SIRET (digits, spaces aside)")
    sort = text(40, load_default="name")


# --- markets ----------------------------------------------------------------------------------
class MarketCreateSchema(ma.Schema):
    reference = fields.String(required=True, validate=validate.Length(min=1, max=64))
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    buyer_id = identifier(required=True)
    nature = fields.String(required=True, validate=validate.OneOf(
        NATURES, error="Nature attendue : works (travaux), services ou supplies (fournitures)."))
    cpv_code = _cpv_code()
    clause_kind = fields.String(allow_none=True, validate=_one_of(CLAUSE_KINDS, "Type de clause"),
                                metadata={"description": "null: the market carries no social clause"})
    lead_territory = Territory(required=True)
    associated_territories = listing(Territory(), 50, load_default=list)
    state_market = fields.Boolean(load_default=False)
    notification_date = Day()
    start_date = Day(required=True)
    end_date = Day(required=True)

    @ma.validates_schema
    def period_is_ordered(self, data, **kwargs):
        if data.get("start_date") and data.get("end_date") and data["end_date"] <= data["start_date"]:
            raise ma.ValidationError("La date de fin doit suivre la date de début.", "end_date")


class MarketUpdateSchema(ma.Schema):
    title = fields.String(validate=validate.Length(min=1, max=300))
    cpv_code = _cpv_code()
    clause_kind = fields.String(allow_none=True, validate=_one_of(CLAUSE_KINDS, "Type de clause"))
    associated_territories = listing(Territory(), 50)
    state_market = fields.Boolean()
    notification_date = Day()
    start_date = Day()
    end_date = Day()


class MarketSchema(ma.Schema):
    id = fields.String()
    reference = fields.String()
    title = fields.String()
    buyer_id = fields.String()
    buyer_name = fields.String()
    nature = fields.String()
    cpv_code = fields.String(allow_none=True)
    clause_kind = fields.String(allow_none=True)
    lead_territory = fields.String()
    territories = fields.List(fields.String())
    state_market = fields.Boolean()
    notification_date = fields.Date(allow_none=True)
    start_date = fields.Date()
    end_date = fields.Date()
    status = fields.String()
    status_label = _label("status", MARKET_STATUS_LABELS_FR)
    nature_label = _label("nature", NATURE_LABELS_FR)
    clause_kind_label = _label("clause_kind", CLAUSE_KIND_LABELS_FR, NO_CLAUSE_LABEL_FR)
    next_status = fields.Function(lambda m: next_status(m.status), allow_none=True, metadata={
        "description": "the one status the market may move to (null: closed)"})
    next_status_label = fields.Function(lambda m: MARKET_STATUS_LABELS_FR.get(next_status(m.status)),
                                        allow_none=True)


class MarketQuerySchema(PageQuerySchema):
    territory = Territory()
    buyer_id = identifier()
    status = fields.String(validate=_one_of(MARKET_STATUSES, "Statut"))
    nature = fields.String(validate=_one_of(NATURES, "Nature"))
    running_on = Day(metadata={"description": "markets whose execution period contains this date"})
    at_risk = fields.Boolean(metadata={"description": "with at least one lot at risk or behind"})
    q = _search_text("reference or title")
    clause_kind = fields.String(validate=_one_of(CLAUSE_KINDS + (NO_CLAUSE,), "Type de clause"), metadata={
        "description": f"a kind of clause, or {NO_CLAUSE} for the markets without one"})


class StatusChangeSchema(ma.Schema):
    status = fields.String(required=True, validate=_one_of(MARKET_STATUSES, "Statut"))


class ChoiceSchema(ma.Schema):
    value = fields.String()
    label = fields.String()


def _choices(labels: dict) -> list[dict]:
    return [{"value": value, "label": label} for value, label in labels.items()]


class VocabularySchema(ma.Schema):
    """What the forms offer to choose, with the French labels the answers carry."""
    buyer_types = fields.List(fields.Nested(ChoiceSchema))
    natures = fields.List(fields.Nested(ChoiceSchema))
    clause_kinds = fields.List(fields.Nested(ChoiceSchema), metadata={"description": f"{NO_CLAUSE}: without a clause"})
    market_statuses = fields.List(fields.Nested(ChoiceSchema))


VOCABULARY = {"buyer_types": _choices(BUYER_TYPE_LABELS_FR), "natures": _choices(NATURE_LABELS_FR),
              "clause_kinds": _choices({**CLAUSE_KIND_LABELS_FR, NO_CLAUSE: NO_CLAUSE_LABEL_FR}),
              "market_statuses": _choices(MARKET_STATUS_LABELS_FR)}


# --- lots -------------------------------------------------------------------------------------
class SizingSchema(ma.Schema):
    amount_excl_vat = amount_field(required=True)
    trade = text(120, metadata={"description": "a trade of the reference table: its defaults fill the "
                                                   "missing labour share, hourly cost and rate"})
    labour_share = fraction_field("La part de main-d'œuvre")
    insertion_rate = fraction_field("Le taux d'insertion")
    hourly_cost = hourly_cost_field()


class LotCreateSchema(SizingSchema):
    number = count(1, MAX_LOT_NUMBER, f"Numéro de lot attendu de 1 à {MAX_LOT_NUMBER}.", required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))


class QuotaSchema(ma.Schema):
    hours = fields.Integer(attribute="quota_hours")
    computed_hours = fields.Integer(attribute="computed_quota_hours")
    override_hours = fields.Integer(attribute="override_quota_hours", allow_none=True)
    override_reason = fields.String(allow_none=True)
    formula = fields.Constant("montant HT × part de main-d'œuvre × taux d'insertion ÷ coût horaire, "
                              "arrondi à l'heure la plus proche (0,5 arrondi au-dessus)")
    amount_excl_vat = fields.Float()
    labour_share = fields.Float()
    insertion_rate = fields.Float()
    hourly_cost = fields.Float()
    history = fields.Function(lambda lot: [{**entry, "source_label": QUOTA_SOURCE_LABELS_FR.get(entry["source"])}
                                           for entry in lot.quota_history],
                              metadata={"description": "dated: creation, override, amendment (source_label: "
                                                       "in French)"})


class ProgressSchema(ma.Schema):
    realised_hours = fields.Float(metadata={"description": "validated declarations"})
    declared_hours = fields.Float(metadata={"description": "submitted, not yet validated"})
    expected_hours = fields.Float(metadata={"description": "expected by today on the territory's curve"})
    status = fields.String(attribute="progress_status", validate=validate.OneOf(PROGRESS_STATUSES))
    status_label = fields.String(metadata={"description": "the status in French"})


class ProgressDetailSchema(ProgressSchema):
    quota_hours = fields.Integer()
    by_month = fields.Dict()
    by_territory = fields.Dict()
    by_mode = fields.Dict()
    mode_labels = fields.Function(lambda p: {mode: MODE_LABELS_FR.get(mode, mode) for mode in p["by_mode"]},
                                  metadata={"description": "the modes of by_mode in French"})
    series = fields.List(fields.Dict(), metadata={"description": "month by month: realised and expected, "
                                                                 "cumulated, ready to draw"})


class StatusChangeViewSchema(ma.Schema):
    date = fields.String()
    previous_status = fields.String()
    previous_status_label = fields.Function(lambda c: STATUS_LABELS_FR[Status(c["previous_status"])])
    status = fields.String()
    status_label = fields.Function(lambda c: STATUS_LABELS_FR[Status(c["status"])])
    realised_hours = fields.Float()
    expected_hours = fields.Float()


class PartnerSchema(ma.Schema):
    siret = Siret(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


_QUOTA, _PROGRESS = QuotaSchema(), ProgressSchema()  # made once: making a schema costs more than dumping a lot


class LotSchema(ma.Schema):
    id = fields.String()
    market_id = fields.String()
    number = fields.Integer()
    title = fields.String()
    trade = fields.String(allow_none=True)
    territories = fields.List(fields.String())
    start_date = fields.Date()
    end_date = fields.Date()
    contractor_siret = fields.String(allow_none=True)
    contractor_name = fields.String(allow_none=True)
    co_contractors = fields.List(fields.Dict())
    subcontractors = fields.List(fields.Dict())
    amendments = fields.List(fields.Dict())
    quota = fields.Function(lambda lot: _QUOTA.dump(lot))
    progress = fields.Function(lambda lot: _PROGRESS.dump(progress_view(lot)))
    status_history = fields.List(fields.Nested(StatusChangeViewSchema),
                                 metadata={"description": "each change of the progress status, dated"})


class LotQuerySchema(PageQuerySchema):
    territory = Territory()
    market_id = identifier()
    contractor_siret = text(20)
    status = fields.String(validate=_one_of(PROGRESS_STATUSES, "Statut d'avancement"))
    at_risk = fields.Boolean(metadata={"description": "at risk or behind"})
    ending_before = Day(metadata={"description": "lots whose end date is on or before this date"})
    ending_after = Day(metadata={"description": "lots whose end date is on or after this date"})
    shortfall = fields.Boolean(metadata={"description": "true: realised hours below a quota of hours (not "
                                                        "reached); false: quota reached, or none"})
    q = _search_text("title or number")
    id = listing(identifier(), 100, metadata={"description": "only these lots (id=…&id=…): a table names its lots"})
    sort = text(40, load_default="number")


class AwardSchema(ma.Schema):
    contractor_siret = Siret(required=True)
    contractor_name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class PartnersSchema(ma.Schema):
    co_contractors = listing(fields.Nested(PartnerSchema), 100, load_default=list)
    subcontractors = listing(fields.Nested(PartnerSchema), 100, load_default=list)


class OverrideSchema(ma.Schema):
    hours = count(0, MAX_QUOTA_HOURS, f"Quota d'heures attendu de 0 à {MAX_QUOTA_HOURS:,}.".replace(",", " "),
                  required=True)
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))


class AmendmentSchema(ma.Schema):
    signed_on = Day(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))
    amount_excl_vat = amount_field()
    start_date = Day()
    end_date = Day()

    @ma.validates_schema
    def changes_something(self, data, **kwargs):
        if not any(data.get(n) is not None for n in ("amount_excl_vat", "start_date", "end_date")):
            raise ma.ValidationError("Un avenant change le montant ou les dates.", "amount_excl_vat")


# --- reference table, settings, simulator --------------------------------------------------------
class PublicTradeSchema(ma.Schema):
    """A trade as anyone may read it (the public simulator): its label and defaults, not who changed it."""
    code = fields.String(attribute="id", dump_only=True)
    label = fields.String(required=True, validate=validate.Length(min=1, max=120))
    labour_share = fraction_field("La part de main-d'œuvre", required=True)
    hourly_cost = hourly_cost_field(required=True)
    insertion_rate = fraction_field("Le taux d'insertion", required=True)


class TradeSchema(PublicTradeSchema):
    updated_by = fields.String(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class TerritorySettingsSchema(ma.Schema):
    territory = fields.String(dump_only=True)
    ramp_days = fields.Integer(validate=validate.Range(min=0, max=730),
                               metadata={"description": "days after the start before hours are expected"})
    at_risk_tolerance = fields.Float(validate=validate.Range(min=0, max=0.5, max_inclusive=True),
                                     metadata={"description": "how far behind the curve is still on track"})
    behind_ratio = fields.Float(validate=validate.Range(min=0, max=1),
                                metadata={"description": "below this share of the curve, a lot is behind"})

    @ma.validates_schema
    def behind_is_worse_than_at_risk(self, data, **kwargs):
        if data.get("behind_ratio", 0) > 1 - data.get("at_risk_tolerance", 0.2):
            raise ma.ValidationError("Le seuil de retard doit rester sous le seuil de risque.", "behind_ratio")


class SimulationSchema(ma.Schema):
    hours = fields.Integer()
    breakdown = fields.Function(lambda s: {
        "amount_excl_vat": float(s["breakdown"].amount_excl_vat), "labour_share": float(s["breakdown"].labour_share),
        "labour_amount": float(s["breakdown"].labour_amount), "insertion_rate": float(s["breakdown"].insertion_rate),
        "insertion_amount": float(s["breakdown"].insertion_amount), "hourly_cost": float(s["breakdown"].hourly_cost),
        "exact_hours": round(float(s["breakdown"].exact_hours), 2)})
    hours_at_usual_rates = fields.Dict()
