"""Application factory of the markets service."""
from plumbing.settings import Settings, load_settings
from plumbing.web import create_service_app

from . import api, handlers


def load() -> Settings:
    return load_settings("markets")


def create_app(settings: Settings | None = None):
    return create_service_app(
        settings or load(), title="Clauses sociales — marchés et quotas",
        description="Marchés publics porteurs d'une clause sociale, lots, quotas d'heures d'insertion "
                    "et avancement.", blueprints=[api.blp], consumes=handlers.CONSUMES)
