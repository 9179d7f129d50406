"""HTTP entrypoints of the markets service: thin, they validate, authorise and call handlers."""
from flask.views import MethodView
from flask_smorest import Blueprint
from plumbing import paging, search
from plumbing.auth import allow, current_principal, public_endpoint, require_territory
from plumbing.months import spanned_months_filter
from plumbing.problems import problem
from plumbing.validation import known_territory

from . import handlers
from .schemas import (AmendmentSchema, AwardSchema, BuyerCreateSchema, BuyerQuerySchema, BuyerSchema,
                      BuyerWithStatisticsSchema, LotCreateSchema, LotQuerySchema, LotSchema, MarketCreateSchema,
                      MarketQuerySchema, MarketSchema, MarketUpdateSchema, OverrideSchema, PartnersSchema,
                      ProgressDetailSchema, PublicTradeSchema, SimulationSchema, SizingSchema,
                      StatusChangeSchema, TerritorySettingsSchema, TradeSchema, VOCABULARY, VocabularySchema)
from .schemas import NO_CLAUSE
from .store import Buyer, Lot, Market, Trade, shortfall_condition

blp = Blueprint("markets", __name__, url_prefix="/api/v1",
                description="Acheteurs, marchés, lots, quotas d'heures d'insertion et avancement")
# The public simulator (no sign-in): the trades' defaults and a sizing, nothing stored, nothing of a territory.
public = Blueprint("markets-public", __name__, url_prefix="/api/v1/quota/public",
                   description="Simulateur public : métiers du référentiel et calcul d'un quota, sans authentification")
PEOPLE = ("facilitator", "operator", "buyer")
AT_RISK = ["at_risk", "behind"]


