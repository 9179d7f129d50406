"""HTTP entrypoints of the participants service: thin, they validate, authorise and call handlers."""
from contextlib import contextmanager

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from plumbing.auth import allow, current_principal, require_territory
from plumbing.problems import problem

from . import domain, handlers
from .schemas import EligibilityRequestSchema, ParticipantCreateSchema, ParticipantSchema, RevocationSchema
from .store import Participant

blp = Blueprint("participants", __name__, url_prefix="/api/v1",
                description="Participants, éligibilité et fenêtre de comptage")


def _participant_or_404(participant_id: str) -> Participant:
    participant = Participant.objects(id=participant_id).first()
    if participant is None:
        raise problem(404, "Participant introuvable.")
    require_territory([participant.territory], "ce participant")
    return participant


@contextmanager
def _domain_problems():
    """Turn a refusal of the domain into a problem: 422 for a broken rule, 409 for a status."""
    try:
        yield
    except domain.RuleBroken as exc:
        raise problem(422, str(exc), rule=exc.rule) from None
    except domain.StatusConflict as exc:
        raise problem(409, str(exc)) from None


@blp.route("/participants")
class Participants(MethodView):
    @allow("facilitator")
    @blp.arguments(ParticipantCreateSchema)
    @blp.response(201, ParticipantSchema)
    def post(self, data):
        """Register a participant in one of the caller's territories"""
        require_territory([data["territory"]], "ce participant")
        return handlers.register(data, current_principal().subject)


@blp.route("/participants/<participant_id>")
class ParticipantById(MethodView):
    @allow("facilitator")
    @blp.response(200, ParticipantSchema)
    def get(self, participant_id):
        """Read a participant, with their eligibility"""
        return _participant_or_404(participant_id)


@blp.route("/participants/<participant_id>/eligibility")
class ParticipantEligibility(MethodView):
    @allow("facilitator")
    @blp.arguments(EligibilityRequestSchema)
    @blp.response(201, ParticipantSchema)
    def post(self, data, participant_id):
        """Grant eligibility on recorded evidence; opens the counting window from the entry date"""
        participant = _participant_or_404(participant_id)
        window = current_app.extensions["settings"].extra["counting_window_months"]
        with _domain_problems():
            return handlers.grant_eligibility(participant.id, data, current_principal().subject, window)


@blp.route("/participants/<participant_id>/eligibility/revoke")
class ParticipantRevocation(MethodView):
    @allow("facilitator")
    @blp.arguments(RevocationSchema)
    @blp.response(200, ParticipantSchema)
    def post(self, data, participant_id):
        """Revoke the eligibility in force: hours after the revocation date no longer count"""
        participant = _participant_or_404(participant_id)
        with _domain_problems():
            return handlers.revoke_eligibility(participant.id, data["reason"], data["revoked_on"])
