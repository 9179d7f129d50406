"""Request and response schemas of the participants API (validation, serialisation and docs at once).

Shapes and types are checked here; the eligibility rules themselves live in the domain.
"""
from datetime import date

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields, validate
from plumbing.validation import EARLIEST_BIRTH, Day, Siret, Territory, text

from .domain import (AGE_BAND_LABELS_FR, AGE_BANDS, BENEFIT_LABELS_FR, CONTRACT_TYPE_LABELS_FR, CONTRACT_TYPES, CRITERIA,
                     CRITERIA_LABELS_FR, DECISION_KINDS, DECISION_LABELS_FR, OUTCOME_LABELS_FR, OUTCOMES,
                     SEX_LABELS_FR, SEXES, STATUS_LABELS_FR, STATUSES)
from .handlers import ACTION_LABELS_FR


def _text(max_length: int, **kwargs) -> fields.String:
    return text(max_length, 1, **kwargs)


class IdentitySchema(ma.Schema):
    """Identity and contact of a person, as typed by a facilitator or read from an import file."""
    first_name = _text(100, required=True)
    last_name = _text(100, required=True)
    birth_date = Day(earliest=EARLIEST_BIRTH, required=True)
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


class ParticipantCreateSchema(IdentitySchema):
    territory = Territory(required=True)
    eligibility = fields.Nested(lambda: EligibilityRequestSchema(), metadata={
        "description": "granted in the same write as the registration: when refused, no one is registered"})
    confirm_new = fields.Boolean(load_default=False, metadata={
        "description": "true to create the person even though one with the same names and birth date is "
                       "already followed in the territory (after checking it is someone else)"})


class ParticipantUpdateSchema(IdentitySchema):
    """Rectification: only the fields sent change (territory and status do not change here)."""


class EvidenceSchema(ma.Schema):
    kind = _text(100, required=True, metadata={"description": "kind of document seen"})
    reference = _text(200, required=True)
    date = Day(earliest=EARLIEST_BIRTH, required=True)
    prescriber = _text(200)

    @ma.validates("date")
    def dated_in_the_past(self, value, **kwargs):
        if value > date.today():
            raise ma.ValidationError("La date du justificatif ne peut être dans le futur.")


class CriterionSchema(ma.Schema):
    code = fields.String(required=True, validate=validate.OneOf(
        CRITERIA, error="Critère inconnu ; codes acceptés : " + ", ".join(CRITERIA) + "."))
    benefit = text(40, metadata={"description": "for minimum_benefit: RSA, AAH, ASS or other"})
    months = fields.Integer(validate=validate.Range(min=0, max=1200, error="Nombre de mois invalide."),
                            metadata={"description": "for long_term_job_seeker: months registered"})
    reason = fields.String(validate=validate.Length(max=2000, error="Avis motivé trop long."),
                           metadata={"description": "for prescriber_derogation: the prescriber's opinion"})
    evidence = fields.Nested(EvidenceSchema, metadata={
        "description": "the evidence of this criterion, when it is not the one shared by all criteria"})


class EligibilityRequestSchema(ma.Schema):
    criteria = fields.List(fields.Nested(CriterionSchema), required=True, validate=[
        validate.Length(min=1, error="Au moins un critère d'éligibilité est requis."),
        validate.Length(max=len(CRITERIA), error=f"Au plus {len(CRITERIA)} critères, chacun une fois.")])
    evidence = fields.Nested(EvidenceSchema, metadata={
        "description": "evidence shared by every criterion without its own (each criterion needs one)"})
    eligible_from = Day(required=True, metadata={"description": "entry date in the clause"})
    reason = _text(2000, metadata={"description": "why the eligibility is granted or renewed (kept in the history)"})


class RevocationSchema(ma.Schema):
    reason = _text(2000, required=True)
    revoked_on = Day(load_default=date.today)


class EligibilitySchema(ma.Schema):
    criteria = fields.List(fields.Nested(CriterionSchema))
    evidence = fields.Nested(EvidenceSchema, allow_none=True)
    eligible_from = fields.Date()
    eligible_until = fields.Date(metadata={"description": "last counting day, inclusive"})
    validated_by = fields.String()
    revoked_on = fields.Date(allow_none=True)
    revocation_reason = fields.String(allow_none=True)


