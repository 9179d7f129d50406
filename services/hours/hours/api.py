"""HTTP entrypoints of the hours service."""
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from plumbing.auth import allow, current_principal, require_territory
from plumbing.problems import problem

from . import domain, handlers
from .schemas import (ApiKeyCreatedSchema, ApiKeyCreateSchema, ApiKeySchema, ContractorCreateSchema,
                      ContractorSchema, DeclarationCreateSchema, DeclarationSchema)
from .store import ApiKey, Contractor, Declaration

blp = Blueprint("hours", __name__, url_prefix="/api/v1",
                description="Entreprises attributaires, clés d'API et déclarations d'heures")


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
        return {**{name: getattr(key, name) for name in ApiKey._fields}, "api_key": secret}

    @allow("facilitator", "contractor")
    @blp.response(200, ApiKeySchema(many=True))
    def get(self, siret):
        """List a contractor's API keys (never the keys themselves)"""
        contractor = _contractor_or_404(siret)
        return handlers.keys_with_last_use(contractor.id)


@blp.route("/contractors/<siret>/api-keys/<key_id>")
class ContractorApiKey(MethodView):
    @allow("facilitator", "contractor")
    @blp.response(204)
    def delete(self, siret, key_id):
        """Revoke an API key; it stops working at once"""
        contractor = _contractor_or_404(siret)
        key = ApiKey.objects(id=key_id, contractor_siret=contractor.id).first()
        if key is None:
            raise problem(404, "Clé d'API inconnue.")
        handlers.revoke_api_key(key.id)


@blp.route("/declarations")
class Declarations(MethodView):
    @allow("contractor")
    @blp.arguments(DeclarationCreateSchema)
    @blp.response(201, DeclarationSchema)
    def post(self, data):
        """Declare the hours a participant worked on a lot in a month (contractor, with its API key)"""
        settings = current_app.extensions["settings"]
        try:
            return handlers.declare(current_principal().siret, data,
                                    settings.extra["auto_validate_territories"],
                                    settings.extra["monthly_ceiling_hours"])
        except domain.Refused as refusal:
            raise problem(422, refusal.message, rule=refusal.rule)
        except handlers.DuplicateLine:
            raise problem(409, "Une ligne existe déjà pour ce lot, ce participant et ce mois.",
                          rule="duplicate_line")


def _declaration_or_404(declaration_id: str) -> Declaration:
    declaration = Declaration.objects(id=declaration_id).first()
    if declaration is None:
        raise problem(404, "Déclaration introuvable.")
    principal = current_principal()
    if principal.role == "contractor":
        if declaration.contractor_siret != principal.siret:
            raise problem(404, "Déclaration introuvable.")
    else:
        require_territory(declaration.territories, "cette déclaration")
    return declaration


@blp.route("/declarations/<declaration_id>")
class DeclarationById(MethodView):
    @allow("facilitator", "contractor")
    @blp.response(200, DeclarationSchema)
    def get(self, declaration_id):
        """Read a declaration"""
        return _declaration_or_404(declaration_id)


@blp.route("/declarations/<declaration_id>/validate")
class DeclarationValidation(MethodView):
    @allow("facilitator")
    @blp.response(200, DeclarationSchema)
    def post(self, declaration_id):
        """Validate a submitted declaration: its hours become realised hours"""
        declaration = _declaration_or_404(declaration_id)
        if declaration.status == "rejected":
            raise problem(409, "Une déclaration rejetée ne peut pas être validée.")
        return handlers.validate(declaration.id, current_principal().subject)
