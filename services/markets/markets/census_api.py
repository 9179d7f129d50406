"""HTTP entrypoints of the census (open data on public contracts) and the promotion log: thin, they
validate, authorise and call ``census`` and ``promotion``."""
import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import fields, validate
from plumbing import paging
from plumbing.auth import allow, current_principal, require_territory
from plumbing.problems import problem
from plumbing.validation import Day, Siret, Territory, count, listing, text

from . import census, decp, handlers, promotion
from .schemas import MarketSchema, amount_field, fraction_field, hourly_cost_field
from .store import BUYER_TYPES

blp = Blueprint("census", __name__, url_prefix="/api/v1/census",
                description="Recensement régional de la commande publique (données essentielles, DECP) : "
                            "adoption des clauses par acheteur, acheteurs à rencontrer en priorité")
promotion_blp = Blueprint("promotion", __name__, url_prefix="/api/v1/promotion",
                          description="Journal de promotion de la clause auprès des acheteurs, et son effet")
READERS = ("facilitator", "operator")
MAX_BUYERS_SHOWN = 20


def _refused(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except handlers.Refused as refusal:
        raise problem(refusal.status, refusal.message)


def _territories(query) -> list[str]:
    """The caller's territories, narrowed to the one asked for (if any)."""
    territories = set(current_principal().territories)
    if query.get("territory"):
        territories &= {query["territory"]}
    return sorted(territories)


def _page(rows: list, pagination) -> list:
    pagination.item_count = len(rows)
    return rows[pagination.first_item:pagination.first_item + pagination.page_size]


YEAR = count(2000, 2100, "Année attendue entre 2000 et 2100.")


# --- schemas ----------------------------------------------------------------------------------
class ImportFileSchema(ma.Schema):
    file = Upload(required=True, metadata={"description": "DECP JSON (schema 2.0) or the consolidated CSV"})


class ImportQuerySchema(ma.Schema):
    format = fields.String(validate=validate.OneOf(["json", "csv"], error="Format attendu : json ou csv."),
                           metadata={"description": "guessed from the file's first bytes when absent"})


class RefusalCountSchema(ma.Schema):
    reason = fields.String()
    count = fields.Integer()


class ImportReportSchema(ma.Schema):
    source = fields.String()
    format = fields.String()
    read = fields.Integer()
    kept = fields.Integer(metadata={"description": "created + updated + unchanged"})
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    out_of_region = fields.Integer()
    refused = fields.Integer()
    refusals = fields.List(fields.Nested(RefusalCountSchema))
    examples = fields.List(fields.Dict(), metadata={"description": "the first refused records: position, id, "
                                                                    "reason"})
    seconds = fields.Float()
    summary = fields.String(metadata={"description": "the report in one French sentence"})


class ImportSchema(ma.Schema):
    id = fields.String()
    source = fields.String()
    format = fields.String()
    started_at = fields.DateTime()
    imported_by = fields.String()
    report = fields.Nested(ImportReportSchema)


class FamilySchema(ma.Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^\d{2}$", error="Division CPV attendue : "
                                                                                 "2 chiffres (45, 90…)."))
    label = text(120, 1, required=True)
    labour_share = fraction_field("La part de main-d'œuvre", required=True, places=4)


class TableSchema(ma.Schema):
    threshold = amount_field(required=True, metadata={
        "description": "contracts counted from this amount (excl. VAT); 90,000 by default"})
    hourly_cost = hourly_cost_field(required=True)
    insertion_rate = fraction_field("Le taux d'insertion", required=True, places=4)
    families = listing(fields.Nested(FamilySchema), 100, required=True)
    defaults = fields.Boolean(dump_only=True, metadata={"description": "true: nobody changed the stated defaults"})
    updated_by = fields.String(dump_only=True, allow_none=True)
    updated_at = fields.DateTime(dump_only=True, allow_none=True)

    @ma.validates_schema
    def families_once(self, data, **kwargs):
        codes = [f["code"] for f in data.get("families", [])]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ma.ValidationError(f"Chaque famille une seule fois : {', '.join(twice)}.", "families")


