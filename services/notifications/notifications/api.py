"""HTTP entrypoints of the notifications service: thin, they validate, authorise and call handlers."""
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from plumbing import paging
from plumbing.auth import allow, current_principal, require_territory
from plumbing.problems import problem

from . import domain, handlers
from .schemas import (AlertQuerySchema, AlertSchema, ContactSchema, DeliveryQuerySchema, DeliverySchema,
                      RecipientCreateSchema, RecipientQuerySchema, RecipientSchema, RecipientUpdateSchema,
                      ResolveSchema, SubscriptionSchema, SubscriptionsSchema, VocabularySchema, WebhookCreateSchema,
                      WebhookSchema)
from .store import Alert, Delivery, Recipient

blp = Blueprint("notifications", __name__, url_prefix="/api/v1",
                description="Alertes, destinataires, abonnements et journal des envois")


def _recipient(recipient_id: str) -> Recipient:
    """A recipient of one of the caller's territories (404 otherwise, 403 outside them)."""
    recipient = Recipient.objects(id=recipient_id).first()
    if recipient is None:
        raise problem(404, "Destinataire introuvable.")
    require_territory([recipient.territory], "ce destinataire")
    return recipient


def _chosen_by_others(recipient_id: str) -> Recipient:
    """A recipient whose alerts the caller may choose: not a signed-in person's own address (theirs alone)."""
    recipient = _recipient(recipient_id)
    if recipient.person and recipient.person != current_principal().subject:
        raise problem(403, "Cette personne choisit elle-même ses alertes, depuis sa page « Mes alertes ».")
    return recipient


def _refused(exc: handlers.Refused):
    return problem(exc.status, exc.message)


@blp.route("/recipients")
class Recipients(MethodView):
    @allow("facilitator", "operator")
    @blp.arguments(RecipientCreateSchema)
    @blp.response(201, RecipientSchema)
    def post(self, data):
        """Register a contact to alert: a facilitator of a partner structure, a buyer's or a contractor's
        contact (operator or facilitator of that territory)"""
        require_territory([data["territory"]], "ce destinataire")
        try:
            return handlers.recipient_view(handlers.add_recipient(data, current_principal().subject))
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
        recipients = Recipient.objects(territory__in=list(territories))
        if query.get("organisation"):
            recipients = recipients.filter(organisation=query["organisation"])
        page = paging.page(recipients, pagination_parameters, "territory", "email")
        return [handlers.recipient_view(r) for r in page]


# --- the signed-in person's own address and the alerts they choose (static paths: matched before an id's) -----
EVERYONE = ("facilitator", "operator", "buyer", "contractor")


def _own_recipient() -> Recipient:
    mine = handlers.own_recipient(current_principal())
    if mine is None:
        raise problem(404, "Vous n'avez pas encore donné d'adresse pour recevoir vos alertes.")
    return mine


@blp.route("/recipients/mine")
class OwnRecipient(MethodView):
    @allow(*EVERYONE)
    @blp.response(200, RecipientSchema)
    @blp.alt_response(404, description="No address given yet")
    def get(self):
        """The signed-in person's own address for their alerts (404 until they give one)"""
        return handlers.recipient_view(_own_recipient())

    @allow(*EVERYONE)
    @blp.arguments(ContactSchema)
    @blp.response(200, RecipientSchema)
    def put(self, data):
        """Give or change the address where the signed-in person receives the alerts of their role (a
        buyer's staff those of their buyer, a company's staff those of their company)"""
        require_territory([data["territory"]], "ce territoire")
        try:
            return handlers.recipient_view(handlers.set_own_recipient(current_principal(), data))
        except handlers.AlreadyRegistered:
            raise problem(409, "Cette adresse reçoit déjà les alertes de ce territoire pour quelqu'un d'autre.") \
                from None
        except handlers.Refused as exc:
            raise _refused(exc) from None

    @allow(*EVERYONE)
    @blp.response(204)
    @blp.alt_response(404, description="No address given yet")
    def delete(self):
        """Stop receiving alerts: the signed-in person's address and its subscriptions are erased"""
        handlers.forget(_own_recipient())


