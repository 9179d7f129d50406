"""HTTP entrypoints of the hours service."""
import hashlib
import json
from datetime import timedelta

import marshmallow as ma
from flask import Response, current_app, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from plumbing import paging, search
from plumbing.auth import allow, current_principal, require_territory
from plumbing.problems import problem
from plumbing.validation import known_territory

from . import domain, handlers, idempotency, reporting, spreadsheets, upload_reports
from .schemas import (ApiKeyCreatedSchema, ApiKeyCreateSchema, ApiKeyRotatedSchema, ApiKeyRotationSchema,
                      ApiKeySchema, ApiKeyUsageQuerySchema, ApiKeyUsageSchema, BatchReportSchema, BatchSchema,
                      BulkRejectionReportSchema, BulkRejectionSchema, BulkValidationReportSchema,
                      BulkValidationSchema, ContractorCreateSchema, ContractorQuerySchema, ContractorSchema,
                      CorrectionSchema, DeclarationCreateSchema, DeclarationHistorySchema, DeclarationQuerySchema,
                      DeclarationSchema, ExitReviewDecisionSchema, ExitReviewQuerySchema, RejectionSchema,
                      UploadFileSchema, UploadQuerySchema, UploadReportSchema)
from .schemas import NoHoursSchema, NoHoursStatementSchema, ReportingQuerySchema, ReportingSchema
from .schemas import TerritorySettingsSchema, TerritorySettingsUpdateSchema
from .store import ApiKey, Contractor, Declaration

blp = Blueprint("hours", __name__, url_prefix="/api/v1",
                description="Entreprises attributaires, clés d'API et déclarations d'heures")
IDEMPOTENCY_PARAMETER = {
    "in": "header", "name": idempotency.HEADER, "required": False, "schema": {"type": "string", "maxLength": 255},
    "description": "a retried request with the same key gets the first answer and changes nothing"}
ANSWER_TOO_LARGE = "With an Idempotency-Key: an answer too large to keep, nothing written (answer_too_large)"


def _contractor_or_404(siret: str) -> Contractor:
    """The contractor, if the caller is that contractor or follows it in one of its territories."""
    contractor = Contractor.objects(id=siret).first()
    if contractor is None:
        raise problem(404, "Entreprise inconnue.")
    principal = current_principal()
    if principal.role == "contractor":
        if principal.siret != siret:
            raise problem(403, "Vous ne pouvez gérer que les clés de votre propre entreprise.")
    else:
        require_territory(contractor.territories, "cette entreprise")
    return contractor


