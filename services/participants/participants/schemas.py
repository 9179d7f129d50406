"""Request and response schemas of the participants API (validation, serialisation and docs at once).

Shapes and types are checked here; the eligibility rules themselves live in the domain.
"""
from datetime import date

import marshmallow as ma
from marshmallow import fields, validate

from .domain import CRITERIA, SEXES, STATUSES


def _text(max_length: int, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(
        min=1, max=max_length, error=f"Texte de 1 à {max_length} caractères attendu."), **kwargs)


class ParticipantCreateSchema(ma.Schema):
    territory = _text(64, required=True)
    first_name = _text(100, required=True)
    last_name = _text(100, required=True)
    birth_date = fields.Date(required=True)
    sex = fields.String(required=True, validate=validate.OneOf(
        SEXES, error="Sexe attendu : female (femme) ou male (homme)."))
    commune = _text(120, required=True)
    qpv = fields.Boolean(load_default=False, metadata={"description": "lives in a priority neighbourhood"})
    email = fields.Email(error_messages={"invalid": "Adresse électronique invalide."},
                         validate=validate.Length(max=254, error="Adresse électronique trop longue."))
    phone = fields.String(validate=validate.Regexp(
        r"^\+?[0-9 .()-]{6,20}$", error="Numéro de téléphone invalide (exemple : 06 12 34 56 78 ou +33 6 12 34 56 78)."))

    @ma.validates("birth_date")
    def born_in_the_past(self, value, **kwargs):
        if value >= date.today():
            raise ma.ValidationError("La date de naissance doit être passée.")


class CriterionSchema(ma.Schema):
    code = fields.String(required=True, validate=validate.OneOf(
        CRITERIA, error="Critère inconnu ; codes acceptés : " + ", ".join(CRITERIA) + "."))
    benefit = fields.String(metadata={"description": "for minimum_benefit: RSA, AAH, ASS or other"})
    months = fields.Integer(validate=validate.Range(min=0, max=1200, error="Nombre de mois invalide."),
                            metadata={"description": "for long_term_job_seeker: months registered"})
    reason = fields.String(validate=validate.Length(max=2000, error="Avis motivé trop long."),
                           metadata={"description": "for prescriber_derogation: the prescriber's opinion"})


class EvidenceSchema(ma.Schema):
    kind = _text(100, required=True, metadata={"description": "kind of document seen"})
    reference = _text(200, required=True)
    date = fields.Date(required=True)
    prescriber = _text(200)

    @ma.validates("date")
    def dated_in_the_past(self, value, **kwargs):
        if value > date.today():
            raise ma.ValidationError("La date du justificatif ne peut être dans le futur.")


class EligibilityRequestSchema(ma.Schema):
    criteria = fields.List(fields.Nested(CriterionSchema), required=True, validate=validate.Length(
        min=1, error="Au moins un critère d'éligibilité est requis."))
    evidence = fields.Nested(EvidenceSchema, required=True)
    eligible_from = fields.Date(required=True, metadata={"description": "entry date in the clause"})


class RevocationSchema(ma.Schema):
    reason = _text(2000, required=True)
    revoked_on = fields.Date(load_default=date.today)


class EligibilitySchema(ma.Schema):
    criteria = fields.List(fields.Nested(CriterionSchema))
    evidence = fields.Nested(EvidenceSchema)
    eligible_from = fields.Date()
    eligible_until = fields.Date(metadata={"description": "last counting day, inclusive"})
    validated_by = fields.String()
    revoked_on = fields.Date(allow_none=True)
    revocation_reason = fields.String(allow_none=True)


class ParticipantSchema(ma.Schema):
    id = fields.String()
    territory = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    birth_date = fields.Date()
    sex = fields.String()
    commune = fields.String()
    qpv = fields.Boolean()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    status = fields.String(validate=validate.OneOf(STATUSES))
    eligibility = fields.Nested(EligibilitySchema, allow_none=True)
