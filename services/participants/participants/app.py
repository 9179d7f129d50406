"""Application factory of the participants service."""
from marshmallow.validate import Range
from plumbing.settings import Settings, load_settings
from plumbing.web import create_service_app

from . import api, handlers


def load() -> Settings:
    return load_settings("participants", extra={
        # Months during which a participant's hours count, from the day they enter the clause.
        "counting_window_months": lambda env: env.int("PARTICIPANTS_COUNTING_WINDOW_MONTHS", 24,
                                                      validate=Range(min=1, max=120)),
    })


def create_app(settings: Settings | None = None):
    return create_service_app(
        settings or load(), title="Clauses sociales — participants et éligibilité",
        description="Personnes entrant dans une clause sociale, vérification de leur éligibilité sur "
                    "justificatif et fenêtre de comptage de leurs heures.",
        blueprints=[api.blp], consumes=handlers.CONSUMES)