class EligibilityDecisionSchema(ma.Schema):
    id = fields.String()
    kind = fields.String(validate=validate.OneOf(DECISION_KINDS), metadata={"description": ", ".join(DECISION_KINDS)})
    kind_label = fields.Function(lambda d: DECISION_LABELS_FR[d.kind], metadata={"description": "in French"})
    effective_on = fields.Date(metadata={"description": "entry (grant, renewal), revocation day or window's last day"})
    eligible_from = fields.Date()
    eligible_until = fields.Date(metadata={"description": "last counting day as planned, inclusive"})
    criteria = fields.List(fields.Nested(CriterionSchema), metadata={"description": "grant and renewal only"})
    evidence = fields.Nested(EvidenceSchema, allow_none=True)
    decided_by = fields.String()
    decided_at = fields.DateTime()
    reason = fields.String(allow_none=True)


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
    status_label = fields.Function(lambda p: STATUS_LABELS_FR[p.status], metadata={"description": "in French"})
    eligibility = fields.Nested(EligibilitySchema, allow_none=True)
    eligibility_history = fields.List(fields.Nested(EligibilityDecisionSchema), metadata={
        "description": "every eligibility decision, oldest first: which one was in force on any day"})
    path = fields.List(fields.Nested(lambda: PathEntrySchema()))
    exit = fields.Nested(lambda: ExitSchema(), allow_none=True)
    registered_by = fields.String(allow_none=True)
    registered_on = fields.Date(allow_none=True)


class PathEntryCreateSchema(ma.Schema):
    lot_id = _text(64, required=True)
    employer_siret = Siret(required=True)
    start = Day(required=True)
    end = Day(allow_none=True, metadata={"description": "last day worked; none while it runs"})
    contract_type = fields.String(required=True, validate=validate.OneOf(
        CONTRACT_TYPES, error="Type de contrat inconnu ; valeurs possibles : " + ", ".join(CONTRACT_TYPES) + "."))


class PathEntryEndSchema(ma.Schema):
    end = Day(required=True, metadata={"description": "last day worked"})


class PathEntrySchema(ma.Schema):
    id = fields.String()
    lot_id = fields.String()
    employer_siret = fields.String()
    start = fields.Date()
    end = fields.Date(allow_none=True)
    contract_type = fields.String()
    recorded_by = fields.String(allow_none=True)


class ExitCreateSchema(ma.Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(
        OUTCOMES, error="Situation de sortie inconnue ; valeurs possibles : " + ", ".join(OUTCOMES) + "."))
    exit_date = Day(required=True)


class ExitSchema(ma.Schema):
    outcome = fields.String()
    exit_date = fields.Date()
    recorded_by = fields.String(allow_none=True)


class ErasedParticipantSchema(ma.Schema):
    """What is kept of a participant after erasure: anonymous statistics only."""
    id = fields.String()
    status = fields.String()
    erased_on = fields.Date()
    territory = fields.String()
    sex = fields.String(allow_none=True)
    age_band = fields.String(allow_none=True)
    qpv = fields.Boolean()
    categories = fields.List(fields.String())
    outcome = fields.String(allow_none=True)


class AccessLogEntrySchema(ma.Schema):
    at = fields.DateTime()
    subject = fields.String(metadata={"description": "who (the subject of their token)"})
    role = fields.String()
    action = fields.String(metadata={"description": "read, create, update, export, erase, anonymise"})


LIST_SORTS = ("last_name", "first_name", "window_end", "registered_on")


class ParticipantQuerySchema(ma.Schema):
    territory = Territory(metadata={"description": "one of the caller's territories; default: all of them"})
    q = text(100, metadata={"description": "names: each word typed starts a first or last name's word, "
                                           "whatever the case and accents"})
    status = fields.String(validate=validate.OneOf(STATUSES, error="Statut inconnu ; valeurs possibles : "
                                                   + ", ".join(STATUSES) + "."), metadata={
        "description": "eligibility state; without it, the erased are left out"})
    public = fields.String(validate=validate.OneOf(CRITERIA, error="Public inconnu ; valeurs possibles : "
                                                   + ", ".join(CRITERIA) + "."), metadata={
        "description": "an eligibility category of the last eligibility granted"})
    window_ends_before = Day(metadata={"description": "counting window's last day on or before this date "
                                                      "(with status=eligible: windows ending soon)"})
    window_ends_after = Day(metadata={"description": "counting window's last day on or after this date"})
    sort = fields.String(load_default="last_name", validate=validate.OneOf(
        LIST_SORTS + tuple(f"-{name}" for name in LIST_SORTS),
        error="Tri possible sur : " + ", ".join(LIST_SORTS) + " (préfixe - pour l'ordre inverse)."))


class ParticipantRowSchema(ma.Schema):
    """A participant in a list: enough to find them, no identity detail beyond the names."""
    id = fields.String()
    territory = fields.String()
    first_name = fields.String(allow_none=True, metadata={"description": "none once erased"})
    last_name = fields.String(allow_none=True, metadata={"description": "none once erased"})
    status = fields.String(validate=validate.OneOf(STATUSES))
    status_label = fields.Function(lambda p: STATUS_LABELS_FR[p.status], metadata={"description": "in French"})
    window_end = fields.Date(allow_none=True, metadata={
        "description": "the counting window's last day, inclusive: the revocation's day if revoked (none "
                       "before eligibility)"})
    categories = fields.List(fields.String(), metadata={"description": "of the last eligibility granted"})


class StatisticsQuerySchema(ma.Schema):
    territory = Territory(required=True)


