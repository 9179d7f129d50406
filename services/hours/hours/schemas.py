"""Request and response schemas of the hours API."""
from datetime import date

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields, validate
from plumbing.validation import (FIRST_DAY, LAST_DAY, MAX_HOURS_IN_A_MONTH, Day, Number, Siret, Territory, identifier,
                                 listing, text)

from .domain import CONTRACT_TYPES, LEGAL_MONTHLY_MAXIMUM_HOURS, MODES, Period


class Month(fields.String):
    """A calendar month written YYYY-MM; loaded as the first day of that month."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.metadata.setdefault("pattern", r"^\d{4}-\d{1,2}$")  # for the documents (read above, not by a validator)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            year, month = str(value).split("-")
            first = date(int(year), int(month), 1)
        except (TypeError, ValueError):
            raise ma.ValidationError("Mois attendu au format AAAA-MM (par exemple 2026-03).") from None
        if not FIRST_DAY <= first <= LAST_DAY:
            raise ma.ValidationError(f"Mois attendu entre {FIRST_DAY:%m/%Y} et {LAST_DAY:%m/%Y}.")
        return first

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class ContractorCreateSchema(ma.Schema):
    siret = Siret(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    territory = Territory(metadata={"description": "territory following it; default: the caller's"})


class ContractorSchema(ma.Schema):
    siret = fields.String(attribute="id")
    name = fields.String()
    territories = fields.List(fields.String())


class ContractorQuerySchema(ma.Schema):
    q = text(100, metadata={"description": "name (each word typed starts a word of it, whatever the case and "
                                           "accents), or the start of the SIRET (digits, spaces aside)"})
    territory = Territory(metadata={"description": "one of the caller's territories; default: all of them"})
    siret = listing(text(14), 100, metadata={"description": "only these companies (siret=…&siret=…): a table names "
                                                            "its companies"})


class ApiKeyCreateSchema(ma.Schema):
    label = text(120, load_default="")


class ApiKeySchema(ma.Schema):
    key_id = fields.String(attribute="id")
    contractor_siret = fields.String()
    label = fields.String()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True, metadata={"description": "a rotated key is refused from then on"})
    replaces = fields.String(allow_none=True, metadata={"description": "the key id this one was rotated from"})
    replaced_by = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "active, expiring (rotated, in its grace period) or revoked "
                                                    "(also once expired)"})
    status_label = fields.String(metadata={"description": "the status in French"})
    last_used_at = fields.DateTime(allow_none=True)


class ApiKeyCreatedSchema(ApiKeySchema):
    api_key = fields.String(metadata={"description": "shown in this response only"})
    notice = fields.Constant("Conservez cette clé : elle ne sera plus jamais affichée. "
                             "Présentez-la dans l'en-tête X-API-Key.")


MAX_GRACE_HOURS = 168


class ApiKeyRotationSchema(ma.Schema):
    grace_hours = fields.Integer(load_default=24, validate=validate.Range(
        min=0, max=MAX_GRACE_HOURS, error=f"Entre 0 (ancienne clé révoquée aussitôt) et {MAX_GRACE_HOURS} heures."),
        metadata={"description": "how long the old key keeps working; 0 revokes it at once"})


class ApiKeyRotatedSchema(ApiKeyCreatedSchema):
    replaced_key = fields.Nested(ApiKeySchema, metadata={"description": "the old key, with its expiry"})


class ApiKeyUsageQuerySchema(ma.Schema):
    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=366, error="Entre 1 et 366 jours."))


class ApiKeyDayUseSchema(ma.Schema):
    day = fields.String(metadata={"description": "YYYY-MM-DD (UTC)"})
    requests = fields.Integer()


class ApiKeyUsageSchema(ma.Schema):
    key_id = fields.String()
    days = fields.List(fields.Nested(ApiKeyDayUseSchema), metadata={
        "description": "most recent first; days without a request are left out"})
    total_requests = fields.Integer()
    last_used_at = fields.DateTime(allow_none=True)


def line_hours(**kwargs) -> Number:
    """A line's hours: two decimals at most, and no more than a month holds (the domain refuses 0 or less
    with its own rule, hours_not_positive, and the participant's ceiling with hours_above_ceiling)."""
    return Number(maximum=MAX_HOURS_IN_A_MONTH, decimals=2, error=(
        f"Au plus {MAX_HOURS_IN_A_MONTH} heures sur une ligne (31 jours de 24 heures)."), **kwargs)