class CensusQuerySchema(ma.Schema):
    territory = Territory()
    year = YEAR


class AdoptionQuerySchema(CensusQuerySchema):
    siret = Siret()


class ShareSchema(ma.Schema):
    contracts = fields.Integer()
    amount = fields.Float()
    share = fields.Float(allow_none=True, metadata={"description": "of the contracts counted"})
    amount_share = fields.Float(allow_none=True, metadata={"description": "of their amount"})


class AdoptionSchema(ma.Schema):
    contracts = fields.Integer(metadata={"description": "contracts at or above the threshold"})
    amount = fields.Float()
    clause = fields.Nested(ShareSchema, metadata={"description": "« Clause sociale »"})
    reserved = fields.Nested(ShareSchema, metadata={"description": "« Marché réservé » (or « Concession réservée »)"})
    criterion = fields.Nested(ShareSchema, metadata={"description": "« Critère social »"})
    none = fields.Nested(ShareSchema, metadata={"description": "no social consideration"})
    any = fields.Nested(ShareSchema, metadata={"description": "at least one social consideration"})


class CensusBuyerSchema(ma.Schema):
    siret = fields.String()
    name = fields.String(allow_none=True)
    territories = fields.List(fields.String())
    directory_buyer_id = fields.String(allow_none=True, metadata={"description": "null: not in the directory"})


class BuyerAdoptionSchema(CensusBuyerSchema, AdoptionSchema):
    year = fields.Integer()


class LendingContractSchema(ma.Schema):
    id = fields.String()
    decp_id = fields.String()
    object = fields.String()
    cpv = fields.String()
    family = fields.String()
    amount = fields.Float()
    notification_date = fields.String()
    potential_hours = fields.Integer()


class WhereToActSchema(CensusBuyerSchema):
    contracts = fields.Integer()
    amount = fields.Float()
    potential_hours = fields.Integer(metadata={"description": "amount × labour share of the CPV family × rate ÷ "
                                                             "hourly cost, over its contracts that lend themselves"})
    contracts_lending_themselves = fields.Integer()
    examples = fields.List(fields.Nested(LendingContractSchema), metadata={"description": "the 20 largest"})


class DirectoryEntrySchema(ma.Schema):
    territory = Territory(required=True)
    buyer_type = fields.String(load_default="other_public_body", validate=validate.OneOf(
        BUYER_TYPES, error=f"Type d'acheteur inconnu ; valeurs possibles : {', '.join(BUYER_TYPES)}."))
    name = text(200, 1, metadata={"description": "defaults to the name the census gives"})


class DirectoryBuyerSchema(ma.Schema):
    id = fields.String()
    name = fields.String()
    siret = fields.String()
    buyer_type = fields.String()
    territory = fields.String()