class StatisticsSchema(ma.Schema):
    territory = fields.String()
    participants = fields.Integer()
    qpv = fields.Integer(metadata={"description": "living in a priority neighbourhood"})
    by_sex = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_age_band = fields.Dict(keys=fields.String(), values=fields.Integer(),
                              metadata={"description": "keys: " + ", ".join(AGE_BANDS)})
    by_category = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_outcome = fields.Dict(keys=fields.String(), values=fields.Integer())


class TerritorySettingsSchema(ma.Schema):
    territory = fields.String(dump_only=True)
    counting_window_months = fields.Integer(required=True, validate=validate.Range(
        min=1, max=120, error="Durée de la fenêtre de comptage attendue en mois, de 1 à 120."))
    retention_months = fields.Integer(required=True, validate=validate.Range(
        min=1, max=240, error="Durée de conservation attendue en mois, de 1 à 240."), metadata={
        "description": "months after their exit during which a participant's identity is kept"})
    evidence_max_age_months = fields.Integer(load_default=None, validate=validate.Range(
        min=1, max=60, error="Ancienneté maximale des justificatifs attendue en mois, de 1 à 60."), metadata={
        "description": "evidence dated more than this many months before entry is refused (default 6)"})
    updated_by = fields.String(dump_only=True, allow_none=True)
    updated_at = fields.DateTime(dump_only=True, allow_none=True)


IMPORT_MODES = ("valid_only", "all_or_nothing")


class ImportQuerySchema(ma.Schema):
    mode = fields.String(load_default="valid_only", validate=validate.OneOf(
        IMPORT_MODES, error="Mode attendu : valid_only (lignes valides seulement) ou all_or_nothing (tout ou rien)."))
    territory = Territory(metadata={"description": "territory of the imported people; default: the caller's"})


class ImportFileSchema(ma.Schema):
    file = Upload(required=True, metadata={"description": "CSV (separator ; or ,) or XLSX, as the template"})


IMPORT_ROW_LABELS_FR = {"created": "personne inscrite", "valid": "ligne valide, non importée (tout ou rien)",
                        "invalid": "ligne refusée", "duplicate": "personne déjà suivie, ligne non importée"}


class ImportRowSchema(ma.Schema):
    row = fields.Integer(metadata={"description": "line number in the file (1 is the header line)"})
    status = fields.String(metadata={"description": "created, valid (not imported: all or nothing), "
                                                    "invalid or duplicate"})
    status_label = fields.Function(lambda row: IMPORT_ROW_LABELS_FR[row["status"]],
                                   metadata={"description": "in French"})
    participant_id = fields.String(allow_none=True)
    errors = fields.Dict(metadata={"description": "French messages by column header"})


class ImportReportSchema(ma.Schema):
    mode = fields.String()
    territory = fields.String()
    rows_read = fields.Integer()
    created = fields.Integer()
    rejected = fields.Integer()
    ignored_columns = fields.List(fields.String(), metadata={"description": "headers not recognised"})
    rows = fields.List(fields.Nested(ImportRowSchema))


class ExportParticipantSchema(ParticipantSchema):
    """The record as held, derived fields included."""
    age_band = fields.String(allow_none=True, metadata={"description": "at entry (at registration before)"})
    categories = fields.List(fields.String())
    lookalike_key = fields.String(allow_none=True, metadata={
        "description": "digest of the names and birth date, kept to warn of duplicate records"})


class ExportSchema(ma.Schema):
    title = fields.Constant("Données personnelles détenues par le service des participants "
                            "(droit d'accès, article 15 du RGPD)")
    exported_at = fields.DateTime()
    exported_by = fields.String()
    participant = fields.Nested(ExportParticipantSchema)
    access_log = fields.List(fields.Nested(AccessLogEntrySchema))
    other_services = fields.Constant(
        "Les autres services de la plateforme ne détiennent aucune donnée d'identité : ils ne connaissent "
        "que la référence opaque du participant, son territoire, ses catégories d'éligibilité, sa tranche "
        "d'âge, son sexe, sa résidence en QPV, les dates de sa fenêtre de comptage et sa situation de sortie, "
        "ainsi que les heures déclarées par les entreprises sous cette référence.")



# The French label of each code, for the pages (their forms' choices and their lists): code -> label.
LABELS = {"statuses": STATUS_LABELS_FR, "criteria": CRITERIA_LABELS_FR, "benefits": BENEFIT_LABELS_FR,
          "sexes": SEX_LABELS_FR, "age_bands": AGE_BAND_LABELS_FR, "outcomes": OUTCOME_LABELS_FR,
          "contract_types": CONTRACT_TYPE_LABELS_FR, "decisions": DECISION_LABELS_FR,
          "access_actions": ACTION_LABELS_FR}


def _labels() -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.String())


class LabelsSchema(ma.Schema):
    """Code -> French label, for each list of codes the API takes or answers (in LABELS' order)."""
    statuses, criteria, benefits, sexes, age_bands = _labels(), _labels(), _labels(), _labels(), _labels()
    outcomes, contract_types, decisions, access_actions = _labels(), _labels(), _labels(), _labels()
