"""HTTP entrypoints of the markets service: thin, they validate, authorise and call handlers."""
from flask.views import MethodView
from flask_smorest import Blueprint
from plumbing.auth import allow, current_principal, require_territory
from plumbing.problems import problem

from . import handlers
from .schemas import AwardSchema, LotCreateSchema, LotSchema, MarketCreateSchema, MarketQuerySchema, MarketSchema
from .store import Lot, Market

blp = Blueprint("markets", __name__, url_prefix="/api/v1", description="Marchés, lots et quotas d'heures")


def _market_or_404(market_id: str) -> Market:
    market = Market.objects(id=market_id).first()
    if market is None:
        raise problem(404, "Marché introuvable.")
    require_territory(market.territories, "ce marché")
    return market


def _lot_or_404(lot_id: str) -> Lot:
    lot = Lot.objects(id=lot_id).first()
    if lot is None:
        raise problem(404, "Lot introuvable.")
    require_territory(lot.territories, "ce lot")
    return lot


@blp.route("/markets")
class Markets(MethodView):
    @allow("facilitator")
    @blp.arguments(MarketCreateSchema)
    @blp.response(201, MarketSchema)
    def post(self, data):
        """Create a market (facilitator of its lead territory)"""
        require_territory([data["lead_territory"]], "ce marché (territoire pilote)")
        return handlers.create_market(data, current_principal().subject)

    @allow("facilitator", "operator")
    @blp.arguments(MarketQuerySchema, location="query")
    @blp.response(200, MarketSchema(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """List the markets of the caller's territories"""
        territories = set(current_principal().territories)
        if query.get("territory"):
            territories &= {query["territory"]}
        markets = Market.objects(territories__in=list(territories))
        if query.get("status"):
            markets = markets.filter(status=query["status"])
        pagination_parameters.item_count = markets.count()
        first, size = pagination_parameters.first_item, pagination_parameters.page_size
        return list(markets.order_by("reference").skip(first).limit(size))


@blp.route("/markets/<market_id>")
class MarketById(MethodView):
    @allow("facilitator", "operator")
    @blp.response(200, MarketSchema)
    def get(self, market_id):
        """Read a market"""
        return _market_or_404(market_id)


@blp.route("/markets/<market_id>/lots")
class MarketLots(MethodView):
    @allow("facilitator")
    @blp.arguments(LotCreateSchema)
    @blp.response(201, LotSchema)
    def post(self, data, market_id):
        """Add a lot; its quota of insertion hours is computed from the sizing formula"""
        market = _market_or_404(market_id)
        if Lot.objects(market_id=market.id, number=data["number"]).count():
            raise problem(409, f"Le lot n° {data['number']} existe déjà dans ce marché.")
        return handlers.add_lot(market, data)

    @allow("facilitator", "operator")
    @blp.response(200, LotSchema(many=True))
    def get(self, market_id):
        """List a market's lots with their progress"""
        market = _market_or_404(market_id)
        return list(Lot.objects(market_id=market.id).order_by("number"))


@blp.route("/lots/<lot_id>")
class LotById(MethodView):
    @allow("facilitator", "operator")
    @blp.response(200, LotSchema)
    def get(self, lot_id):
        """Read a lot: quota with its breakdown, and progress"""
        return _lot_or_404(lot_id)


@blp.route("/lots/<lot_id>/award")
class LotAward(MethodView):
    @allow("facilitator")
    @blp.arguments(AwardSchema)
    @blp.response(200, LotSchema)
    def post(self, data, lot_id):
        """Award a lot to a contractor (the hours service learns it from the lot.awarded event)"""
        lot = _lot_or_404(lot_id)
        if lot.contractor_siret:
            raise problem(409, "Ce lot est déjà attribué.")
        market = Market.objects.get(id=lot.market_id)
        return handlers.award_lot(lot, market, data["contractor_siret"], data["contractor_name"])
