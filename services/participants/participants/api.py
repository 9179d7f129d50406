"""HTTP entrypoints of the participants service: thin, they validate, authorise and call handlers.

Only facilitators of a participant's territory read or write their identity; operators manage the
territory settings; buyers and contractors never reach this service's personal data.
"""
from contextlib import contextmanager

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from plumbing import paging
from plumbing.auth import allow, current_principal, require_territory
from plumbing.problems import problem
from plumbing.validation import known_territory

from . import documents, domain, handlers, importing
from .schemas import (AccessLogEntrySchema, ErasedParticipantSchema, EligibilityRequestSchema, ExitCreateSchema,
                      ExportSchema, ImportFileSchema, ImportQuerySchema, ImportReportSchema, LABELS, LabelsSchema,
                      ParticipantCreateSchema,
                      ParticipantQuerySchema, ParticipantRowSchema, ParticipantSchema, ParticipantUpdateSchema,
                      PathEntryCreateSchema, PathEntryEndSchema, RevocationSchema, StatisticsQuerySchema, StatisticsSchema, TerritorySettingsSchema)
from .store import Participant

blp = Blueprint("participants", __name__, url_prefix="/api/v1",
                description="Participants, éligibilité, fenêtre de comptage, parcours, sorties et RGPD")


def _participant_or_404(participant_id: str) -> Participant:
    participant = Participant.objects(id=participant_id).first()
    if participant is None:
        raise problem(404, "Participant introuvable.")
    require_territory([participant.territory], "ce participant")
    return participant


@contextmanager
def _problems():
    """Turn refusals into problems: 422 broken rule, 409 status or look-alike, 410 erased, 404."""
    try:
        yield
    except domain.RuleBroken as exc:
        raise problem(422, str(exc), rule=exc.rule) from None
    except domain.StatusConflict as exc:
        raise problem(409, str(exc)) from None
    except handlers.LookAlike as exc:
        raise problem(
            409, "Une personne de mêmes nom, prénom et date de naissance est déjà suivie sur ce territoire "
                 f"(référence {exc.existing_ids[0]}). Ouvrez sa fiche plutôt que d'en créer une seconde ; "
                 "s'il s'agit bien d'une autre personne, renvoyez la demande avec \"confirm_new\": true.",
            rule="possible_duplicate", existing_id=exc.existing_ids[0], existing_ids=exc.existing_ids) from None
    except handlers.Erased as exc:
        raise problem(410, "Les données personnelles de ce participant ont été effacées le "
                           f"{domain.french_date(exc.erased_on)} ; seules des statistiques anonymes sont "
                           "conservées.", title="Données effacées") from None
    except handlers.PathEntryNotFound:
        raise problem(404, "Étape de parcours introuvable.") from None


