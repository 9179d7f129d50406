"""Request and response schemas of the notifications API (validation, serialisation and docs at once)."""
import marshmallow as ma
from marshmallow import fields, validate
from marshmallow.utils import get_value
from plumbing.validation import Siret, Territory, identifier, listing, text

from .domain import (ALERT_STATUS_LABELS_FR, ALERT_STATUSES, AUDIENCES, CHANNEL_LABELS_FR, CHANNELS,
                     DELIVERY_STATUS_LABELS_FR, DELIVERY_STATUSES, KIND_LABELS_FR, KINDS, MODE_LABELS_FR, MODES,
                     SEVERITIES, SEVERITY_LABELS_FR)


def _one_of(values):
    return validate.OneOf(values, error="Valeur inconnue : " + ", ".join(values) + " attendu.")


def _label(labels: dict, name: str):
    """The French label of a code field, for the pages (answers only)."""
    return fields.Function(lambda obj: labels.get(get_value(obj, name)), dump_only=True,
                           metadata={"description": f"{name} in French"})


class ContactSchema(ma.Schema):
    """Who receives alerts, and where: a person's own address (the signed-in person's) is just this."""
    territory = Territory(required=True, metadata={"description": "the territory whose alerts the contact receives"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(required=True, validate=validate.Length(max=254),
                         error_messages={"invalid": "Adresse e-mail invalide."})

    @ma.post_load
    def normalise(self, data, **kwargs):
        return {**data, "name": data["name"].strip(), "email": data["email"].strip().lower()}


class RecipientCreateSchema(ContactSchema):
    audience = fields.String(load_default="facilitator", validate=_one_of(AUDIENCES), metadata={
        "description": "facilitator (a partner structure of the territory), buyer's or contractor's contact"})
    organisation = fields.String(validate=validate.Length(max=200),
                                 metadata={"description": "the partner structure, buyer or company"})
    buyer_id = fields.String(validate=validate.Length(min=1, max=64))
    contractor_siret = Siret()

    @ma.validates_schema
    def whose_contact(self, data, **kwargs):
        if data.get("audience") == "buyer" and not data.get("buyer_id"):
            raise ma.ValidationError({"buyer_id": ["Obligatoire pour le contact d'un acheteur."]})
        if data.get("audience") == "contractor" and not data.get("contractor_siret"):
            raise ma.ValidationError({"contractor_siret": ["Obligatoire pour le contact d'une entreprise."]})


class RecipientUpdateSchema(ma.Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    organisation = fields.String(validate=validate.Length(max=200), allow_none=True)
    active = fields.Boolean()


class RecipientSchema(ma.Schema):
    id = fields.String()
    territory = fields.String()
    name = fields.String()
    email = fields.String()
    active = fields.Boolean()
    audience = fields.String()
    organisation = fields.String(allow_none=True)
    buyer_id = fields.String(allow_none=True)
    contractor_siret = fields.String(allow_none=True)
    has_webhook = fields.Boolean()
    webhook_url = fields.String(allow_none=True)
    created_at = fields.DateTime()
    own = fields.Boolean(metadata={"description": "the contact is a signed-in person's own address: they alone "
                                                  "choose its alerts"})


class RecipientQuerySchema(ma.Schema):
    territory = Territory()
    organisation = text(200)


class SubscriptionSchema(ma.Schema):
    kind = fields.String(required=True, validate=_one_of(KINDS))
    channel = fields.String(required=True, validate=_one_of(CHANNELS))
    mode = fields.String(load_default="immediate", validate=_one_of(MODES),
                         metadata={"description": "immediate, or gathered in the daily digest"})
    kind_label = _label(KIND_LABELS_FR, "kind")
    channel_label = _label(CHANNEL_LABELS_FR, "channel")
    mode_label = _label(MODE_LABELS_FR, "mode")


class SubscriptionsSchema(ma.Schema):
    subscriptions = listing(fields.Nested(SubscriptionSchema), len(KINDS) * len(CHANNELS), required=True)


class WebhookCreateSchema(ma.Schema):
    url = fields.Url(required=True, require_tld=False, schemes={"http", "https"},
                     validate=validate.Length(max=2000), error_messages={"invalid": "Adresse web invalide."})


class WebhookSchema(ma.Schema):
    url = fields.String()
    secret = fields.String(metadata={"description": "shown once: keep it to verify X-Clause-Signature"})
    signature = fields.String(metadata={"description": "how requests are signed"})


class LabelSchema(ma.Schema):
    code = fields.String()
    label = fields.String(metadata={"description": "in French"})


class AlertKindSchema(LabelSchema):
    severity = fields.String(validate=validate.OneOf(SEVERITIES))
    audiences = fields.List(fields.String(), metadata={"description": "who may receive it (facilitator, buyer, "
                                                                      "contractor)"})


class VocabularySchema(ma.Schema):
    kinds = fields.List(fields.Nested(AlertKindSchema))
    severities = fields.List(fields.Nested(LabelSchema))
    statuses = fields.List(fields.Nested(LabelSchema), metadata={"description": "of alerts"})
    channels = fields.List(fields.Nested(LabelSchema))
    modes = fields.List(fields.Nested(LabelSchema))
    delivery_statuses = fields.List(fields.Nested(LabelSchema))


class AlertSchema(ma.Schema):
    id = fields.String()
    kind = fields.String(validate=validate.OneOf(KINDS))
    kind_label = _label(KIND_LABELS_FR, "kind")
    severity = fields.String(validate=validate.OneOf(SEVERITIES))
    severity_label = _label(SEVERITY_LABELS_FR, "severity")
    title = fields.String()
    message = fields.String()
    territories = fields.List(fields.String())
    lot_id = fields.String(allow_none=True)
    market_id = fields.String(allow_none=True)
    context = fields.Dict(metadata={"description": "market and lot names, opaque ids"})
    figures = fields.Dict(metadata={"description": "hours and dates the alert is about"})
    status = fields.String(validate=validate.OneOf(ALERT_STATUSES))
    status_label = _label(ALERT_STATUS_LABELS_FR, "status")
    acknowledged_by = fields.String(allow_none=True)
    acknowledged_at = fields.DateTime(allow_none=True)
    resolved_by = fields.String(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    resolution_note = fields.String(allow_none=True)
    link = fields.String(allow_none=True)
    created_at = fields.DateTime()
    read = fields.Boolean(metadata={"description": "whether the caller has read it"})
    recipients_count = fields.Integer(metadata={"description": "facilitators concerned when it was raised"})
    calm = fields.String(allow_none=True, metadata={
        "enum": ["held", "replaced", "reverted"],
        "description": "a lot's status change: held (mailed once the quiet period passed without another change), "
                       "replaced or reverted within it (in the feed, never mailed)"})
    calm_label = fields.String(allow_none=True)


class AlertQuerySchema(ma.Schema):
    unread = fields.Boolean(load_default=False, metadata={"description": "only those the caller has not read"})
    lot_id = identifier()
    kind = fields.String(validate=_one_of(KINDS))
    severity = fields.String(validate=_one_of(SEVERITIES))
    status = fields.String(validate=_one_of(ALERT_STATUSES))
    territory = Territory()


class ResolveSchema(ma.Schema):
    note = fields.String(validate=validate.Length(max=1000))


class AttemptSchema(ma.Schema):
    at = fields.String()
    outcome = fields.String()
    detail = fields.String()


class DeliverySchema(ma.Schema):
    id = fields.String()
    alert_ids = fields.List(fields.String())
    recipient_id = fields.String()
    channel = fields.String()
    channel_label = _label(CHANNEL_LABELS_FR, "channel")
    mode = fields.String()
    mode_label = _label(MODE_LABELS_FR, "mode")
    digest_day = fields.String(allow_none=True)
    territories = fields.List(fields.String())
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))
    status_label = _label(DELIVERY_STATUS_LABELS_FR, "status")
    attempts = fields.List(fields.Nested(AttemptSchema))
    next_attempt_at = fields.DateTime()
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


class DeliveryQuerySchema(ma.Schema):
    alert_id = identifier()
    recipient_id = identifier()
    channel = fields.String(validate=_one_of(CHANNELS))
    status = fields.String(validate=_one_of(DELIVERY_STATUSES))
