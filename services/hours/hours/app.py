"""Application factory of the hours service."""

from plumbing.settings import Settings, load_settings
from plumbing.web import create_service_app

from . import api, domain, handlers

EXTRA_SETTINGS = {
    # territories where a line that passes every rule is validated without a facilitator
    "auto_validate_territories": lambda env: env.list("HOURS_AUTO_VALIDATE_TERRITORIES", []),
    "monthly_ceiling_hours": lambda env: env.decimal("HOURS_MONTHLY_CEILING_HOURS",
                                                     domain.LEGAL_MONTHLY_MAXIMUM_HOURS,
                                                     validate=lambda v: v > 0),
}


def load() -> Settings:
    return load_settings("hours", extra=EXTRA_SETTINGS)


def create_app(settings: Settings | None = None):
    return create_service_app(
        settings or load(), title="Clauses sociales — heures d'insertion",
        description="Entreprises attributaires, clés d'API et déclarations des heures réalisées par "
                    "les participants.", blueprints=[api.blp], api_key_resolver=handlers.principal_for_api_key,
        consumes=handlers.CONSUMES)
