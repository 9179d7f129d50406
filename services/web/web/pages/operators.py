"""The region's administration, for its operators: each territory's settings (how markets judge progress,
how participants are counted, how the hours declared are validated), the reference table of trades, who
receives alerts and by which webhook, and the deliveries with their retries."""
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from ..auth import signed_in
from .alerts import VOCABULARY
from .common import RECIPIENTS, gather, get, paging, send

bp = Blueprint("operators", __name__)

# the settings each service keeps per territory: (service, path, form's fields, its checkboxes)
SETTINGS = {
    "marches": ("markets", "/api/v1/territories/{territory}/settings",
                ("ramp_days", "at_risk_tolerance", "behind_ratio"), ()),
    "participants": ("participants", "/api/v1/participants/territory-settings/{territory}",
                     ("counting_window_months", "retention_months", "evidence_max_age_months"), ()),
    "declarations": ("hours", "/api/v1/declarations/territory-settings/{territory}",
                     ("monthly_ceiling_hours", "reporting_due_day"), ("auto_validation",)),
}
# the settings' labels: on their fields, and in the summary of what the service refused
SETTING_LABELS = {
    "ramp_days": "Montée en charge (jours)", "at_risk_tolerance": "Tolérance avant risque",
    "behind_ratio": "Seuil de retard", "counting_window_months": "Période de comptage (mois)",
    "retention_months": "Conservation après la sortie (mois)",
    "evidence_max_age_months": "Ancienneté maximale des justificatifs (mois)",
    "auto_validation": "Valider automatiquement les lignes conformes",
    "monthly_ceiling_hours": "Plafond mensuel par participant (heures)",
    "reporting_due_day": "Jour d'échéance des déclarations"}
TRADE_FIELDS = ("label", "labour_share", "hourly_cost", "insertion_rate")
RECIPIENT_FIELDS = ("territory", "name", "email", "organisation")


def form_values(names) -> dict:
    """The form's fields as the API reads them: a decimal comma becomes a point, an empty field is left out
    (the service then keeps its default or says what is missing)."""
    values = {name: request.form.get(name, "").strip() for name in names}
    return {name: value.replace(",", ".") if _numeric(value) else value for name, value in values.items() if value}


def _numeric(value: str) -> bool:
    return value.replace(",", "", 1).replace(".", "", 1).isdigit()


def _territory(chosen: str | None) -> str:
    territories = sorted(g.person.territories)
    if chosen and chosen not in territories:
        abort(403)
    return chosen or territories[0]


@bp.get("/administration")
@signed_in("operator")
def index():
    return _settings_page(_territory(request.args.get("territoire")))


def _settings_page(territory: str, refused=None, part: str | None = None, sent: dict | None = None):
    found = gather(**{name: (service, path.format(territory=territory))
                      for name, (service, path, *_) in SETTINGS.items()})
    values = {name: (sent if name == part else None) or found[name].data or {} for name in SETTINGS}
    return render_template("pages/operators/index.html", territory=territory, found=found, values=values,
                           refused=refused, part=part, labels=SETTING_LABELS), 422 if refused else 200


@bp.post("/administration/territoires/<territory>/<part>")
@signed_in("operator")
def settings(territory, part):
    if part not in SETTINGS:
        abort(404)
    territory = _territory(territory)
    service, path, names, checkboxes = SETTINGS[part]
    sent = form_values(names) | {name: name in request.form for name in checkboxes}  # unticked: not sent
    answer = send("PUT", service, path.format(territory=territory), sent)
    if not answer.ok:
        return _settings_page(territory, answer, part, sent)
    flash("Paramètres du territoire enregistrés.", "success")
    return redirect(url_for("operators.index", territoire=territory))


# --- the region's reference table of trades --------------------------------------------------------------
@bp.get("/administration/metiers")
@signed_in("operator")
def trades():
    return render_template("pages/operators/trades.html", trades=get("markets", "/api/v1/trades"))


@bp.route("/administration/metiers/<code>", methods=["GET", "POST"])
@signed_in("operator")
def trade(code):
    refused, values = None, None
    if request.method == "POST":
        values = form_values(TRADE_FIELDS)
        refused = send("PUT", "markets", f"/api/v1/trades/{code}", values)
        if refused.ok:
            flash("Corps de métier enregistré.", "success")
            return redirect(url_for("operators.trades"))
    known = get("markets", "/api/v1/trades")
    current = next((t for t in known.items() if t["code"] == code), None)
    if known.ok and current is None and request.method == "GET":
        abort(404)
    return render_template("pages/operators/trade.html", code=code, known=known, values=values or current or {},
                           refused=refused), 422 if refused else 200


# --- who receives alerts, and by which webhook -----------------------------------------------------------
@bp.route("/administration/destinataires", methods=["GET", "POST"])
@signed_in("operator")
def recipients():
    refused, values = None, {}
    if request.method == "POST":
        values = form_values(RECIPIENT_FIELDS)
        refused = send("POST", "notifications", "/api/v1/recipients", values)
        if refused.ok:
            flash("Destinataire ajouté.", "success")
            return redirect(url_for("operators.recipients"))
    return _recipients_page(refused=refused, values=values)


def _recipients_page(**shown):
    found = gather(recipients=RECIPIENTS)
    refused = shown.get("refused")
    return render_template("pages/operators/recipients.html", found=found, **shown), \
        422 if refused is not None and not refused.ok else 200


@bp.post("/administration/destinataires/<recipient_id>/webhook")
@signed_in("operator")
def webhook(recipient_id):
    if request.form.get("remove"):
        answer = send("DELETE", "notifications", f"/api/v1/recipients/{recipient_id}/webhook")
        flash("Webhook retiré." if answer.ok else answer.message, "success" if answer.ok else "error")
        return redirect(url_for("operators.recipients"))
    answer = send("PUT", "notifications", f"/api/v1/recipients/{recipient_id}/webhook",
                  form_values(("url",)))
    if answer.ok:  # the signing secret is shown in this answer only: the page is rendered, not redirected to
        return _recipients_page(webhook=answer.data, webhook_for=recipient_id)
    return _recipients_page(refused=answer, webhook_for=recipient_id)


# --- deliveries and their retries ------------------------------------------------------------------------
@bp.get("/administration/envois")
@signed_in("operator")
def deliveries():
    chosen = {"statut": request.args.get("statut", ""), "canal": request.args.get("canal", "")}
    page = paging()
    found = gather(deliveries=("notifications", "/api/v1/deliveries",
                               {"status": chosen["statut"], "channel": chosen["canal"], **page}),
                   recipients=RECIPIENTS, vocabulary=VOCABULARY)
    names = {r["id"]: r["name"] for r in found["recipients"].items()}
    return render_template("pages/operators/deliveries.html", found=found, chosen=chosen, paging=page,
                           names=names, vocabulary=found["vocabulary"].data or {})


@bp.post("/administration/envois/<delivery_id>/nouvel-essai")
@signed_in("operator")
def retry(delivery_id):
    answer = send("POST", "notifications", f"/api/v1/deliveries/{delivery_id}/retry")
    flash("Nouvel essai lancé." if answer.ok else answer.message, "success" if answer.ok else "error")
    return redirect(url_for("operators.deliveries"))