@blp.route("/recipients/mine/subscriptions")
class OwnSubscriptions(MethodView):
    @allow(*EVERYONE)
    @blp.response(200, SubscriptionSchema(many=True))
    @blp.alt_response(404, description="No address given yet")
    def get(self):
        """The alerts the signed-in person receives by e-mail, at once or in the daily digest"""
        return handlers.subscriptions_of(_own_recipient().id)

    @allow(*EVERYONE)
    @blp.arguments(SubscriptionsSchema)
    @blp.response(200, SubscriptionSchema(many=True))
    @blp.alt_response(404, description="No address given yet")
    def put(self, data):
        """Replace the alerts the signed-in person receives (kinds of their role, by e-mail)"""
        try:
            return handlers.replace_subscriptions(_own_recipient(), data["subscriptions"])
        except handlers.Refused as exc:
            raise _refused(exc) from None


@blp.route("/recipients/<recipient_id>")
class RecipientItem(MethodView):
    @allow("facilitator", "operator")
    @blp.response(200, RecipientSchema)
    def get(self, recipient_id):
        """One recipient of the caller's territories"""
        return handlers.recipient_view(_recipient(recipient_id))

    @allow("facilitator", "operator")
    @blp.arguments(RecipientUpdateSchema)
    @blp.response(200, RecipientSchema)
    def patch(self, changes, recipient_id):
        """Rename, change the organisation, or deactivate (active: false) a recipient"""
        return handlers.recipient_view(handlers.update_recipient(_recipient(recipient_id), changes))


@blp.route("/recipients/<recipient_id>/subscriptions")
class Subscriptions(MethodView):
    @allow("facilitator", "operator")
    @blp.response(200, SubscriptionSchema(many=True))
    def get(self, recipient_id):
        """The kinds of alerts a recipient receives, on which channel, at once or in the daily digest"""
        return handlers.subscriptions_of(_recipient(recipient_id).id)

    @allow("facilitator", "operator")
    @blp.arguments(SubscriptionsSchema)
    @blp.response(200, SubscriptionSchema(many=True))
    def put(self, data, recipient_id):
        """Replace a recipient's subscriptions (kind × channel email|webhook × immediate|daily_digest)"""
        try:
            return handlers.replace_subscriptions(_chosen_by_others(recipient_id), data["subscriptions"])
        except handlers.Refused as exc:
            raise _refused(exc) from None


@blp.route("/recipients/<recipient_id>/webhook")
class Webhook(MethodView):
    @allow("operator")
    @blp.arguments(WebhookCreateSchema)
    @blp.response(200, WebhookSchema)
    def put(self, data, recipient_id):
        """Set (or rotate) the recipient's webhook; its signing secret is shown in this answer only"""
        try:
            recipient, secret = handlers.set_webhook(_chosen_by_others(recipient_id), data["url"],
                                                     current_app.extensions["settings"].extra["webhook_allowed"])
        except handlers.Refused as exc:
            raise _refused(exc) from None
        return {"url": recipient.webhook_url, "secret": secret,
                "signature": "X-Clause-Signature: sha256=HMAC-SHA256(secret, X-Clause-Timestamp + '.' + body)"}

    @allow("operator")
    @blp.response(204)
    def delete(self, recipient_id):
        """Remove the recipient's webhook; its pending webhook deliveries are cancelled"""
        handlers.remove_webhook(_recipient(recipient_id))


@blp.route("/alerts/vocabulary")  # under /alerts: the gateway routes by that prefix
class Vocabulary(MethodView):
    @allow("facilitator", "operator", "buyer", "contractor")
    @blp.response(200, VocabularySchema)
    def get(self):
        """The codes of alerts, subscriptions and deliveries with their French labels"""
        return domain.vocabulary()


