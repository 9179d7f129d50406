"""HTTP entrypoints of the notifications service: thin, they validate, authorise and call handlers."""
from flask.views import MethodView
from flask_smorest import Blueprint
from plumbing.auth import allow, current_principal, require_territory
from plumbing.problems import problem

from . import handlers
from .schemas import AlertQuerySchema, AlertSchema, RecipientCreateSchema, RecipientQuerySchema, RecipientSchema
from .store import Alert, Recipient

blp = Blueprint("notifications", __name__, url_prefix="/api/v1", description="Alertes et destinataires")


def _page(queryset, pagination_parameters) -> list:
    pagination_parameters.item_count = queryset.count()
    first, size = pagination_parameters.first_item, pagination_parameters.page_size
    return list(queryset.skip(first).limit(size))


@blp.route("/recipients")
class Recipients(MethodView):
    @allow("facilitator", "operator")
    @blp.arguments(RecipientCreateSchema)
    @blp.response(201, RecipientSchema)
    def post(self, data):
        """Register a facilitator to alert for a territory (operator, or facilitator of that territory)"""
        if current_principal().role == "facilitator":
            require_territory([data["territory"]], "ce destinataire")
        try:
            return handlers.add_recipient(data, current_principal().subject)
        except handlers.AlreadyRegistered:
            raise problem(409, "Cette adresse reçoit déjà les alertes de ce territoire.") from None

    @allow("facilitator", "operator")
    @blp.arguments(RecipientQuerySchema, location="query")
    @blp.response(200, RecipientSchema(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """List the recipients of the caller's territories"""
        territories = set(current_principal().territories)
        if query.get("territory"):
            territories &= {query["territory"]}
        recipients = Recipient.objects(territory__in=list(territories)).order_by("territory", "email")
        return _page(recipients, pagination_parameters)


@blp.route("/alerts")
class Alerts(MethodView):
    @allow("facilitator", "operator")
    @blp.arguments(AlertQuerySchema, location="query")
    @blp.response(200, AlertSchema(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """List the alerts of the caller's territories, newest first"""
        reader = current_principal()
        alerts = Alert.objects(territories__in=list(reader.territories))
        if query["unread"]:
            alerts = alerts.filter(read_by__nin=[reader.subject])
        if query.get("lot_id"):
            alerts = alerts.filter(lot_id=query["lot_id"])
        page = _page(alerts.order_by("-created_at", "-id"), pagination_parameters)
        return [handlers.alert_view(alert, reader.subject) for alert in page]


@blp.route("/alerts/<alert_id>/read")
class AlertRead(MethodView):
    @allow("facilitator")
    @blp.response(200, AlertSchema)
    def post(self, alert_id):
        """Mark an alert as read by the caller (facilitator of one of its territories)"""
        alert = Alert.objects(id=alert_id).first()
        if alert is None:
            raise problem(404, "Alerte introuvable.")
        require_territory(alert.territories, "cette alerte")
        subject = current_principal().subject
        return handlers.alert_view(handlers.mark_read(alert.id, subject), subject)