# --- import -----------------------------------------------------------------------------------------
@blp.route("/imports")
class Imports(MethodView):
    @allow("operator")
    @blp.arguments(ImportQuerySchema, location="query")
    @blp.arguments(ImportFileSchema, location="files")
    @blp.response(200, ImportReportSchema)
    def post(self, query, files):
        """Import a DECP file of the open data (JSON of schema 2.0 or consolidated CSV): the region's
        contracts are kept, those known updated, never doubled; the report says what was read, kept,
        refused and why. A national year's file: use ``flask --app markets.wsgi import-census``."""
        upload = files["file"]
        try:
            return census.import_file(upload.stream, upload.filename or "envoi", query.get("format"),
                                      current_principal().subject)
        except decp.UnreadableFile as exc:
            raise problem(422, str(exc))

    @allow(*READERS)
    @blp.response(200, ImportSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """The imports, latest first, with their reports"""
        return paging.page(census.CensusImport.objects, pagination_parameters, "-started_at")


# --- the regional table -----------------------------------------------------------------------------
@blp.route("/table")
class Table(MethodView):
    @allow(*READERS)
    @blp.response(200, TableSchema)
    def get(self):
        """The regional table: threshold, hourly cost, insertion rate, labour share per CPV family"""
        return census.table()

    @allow("operator")
    @blp.arguments(TableSchema)
    @blp.response(200, TableSchema)
    def put(self, data):
        """Replace the regional table (the region's operators)"""
        return census.put_table(data, current_principal().subject)


# --- adoption, where to act ---------------------------------------------------------------------------
@blp.route("/buyers")
class Adoption(MethodView):
    @allow(*READERS)
    @blp.arguments(AdoptionQuerySchema, location="query")
    @blp.response(200, BuyerAdoptionSchema(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """Adoption per buyer and per year: contracts at or above the threshold, their amount, the share
        with a social clause, a reserved contract, a social criterion, none"""
        rows = census.adoption_by_buyer(_territories(query), query.get("year"), query.get("siret"))
        return _page(rows, pagination_parameters)


@blp.route("/buyers/<siret>/directory")
class DirectoryEntry(MethodView):
    @allow("facilitator")
    @blp.arguments(DirectoryEntrySchema)
    @blp.response(201, DirectoryBuyerSchema)
    def post(self, data, siret):
        """Add a census buyer to the directory in one step (name from the census)"""
        require_territory([data["territory"]], "cet acheteur")
        return _refused(census.add_to_directory, siret, data, current_principal().subject,
                        current_principal().territories)


@blp.route("/where-to-act")
class WhereToAct(MethodView):
    @allow(*READERS)
    @blp.arguments(CensusQuerySchema, location="query")
    @blp.response(200, WhereToActSchema(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """The buyers that used no social consideration, the ones whose contracts could have carried the
        most insertion hours at the regional rate first, with those contracts"""
        return _page(census.where_to_act(_territories(query), query.get("year")), pagination_parameters)


@blp.route("/contracts/<contract_id>/market")
class MarketFromCensus(MethodView):
    @allow("facilitator")
    @blp.response(201, MarketSchema)
    def post(self, contract_id):
        """Make a platform market from a census contract with a social consideration: buyer, object, CPV,
        dates, and lot 1 with its amount sized from the regional table, awarded to its company"""
        return _refused(census.make_market, contract_id, current_principal().territories,
                        current_principal().subject)


# --- the promotion log ------------------------------------------------------------------------------
class PersonMetSchema(ma.Schema):
    """A professional contact met: no private data."""
    name = text(200, 1, required=True)
    role = text(120)
    email = fields.Email(validate=validate.Length(max=254), error_messages={"invalid": "Adresse e-mail invalide."})
    phone = fields.String(validate=validate.Regexp(r"^\+?[\d .()-]{6,25}$", error="Numéro de téléphone invalide."))


class ActionChangeSchema(ma.Schema):
    people_met = listing(fields.Nested(PersonMetSchema), 30)
    agreed = text(4000, metadata={"description": "what was agreed"})
    next_step = text(500, 1, allow_none=True)
    next_step_on = Day(allow_none=True)
    next_step_done = fields.Boolean()


class ActionCreateSchema(ActionChangeSchema):
    buyer_siret = fields.String(required=True, validate=validate.Regexp(
        r"^\d{14}$", error="SIRET de l'acheteur attendu : 14 chiffres."))
    territory = Territory(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(promotion.KINDS, error=(
        f"Type d'action inconnu ; valeurs possibles : {', '.join(promotion.KINDS)}.")))
    date = Day(required=True)
    people_met = listing(fields.Nested(PersonMetSchema), 30, load_default=list)


class ActionSchema(ActionCreateSchema):
    id = fields.String()
    buyer_name = fields.String()
    kind_label = fields.Function(lambda a: promotion.KIND_LABELS_FR[a.kind])
    reminded_for = fields.Date(allow_none=True)
    created_by = fields.String()
    created_at = fields.DateTime()


class ActionQuerySchema(ma.Schema):
    territory = Territory()
    buyer_siret = fields.String(validate=validate.Regexp(r"^\d{14}$", error="14 chiffres attendus."))
    kind = fields.String(validate=validate.OneOf(promotion.KINDS, error="Type d'action inconnu."))
    date_from = Day(data_key="from")
    date_to = Day(data_key="to")


class EffectQuerySchema(ma.Schema):
    territory = Territory()


class MetBuyerSchema(ma.Schema):
    siret = fields.String()
    name = fields.String(allow_none=True)
    territories = fields.List(fields.String())
    first_meeting_on = fields.String()
    before = fields.Nested(AdoptionSchema, metadata={"description": "the 12 months before the first meeting"})
    after = fields.Nested(AdoptionSchema, metadata={"description": "the 12 months from the first meeting"})
    after_complete = fields.Boolean(metadata={"description": "the census covers the 12 months after"})


class EffectSchema(ma.Schema):
    met = fields.List(fields.Nested(MetBuyerSchema))
    met_total = fields.Dict(metadata={"description": "buyers, before, after: the buyers met together"})
    not_met = fields.Dict(allow_none=True, metadata={"description": "the buyers not met, 12 months before and after "
                                                                    "the median first meeting (reference_date)"})
    region_by_year = fields.List(fields.Dict(), metadata={"description": "year, contracts, amount, social_share, "
                                                                         "clause_share, national_share, national_target"})


def _action_or_404(action_id: str) -> promotion.PromotionAction:
    action = promotion.PromotionAction.objects(id=action_id).first()
    if action is None:
        raise problem(404, "Action de promotion introuvable.")
    require_territory([action.territory], "cette action")
    return action


@promotion_blp.route("/actions")
class Actions(MethodView):
    @allow("facilitator")
    @promotion_blp.arguments(ActionCreateSchema)
    @promotion_blp.response(201, ActionSchema)
    def post(self, data):
        """Record an action with a buyer: meeting, event, training, newsletter, documentation sent"""
        require_territory([data["territory"]], "cette action")
        return _refused(promotion.record, data, current_principal().subject)

    @allow(*READERS)
    @promotion_blp.arguments(ActionQuerySchema, location="query")
    @promotion_blp.response(200, ActionSchema(many=True))
    @promotion_blp.paginate()
    def get(self, query, pagination_parameters):
        """The actions of the caller's territories, latest first"""
        actions = promotion.PromotionAction.objects(territory__in=_territories(query))
        for name in ("buyer_siret", "kind"):
            if query.get(name):
                actions = actions.filter(**{name: query[name]})
        if query.get("date_from"):
            actions = actions.filter(date__gte=query["date_from"])
        if query.get("date_to"):
            actions = actions.filter(date__lte=query["date_to"])
        return paging.page(actions, pagination_parameters, "-date")


@promotion_blp.route("/actions/<action_id>")
class ActionById(MethodView):
    @allow(*READERS)
    @promotion_blp.response(200, ActionSchema)
    def get(self, action_id):
        """Read an action"""
        return _action_or_404(action_id)

    @allow("facilitator")
    @promotion_blp.arguments(ActionChangeSchema)
    @promotion_blp.response(200, ActionSchema)
    def patch(self, changes, action_id):
        """Complete an action: what was agreed, people met, the next step, or mark it done"""
        return _refused(promotion.update, _action_or_404(action_id).id, changes)


@promotion_blp.route("/effect")
class Effect(MethodView):
    @allow(*READERS)
    @promotion_blp.arguments(EffectQuerySchema, location="query")
    @promotion_blp.response(200, EffectSchema)
    def get(self, query):
        """For the buyers met, their adoption in the 12 months before and after the first meeting, beside
        those not met; the region's adoption year by year against the national figures and target"""
        return promotion.effect(_territories(query))
