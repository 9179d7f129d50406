"""Request and response schemas of the markets API (validation, serialisation and docs at once)."""
import marshmallow as ma
from marshmallow import fields, validate
from plumbing.validation import Siret

from .handlers import progress_view
from .store import MARKET_STATUSES, NATURES

class MarketCreateSchema(ma.Schema):
    reference = fields.String(required=True, validate=validate.Length(min=1, max=64))
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    buyer_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    nature = fields.String(required=True, validate=validate.OneOf(
        NATURES, error="Nature attendue : works (travaux), services ou supplies (fournitures)."))
    lead_territory = fields.String(required=True, validate=validate.Length(min=1, max=64))
    associated_territories = fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                                         load_default=list)
    state_market = fields.Boolean(load_default=False)
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)

    @ma.validates_schema
    def period_is_ordered(self, data, **kwargs):
        if data.get("start_date") and data.get("end_date") and data["end_date"] <= data["start_date"]:
            raise ma.ValidationError("La date de fin doit suivre la date de début.", "end_date")


class MarketSchema(ma.Schema):
    id = fields.String()
    reference = fields.String()
    title = fields.String()
    buyer_name = fields.String()
    nature = fields.String()
    lead_territory = fields.String()
    territories = fields.List(fields.String())
    state_market = fields.Boolean()
    start_date = fields.Date()
    end_date = fields.Date()
    status = fields.String(validate=validate.OneOf(MARKET_STATUSES))


class MarketQuerySchema(ma.Schema):
    territory = fields.String()
    status = fields.String(validate=validate.OneOf(MARKET_STATUSES))


class LotCreateSchema(ma.Schema):
    number = fields.Integer(required=True, validate=validate.Range(min=1))
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    trade = fields.String(validate=validate.Length(max=120))
    amount_excl_vat = fields.Decimal(required=True, places=2, validate=validate.Range(
        min=0, error="Le montant HT doit être positif."))
    labour_share = fields.Decimal(required=True, validate=validate.Range(
        min=0, max=1, min_inclusive=False, error="La part de main-d'œuvre est une fraction entre 0 et 1 "
                                                 "(0,5 pour 50 %)."))
    insertion_rate = fields.Decimal(required=True, validate=validate.Range(
        min=0, max=1, min_inclusive=False, error="Le taux d'insertion est une fraction entre 0 et 1 "
                                                 "(0,05 pour 5 %)."))
    hourly_cost = fields.Decimal(required=True, places=2, validate=validate.Range(
        min=0, min_inclusive=False, error="Le coût horaire doit être strictement positif."))


class QuotaSchema(ma.Schema):
    hours = fields.Integer(attribute="quota_hours")
    computed_hours = fields.Integer(attribute="computed_quota_hours")
    formula = fields.Constant("montant HT × part de main-d'œuvre × taux d'insertion ÷ coût horaire, "
                              "arrondi à l'heure la plus proche")
    amount_excl_vat = fields.Float()
    labour_share = fields.Float()
    insertion_rate = fields.Float()
    hourly_cost = fields.Float()


class ProgressSchema(ma.Schema):
    realised_hours = fields.Float(metadata={"description": "validated declarations"})
    declared_hours = fields.Float(metadata={"description": "submitted, not yet validated"})
    expected_hours = fields.Float(metadata={"description": "expected by today on the linear curve"})
    status = fields.String(attribute="progress_status")
    status_label = fields.String(metadata={"description": "the status in French"})


class LotSchema(ma.Schema):
    id = fields.String()
    market_id = fields.String()
    number = fields.Integer()
    title = fields.String()
    trade = fields.String()
    territories = fields.List(fields.String())
    start_date = fields.Date()
    end_date = fields.Date()
    contractor_siret = fields.String(allow_none=True)
    contractor_name = fields.String(allow_none=True)
    quota = fields.Function(lambda lot: QuotaSchema().dump(lot))
    progress = fields.Function(lambda lot: ProgressSchema().dump(progress_view(lot)))


class AwardSchema(ma.Schema):
    contractor_siret = Siret(required=True)
    contractor_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
