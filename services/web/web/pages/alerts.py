"""Alerts: the feed of one's territories (a buyer's or a company's own alerts), an alert and what a
facilitator does with it (read, acknowledge, resolve with a note), who receives which alerts, and the signed-in
person's own alerts by e-mail."""
from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for

from ..auth import signed_in
from .common import RECIPIENTS, gather, get, paging, send

bp = Blueprint("alerts", __name__)

# the feed's filters: their name in the page's address -> the API's
FILTERS = {"non_lues": "unread", "statut": "status", "type": "kind", "gravite": "severity",
           "territoire": "territory"}
ACTIONS = {"lue": ("read", "Alerte marquée comme lue."),
           "prise-en-charge": ("acknowledge", "Alerte prise en charge."),
           "resolution": ("resolve", "Alerte résolue.")}
VOCABULARY = ("notifications", "/api/v1/alerts/vocabulary")


@bp.get("/alertes")
@signed_in()
def index():
    chosen = {name: request.args.get(name, "") for name in FILTERS}
    query = {api: chosen[name] for name, api in FILTERS.items()}
    query["unread"] = "true" if chosen["non_lues"] else None
    page = paging()
    found = gather(alerts=("notifications", "/api/v1/alerts", {**query, **page}), vocabulary=VOCABULARY)
    return render_template("pages/alerts/index.html", found=found, chosen=chosen, paging=page,
                           vocabulary=found["vocabulary"].data or {})


@bp.get("/alertes/<alert_id>")
@signed_in()
def show(alert_id):
    alert = get("notifications", f"/api/v1/alerts/{alert_id}")
    if alert.status in (403, 404):
        abort(alert.status)
    return render_template("pages/alerts/show.html", alert=alert)


@bp.post("/alertes/<alert_id>/<action>")
@signed_in("facilitator")
def act(alert_id, action):
    if action not in ACTIONS:
        abort(404)
    operation, done = ACTIONS[action]
    note = request.form.get("note", "").strip()
    body = ({"note": note} if note else {}) if operation == "resolve" else None
    answer = send("POST", "notifications", f"/api/v1/alerts/{alert_id}/{operation}", body)
    if answer.ok:
        flash(done, "success")
    else:
        flash(answer.message, "error")
    return redirect(url_for("alerts.show", alert_id=alert_id))


# --- subscriptions: which alerts a contact receives, by e-mail, at once or in the daily digest ------------
@bp.get("/alertes/abonnements")
@signed_in("facilitator", "operator")
def recipients():
    found = gather(recipients=RECIPIENTS)
    return render_template("pages/alerts/recipients.html", found=found)


@bp.route("/alertes/abonnements/<recipient_id>", methods=["GET", "POST"])
@signed_in("facilitator", "operator")
def subscriptions(recipient_id):
    found = gather(recipient=("notifications", f"/api/v1/recipients/{recipient_id}"),
                   subscriptions=("notifications", f"/api/v1/recipients/{recipient_id}/subscriptions"),
                   vocabulary=VOCABULARY)
    if found["recipient"].status in (403, 404):
        abort(found["recipient"].status)
    recipient = found["recipient"].data or {}
    vocabulary = found["vocabulary"].data or {"kinds": [], "channels": [], "modes": []}
    # what this contact may receive: the kinds meant for its audience, by webhook only once it has one
    kinds = [k for k in vocabulary["kinds"] if recipient.get("audience") in k["audiences"]]
    channels = [c for c in vocabulary["channels"] if c["code"] == "email" or recipient.get("has_webhook")]
    refused = None
    if request.method == "POST" and found["recipient"].ok and found["vocabulary"].ok:
        refused = send("PUT", "notifications", f"/api/v1/recipients/{recipient_id}/subscriptions",
                       {"subscriptions": _chosen(kinds, channels)})
        if refused.ok:
            flash("Abonnements enregistrés.", "success")
            return redirect(url_for("alerts.subscriptions", recipient_id=recipient_id))
    current = _current(found["subscriptions"].items())
    return render_template("pages/alerts/subscriptions.html", found=found, current=current, refused=refused,
                           recipient=recipient, kinds=kinds, channels=channels, modes=vocabulary["modes"]), \
        422 if refused else 200


def _chosen(kinds: list[dict], channels: list[dict]) -> list[dict]:
    """The form's choices: for each kind and channel, nothing, at once, or in the daily digest."""
    return [{"kind": kind["code"], "channel": channel["code"], "mode": mode} for kind in kinds
            for channel in channels if (mode := request.form.get(f"{kind['code']}.{channel['code']}"))]


def _current(subscriptions) -> dict[tuple[str, str], str]:
    """Subscriptions (stored, or chosen in the form) as the form shows them: the mode of each kind and channel."""
    return {(s["kind"], s["channel"]): s["mode"] for s in subscriptions}


# --- the signed-in person's own alerts: their address, and which alerts of their role they receive --------
MINE = "/api/v1/recipients/mine"
AUDIENCE_OF_ROLE = {"facilitator": "facilitator", "operator": "facilitator", "buyer": "buyer",
                    "contractor": "contractor"}
ADDRESS_FIELDS = ("name", "email", "territory")
ADDRESS_LABELS = {"name": "Nom", "email": "Adresse électronique", "territory": "Territoire",
                  "subscriptions": "Alertes"}


@bp.route("/alertes/mes-alertes", methods=["GET", "POST"])
@signed_in()
def mine():
    found = gather(recipient=("notifications", MINE), subscriptions=("notifications", f"{MINE}/subscriptions"),
                   vocabulary=VOCABULARY)
    vocabulary = found["vocabulary"].data or {"kinds": [], "channels": [], "modes": []}
    kinds = [k for k in vocabulary["kinds"] if AUDIENCE_OF_ROLE[g.person.role] in k["audiences"]]
    channels = [c for c in vocabulary["channels"] if c["code"] == "email"]
    known = found["recipient"].status == 200
    address = found["recipient"].data if known else {  # none given yet: what the sign-in told, to check
        "name": session.get("name", ""), "email": session.get("email") or "",
        "territory": sorted(g.person.territories)[0]}
    current, refused = _current(found["subscriptions"].items()) if known else {}, None
    if request.method == "POST" and found["vocabulary"].ok:
        address = {name: request.form.get(name, "").strip() for name in ADDRESS_FIELDS}
        chosen = _chosen(kinds, channels)
        current = _current(chosen)
        refused = send("PUT", "notifications", MINE, address)
        if refused.ok:
            refused = send("PUT", "notifications", f"{MINE}/subscriptions", {"subscriptions": chosen})
        if refused.ok:
            flash("Vos alertes par courriel sont enregistrées.", "success")
            return redirect(url_for("alerts.mine"))
    return render_template("pages/alerts/mine.html", found=found, known=known, address=address, current=current,
                           refused=refused, kinds=kinds, channels=channels, modes=vocabulary["modes"],
                           labels=ADDRESS_LABELS), 422 if refused else 200


@bp.post("/alertes/mes-alertes/arret")
@signed_in()
def stop_mine():
    answer = send("DELETE", "notifications", MINE)
    if answer.ok:
        flash("Vous ne recevez plus d'alertes par courriel : votre adresse et vos choix sont effacés.", "success")
    else:
        flash(answer.message, "error")
    return redirect(url_for("alerts.mine"))
