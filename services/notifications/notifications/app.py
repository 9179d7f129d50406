"""Application factory of the notifications service."""
from plumbing.settings import Settings, load_settings
from plumbing.web import create_service_app

from . import api, handlers


def load() -> Settings:
    return load_settings("notifications")


def create_app(settings: Settings | None = None):
    return create_service_app(
        settings or load(), title="Clauses sociales — alertes",
        description="Alertes sur l'avancement des lots (objectif atteint, lot à risque, lot en retard) "
                    "pour les facilitateurs de chaque territoire concerné, et leurs destinataires.",
        blueprints=[api.blp], consumes=handlers.CONSUMES)