@blp.route("/participants")
class Participants(MethodView):
    @allow("facilitator")
    @blp.arguments(ParticipantQuerySchema, location="query")
    @blp.response(200, ParticipantRowSchema(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """List and search the participants of the caller's territories: names (accents and case aside),
        eligibility state, public, counting window ending on or before a date (not in the access log: a list
        shows no more than the record's header; opening a record is logged)"""
        territories = sorted(current_principal().territories)
        if "territory" in query:
            require_territory([query["territory"]], "ce territoire")
            territories = [query["territory"]]
        return paging.page(handlers.listing(territories, query), pagination_parameters, query["sort"], "last_name",
                           "first_name")

    @allow("facilitator")
    @blp.arguments(ParticipantCreateSchema)
    @blp.response(201, ParticipantSchema)
    @blp.alt_response(409, description="Someone with the same names and birth date is already followed "
                                       "in the territory (existing_id); send confirm_new to create anyway")
    def post(self, data):
        """Register a participant in one of the caller's territories"""
        require_territory([data["territory"]], "ce participant")
        with _problems():
            return handlers.register(data, current_principal(), handlers.territory_settings(data["territory"]))


@blp.route("/participants/labels")
class ParticipantLabels(MethodView):
    @allow("facilitator", "operator")
    @blp.response(200, LabelsSchema)
    def get(self):
        """The French labels of the codes this service uses (criteria, outcomes, contract types…), for the
        pages' forms and lists: one definition of each, here"""
        return LABELS


@blp.route("/participants/<participant_id>")
class ParticipantById(MethodView):
    @allow("facilitator")
    @blp.response(200, ParticipantSchema)
    @blp.alt_response(410, description="The participant's personal data were erased")
    def get(self, participant_id):
        """Read a participant, with their eligibility and its history, path and exit (logged in the access log)"""
        with _problems():
            return handlers.read(_participant_or_404(participant_id), current_principal())

    @allow("facilitator")
    @blp.arguments(ParticipantUpdateSchema(partial=True))
    @blp.response(200, ParticipantSchema)
    def patch(self, data, participant_id):
        """Rectify identity or contact fields (only those sent change)"""
        participant = _participant_or_404(participant_id)
        with _problems():
            return handlers.rectify(participant.id, data, current_principal())

    @allow("facilitator")
    @blp.response(200, ErasedParticipantSchema)
    def delete(self, participant_id):
        """Erase a participant's personal data (right to erasure): only anonymous statistics remain"""
        participant = _participant_or_404(participant_id)
        with _problems():
            return handlers.erase(participant.id, current_principal())


@blp.route("/participants/<participant_id>/eligibility")
class ParticipantEligibility(MethodView):
    @allow("facilitator")
    @blp.arguments(EligibilityRequestSchema)
    @blp.response(201, ParticipantSchema)
    def post(self, data, participant_id):
        """Grant (or renew) eligibility on recorded evidence, dated no earlier than the territory's evidence
        validity before entry; opens the counting window (territory setting) from entry; kept in the history"""
        participant = _participant_or_404(participant_id)
        settings = handlers.territory_settings(participant.territory)
        with _problems():
            return handlers.grant_eligibility(participant.id, data, current_principal(), settings)


@blp.route("/participants/<participant_id>/eligibility/revoke")
class ParticipantRevocation(MethodView):
    @allow("facilitator")
    @blp.arguments(RevocationSchema)
    @blp.response(200, ParticipantSchema)
    def post(self, data, participant_id):
        """Revoke the eligibility in force: hours after the revocation date no longer count"""
        participant = _participant_or_404(participant_id)
        with _problems():
            return handlers.revoke_eligibility(participant.id, data["reason"], data["revoked_on"],
                                               current_principal())


@blp.route("/participants/<participant_id>/path-entries")
class ParticipantPath(MethodView):
    @allow("facilitator")
    @blp.arguments(PathEntryCreateSchema)
    @blp.response(201, ParticipantSchema)
    def post(self, data, participant_id):
        """Add a stretch of work on a lot (employer, dates, contract type) to the participant's path"""
        participant = _participant_or_404(participant_id)
        with _problems():
            return handlers.add_path_entry(participant.id, data, current_principal())


@blp.route("/participants/<participant_id>/path-entries/<entry_id>")
class ParticipantPathEntry(MethodView):
    @allow("facilitator")
    @blp.arguments(PathEntryEndSchema)
    @blp.response(200, ParticipantSchema)
    def patch(self, data, participant_id, entry_id):
        """Set the end date of a stretch of work"""
        participant = _participant_or_404(participant_id)
        with _problems():
            return handlers.end_path_entry(participant.id, entry_id, data["end"], current_principal())


@blp.route("/participants/<participant_id>/exit")
class ParticipantExit(MethodView):
    @allow("facilitator")
    @blp.arguments(ExitCreateSchema)
    @blp.response(201, ParticipantSchema)
    def post(self, data, participant_id):
        """Record the participant's exit from the clause and its outcome (once)"""
        participant = _participant_or_404(participant_id)
        with _problems():
            return handlers.record_exit(participant.id, data, current_principal())


@blp.route("/participants/<participant_id>/export")
class ParticipantExport(MethodView):
    @allow("facilitator")
    @blp.response(200, ExportSchema)
    def get(self, participant_id):
        """Everything held about the participant, as JSON (right of access)"""
        with _problems():
            return handlers.export(_participant_or_404(participant_id), current_principal())


@blp.route("/participants/<participant_id>/export.html")
class ParticipantExportDocument(MethodView):
    @allow("facilitator")
    @blp.response(200, description="A French document to hand to the person", content_type="text/html")
    def get(self, participant_id):
        """Everything held about the participant, as a readable French document (right of access)"""
        with _problems():
            exported = handlers.export(_participant_or_404(participant_id), current_principal())
        return Response(documents.render_export(exported), mimetype="text/html",
                        headers={"Cache-Control": "no-store"})


@blp.route("/participants/<participant_id>/access-log")
class ParticipantAccessLog(MethodView):
    @allow("facilitator")
    @blp.response(200, AccessLogEntrySchema(many=True))
    def get(self, participant_id):
        """Who read, changed, exported or erased this participant's record, and when"""
        return handlers.access_log(_participant_or_404(participant_id).id)


def _download(content: bytes, mimetype: str, filename: str) -> Response:
    return Response(content, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@blp.route("/participants/import-template.csv")
class ImportTemplateCsv(MethodView):
    @allow("facilitator")
    @blp.response(200, description="CSV template (separator ;, UTF-8)", content_type="text/csv")
    def get(self):
        """Download the CSV template of a participants import (French column headers)"""
        return _download(importing.csv_template(), "text/csv", "modele-import-participants.csv")


@blp.route("/participants/import-template.xlsx")
class ImportTemplateXlsx(MethodView):
    @allow("facilitator")
    @blp.response(200, description="XLSX template, with a sheet explaining each column",
                  content_type=importing.XLSX_MIMETYPE)
    def get(self):
        """Download the XLSX template of a participants import (French column headers)"""
        return _download(importing.xlsx_template(), importing.XLSX_MIMETYPE, "modele-import-participants.xlsx")


@blp.route("/participants/import")
class ParticipantImport(MethodView):
    @allow("facilitator")
    @blp.arguments(ImportQuerySchema, location="query")
    @blp.arguments(ImportFileSchema, location="files")
    @blp.response(200, ImportReportSchema)
    @blp.alt_response(422, description="A file that cannot be read, or bad rows in all_or_nothing mode "
                                       "(nothing imported; the report is in the problem)")
    def post(self, query, files, **kwargs):
        """Import participants from a CSV or XLSX file: every row validated, a report per row"""
        principal = current_principal()
        territory = query.get("territory")
        if territory is None:
            if len(principal.territories) != 1:
                raise problem(422, "Précisez le territoire des personnes importées (paramètre territory).",
                              errors={"territory": ["Champ obligatoire."]})
            territory = next(iter(principal.territories))
        require_territory([territory], "ces participants")
        try:
            report = importing.import_file(files["file"], territory, query["mode"], principal,
                                           handlers.territory_settings(territory),
                                           current_app.extensions["settings"].extra["import_max_rows"])
        except importing.UnreadableFile as exc:
            raise problem(422, str(exc), rule=exc.rule) from None
        if report["mode"] == "all_or_nothing" and report["rejected"]:
            raise problem(422, f"Aucune ligne importée : {report['rejected']} ligne(s) comportent des erreurs "
                               "(mode tout ou rien). Corrigez-les et importez à nouveau le fichier.",
                          rule="rows_rejected", **ImportReportSchema().dump(report))
        return report


@blp.route("/participants/statistics")
class ParticipantStatistics(MethodView):
    @allow("facilitator", "operator")
    @blp.arguments(StatisticsQuerySchema, location="query")
    @blp.response(200, StatisticsSchema)
    def get(self, query):
        """Anonymous counts of a territory's participants: sex, age band, QPV, category, outcome"""
        require_territory([query["territory"]], "ces statistiques")
        return handlers.statistics(query["territory"])


@blp.route("/participants/territory-settings/<territory>")
class TerritoryParticipantSettings(MethodView):
    @allow("operator", "facilitator")
    @blp.response(200, TerritorySettingsSchema)
    def get(self, territory):
        """The territory's counting window and retention after exit (defaults when unset)"""
        require_territory([known_territory(territory)], "ce territoire")
        return handlers.territory_settings(territory)

    @allow("operator")
    @blp.arguments(TerritorySettingsSchema)
    @blp.response(200, TerritorySettingsSchema)
    def put(self, data, territory):
        """Set the territory's counting window (for eligibilities granted from now on) and retention"""
        require_territory([known_territory(territory)], "ce territoire")
        return handlers.update_territory_settings(territory, data, current_principal().subject)
