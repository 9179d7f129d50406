"""Request and response schemas of the hours API."""
from datetime import date

import marshmallow as ma
from marshmallow import fields, validate
from plumbing.validation import Siret

from .domain import CONTRACT_TYPES, MODES


class Month(fields.Field):
    """A calendar month written YYYY-MM; loaded as the first day of that month."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            year, month = str(value).split("-")
            return date(int(year), int(month), 1)
        except (TypeError, ValueError):
            raise ma.ValidationError("Mois attendu au format AAAA-MM (par exemple 2026-03).") from None

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class ContractorCreateSchema(ma.Schema):
    siret = Siret(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    territory = fields.String(validate=validate.Length(min=1, max=64),
                              metadata={"description": "territory following it; default: the caller's"})


class ContractorSchema(ma.Schema):
    siret = fields.String(attribute="id")
    name = fields.String()
    territories = fields.List(fields.String())


class ApiKeyCreateSchema(ma.Schema):
    label = fields.String(load_default="", validate=validate.Length(max=120))


class ApiKeySchema(ma.Schema):
    key_id = fields.String(attribute="id")
    contractor_siret = fields.String()
    label = fields.String()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)


class ApiKeyCreatedSchema(ApiKeySchema):
    api_key = fields.String(metadata={"description": "shown in this response only"})
    notice = fields.Constant("Conservez cette clé : elle ne sera plus jamais affichée. "
                             "Présentez-la dans l'en-tête X-API-Key.")


def at_most_two_decimals(value):
    if value != value.quantize(type(value)("0.01")):
        raise ma.ValidationError("Au plus deux décimales (par exemple 7.5 ou 151.67).")


class DeclarationCreateSchema(ma.Schema):
    lot_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    participant_id = fields.String(required=True, validate=validate.Length(min=1, max=64),
                                   metadata={"description": "the opaque reference given by the facilitator"})
    month = Month(required=True, metadata={"description": "YYYY-MM"})
    hours = fields.Decimal(required=True, validate=at_most_two_decimals)
    mode = fields.String(required=True, validate=validate.OneOf(
        MODES, error="Modalité inconnue ; valeurs possibles : " + ", ".join(MODES) + "."))
    employer_siret = Siret(metadata={"description": "when the employer is not the contractor itself"})
    contract_type = fields.String(validate=validate.OneOf(
        CONTRACT_TYPES, error="Type de contrat inconnu ; valeurs possibles : " + ", ".join(CONTRACT_TYPES) + "."))


class DeclarationSchema(ma.Schema):
    id = fields.String()
    lot_id = fields.String()
    participant_id = fields.String()
    contractor_siret = fields.String()
    month = fields.String()
    hours = fields.Float()
    mode = fields.String()
    employer_siret = fields.String(allow_none=True)
    contract_type = fields.String(allow_none=True)
    status = fields.String()
    submitted_at = fields.DateTime()
    validated_at = fields.DateTime(allow_none=True)