def mode_field(**kwargs):
    return fields.String(validate=validate.OneOf(
        MODES, error="Modalité inconnue ; valeurs possibles : " + ", ".join(MODES) + "."), **kwargs)


def contract_type_field(**kwargs):
    return fields.String(validate=validate.OneOf(
        CONTRACT_TYPES, error="Type de contrat inconnu ; valeurs possibles : " + ", ".join(CONTRACT_TYPES) + "."),
        **kwargs)


class DeclarationCreateSchema(ma.Schema):
    """Loaded as a line whose ``period`` replaces ``month``, ``start_date`` and ``end_date``."""
    lot_id = identifier(required=True)
    participant_id = identifier(required=True, metadata={"description": "the opaque reference given by the facilitator"})
    month = Month(metadata={"description": "YYYY-MM: the whole month; or give start_date and end_date instead"})
    start_date = Day(metadata={"description": "first day worked (YYYY-MM-DD), with end_date, in one calendar "
                                              "month"})
    end_date = Day(metadata={"description": "last day worked (YYYY-MM-DD), included"})
    hours = line_hours(required=True)
    mode = mode_field(required=True)
    employer_siret = Siret(metadata={"description": "when the employer is not the contractor itself"})
    contract_type = contract_type_field()

    @ma.validates_schema
    def a_month_or_two_dates(self, data, **kwargs):
        dates = [name for name in ("start_date", "end_date") if name in data]
        if "month" in data and dates:
            raise ma.ValidationError("Indiquez soit le mois, soit les dates de début et de fin, pas les deux.",
                                     "month")
        if not dates and "month" not in data:
            raise ma.ValidationError("Champ obligatoire : le mois (AAAA-MM), ou bien les dates de début et de fin "
                                     "(AAAA-MM-JJ).", "month")
        if len(dates) == 1:
            missing = "end_date" if dates == ["start_date"] else "start_date"
            raise ma.ValidationError("Les dates de début et de fin vont ensemble : indiquez les deux.", missing)

    @ma.post_load
    def period(self, data, **kwargs):
        month, start, end = data.pop("month", None), data.pop("start_date", None), data.pop("end_date", None)
        data["period"] = Period.of_month(month) if month else Period(start, end)
        return data


MAX_BATCH_LINES = 10_000
STATUSES_FR = "submitted, validated, rejected, superseded"


class ExitReviewSchema(ma.Schema):
    status = fields.String(metadata={"description": "pending (awaiting a facilitator), confirmed (keeps counting) "
                                                    "or rejected (stopped counting)"})
    exited_on = fields.Date(metadata={"description": "the participant's exit, recorded after the line was accepted"})
    reviewed_by = fields.String(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)


class DeclarationSchema(ma.Schema):
    id = fields.String(metadata={"description": "this version's id"})
    line_id = fields.String(metadata={"description": "the line (lot, participant, period) every version shares"})
    version = fields.Integer()
    current_id = fields.String(metadata={"description": "the line's version in force"})
    lot_id = fields.String()
    participant_id = fields.String()
    contractor_siret = fields.String()
    month = fields.String(metadata={"description": "YYYY-MM, the period's month"})
    period_start = fields.Date(metadata={"description": "first day of the period (the 1st for a month line)"})
    period_end = fields.Date(metadata={"description": "last day of the period, included"})
    hours = fields.Float()
    mode = fields.String()
    employer_siret = fields.String(allow_none=True)
    contract_type = fields.String(allow_none=True)
    status = fields.String(metadata={"description": STATUSES_FR})
    status_label = fields.String(metadata={"description": "the status in French"})
    mode_label = fields.String(metadata={"description": "the mode in French"})
    submitted_at = fields.DateTime()
    validated_at = fields.DateTime(allow_none=True)
    rejected_at = fields.DateTime(allow_none=True)
    rejection_reason = fields.String(allow_none=True)
    correction_reason = fields.String(allow_none=True)
    supersedes = fields.String(allow_none=True)
    superseded_by = fields.String(allow_none=True)
    exit_review = fields.Nested(ExitReviewSchema, allow_none=True, metadata={
        "description": "set when the line's period runs past the participant's exit, recorded late"})


class DeclarationHistorySchema(ma.Schema):
    line_id = fields.String()
    current_id = fields.String()
    versions = fields.List(fields.Nested(DeclarationSchema), metadata={"description": "oldest first"})


