"""Request and response schemas of the notifications API (validation, serialisation and docs at once)."""
import marshmallow as ma
from marshmallow import fields, validate

from .domain import SEVERITIES, Kind


class RecipientCreateSchema(ma.Schema):
    territory = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(required=True, validate=validate.Length(max=254),
                         error_messages={"invalid": "Adresse e-mail invalide."})

    @ma.post_load
    def normalise(self, data, **kwargs):
        return {**data, "name": data["name"].strip(), "email": data["email"].strip().lower()}


class RecipientSchema(ma.Schema):
    id = fields.String()
    territory = fields.String()
    name = fields.String()
    email = fields.String()
    active = fields.Boolean()
    created_at = fields.DateTime()


class RecipientQuerySchema(ma.Schema):
    territory = fields.String()


class AlertSchema(ma.Schema):
    id = fields.String()
    kind = fields.String(validate=validate.OneOf([k.value for k in Kind]))
    severity = fields.String(validate=validate.OneOf(SEVERITIES))
    title = fields.String()
    message = fields.String()
    territories = fields.List(fields.String())
    lot_id = fields.String()
    market_id = fields.String()
    created_at = fields.DateTime()
    read = fields.Boolean(metadata={"description": "whether the caller has read it"})
    recipients_count = fields.Integer(metadata={"description": "people alerted when it was raised"})


class AlertQuerySchema(ma.Schema):
    unread = fields.Boolean(load_default=False, metadata={"description": "only those the caller has not read"})
    lot_id = fields.String()