@blp.route("/alerts")
class Alerts(MethodView):
    @allow("facilitator", "operator", "buyer", "contractor")
    @blp.arguments(AlertQuerySchema, location="query")
    @blp.response(200, AlertSchema(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """The in-app feed: alerts of the caller's territories (facilitators, operators) or their own
        (buyers, contractors), newest first"""
        reader = current_principal()
        if reader.role == "buyer" and not reader.buyer_id:
            raise problem(403, "Votre jeton ne désigne aucun acheteur (revendication buyer_id).")
        alerts = handlers.visible_alerts(reader)
        if query["unread"]:
            alerts = alerts.filter(read_by__nin=[reader.subject])
        for name in ("lot_id", "kind", "severity"):
            if query.get(name):
                alerts = alerts.filter(**{name: query[name]})
        if query.get("status") == "open":
            alerts = alerts.filter(status__nin=["acknowledged", "resolved"])  # also those stored before statuses
        elif query.get("status"):
            alerts = alerts.filter(status=query["status"])
        if query.get("territory"):
            alerts = alerts.filter(territories__in=[query["territory"]])
        page = paging.page(alerts, pagination_parameters, "-created_at", "-id")
        return [handlers.alert_view(alert, reader.subject) for alert in page]


def _alert(alert_id: str, manage: bool = False) -> Alert:
    alert = Alert.objects(id=alert_id).first()
    if alert is None:
        raise problem(404, "Alerte introuvable.")
    if manage or current_principal().role in ("facilitator", "operator"):
        require_territory(alert.territories, "cette alerte")
    elif not handlers.visible_alerts(current_principal()).filter(id=alert_id).count():
        raise problem(403, "Cette alerte ne vous concerne pas.")
    return alert


@blp.route("/alerts/<alert_id>")
class AlertItem(MethodView):
    @allow("facilitator", "operator", "buyer", "contractor")
    @blp.response(200, AlertSchema)
    def get(self, alert_id):
        """One alert the caller may see"""
        return handlers.alert_view(_alert(alert_id), current_principal().subject)


@blp.route("/alerts/<alert_id>/read")
class AlertRead(MethodView):
    @allow("facilitator")
    @blp.response(200, AlertSchema)
    def post(self, alert_id):
        """Mark an alert as read by the caller (facilitator of one of its territories)"""
        alert = _alert(alert_id, manage=True)
        subject = current_principal().subject
        return handlers.alert_view(handlers.mark_read(alert.id, subject), subject)


@blp.route("/alerts/<alert_id>/acknowledge")
class AlertAcknowledge(MethodView):
    @allow("facilitator")
    @blp.response(200, AlertSchema)
    def post(self, alert_id):
        """Acknowledge an alert: a facilitator of one of its territories takes it in hand"""
        alert = _alert(alert_id, manage=True)
        subject = current_principal().subject
        return handlers.alert_view(handlers.acknowledge(alert.id, subject), subject)


@blp.route("/alerts/<alert_id>/resolve")
class AlertResolve(MethodView):
    @allow("facilitator")
    @blp.arguments(ResolveSchema)
    @blp.response(200, AlertSchema)
    def post(self, data, alert_id):
        """Resolve an alert, with an optional note (facilitator of one of its territories)"""
        alert = _alert(alert_id, manage=True)
        subject = current_principal().subject
        return handlers.alert_view(handlers.resolve(alert.id, subject, data.get("note")), subject)


@blp.route("/deliveries")
class Deliveries(MethodView):
    @allow("facilitator", "operator")
    @blp.arguments(DeliveryQuerySchema, location="query")
    @blp.response(200, DeliverySchema(many=True))
    @blp.paginate()
    def get(self, query, pagination_parameters):
        """The delivery log of the caller's territories: each message, its status and every attempt"""
        deliveries = Delivery.objects(territories__in=list(current_principal().territories))
        if query.get("alert_id"):
            deliveries = deliveries.filter(alert_ids=query["alert_id"])
        for name in ("recipient_id", "channel", "status"):
            if query.get(name):
                deliveries = deliveries.filter(**{name: query[name]})
        return paging.page(deliveries, pagination_parameters, "-created_at", "id")


@blp.route("/deliveries/<delivery_id>/retry")
class DeliveryRetry(MethodView):
    @allow("operator")
    @blp.response(200, DeliverySchema)
    def post(self, delivery_id):
        """Try a failed delivery again now instead of at its planned time (operator)"""
        delivery = Delivery.objects(id=delivery_id).first()
        if delivery is None:
            raise problem(404, "Envoi introuvable.")
        require_territory(delivery.territories, "cet envoi")
        return handlers.retry_now(delivery.id)