class BatchSchema(ma.Schema):
    # Each line is checked on its own (a result per line), so the list takes any objects here.
    lines = fields.List(fields.Dict(), required=True, validate=validate.Length(
        min=1, max=MAX_BATCH_LINES, error=f"Entre 1 et {MAX_BATCH_LINES} lignes par envoi."))
    all_or_nothing = fields.Boolean(load_default=False, metadata={
        "description": "true: one refused line and nothing is written"})


class LineResultSchema(ma.Schema):
    index = fields.Integer(metadata={"description": "position of the line in the request, from 0"})
    row = fields.Integer(metadata={"description": "uploads: line number in the file (1 is the header)"})
    status = fields.String(metadata={"description": "accepted, refused, or valid (not written: all or nothing)"})
    declaration_id = fields.String(allow_none=True)
    declaration_status = fields.String()
    rule = fields.String()
    detail = fields.String()
    errors = fields.Dict()


class BatchReportSchema(ma.Schema):
    accepted = fields.Integer()
    refused = fields.Integer()
    written = fields.Boolean()
    results = fields.List(fields.Nested(LineResultSchema))


class ErrorFileSchema(ma.Schema):
    csv = fields.String(metadata={"description": "link to the refused rows as CSV"})
    xlsx = fields.String(metadata={"description": "link to the refused rows as XLSX"})
    kept_until = fields.Date(metadata={"description": "the report is purged after this day"})


class UploadReportSchema(BatchReportSchema):
    upload_id = fields.String(metadata={"description": "when a row was refused: the report to download"})
    error_file = fields.Nested(ErrorFileSchema, metadata={
        "description": "the refused rows in the template's columns, with the reason: fix them and upload again"})


class UploadQuerySchema(ma.Schema):
    all_or_nothing = fields.Boolean(load_default=False)


class UploadFileSchema(ma.Schema):
    file = Upload(required=True, metadata={"description": "CSV (separator ; or ,) or XLSX, as the template"})


class RejectionSchema(ma.Schema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=1000, error=(
        "Motif obligatoire : expliquez en quelques mots ce qui doit être corrigé.")))


class CorrectionSchema(ma.Schema):
    hours = line_hours()
    mode = mode_field()
    employer_siret = Siret(allow_none=True)
    contract_type = contract_type_field()
    reason = fields.String(validate=validate.Length(max=1000))

    @ma.validates_schema
    def something_changes(self, data, **kwargs):
        if not set(data) - {"reason"}:
            raise ma.ValidationError("Indiquez au moins une valeur corrigée (heures, modalité, employeur ou "
                                     "type de contrat).", "_schema")


class DeclarationQuerySchema(ma.Schema):
    status = fields.String(validate=validate.OneOf(
        ("submitted", "validated", "rejected"), error="Statut inconnu ; valeurs possibles : submitted, "
                                                     "validated, rejected."))
    territory = Territory()
    lot_id = identifier()
    month = text(7, metadata={"description": "YYYY-MM"})
    contractor_siret = Siret(metadata={"description": "the company's lines (a contractor sees only its own)"})
    participant_id = identifier()
    period_from = Month(metadata={"description": "YYYY-MM: lines of this month or later"})
    period_to = Month(metadata={"description": "YYYY-MM: lines of this month or earlier"})

    @ma.validates_schema
    def months_in_order(self, data, **kwargs):
        if data.get("period_from") and data.get("period_to") and data["period_from"] > data["period_to"]:
            raise ma.ValidationError("Le premier mois doit précéder le dernier (ou être le même).", "period_to")


class ExitReviewQuerySchema(ma.Schema):
    territory = Territory(metadata={"description": "one of the caller's territories; default: all of them"})


class ExitReviewDecisionSchema(ma.Schema):
    decision = fields.String(required=True, validate=validate.OneOf(
        ("confirm", "reject"), error="Décision attendue : confirm (la ligne continue de compter) ou reject (elle "
                                     "cesse de compter)."))
    reason = fields.String(validate=validate.Length(min=3, max=1000, error=(
        "Motif de 3 à 1000 caractères : expliquez en quelques mots la décision.")), metadata={
        "description": "required to reject: the contractor reads it"})

    @ma.validates_schema
    def reason_to_reject(self, data, **kwargs):
        if data.get("decision") == "reject" and not data.get("reason"):
            raise ma.ValidationError("Motif obligatoire pour rejeter : l'entreprise le lira.", "reason")


class BulkValidationSchema(ma.Schema):
    ids = listing(identifier(), 1000, 1, required=True)