def _refused(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except handlers.Refused as refusal:
        raise problem(refusal.status, refusal.message)


def _page(queryset, pagination, sort: str, allowed: tuple[str, ...]):
    if sort.lstrip("-") not in allowed:
        raise problem(422, f"Tri possible sur : {', '.join(allowed)} (préfixe - pour l'ordre inverse).",
                      errors={"sort": ["Champ de tri inconnu."]})
    return paging.page(queryset, pagination, sort)


# --- who may read what --------------------------------------------------------------------------
def _buyer_or_404(buyer_id: str) -> Buyer:
    buyer = Buyer.objects(id=buyer_id).first()
    if buyer is None:
        raise problem(404, "Acheteur introuvable.")
    principal = current_principal()
    if principal.role == "buyer":
        if principal.buyer_id != buyer.id:
            raise problem(403, "Vous ne consultez que votre propre fiche d'acheteur.")
    else:
        require_territory([buyer.territory], "cet acheteur")
    return buyer


def _market_or_404(market_id: str, write: bool = False) -> Market:
    market = Market.objects(id=market_id).first()
    if market is None:
        raise problem(404, "Marché introuvable.")
    principal = current_principal()
    if principal.role == "buyer" and not write:
        if principal.buyer_id != market.buyer_id:
            raise problem(403, "Vous ne consultez que les marchés de votre organisation.")
    else:
        require_territory(market.territories, "ce marché")
    return market


def _lot_or_404(lot_id: str, write: bool = False) -> Lot:
    lot = Lot.objects(id=lot_id).first()
    if lot is None:
        raise problem(404, "Lot introuvable.")
    principal = current_principal()
    if principal.role == "contractor":
        if principal.siret != lot.contractor_siret:
            raise problem(403, "Vous ne consultez que les lots attribués à votre entreprise.")
    elif principal.role == "buyer":
        _market_or_404(lot.market_id)
    else:
        require_territory(lot.territories, "ce lot")
    return lot


def _territories(query) -> list[str]:
    """The caller's territories, narrowed to the one asked for (if any)."""
    territories = set(current_principal().territories)
    if query.get("territory"):
        territories &= {query["territory"]}
    return sorted(territories)


def _market_scope(queryset, query):
    """Narrow a market query to what the caller may see."""
    principal = current_principal()
    if principal.role == "buyer":
        return queryset.filter(buyer_id=principal.buyer_id)
    return queryset.filter(territories__in=_territories(query))


# --- buyers -----------------------------------------------------------------------------------
@blp.route("/buyers")
class Buyers(MethodView):
    @allow("facilitator")
    @blp.arguments(BuyerCreateSchema)
    @blp.response(201, BuyerSchema)
    def post(self, data):
        """Register a buyer (donneur d'ordre) of one of the caller's territories"""
        require_territory([data["territory"]], "cet acheteur")
        return _refused(handlers.create_buyer, data, current_principal().subject)

    @allow("facilitator", "operator")
    @blp.arguments(BuyerQuerySchema, location="query")
    @blp.response(200, BuyerSchema(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """The directory of buyers of the caller's territories"""
        buyers = Buyer.objects(territory__in=_territories(query))
        if query.get("buyer_type"):
            buyers = buyers.filter(buyer_type=query["buyer_type"])
        if query.get("q"):
            buyers = buyers.filter(__raw__=search.name_or_siret(query["q"]))
        return _page(buyers, pagination_parameters, query["sort"], ("name", "buyer_type", "territory"))


@blp.route("/buyers/<buyer_id>")
class BuyerById(MethodView):
    @allow(*PEOPLE)
    @blp.response(200, BuyerWithStatisticsSchema)
    def get(self, buyer_id):
        """A buyer, with the share of its markets that carry a clause and the hours realised"""
        buyer = _buyer_or_404(buyer_id)
        return {**BuyerSchema().dump(buyer), "statistics": handlers.buyer_statistics(buyer)}


@blp.route("/vocabulary")
class Vocabulary(MethodView):
    @allow(*PEOPLE)
    @blp.response(200, VocabularySchema)
    def get(self):
        """Buyer types, natures, clause kinds and market statuses, each with its French label (for forms)"""
        return VOCABULARY


# --- markets ----------------------------------------------------------------------------------
@blp.route("/markets")
class Markets(MethodView):
    @allow("facilitator")
    @blp.arguments(MarketCreateSchema)
    @blp.response(201, MarketSchema)
    def post(self, data):
        """Create a market (facilitator of its lead territory)"""
        require_territory([data["lead_territory"]], "ce marché (territoire pilote)")
        # A buyer of another territory answers exactly as one that does not exist: its existence is not
        # the caller's business, and a market would otherwise count in that buyer's statistics.
        buyer = Buyer.objects(id=data["buyer_id"], territory__in=list(current_principal().territories)).first()
        if buyer is None:
            raise problem(422, "Acheteur inconnu sur vos territoires : enregistrez-le d'abord.",
                          errors={"buyer_id": ["Inconnu."]})
        return handlers.create_market(data, buyer, current_principal().subject)

    @allow(*PEOPLE)
    @blp.arguments(MarketQuerySchema, location="query")
    @blp.response(200, MarketSchema(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """List markets: by territory, buyer, status, nature, period, at risk"""
        markets = _market_scope(Market.objects, query)
        for name in ("buyer_id", "status", "nature"):
            if query.get(name):
                markets = markets.filter(**{name: query[name]})
        if query.get("running_on"):
            markets = markets.filter(start_date__lte=query["running_on"], end_date__gte=query["running_on"])
        if query.get("at_risk"):
            markets = markets.filter(id__in=Lot.objects(progress_status__in=AT_RISK).distinct("market_id"))
        if query.get("clause_kind"):
            markets = markets.filter(clause_kind=None if query["clause_kind"] == NO_CLAUSE else query["clause_kind"])
        if query.get("q"):
            markets = markets.filter(__raw__=search.starts_condition(query["q"], "text_starts"))
        return _page(markets, pagination_parameters, query["sort"],
                     ("reference", "title", "start_date", "end_date", "status"))


@blp.route("/markets/<market_id>")
class MarketById(MethodView):
    @allow(*PEOPLE)
    @blp.response(200, MarketSchema)
    def get(self, market_id):
        """Read a market"""
        return _market_or_404(market_id)

    @allow("facilitator")
    @blp.arguments(MarketUpdateSchema)
    @blp.response(200, MarketSchema)
    def patch(self, changes, market_id):
        """Change a market's description or dates (publishes market.updated)"""
        market = _market_or_404(market_id, write=True)
        return _refused(handlers.update_market, market.id, changes)


@blp.route("/markets/<market_id>/status")
class MarketStatus(MethodView):
    @allow("facilitator")
    @blp.arguments(StatusChangeSchema)
    @blp.response(200, MarketSchema)
    def post(self, data, market_id):
        """Move a market one step: draft → awarded → in execution → completed → closed (else 409)"""
        market = _market_or_404(market_id, write=True)
        return _refused(handlers.change_status, market.id, data["status"])


@blp.route("/markets/<market_id>/lots")
class MarketLots(MethodView):
    @allow("facilitator")
    @blp.arguments(LotCreateSchema)
    @blp.response(201, LotSchema)
    def post(self, data, market_id):
        """Add a lot; its quota of insertion hours is computed from the sizing formula"""
        market = _market_or_404(market_id, write=True)
        if Lot.objects(market_id=market.id, number=data["number"]).count():
            raise problem(409, f"Le lot n° {data['number']} existe déjà dans ce marché.")
        return _refused(handlers.add_lot, market, data)

    @allow(*PEOPLE)
    @blp.response(200, LotSchema(many=True))
    def get(self, market_id):
        """A market's lots with their progress"""
        market = _market_or_404(market_id)
        return list(Lot.objects(market_id=market.id).order_by("number"))


# --- lots -------------------------------------------------------------------------------------
@blp.route("/lots")
class Lots(MethodView):
    @allow("facilitator", "operator", "buyer", "contractor")
    @blp.arguments(LotQuerySchema, location="query")
    @blp.response(200, LotSchema(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """List lots: by territory, market, contractor, progress status, at risk, words of the title or number"""
        principal = current_principal()
        if principal.role == "contractor":
            lots = Lot.objects(contractor_siret=principal.siret)
        elif principal.role == "buyer":
            lots = Lot.objects(market_id__in=[m.id for m in Market.objects(buyer_id=principal.buyer_id)
                                              .only("id")])
        else:
            lots = Lot.objects(territories__in=_territories(query))
        for name in ("market_id", "contractor_siret"):
            if query.get(name):
                lots = lots.filter(**{name: query[name]})
        if query.get("id"):
            lots = lots.filter(id__in=query["id"])
        if query.get("status"):
            lots = lots.filter(progress_status=query["status"])
        if query.get("at_risk"):
            lots = lots.filter(progress_status__in=AT_RISK)
        if query.get("ending_before"):
            lots = lots.filter(end_date__lte=query["ending_before"])
        if query.get("ending_after"):
            lots = lots.filter(end_date__gte=query["ending_after"])
        if query.get("ending_after") and query.get("ending_before"):
            lots = lots.filter(**spanned_months_filter("end_month", query["ending_after"], query["ending_before"]))
        if "shortfall" in query:
            lots = lots.filter(shortfall_condition(query["shortfall"]))
        if query.get("q"):
            lots = lots.filter(__raw__=search.starts_condition(query["q"], "text_starts"))
        return _page(lots, pagination_parameters, query["sort"],
                     ("number", "title", "start_date", "end_date", "progress_status", "realised_centihours"))


@blp.route("/lots/<lot_id>")
class LotById(MethodView):
    @allow("facilitator", "operator", "buyer", "contractor")
    @blp.response(200, LotSchema)
    def get(self, lot_id):
        """Read a lot: quota with its breakdown and history, and progress"""
        return _lot_or_404(lot_id)


@blp.route("/lots/<lot_id>/progress")
class LotProgress(MethodView):
    @allow("facilitator", "operator", "buyer", "contractor")
    @blp.response(200, ProgressDetailSchema)
    def get(self, lot_id):
        """A lot's progress per month, territory and mode, and month by month against the expected curve"""
        return handlers.progress_detail(_lot_or_404(lot_id))


@blp.route("/lots/<lot_id>/award")
class LotAward(MethodView):
    @allow("facilitator")
    @blp.arguments(AwardSchema)
    @blp.response(200, LotSchema)
    def post(self, data, lot_id):
        """Award a lot to a contractor (the hours service learns it from the lot.awarded event)"""
        lot = _lot_or_404(lot_id, write=True)
        return _refused(handlers.award_lot, lot.id, data["contractor_siret"], data["contractor_name"])


@blp.route("/lots/<lot_id>/partners")
class LotPartners(MethodView):
    @allow("facilitator")
    @blp.arguments(PartnersSchema)
    @blp.response(200, LotSchema)
    def put(self, data, lot_id):
        """Set a lot's co-contractors and subcontractors"""
        return handlers.set_partners(_lot_or_404(lot_id, write=True).id, data)


@blp.route("/lots/<lot_id>/quota-override")
class LotQuotaOverride(MethodView):
    @allow("facilitator")
    @blp.arguments(OverrideSchema)
    @blp.response(200, LotSchema)
    def post(self, data, lot_id):
        """Override the computed quota, with a reason; both values are kept"""
        return handlers.override_quota(_lot_or_404(lot_id, write=True).id, data["hours"], data["reason"])


@blp.route("/lots/<lot_id>/amendments")
class LotAmendments(MethodView):
    @allow("facilitator")
    @blp.arguments(AmendmentSchema)
    @blp.response(201, LotSchema)
    def post(self, data, lot_id):
        """Record an amendment (avenant) changing amount or dates; the quota is recomputed"""
        return _refused(handlers.amend, _lot_or_404(lot_id, write=True).id, data)


# --- reference table, territory settings, simulator ------------------------------------------------
@blp.route("/trades")
class Trades(MethodView):
    @allow("facilitator", "operator", "buyer")
    @blp.response(200, TradeSchema(many=True))
    def get(self):
        """The region's reference table of trades"""
        return list(Trade.objects.order_by("label"))


@blp.route("/trades/<code>")
class TradeByCode(MethodView):
    @allow("operator")  # one table for the whole region: its operators keep it, not a territory's facilitator
    @blp.arguments(TradeSchema)
    @blp.response(200, TradeSchema)
    def put(self, data, code):
        """Create or change a trade's defaults (existing lots keep the values they were sized with)"""
        return handlers.put_trade(code, data, current_principal().subject)


@blp.route("/territories/<territory>/settings")
class TerritorySettingsResource(MethodView):
    @allow("facilitator", "operator")
    @blp.response(200, TerritorySettingsSchema)
    def get(self, territory):
        """How a territory judges progress (the region file's defaults where its operators set nothing)"""
        require_territory([known_territory(territory)], "ce territoire")
        return handlers.territory_settings(territory)

    @allow("operator")
    @blp.arguments(TerritorySettingsSchema)
    @blp.response(200, TerritorySettingsSchema)
    def put(self, data, territory):
        """Set the ramp and the tolerance a territory judges progress with"""
        require_territory([known_territory(territory)], "ce territoire")
        return handlers.put_territory_settings(territory, data, current_principal().subject)


@blp.route("/quota/simulations")
class QuotaSimulations(MethodView):
    @allow("facilitator", "buyer")
    @blp.arguments(SizingSchema)
    @blp.response(200, SimulationSchema)
    def post(self, data):
        """Simulate a quota in front of a buyer (nothing is stored): hours, breakdown, usual rates"""
        return _refused(handlers.simulate, data)


@public.route("/trades")
class PublicTrades(MethodView):
    @public.response(200, PublicTradeSchema(many=True))
    @public_endpoint
    def get(self):
        """The region's reference table of trades, for the public simulator (no sign-in)"""
        return list(Trade.objects.order_by("label"))


@public.route("/simulations")
class PublicSimulations(MethodView):
    @public.arguments(SizingSchema)
    @public.response(200, SimulationSchema)
    @public_endpoint
    def post(self, data):
        """Simulate a quota without signing in (nothing is stored): hours at the rate given and at 5 to 20 %"""
        return _refused(handlers.simulate, data)