@blp.route("/contractors")
class Contractors(MethodView):
    @allow("facilitator")
    @blp.arguments(ContractorCreateSchema)
    @blp.response(201, ContractorSchema)
    def post(self, data):
        """Register a contractor company (facilitator)"""
        principal = current_principal()
        territory = data.get("territory")
        if territory is None:
            if len(principal.territories) != 1:
                raise problem(422, "Précisez le territoire qui suit cette entreprise.",
                              errors={"territory": ["Champ obligatoire."]})
            territory = next(iter(principal.territories))
        require_territory([territory], "cette entreprise")
        if Contractor.objects(id=data["siret"]).count():
            raise problem(409, "Cette entreprise est déjà enregistrée.")
        return handlers.create_contractor(data["siret"], data["name"], [territory], principal.subject)

    @allow("facilitator")
    @blp.arguments(ContractorQuerySchema, location="query")
    @blp.response(200, ContractorSchema(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """The companies followed in the caller's territories, by name, searched by name or SIRET"""
        if "territory" in query:
            require_territory([query["territory"]], "ce territoire")
        territories = [query["territory"]] if "territory" in query else sorted(current_principal().territories)
        companies = Contractor.objects(territories__in=territories)
        if query.get("q"):
            companies = companies.filter(__raw__=search.name_or_siret(query["q"], siret_field="_id"))
        if query.get("siret"):
            companies = companies.filter(id__in=query["siret"])
        return paging.page(companies, pagination_parameters, "name")


@blp.route("/contractors/<siret>")
class ContractorBySiret(MethodView):
    @allow("facilitator", "contractor")
    @blp.response(200, ContractorSchema)
    def get(self, siret):
        """Read a contractor"""
        return _contractor_or_404(siret)


@blp.route("/contractors/<siret>/api-keys")
class ContractorApiKeys(MethodView):
    @allow("facilitator", "contractor")
    @blp.arguments(ApiKeyCreateSchema)
    @blp.response(201, ApiKeyCreatedSchema)
    def post(self, data, siret):
        """Create an API key for a contractor; the key is shown in this response only"""
        contractor = _contractor_or_404(siret)
        key, secret = handlers.create_api_key(contractor, data["label"], current_principal().subject)
        return {**handlers.key_view(key), "api_key": secret}

    @allow("facilitator", "contractor")
    @blp.response(200, ApiKeySchema(many=True))
    def get(self, siret):
        """List a contractor's API keys (never the keys themselves)"""
        contractor = _contractor_or_404(siret)
        return handlers.keys_with_last_use(contractor.id)


@blp.route("/contractors/<siret>/reporting")
class ContractorReporting(MethodView):
    @allow("facilitator", "contractor")
    @blp.arguments(ReportingQuerySchema, location="query")
    @blp.response(200, ReportingSchema)
    def get(self, query, siret):
        """The company's reporting calendar: per lot it holds, in the order they started, each ended month on
        time, late, missing or pending, and the counts (facilitators: the lots of their territories; the
        company: all its own); page_size lots at a time when asked"""
        _contractor_or_404(siret)
        principal = current_principal()
        territories = None if principal.role == "contractor" else principal.territories
        return reporting.company_calendar(siret, territories, page=query["page"], page_size=query.get("page_size"))


def _key_or_404(siret: str, key_id: str) -> tuple[Contractor, ApiKey]:
    contractor = _contractor_or_404(siret)
    key = ApiKey.objects(id=key_id, contractor_siret=contractor.id).first()
    if key is None:
        raise problem(404, "Clé d'API inconnue.")
    return contractor, key


@blp.route("/contractors/<siret>/api-keys/<key_id>")
class ContractorApiKey(MethodView):
    @allow("facilitator", "contractor")
    @blp.response(204)
    def delete(self, siret, key_id):
        """Revoke an API key; it stops working at once"""
        _, key = _key_or_404(siret, key_id)
        handlers.revoke_api_key(key.id)


@blp.route("/contractors/<siret>/api-keys/<key_id>/rotate")
class ContractorApiKeyRotation(MethodView):
    @allow("facilitator", "contractor")
    @blp.arguments(ApiKeyRotationSchema)
    @blp.response(201, ApiKeyRotatedSchema)
    @blp.alt_response(409, description="The key is revoked, expired or already replaced")
    def post(self, data, siret, key_id):
        """Rotate an API key: a new key with the same label, shown in this response only; the old one keeps
        working for grace_hours (0: revoked at once), then is refused everywhere"""
        contractor, key = _key_or_404(siret, key_id)
        try:
            new, secret, old = handlers.rotate_api_key(contractor, key.id, timedelta(hours=data["grace_hours"]),
                                                       current_principal().subject)
        except handlers.KeyNotRotatable as exc:
            raise problem(409, str(exc), rule=exc.rule) from None
        return {**handlers.key_view(new), "api_key": secret, "replaced_key": handlers.key_view(old)}


@blp.route("/contractors/<siret>/api-keys/<key_id>/usage")
class ContractorApiKeyUsage(MethodView):
    @allow("facilitator", "contractor")
    @blp.arguments(ApiKeyUsageQuerySchema, location="query")
    @blp.response(200, ApiKeyUsageSchema)
    def get(self, query, siret, key_id):
        """Requests made with an API key per day (UTC) over the last days, most recent first"""
        _, key = _key_or_404(siret, key_id)
        return handlers.key_usage(key, query["days"])


def _json_fingerprint() -> bytes:
    return json.dumps(request.get_json(silent=True), sort_keys=True, separators=(",", ":")).encode()


_line_schema = DeclarationCreateSchema()
_declaration_schema = DeclarationSchema()
_report_schema = BatchReportSchema()


@blp.route("/declarations")
class Declarations(MethodView):
    @allow("contractor")
    @blp.arguments(DeclarationCreateSchema)
    @blp.response(201, DeclarationSchema)
    @blp.doc(parameters=[IDEMPOTENCY_PARAMETER])
    def post(self, data):
        """Declare the hours a participant worked on a lot over a month, or between two dates of one month
        (contractor, with its API key)"""
        principal = current_principal()
        fingerprint = _json_fingerprint()

        def run():
            try:
                declaration = handlers.declare(principal.siret, data, by=principal.subject,
                                               request_key=idempotency.request_key("declarations", fingerprint))
            except domain.DuplicateLine as duplicate:  # a line to correct rather than declare again
                raise problem(409, duplicate.message, rule=duplicate.rule)
            except domain.Refused as refusal:
                raise problem(422, refusal.message, rule=refusal.rule)
            return _declaration_schema.dump(handlers.view(declaration)), 201
        return idempotency.run_once("declarations", fingerprint, run)

    @allow("facilitator", "contractor")
    @blp.arguments(DeclarationQuerySchema, location="query")
    @blp.response(200, DeclarationSchema(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """Lines in force, oldest first: a contractor's own, or a facilitator's territories' (the queue of
        lines to validate with status=submitted)"""
        principal = current_principal()
        lines = Declaration.objects(**{k: v for k, v in query.items()
                                       if k in ("status", "lot_id", "month", "contractor_siret", "participant_id")})
        if "period_from" in query:  # months written YYYY-MM compare as they are ordered
            lines = lines.filter(month__gte=f"{query['period_from']:%Y-%m}")
        if "period_to" in query:
            lines = lines.filter(month__lte=f"{query['period_to']:%Y-%m}")
        if principal.role == "contractor":
            lines = lines.filter(contractor_siret=principal.siret)
            if "territory" in query:
                lines = lines.filter(territories__in=[query["territory"]])
        else:
            if "territory" in query:
                require_territory([query["territory"]], "ce territoire")
            lines = lines.filter(territories__in=[query["territory"]] if "territory" in query
                                 else sorted(principal.territories))
        return [handlers.view(line) for line in paging.page(lines, pagination_parameters, *Declaration.QUEUE_ORDER)]


def _batch_lines(raw_lines: list[dict], skip=()) -> list[tuple[int, dict | None, dict | None]]:
    """Each line through the single-line schema, so that one bad line is refused alone (what the database
    would refuse, a NUL or a lone surrogate, refused the whole body before: ``plumbing.guard``); the indexes in
    ``skip`` are not lines (an upload's months without hours)."""
    lines = []
    for index, raw in enumerate(raw_lines):
        if index in skip:
            continue
        try:
            data = _line_schema.load(raw)
        except ma.ValidationError as exc:
            lines.append((index, None, exc.messages))
            continue
        lines.append((index, data, None))
    return lines


def _checked(lines, all_or_nothing: bool, rows: list[int] | None = None, statements=()) -> handlers.Batch:
    """The lines (and an upload's months without hours) checked against every rule, nothing written; in
    all-or-nothing mode, one refused line refuses the request (422, the report in the problem)."""
    principal = current_principal()
    batch = handlers.check_batch(principal.siret, lines, all_or_nothing, by=principal.subject)
    reporting.check_statements(batch, principal.siret, list(statements), principal.subject)
    if not batch.writes:
        raise problem(422, f"Aucune ligne enregistrée : {len(batch.results)} ligne(s) refusée(s) (mode tout ou "
                           "rien). Corrigez-les et envoyez de nouveau l'ensemble.", rule="lines_refused",
                      **_body(batch.report(), rows))
    return batch


def _body(report: dict, rows: list[int] | None = None) -> dict:
    """The report as answered; an upload's results also name their row in the file."""
    if rows is not None:
        for result in report["results"]:
            result["row"] = rows[result["index"]]
    return _report_schema.dump(report)


def _status(body: dict) -> int:
    return 200 if not body["refused"] else 207


@blp.route("/declarations/batch")
class DeclarationBatch(MethodView):
    @allow("contractor")
    @blp.arguments(BatchSchema)
    @blp.response(200, BatchReportSchema, description="Every line accepted")
    @blp.alt_response(207, schema=BatchReportSchema, description="Some lines refused: see each result")
    @blp.alt_response(422, description="all_or_nothing and a line refused: nothing written")
    @blp.alt_response(413, description=ANSWER_TOO_LARGE)
    @blp.doc(parameters=[IDEMPOTENCY_PARAMETER])
    def post(self, data):
        """Declare many lines at once (up to 10,000): a result per line"""
        def run():
            batch = _checked(_batch_lines(data["lines"]), data["all_or_nothing"])
            idempotency.check_storable(_body(batch.report()))
            body = _body(handlers.write_batch(batch))
            return body, _status(body)
        return idempotency.run_once("declarations/batch", _json_fingerprint(), run)


def _download(content: bytes, mimetype: str, filename: str) -> Response:
    return Response(content, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@blp.route("/declarations/template.csv")
class DeclarationTemplateCsv(MethodView):
    @allow("facilitator", "contractor")
    @blp.response(200, description="CSV template (separator ;, UTF-8)", content_type="text/csv")
    def get(self):
        """Download the CSV template of a declarations upload (French column headers)"""
        return _download(spreadsheets.csv_template(), "text/csv", "modele-declarations-heures.csv")


@blp.route("/declarations/template.xlsx")
class DeclarationTemplateXlsx(MethodView):
    @allow("facilitator", "contractor")
    @blp.response(200, description="XLSX template, with a sheet explaining each column",
                  content_type=spreadsheets.XLSX_MIMETYPE)
    def get(self):
        """Download the XLSX template of a declarations upload (French column headers)"""
        return _download(spreadsheets.xlsx_template(), spreadsheets.XLSX_MIMETYPE, "modele-declarations-heures.xlsx")


@blp.route("/declarations/upload")
class DeclarationUpload(MethodView):
    @allow("contractor")
    @blp.arguments(UploadQuerySchema, location="query")
    @blp.arguments(UploadFileSchema, location="files")
    @blp.response(200, UploadReportSchema, description="Every row accepted")
    @blp.alt_response(207, schema=UploadReportSchema,
                      description="Some rows refused: see each row, or download them to fix (error_file)")
    @blp.alt_response(422, description="A file refused whole, nothing written (rule unreadable_file, too_many_rows: "
                                       "over HOURS_UPLOAD_MAX_ROWS, file_too_large: an XLSX expanding too much), "
                                       "or all_or_nothing and a row refused")
    @blp.alt_response(413, description=ANSWER_TOO_LARGE)
    @blp.doc(parameters=[IDEMPOTENCY_PARAMETER])
    def post(self, query, files):
        """Declare the lines of a CSV or XLSX file (as the template): a French report per row, and the refused
        rows as a file to fix and upload again"""
        stream = files["file"].stream  # werkzeug spooled it to disk: read as a stream, never whole

        def run():
            try:
                rows = spreadsheets.read_lines(stream, current_app.extensions["settings"].extra["upload_max_rows"])
            except spreadsheets.UnreadableFile as exc:
                raise problem(422, str(exc), rule=exc.rule) from None
            numbers, siret = [number for number, _ in rows], current_principal().siret
            statements = [(index, line) for index, (_, line) in enumerate(rows) if line.get("no_hours_reason")]
            batch = _checked(_batch_lines([line for _, line in rows], skip={index for index, _ in statements}),
                             query["all_or_nothing"], numbers, statements)
            planned = _body(batch.report(), numbers)
            idempotency.check_storable(planned)
            # the refused rows' report first: a failure while writing the lines cannot leave them without it
            report = upload_reports.record(siret, dict(rows), planned["results"])
            reporting.write_statements(batch)
            body = _body(handlers.write_batch(batch), numbers)
            late = [r for r in body["results"] if r["status"] == "refused" and r["index"] not in batch.refused_before]
            report = upload_reports.record(siret, dict(rows), late, report)  # lines another request wrote meanwhile
            if report is not None:
                body.update(upload_id=report.id, error_file={
                    **{extension: url_for(f"{blp.name}.{view.__name__}", upload_id=report.id)
                       for extension, view in (("csv", UploadErrorsCsv), ("xlsx", UploadErrorsXlsx))},
                    "kept_until": upload_reports.kept_until(report).isoformat()})
            return body, _status(body)
        return idempotency.run_once("declarations/upload", _file_digest(stream) + str(query["all_or_nothing"]).encode(),
                                    run)


def _file_digest(stream) -> bytes:
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(1024 * 1024):
        digest.update(chunk)
    stream.seek(0)
    return digest.digest()


def _error_file(upload_id: str, extension: str) -> Response:
    report = upload_reports.readable(upload_id, current_principal())
    if report is None:
        raise problem(404, f"Rapport d'envoi introuvable (ils sont conservés {upload_reports.RETENTION_DAYS} "
                           "jours).")
    write, mimetype = {"csv": (spreadsheets.refused_rows_csv, "text/csv"),
                       "xlsx": (spreadsheets.refused_rows_xlsx, spreadsheets.XLSX_MIMETYPE)}[extension]
    return _download(write(report.rows, report.omitted or 0), mimetype, f"lignes-refusees-{report.id}.{extension}")


@blp.route("/declarations/uploads/<upload_id>/errors.csv")
class UploadErrorsCsv(MethodView):
    @allow("facilitator", "contractor")
    @blp.response(200, description="CSV (separator ;, UTF-8): the template's columns, the reason and the row",
                  content_type="text/csv")
    def get(self, upload_id):
        """Download the refused rows of an upload, with the reason of each, to fix and upload again"""
        return _error_file(upload_id, "csv")


@blp.route("/declarations/uploads/<upload_id>/errors.xlsx")
class UploadErrorsXlsx(MethodView):
    @allow("facilitator", "contractor")
    @blp.response(200, description="XLSX: the template's columns, the reason and the row",
                  content_type=spreadsheets.XLSX_MIMETYPE)
    def get(self, upload_id):
        """Download the refused rows of an upload, with the reason of each, to fix and upload again (XLSX)"""
        return _error_file(upload_id, "xlsx")


@blp.route("/declarations/no-hours")
class NoHours(MethodView):
    @allow("contractor")
    @blp.arguments(NoHoursSchema)
    @blp.response(201, NoHoursStatementSchema)
    @blp.alt_response(409, description="Lines are declared for that month, or it is already declared without "
                                       "hours (month_has_lines, month_already_without_hours)")
    def post(self, data):
        """Declare that a lot had no insertion hours in a month, with the reason: the month counts as declared
        in the reporting calendar, and no reminder is sent for it"""
        principal = current_principal()
        try:
            return reporting.declare_no_hours(principal.siret, data["lot_id"], data["month"], data["reason"],
                                              principal.subject)
        except reporting.NoHoursRefused as refused:
            raise problem(refused.status, refused.message, rule=refused.rule) from None


def _line_or_404(declaration_id: str) -> Declaration:
    declaration = handlers.find_line(declaration_id)
    if declaration is None:
        raise problem(404, "Déclaration introuvable.")
    principal = current_principal()
    if principal.role == "contractor":
        if declaration.contractor_siret != principal.siret:
            raise problem(404, "Déclaration introuvable.")
    else:
        require_territory(declaration.territories, "cette déclaration")
    return declaration


def _workflow(call, *args, **kwargs) -> dict:
    try:
        return handlers.view(call(*args, **kwargs))
    except handlers.NotAllowed as exc:
        raise problem(409, str(exc)) from None
    except domain.Refused as refusal:
        raise problem(422, refusal.message, rule=refusal.rule) from None


@blp.route("/declarations/<declaration_id>")
class DeclarationById(MethodView):
    @allow("facilitator", "contractor")
    @blp.response(200, DeclarationSchema)
    def get(self, declaration_id):
        """Read a version of a declaration"""
        declaration = _line_or_404(declaration_id)
        return handlers.view(declaration, declaration.version(declaration_id))


@blp.route("/declarations/<declaration_id>/history")
class DeclarationHistory(MethodView):
    @allow("facilitator", "contractor")
    @blp.response(200, DeclarationHistorySchema)
    def get(self, declaration_id):
        """Every version of the line this declaration belongs to, oldest first"""
        return handlers.history(_line_or_404(declaration_id))


@blp.route("/declarations/<declaration_id>/validate")
class DeclarationValidation(MethodView):
    @allow("facilitator")
    @blp.response(200, DeclarationSchema)
    def post(self, declaration_id):
        """Validate a submitted declaration: its hours become realised hours"""
        _line_or_404(declaration_id)
        return _workflow(handlers.validate, declaration_id, current_principal().subject)


@blp.route("/declarations/<declaration_id>/reject")
class DeclarationRejection(MethodView):
    @allow("facilitator")
    @blp.arguments(RejectionSchema)
    @blp.response(200, DeclarationSchema)
    def post(self, data, declaration_id):
        """Reject a submitted declaration with a reason the contractor reads"""
        _line_or_404(declaration_id)
        return _workflow(handlers.reject, declaration_id, current_principal().subject, data["reason"])


@blp.route("/declarations/<declaration_id>/correct")
class DeclarationCorrection(MethodView):
    @allow("facilitator", "contractor")
    @blp.arguments(CorrectionSchema)
    @blp.response(201, DeclarationSchema)
    def post(self, data, declaration_id):
        """Correct the version in force: a new version supersedes it (the old one is kept)"""
        _line_or_404(declaration_id)
        principal = current_principal()
        return _workflow(handlers.correct, declaration_id, data, principal.subject,
                         principal.role == "facilitator")


@blp.route("/declarations/exit-reviews")
class DeclarationExitReviews(MethodView):
    @allow("facilitator")
    @blp.arguments(ExitReviewQuerySchema, location="query")
    @blp.response(200, DeclarationSchema(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """Lines accepted for periods after their participant's exit, recorded late: each awaits a
        facilitator's decision (oldest first)"""
        if "territory" in query:
            require_territory([query["territory"]], "ce territoire")
        lines = handlers.lines_to_review([query["territory"]] if "territory" in query
                                         else sorted(current_principal().territories))
        return [handlers.view(line) for line in paging.page(lines, pagination_parameters, *Declaration.QUEUE_ORDER)]


@blp.route("/declarations/<declaration_id>/exit-review")
class DeclarationExitReview(MethodView):
    @allow("facilitator")
    @blp.arguments(ExitReviewDecisionSchema)
    @blp.response(200, DeclarationSchema)
    def post(self, data, declaration_id):
        """Confirm a flagged line (it keeps counting) or reject it with a reason (it stops counting)"""
        _line_or_404(declaration_id)
        return _workflow(handlers.review_exit, declaration_id, data["decision"], current_principal().subject,
                         data.get("reason"))


def _each_line(ids: list[str], act, done: str) -> list[dict]:
    """``act(id, line)`` on each line once, in the caller's order: a result per id, ``done`` or refused with why
    (a line of another territory is refused as unknown). The lines are read at once."""
    principal, results = current_principal(), []
    lines = handlers.find_lines(ids)
    for declaration_id in dict.fromkeys(ids):
        declaration = lines.get(declaration_id)
        if declaration is None or not principal.covers(declaration.territories):
            results.append({"id": declaration_id, "status": "refused", "detail": "Déclaration introuvable."})
            continue
        try:
            act(declaration_id, declaration)
            results.append({"id": declaration_id, "status": done})
        except handlers.NotAllowed as exc:
            results.append({"id": declaration_id, "status": "refused", "detail": str(exc)})
    return results


@blp.route("/declarations/validate")
class DeclarationBulkValidation(MethodView):
    @allow("facilitator")
    @blp.arguments(BulkValidationSchema)
    @blp.response(200, BulkValidationReportSchema)
    def post(self, data):
        """Validate many submitted declarations at once: a result per id"""
        by = current_principal().subject
        results = _each_line(data["ids"], lambda i, line: handlers.validate(i, by, line), "validated")
        validated = sum(r["status"] == "validated" for r in results)
        return {"validated": validated, "refused": len(results) - validated, "results": results}


@blp.route("/declarations/reject")
class DeclarationBulkRejection(MethodView):
    @allow("facilitator")
    @blp.arguments(BulkRejectionSchema)
    @blp.response(200, BulkRejectionReportSchema)
    def post(self, data):
        """Reject many submitted declarations at once with one reason the contractor reads: a result per id"""
        by, reason = current_principal().subject, data["reason"]
        results = _each_line(data["ids"], lambda i, line: handlers.reject(i, by, reason, line), "rejected")
        rejected = sum(r["status"] == "rejected" for r in results)
        return {"rejected": rejected, "refused": len(results) - rejected, "results": results}


# --- territory settings: auto-validation and the monthly ceiling, per territory ---------------------------
def _own_territory(territory: str) -> None:
    if not current_principal().covers([known_territory(territory)]):
        raise problem(403, "Seuls les facilitateurs et les opérateurs de ce territoire consultent et règlent "
                           "ses paramètres.")


# Under /declarations: the markets service serves /territories/<territory>/settings (its own settings),
# and the gateway routes by prefix.
@blp.route("/declarations/territory-settings/<territory>")
class TerritorySettingsOfTerritory(MethodView):
    @allow("facilitator", "operator")
    @blp.response(200, TerritorySettingsSchema)
    def get(self, territory):
        """Read how the lines of a territory's lots are handled: auto-validation and monthly ceiling (its
        facilitators and operators); without settings of its own, the region file's defaults"""
        _own_territory(territory)
        return handlers.territory_settings([territory])[territory]

    @allow("facilitator", "operator")
    @blp.arguments(TerritorySettingsUpdateSchema)
    @blp.response(200, TerritorySettingsSchema)
    def put(self, data, territory):
        """Set a territory's auto-validation and monthly ceiling (its facilitators and operators); lines
        declared from then on follow them, lines already declared are left as they are"""
        _own_territory(territory)
        return handlers.set_territory_settings(territory, data["auto_validation"], data["monthly_ceiling_hours"],
                                               current_principal().subject, data["reporting_due_day"])