class ValidationResultSchema(ma.Schema):
    id = fields.String()
    status = fields.String(metadata={"description": "validated (or rejected), or refused with a reason"})
    detail = fields.String()


class BulkValidationReportSchema(ma.Schema):
    validated = fields.Integer()
    refused = fields.Integer()
    results = fields.List(fields.Nested(ValidationResultSchema))


class BulkRejectionSchema(BulkValidationSchema, RejectionSchema):
    """The lines to reject and the one reason each of them gets."""


class BulkRejectionReportSchema(ma.Schema):
    rejected = fields.Integer()
    refused = fields.Integer()
    results = fields.List(fields.Nested(ValidationResultSchema))


# --- territory settings -----------------------------------------------------------------------------
class TerritorySettingsUpdateSchema(ma.Schema):
    auto_validation = fields.Boolean(required=True, metadata={
        "description": "lines of the territory's lots that pass every rule are validated without a facilitator "
                       "(for a lot of several territories, only when all of them enable it)"})
    monthly_ceiling_hours = Number(
        load_default=None, allow_none=True, decimals=2, minimum=0, min_inclusive=False,
        maximum=LEGAL_MONTHLY_MAXIMUM_HOURS,
        error="Plafond attendu entre 0 (exclu) et {max} heures, la durée légale maximale du travail sur un mois.",
        metadata={"description": "hours a participant may have declared in a calendar month, all lines and lots "
                                 "together; null: the region file's default. A lot of several territories takes the "
                                 "lowest."})
    reporting_due_day = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(
            min=1, max=28, error="Jour d'échéance attendu entre 1 et 28."),
        metadata={"description": "the day of the following month by which a month's hours are due; null: the "
                                 "region file's default (10). A lot of several territories takes the earliest."})


class TerritorySettingsSchema(ma.Schema):
    territory = fields.String()
    auto_validation = fields.Boolean()
    monthly_ceiling_hours = fields.Float(allow_none=True, metadata={
        "description": "the territory's own ceiling; null: the region file's default applies"})
    effective_monthly_ceiling_hours = fields.Float(metadata={"description": "the ceiling that applies"})
    reporting_due_day = fields.Integer(allow_none=True, metadata={
        "description": "the territory's own due day; null: the region file's default applies"})
    effective_reporting_due_day = fields.Integer(metadata={"description": "the due day that applies"})
    updated_at = fields.DateTime(allow_none=True, metadata={"description": "null: never set, the defaults apply"})
    updated_by = fields.String(allow_none=True)


class NoHoursSchema(ma.Schema):
    lot_id = identifier(required=True)
    month = Month(required=True, metadata={"description": "YYYY-MM: the month without insertion hours"})
    reason = text(500, 1, required=True, metadata={"description": "why the lot had no insertion hours that month"})


class NoHoursStatementSchema(ma.Schema):
    id = fields.String()
    lot_id = fields.String()
    contractor_siret = fields.String()
    month = fields.String()
    reason = fields.String()
    declared_at = fields.DateTime()
    declared_by = fields.String(allow_none=True)


class ReportingMonthSchema(ma.Schema):
    month = fields.String(metadata={"description": "YYYY-MM"})
    due_date = fields.Date(metadata={"description": "the day by which the month was to be declared"})
    state = fields.String(metadata={"enum": ["on_time", "late", "missing", "pending"]})
    state_label = fields.String()
    declared_on = fields.Date(allow_none=True, metadata={"description": "the first line or statement's day"})
    no_hours = fields.Boolean(metadata={"description": "declared as a month without insertion hours"})
    no_hours_reason = fields.String(allow_none=True)


class ReportingLotSchema(ma.Schema):
    lot_id = fields.String()
    market_id = fields.String(allow_none=True)
    territories = fields.List(fields.String())
    due_day = fields.Integer(metadata={"description": "day of the following month a month is due by"})
    on_time = fields.Integer()
    late = fields.Integer()
    missing = fields.Integer()
    months = fields.List(fields.Nested(ReportingMonthSchema))


class ReportingQuerySchema(ma.Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, error="Page 1 ou suivante."))
    page_size = fields.Integer(validate=validate.Range(min=1, max=100, error="Entre 1 et 100 lots par page."),
                               metadata={"description": "lots per page (all of them when absent)"})


class ReportingSchema(ma.Schema):
    contractor_siret = fields.String()
    total_lots = fields.Integer(metadata={"description": "lots of the calendar, on every page"})
    lots = fields.List(fields.Nested(ReportingLotSchema))
