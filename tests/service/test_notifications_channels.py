"""Notifications delivered for real: a real SMTP server (aiosmtpd), a real webhook receiver on 127.0.0.1,
the real worker (consumer and delivery loop) on the real broker and store, and the operator commands."""
import json
import socket
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from plumbing.auth import new_api_key
from plumbing.events import Event, encode

from support import MailServer, WebhookReceiver, mail_parts, produce, wait_until

CARCASSONNE = "aude-carcassonne-agglo"
NARBONNE = "aude-grand-narbonne"
DEPARTEMENT = "aude-departement"
BUYER_ID = "buyer-commune-carcassonne"
SIRET = "73282932000074"
LOT = {"lot_id": "lot-1", "market_id": "market-1", "market_reference": "2026-CA-014",
       "market_title": "Réhabilitation du groupe scolaire Jean-Jaurès", "lot_number": 1,
       "lot_title": "Gros œuvre", "lead_territory": CARCASSONNE, "buyer_id": BUYER_ID,
       "contractor_siret": SIRET, "state_market": False}
PUBLIC_URL = "https://clauses.example"


def lot_event(type_="lot.status_changed", territories=(CARCASSONNE, NARBONNE), **payload) -> Event:
    return Event(type=type_, producer="markets", key=payload.get("lot_id", "lot-1"), territories=list(territories),
                 payload={**LOT, "previous_status": "on_track", "status": "at_risk", "realised_hours": 50.0,
                          "quota_hours": 100, "expected_hours": 82.0, **payload})


@pytest.fixture
def mail():
    server = MailServer()  # not started: each test decides when the mail server is up
    yield server
    server.stop()


@pytest.fixture
def receiver():
    hook = WebhookReceiver()
    yield hook
    hook.close()


@pytest.fixture
def app(service_env, mail):
    service_env("notifications", SMTP_HOST="127.0.0.1", SMTP_PORT=str(mail.port), SMTP_TIMEOUT_S="2",
                SMTP_FROM="alertes@clauses-sociales.example", NOTIFICATIONS_PUBLIC_URL=PUBLIC_URL,
                NOTIFICATIONS_RETRY_BASE_S="0.2", NOTIFICATIONS_RETRY_MAX_S="0.8",
                NOTIFICATIONS_DELIVERY_INTERVAL_S="0.1", NOTIFICATIONS_WEBHOOK_TIMEOUT_S="2",
                NOTIFICATIONS_NO_DECLARATION_DAYS="30", NOTIFICATIONS_WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
                NOTIFICATIONS_QUIET_PERIOD_S="0")  # channels, not calm alerts (test_calm_alerts_and_reminders.py)
    from notifications.app import create_app
    return create_app()


@pytest.fixture
def client(app):
    return app.test_client()


def cli(app, *args) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def operator(auth):
    return auth("operator", CARCASSONNE, NARBONNE, DEPARTEMENT, subject="operator")


def recipient(client, headers, territory, name, email, subscriptions=(), **extra) -> dict:
    created = client.post("/api/v1/recipients", headers=headers,
                          json={"territory": territory, "name": name, "email": email, **extra})
    assert created.status_code == 201, created.json
    if subscriptions:
        put = client.put(f"/api/v1/recipients/{created.json['id']}/subscriptions", headers=headers,
                         json={"subscriptions": list(subscriptions)})
        assert put.status_code == 200, put.json
    return created.json


def email_to(*kinds, mode="immediate"):
    return [{"kind": kind, "channel": "email", "mode": mode} for kind in kinds]


def deliveries(client, headers, **query):
    response = client.get("/api/v1/deliveries", query_string=query, headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def gaps(client, headers) -> list[float]:
    """Seconds between each delivery's last attempt and its next one."""
    return [round((datetime.fromisoformat(d["next_attempt_at"])
                   - datetime.fromisoformat(d["attempts"][-1]["at"])).total_seconds(), 1)
            for d in deliveries(client, headers)]


def processed(event_id: str) -> bool:
    from plumbing.consumer import ProcessedEvent
    return bool(ProcessedEvent.objects(id=event_id).count())


def test_a_mail_server_down_for_a_while_gets_each_mail_exactly_once_when_it_is_back(
        client, operator, mail, start_worker, topic, infra):
    claire = recipient(client, operator, CARCASSONNE, "Claire Martin", "claire.martin@carcassonne-agglo.example",
                       email_to("at_risk", "behind"), organisation="Carcassonne Agglo")
    sophie = recipient(client, operator, NARBONNE, "Sophie Garcia", "sophie.garcia@legrandnarbonne.example",
                       email_to("at_risk", "behind"))
    recipient(client, operator, NARBONNE, "Luc Digest", "luc.digest@legrandnarbonne.example",
              email_to("at_risk", "behind", mode="daily_digest"))
    recipient(client, operator, DEPARTEMENT, "Karim Benali", "karim.benali@aude.example", email_to("at_risk"))
    recipient(client, operator, NARBONNE, "Sans abonnement", "sans.abonnement@legrandnarbonne.example")
    at_risk = lot_event()
    behind = lot_event(previous_status="at_risk", status="behind", realised_hours=30.0)
    for event in (at_risk, behind):
        produce(infra.kafka_bootstrap, topic("markets.events"), encode(event), key=b"lot-1")
    start_worker("notifications")

    # the mail server is down: every delivery fails, is kept and planned again
    failing = wait_until(lambda: (d := deliveries(client, operator)) and len(d) == 4
                         and all(x["status"] == "failed" and len(x["attempts"]) >= 2 for x in d) and d,
                         timeout=60, what="four deliveries failing twice")
    assert {(d["recipient_id"], d["channel"], d["mode"]) for d in failing} == {
        (claire["id"], "email", "immediate"), (sophie["id"], "email", "immediate")}
    first = failing[0]["attempts"][0]
    assert first["outcome"] == "failed" and first["detail"] == "serveur de courriel : connexion refusée"
    assert mail.messages == []

    mail.start()
    wait_until(lambda: len(mail.messages) == 4, timeout=30, what="four mails")
    time.sleep(1.5)  # many delivery rounds and retry intervals: anything sent twice would show now
    assert len(mail.messages) == 4
    for address in ("claire.martin@carcassonne-agglo.example", "sophie.garcia@legrandnarbonne.example"):
        subjects = sorted(m["Subject"] for m in mail.to(address))
        assert subjects == ["[Clauses sociales] Lot en retard — 2026-CA-014, lot 1",
                            "[Clauses sociales] Lot à risque — 2026-CA-014, lot 1"]
    assert len({m["Message-ID"] for _, m in mail.messages}) == 4
    sent = deliveries(client, operator, status="sent")
    assert len(sent) == 4 and all(d["attempts"][-1]["outcome"] == "sent" for d in sent)
    assert all(a["outcome"] == "failed" for d in sent for a in d["attempts"][:-1])

    message = mail.to("sophie.garcia@legrandnarbonne.example")[0]
    assert message["From"] == "alertes@clauses-sociales.example"
    text, html = mail_parts(message)
    for part in (text, html):
        assert "Bonjour Sophie Garcia" in part
        assert "2026-CA-014" in part and "Réhabilitation du groupe scolaire Jean-Jaurès" in part
        assert "Gros œuvre" in part
        assert f"{PUBLIC_URL}/lots/lot-1" in part
    assert "Heures réalisées" in html and "Objectif d&#39;heures" in html and "<table" in html

    # the same events again, and the same situation under a new event id: nothing new
    again = lot_event(previous_status="on_track", status="at_risk")
    for event in (at_risk, behind, again):
        produce(infra.kafka_bootstrap, topic("markets.events"), encode(event), key=b"lot-1")
    wait_until(lambda: processed(again.id), timeout=30, what="the replays consumed")
    time.sleep(1)
    assert len(mail.messages) == 4
    assert len(deliveries(client, operator)) == 4
    feed = client.get("/api/v1/alerts", headers=operator).json
    assert sorted(a["kind"] for a in feed) == ["at_risk", "behind"]
    assert {a["recipients_count"] for a in feed} == {4}  # the active facilitators of both territories


def test_a_webhook_answering_500_then_200_gets_the_alert_once_signed(
        client, operator, auth, receiver, start_worker, topic, infra):
    system = recipient(client, operator, NARBONNE, "SI du Grand Narbonne", "si@legrandnarbonne.example")
    facilitator = auth("facilitator", NARBONNE)
    forbidden = client.put(f"/api/v1/recipients/{system['id']}/webhook", json={"url": receiver.url},
                           headers=facilitator)
    assert forbidden.status_code == 403  # operators manage channels
    no_hook = client.put(f"/api/v1/recipients/{system['id']}/subscriptions", headers=operator,
                         json={"subscriptions": [{"kind": "at_risk", "channel": "webhook"}]})
    assert no_hook.status_code == 409

    hook = client.put(f"/api/v1/recipients/{system['id']}/webhook", json={"url": receiver.url}, headers=operator)
    assert hook.status_code == 200 and hook.json["secret"].startswith("whsec_")
    receiver.secret = hook.json["secret"]
    shown = client.get(f"/api/v1/recipients/{system['id']}", headers=operator).json
    assert shown["has_webhook"] is True and shown["webhook_url"] == receiver.url
    assert "webhook_secret" not in shown and hook.json["secret"] not in json.dumps(shown)
    subscribed = client.put(f"/api/v1/recipients/{system['id']}/subscriptions", headers=facilitator,
                            json={"subscriptions": [{"kind": "at_risk", "channel": "webhook"}]})
    assert subscribed.status_code == 200
    assert subscribed.json == [{"kind": "at_risk", "channel": "webhook", "mode": "immediate",
                                "kind_label": "Lot à risque", "channel_label": "Webhook",
                                "mode_label": "Immédiatement"}]

    receiver.answers = [500, 500]  # down for a while, then 200
    event = lot_event()
    produce(infra.kafka_bootstrap, topic("markets.events"), encode(event), key=b"lot-1")
    start_worker("notifications")

    wait_until(lambda: receiver.accepted, timeout=60, what="the webhook accepted")
    time.sleep(1.5)
    assert [c["status"] for c in receiver.calls] == [500, 500, 200]
    assert all(c["valid"] for c in receiver.calls)
    assert len({c["headers"]["X-Clause-Delivery"] for c in receiver.calls}) == 1
    body = receiver.accepted[0]
    assert body["type"] == "alert" and len(body["alerts"]) == 1
    alert = body["alerts"][0]
    assert (alert["kind"], alert["lot_id"], alert["market"]["reference"]) == ("at_risk", "lot-1", "2026-CA-014")
    assert alert["figures"] == {"realised_hours": 50.0, "quota_hours": 100, "expected_hours": 82.0}
    assert alert["link"] == f"{PUBLIC_URL}/lots/lot-1"
    call = receiver.calls[-1]
    assert call["headers"]["X-Clause-Event"] == "at_risk"
    assert not receiver.verify(call["headers"], call["body"].replace(b"lot-1", b"lot-2"))  # tampered: refused
    log = deliveries(client, operator, alert_id=body["alerts"][0]["id"])
    assert len(log) == 1 and log[0]["status"] == "sent"
    assert [(a["outcome"], a["detail"]) for a in log[0]["attempts"]] == [
        ("failed", "réponse HTTP 500"), ("failed", "réponse HTTP 500"), ("sent", "réponse HTTP 200")]

    produce(infra.kafka_bootstrap, topic("markets.events"), encode(event), key=b"lot-1")  # replayed
    again = lot_event(previous_status="on_track", status="at_risk")  # same lot, same state, new event
    produce(infra.kafka_bootstrap, topic("markets.events"), encode(again), key=b"lot-1")
    wait_until(lambda: processed(again.id), timeout=30, what="the replays consumed")
    time.sleep(1)
    assert len(receiver.calls) == 3


@pytest.fixture
def strict(service_env, mail):
    """The same service and database with no allow-list: webhooks reach public addresses only."""
    service_env("notifications", SMTP_HOST="127.0.0.1", SMTP_PORT=str(mail.port), NOTIFICATIONS_RETRY_BASE_S="0.2",
                NOTIFICATIONS_RETRY_MAX_S="0.8", NOTIFICATIONS_WEBHOOK_TIMEOUT_S="2",
                NOTIFICATIONS_WEBHOOK_ALLOWED_HOSTS="", NOTIFICATIONS_QUIET_PERIOD_S="0")
    from notifications.app import create_app
    return create_app()


INTERNAL = [("http://127.0.0.1:{port}/hooks", "boucle locale"), ("http://localhost:{port}/hooks", "boucle locale"),
            ("http://[::1]:{port}/hooks", "boucle locale"),
            ("http://10.0.0.7/", "réseau privé"), ("http://192.168.1.20:8080/", "réseau privé"),
            ("http://[fd00::7]/", "réseau privé"), ("http://100.64.0.1/", "réseau privé"),
            ("http://169.254.169.254/latest/meta-data/", "lien local"), ("http://[fe80::1]/", "lien local"),
            ("http://0.0.0.0:{port}/", "adresse non spécifiée"), ("http://224.0.0.1/", "multidiffusion"),
            ("http://240.0.0.1/", "adresse réservée")]


def test_a_webhook_to_the_internal_network_is_refused_and_nothing_is_written(strict, operator, receiver):
    client = strict.test_client()
    system = recipient(client, operator, NARBONNE, "SI du Grand Narbonne", "si@legrandnarbonne.example")
    port = receiver.url.split(":")[2].split("/")[0]
    for url, reason in INTERNAL:
        refused = client.put(f"/api/v1/recipients/{system['id']}/webhook", json={"url": url.format(port=port)},
                             headers=operator)
        assert refused.status_code == 422 and refused.mimetype == "application/problem+json", url
        assert f"(adresse refusée : {reason})" in refused.json["detail"], (url, refused.json)
    assert client.get(f"/api/v1/recipients/{system['id']}", headers=operator).json["has_webhook"] is False
    assert receiver.calls == []
    public = client.put(f"/api/v1/recipients/{system['id']}/webhook", json={"url": "https://93.184.215.14/hooks"},
                        headers=operator)
    assert public.status_code == 200  # a public address is set (and not called now)


def test_the_delivery_log_tells_why_a_webhook_failed_in_french_and_checks_the_address_again(
        app, strict, client, operator, receiver):
    from notifications.handlers import apply_lot_event
    system = recipient(client, operator, NARBONNE, "SI du Grand Narbonne", "si@legrandnarbonne.example")
    hook_url = f"/api/v1/recipients/{system['id']}/webhook"

    def point_at(url: str) -> None:
        response = client.put(hook_url, json={"url": url}, headers=operator)
        assert response.status_code == 200, response.json
        receiver.secret = response.json["secret"]

    def attempt(on) -> None:
        time.sleep(0.85)  # past the backoff of the last failure (at most 0.8 s)
        cli(on, "deliver-pending")

    point_at(receiver.url)
    client.put(f"/api/v1/recipients/{system['id']}/subscriptions", headers=operator,
               json={"subscriptions": [{"kind": "quota_reached", "channel": "webhook"}]})
    apply_lot_event(lot_event("lot.quota_reached", realised_hours=100.0))

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # a port nothing listens on
    point_at(f"http://127.0.0.1:{closed.getsockname()[1]}/hooks")
    attempt(app)
    silent = socket.create_server(("127.0.0.1", 0))  # takes the connection, never answers
    point_at(f"http://127.0.0.1:{silent.getsockname()[1]}/hooks")
    attempt(app)
    point_at(receiver.url)
    receiver.answers = [500]
    attempt(app)
    attempt(strict)  # the operator no longer allows 127.0.0.1: the receiver is not called again
    assert len(receiver.calls) == 1
    attempt(app)
    closed.close()
    silent.close()

    log = deliveries(client, operator)
    assert [(a["outcome"], a["detail"]) for a in log[0]["attempts"]] == [
        ("failed", "connexion refusée"), ("failed", "délai dépassé"), ("failed", "réponse HTTP 500"),
        ("failed", "adresse refusée : boucle locale"), ("sent", "réponse HTTP 200")]
    assert len(receiver.accepted) == 1 and [c["status"] for c in receiver.calls] == [500, 200]


def test_the_operator_command_retries_with_backoff_and_never_twice(app, client, operator, mail):
    from notifications.handlers import apply_lot_event
    recipient(client, operator, CARCASSONNE, "Claire Martin", "claire.martin@carcassonne-agglo.example",
              email_to("quota_reached"))
    apply_lot_event(lot_event("lot.quota_reached", realised_hours=100.0))
    apply_lot_event(lot_event("lot.quota_reached", lot_id="lot-2", lot_number=2, lot_title="Charpente",
                              realised_hours=120.0))

    assert cli(app, "deliver-pending").startswith("sent: 0, failed (retried later): 2")
    assert gaps(client, operator) == [0.2, 0.2]  # the next attempt is planned after the backoff
    time.sleep(0.25)
    assert cli(app, "deliver-pending").startswith("sent: 0, failed (retried later): 2")
    assert gaps(client, operator) == [0.4, 0.4]  # doubled
    mail.start()
    time.sleep(0.45)
    assert cli(app, "deliver-pending").startswith("sent: 2")
    assert cli(app, "deliver-pending").startswith("sent: 0, failed (retried later): 0")
    assert len(mail.messages) == 2
    text, _ = mail_parts(mail.messages[0][1])
    assert "Objectif d'heures atteint".upper() in text


def test_a_daily_digest_gathers_the_days_alerts_into_one_message_per_recipient(app, client, operator, mail):
    from notifications.handlers import apply_lot_event
    luc = recipient(client, operator, NARBONNE, "Luc Digest", "luc.digest@legrandnarbonne.example",
                    email_to("at_risk", "quota_reached", mode="daily_digest"))
    recipient(client, operator, CARCASSONNE, "Claire Martin", "claire.martin@carcassonne-agglo.example",
              email_to("at_risk"))
    apply_lot_event(lot_event())
    apply_lot_event(lot_event("lot.quota_reached", lot_id="lot-2", lot_number=2, lot_title="Charpente",
                              realised_hours=120.0))
    apply_lot_event(lot_event(lot_id="lot-3", lot_number=3, territories=[DEPARTEMENT]))  # not Luc's territory
    mail.start()
    today = datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()  # the digest's days are French days

    assert cli(app, "send-digests", "--day", today).startswith(f"digests created for {today}: 1")
    assert cli(app, "send-digests", "--day", today).startswith(f"digests created for {today}: 0")
    cli(app, "deliver-pending")
    digests = mail.to("luc.digest@legrandnarbonne.example")
    assert len(digests) == 1
    assert digests[0]["Subject"].startswith("[Clauses sociales] Récapitulatif du ")
    assert digests[0]["Subject"].endswith(": 2 alertes")
    text, html = mail_parts(digests[0])
    assert "LOT À RISQUE" in text and "OBJECTIF D'HEURES ATTEINT" in text and "Charpente" in html
    assert len(mail.to("claire.martin@carcassonne-agglo.example")) == 1  # immediate, not in a digest
    log = deliveries(client, operator, recipient_id=luc["id"])
    assert [(d["mode"], d["digest_day"], len(d["alert_ids"]), d["status"]) for d in log] == [
        ("daily_digest", today, 2, "sent")]
    yesterday = (date.fromisoformat(today) - timedelta(days=1)).isoformat()
    assert cli(app, "send-digests", "--day", yesterday).startswith(f"digests created for {yesterday}: 0")


def test_time_alone_raises_no_declaration_and_end_approaching_once(app, client, operator, mail):
    from notifications.handlers import apply_declaration, apply_lot_awarded, apply_lot_event
    claire = recipient(client, operator, CARCASSONNE, "Claire Martin", "claire.martin@carcassonne-agglo.example",
                       email_to("no_declaration", "end_approaching"))
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    apply_lot_awarded(lot_event("lot.awarded", start_date=start.isoformat(), end_date=end.isoformat(),
                                quota_hours=100))
    apply_lot_event(lot_event("lot.progress_updated", realised_hours=40.0, declared_hours=0.0))
    declared = Event(type="declaration.validated", producer="hours", key="lot-1", territories=[CARCASSONNE],
                     time="2026-03-10T09:00:00+00:00",
                     payload={"declaration_id": "d-1", "lot_id": "lot-1", "participant_id": "p-1",
                              "month": "2026-02", "centihours": 4000, "mode": "direct_hire",
                              "territory": CARCASSONNE, "contractor_siret": SIRET})
    apply_declaration(declared)

    assert cli(app, "evaluate-rules", "--today", "2026-04-08") == "no_declaration: 0, end_approaching: 0\n"
    assert cli(app, "evaluate-rules", "--today", "2026-04-09") == "no_declaration: 1, end_approaching: 0\n"
    assert cli(app, "evaluate-rules", "--today", "2026-04-20") == "no_declaration: 0, end_approaching: 0\n"
    assert cli(app, "evaluate-rules", "--today", "2026-10-19") == "no_declaration: 0, end_approaching: 0\n"
    assert cli(app, "evaluate-rules", "--today", "2026-10-20") == "no_declaration: 0, end_approaching: 1\n"
    assert cli(app, "evaluate-rules", "--today", "2026-10-21") == "no_declaration: 0, end_approaching: 0\n"
    feed = {a["kind"]: a for a in client.get("/api/v1/alerts", headers=operator).json}
    assert sorted(feed) == ["end_approaching", "no_declaration"]
    assert feed["no_declaration"]["figures"]["days_without_declaration"] == 30
    assert feed["end_approaching"]["figures"]["days_left"] == 72
    assert "pour 80,22 h attendues" in feed["end_approaching"]["message"].replace("\u00a0", " ")

    apply_declaration(Event(**{**declared.__dict__, "id": "later", "time": "2026-05-02T08:00:00+00:00"}))
    assert cli(app, "evaluate-rules", "--today", "2026-06-01") == "no_declaration: 1, end_approaching: 0\n"
    mail.start()
    cli(app, "deliver-pending")
    assert len(mail.to(claire["email"])) == 3


def test_window_ending_and_rejected_declarations_reach_who_they_concern_and_no_one_else(
        app, client, operator, auth, mail):
    from notifications.handlers import apply_declaration, apply_lot_awarded, apply_window_ending
    from plumbing.contractor_keys import apply_key_event as apply_api_key
    claire = recipient(client, operator, CARCASSONNE, "Claire Martin", "claire.martin@carcassonne-agglo.example",
                       email_to("window_ending", "at_risk"))
    company = recipient(client, operator, CARCASSONNE, "Paie Bâtiments du Sud", "paie@batiments-sud.example",
                        email_to("declaration_rejected", "at_risk"), audience="contractor", contractor_siret=SIRET)
    buyer = recipient(client, operator, CARCASSONNE, "Commune — marchés", "marches@carcassonne.example",
                      email_to("at_risk"), audience="buyer", buyer_id=BUYER_ID)
    refused = client.put(f"/api/v1/recipients/{buyer['id']}/subscriptions", headers=operator,
                         json={"subscriptions": email_to("window_ending")})
    assert refused.status_code == 422  # participants' matters stay with facilitators
    apply_lot_awarded(lot_event("lot.awarded", start_date="2026-01-01", end_date="2026-12-31", quota_hours=100))

    participants_event = Event(type="eligibility.window_ending", producer="participants", key="p-42",
                               territories=[CARCASSONNE], payload={"participant_id": "p-42", "territory": CARCASSONNE,
                                                                   "eligible_until": "2026-12-15", "days_left": 30})
    apply_window_ending(participants_event)
    apply_window_ending(participants_event)
    rejected = Event(type="declaration.rejected", producer="hours", key="lot-1", territories=[CARCASSONNE, NARBONNE],
                     payload={"declaration_id": "d-9", "lot_id": "lot-1", "participant_id": "p-42",
                              "month": "2026-05", "centihours": 15050, "mode": "direct_hire",
                              "territory": CARCASSONNE, "contractor_siret": SIRET,
                              "reason": "heures hors de la fenêtre de comptage"})
    apply_declaration(rejected)
    apply_declaration(rejected)
    mail.start()
    cli(app, "deliver-pending")

    window_mail = mail.to(claire["email"])
    assert [m["Subject"] for m in window_mail] == [
        "[Clauses sociales] Fenêtre de comptage d'un participant bientôt close"]
    text, html = mail_parts(window_mail[0])
    assert "p-42" in text and "15 décembre 2026" in text
    rejected_mail = mail.to(company["email"])
    assert [m["Subject"] for m in rejected_mail] == [
        "[Clauses sociales] Déclaration d'heures refusée — 2026-CA-014, lot 1"]
    text, _ = mail_parts(rejected_mail[0])
    assert "d-9" in text and "150,5" in text and "heures hors de la fenêtre de comptage" in text
    assert "p-42" not in text  # the contractor learns the line, not who it was about
    assert mail.to(buyer["email"]) == []

    # who sees what in the feed
    key_id, key, key_hash = new_api_key()
    apply_api_key(Event(type="api_key.created", producer="hours", key=SIRET, territories=[CARCASSONNE],
                        payload={"key_id": key_id, "contractor_siret": SIRET, "key_hash": key_hash}))
    contractor_feed = client.get("/api/v1/alerts", headers={"X-API-Key": key})
    assert [a["kind"] for a in contractor_feed.json] == ["declaration_rejected"]
    other_key = client.get("/api/v1/alerts", headers={"X-API-Key": "ck_nope_nope"})
    assert other_key.status_code == 401
    buyer_feed = client.get("/api/v1/alerts", headers=auth("buyer", CARCASSONNE, buyer_id=BUYER_ID)).json
    assert buyer_feed == []
    facilitator = auth("facilitator", CARCASSONNE, subject="claire")
    assert sorted(a["kind"] for a in client.get("/api/v1/alerts", headers=facilitator).json) == [
        "declaration_rejected", "window_ending"]
    window_alert = client.get("/api/v1/alerts", headers=facilitator, query_string={"kind": "window_ending"}).json[0]
    assert window_alert["lot_id"] is None and window_alert["link"] == f"{PUBLIC_URL}/participants/p-42"
    assert client.get(f"/api/v1/alerts/{window_alert['id']}", headers={"X-API-Key": key}).status_code == 403


def test_a_signed_in_person_chooses_their_own_alerts_by_email_and_stops_them(app, client, operator, auth, mail):
    from notifications.handlers import apply_declaration, apply_lot_awarded
    staff = auth("contractor", CARCASSONNE, subject="paie@batiments-sud.example", siret=SIRET)
    mine, subscriptions = "/api/v1/recipients/mine", "/api/v1/recipients/mine/subscriptions"
    address = {"territory": CARCASSONNE, "name": "Service paie", "email": "Paie@Batiments-Sud.example"}
    assert client.get(mine, headers=staff).status_code == 404
    assert client.put(subscriptions, headers=staff, json={"subscriptions": []}).status_code == 404
    assert client.put(mine, headers=staff, json={**address, "territory": NARBONNE}).status_code == 403
    bad = client.put(mine, headers=staff, json={**address, "email": "pas-une-adresse"})
    assert bad.status_code == 422 and bad.json["errors"]["email"] == ["Adresse e-mail invalide."]
    assert client.get(mine, headers=staff).status_code == 404  # nothing written

    given = client.put(mine, headers=staff, json=address)
    assert given.status_code == 200, given.json
    assert {k: given.json[k] for k in ("email", "audience", "contractor_siret", "own")} == \
        {"email": "paie@batiments-sud.example", "audience": "contractor", "contractor_siret": SIRET, "own": True}
    assert client.put(subscriptions, headers=staff,  # participants' matters stay with facilitators
                      json={"subscriptions": email_to("window_ending")}).status_code == 422
    chosen = client.put(subscriptions, headers=staff, json={"subscriptions": email_to("declaration_rejected")})
    assert chosen.status_code == 200 and [s["kind_label"] for s in chosen.json] == ["Déclaration d'heures refusée"]
    # their choice alone: a facilitator sees the contact but does not choose for them; nobody else takes it
    facilitator = auth("facilitator", CARCASSONNE, subject="claire")
    assert client.put(f"/api/v1/recipients/{given.json['id']}/subscriptions", headers=facilitator,
                      json={"subscriptions": []}).status_code == 403
    colleague = auth("contractor", CARCASSONNE, subject="compta@batiments-sud.example", siret=SIRET)
    assert client.put(mine, headers=colleague, json=address).status_code == 409
    # a facilitator's address registered by an operator becomes hers when she gives it
    registered = recipient(client, operator, CARCASSONNE, "Claire Martin", "claire.martin@carcassonne-agglo.example")
    adopted = client.put(mine, headers=facilitator, json={
        "territory": CARCASSONNE, "name": "Claire Martin", "email": "claire.martin@carcassonne-agglo.example"})
    assert adopted.status_code == 200 and (adopted.json["id"], adopted.json["own"]) == (registered["id"], True)

    apply_lot_awarded(lot_event("lot.awarded", start_date="2026-01-01", end_date="2026-12-31", quota_hours=100))

    def rejected(declaration_id):
        apply_declaration(Event(type="declaration.rejected", producer="hours", key="lot-1",
                                territories=[CARCASSONNE], payload={
                                    "declaration_id": declaration_id, "lot_id": "lot-1", "participant_id": "p-42",
                                    "month": "2026-05", "centihours": 700, "mode": "direct_hire",
                                    "territory": CARCASSONNE, "contractor_siret": SIRET, "reason": "contrat absent"}))
    rejected("d-1")
    mail.start()
    cli(app, "deliver-pending")
    assert [m["Subject"] for m in mail.to("paie@batiments-sud.example")] == [
        "[Clauses sociales] Déclaration d'heures refusée — 2026-CA-014, lot 1"]

    assert client.delete(mine, headers=staff).status_code == 204  # erased: the address and its choices
    assert client.get(mine, headers=staff).status_code == 404
    assert "paie@batiments-sud.example" not in client.get("/api/v1/recipients", headers=operator).get_data(True)
    assert client.delete(mine, headers=staff).status_code == 404
    rejected("d-2")
    cli(app, "deliver-pending")
    assert len(mail.to("paie@batiments-sud.example")) == 1


def test_facilitators_acknowledge_and_resolve_buyers_read_their_own_operators_see_deliveries(
        app, client, operator, auth, mail):
    from notifications.handlers import apply_lot_event
    apply_lot_event(lot_event())
    other_buyer = lot_event(lot_id="lot-7", lot_number=7, buyer_id="another-buyer", territories=[DEPARTEMENT])
    apply_lot_event(other_buyer)
    narbonne = auth("facilitator", NARBONNE, subject="sophie")
    alert = client.get("/api/v1/alerts", headers=narbonne).json[0]
    assert (alert["status"], alert["kind"], alert["territories"]) == ("open", "at_risk", [CARCASSONNE, NARBONNE])

    buyer = auth("buyer", CARCASSONNE, buyer_id=BUYER_ID)
    assert [a["lot_id"] for a in client.get("/api/v1/alerts", headers=buyer).json] == ["lot-1"]
    assert client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=buyer).status_code == 403
    assert client.post(f"/api/v1/alerts/{alert['id']}/acknowledge",
                       headers=auth("facilitator", DEPARTEMENT)).status_code == 403
    acknowledged = client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=narbonne).json
    assert (acknowledged["status"], acknowledged["acknowledged_by"], acknowledged["read"]) == (
        "acknowledged", "sophie", True)
    resolved = client.post(f"/api/v1/alerts/{alert['id']}/resolve", headers=narbonne,
                           json={"note": "Relance de l'entreprise faite le 12 mai."})
    assert resolved.json["status"] == "resolved" and resolved.json["resolution_note"].startswith("Relance")
    assert client.get("/api/v1/alerts", headers=narbonne, query_string={"status": "open"}).json == []
    assert len(client.get("/api/v1/alerts", headers=narbonne, query_string={"status": "resolved"}).json) == 1

    # back on track: an information, and the lot's open risk alerts are settled
    apply_lot_event(lot_event(lot_id="lot-7", lot_number=7, buyer_id="another-buyer", territories=[DEPARTEMENT],
                              previous_status="at_risk", status="on_track", realised_hours=90.0))
    departement = auth("facilitator", DEPARTEMENT)
    kinds = {a["kind"]: a["status"] for a in client.get("/api/v1/alerts", headers=departement).json}
    assert kinds == {"back_on_track": "open", "at_risk": "resolved"}

    assert client.get("/api/v1/deliveries", headers=buyer).status_code == 403
    assert client.post("/api/v1/deliveries/x/retry", headers=narbonne).status_code == 403
    assert client.post("/api/v1/deliveries/x/retry", headers=operator).status_code == 404
    bad = client.put("/api/v1/recipients/nope/subscriptions", headers=operator, json={"subscriptions": []})
    assert bad.status_code == 404
    created = recipient(client, operator, NARBONNE, "Sophie Garcia", "sophie.garcia@legrandnarbonne.example")
    invalid = client.put(f"/api/v1/recipients/{created['id']}/subscriptions", headers=operator,
                         json={"subscriptions": [{"kind": "tout", "channel": "pigeon", "mode": "parfois"}]})
    assert invalid.status_code == 422 and set(invalid.json["errors"]["subscriptions"]["0"]) == {
        "kind", "channel", "mode"}
    outside = client.put(f"/api/v1/recipients/{created['id']}/subscriptions",
                         headers=auth("facilitator", CARCASSONNE), json={"subscriptions": []})
    assert outside.status_code == 403
    paused = client.patch(f"/api/v1/recipients/{created['id']}", headers=narbonne, json={"active": False})
    assert paused.status_code == 200 and paused.json["active"] is False
    contractor_missing = client.post("/api/v1/recipients", headers=operator, json={
        "territory": NARBONNE, "name": "X", "email": "x@example.org", "audience": "contractor"})
    assert contractor_missing.status_code == 422 and "contractor_siret" in contractor_missing.json["errors"]


def test_the_service_refuses_to_start_on_bad_delivery_settings(service_env, monkeypatch):
    from notifications.app import load
    from plumbing.settings import SettingsError
    service_env("notifications", SMTP_PORT="0", NOTIFICATIONS_PUBLIC_URL="pas-une-adresse",
                NOTIFICATIONS_END_APPROACHING_RATIO="1.5", NOTIFICATIONS_DIGEST_TIMEZONE="Mars/Olympus",
                SMTP_FROM="personne")
    with pytest.raises(SettingsError) as refused:
        load()
    for name in ("SMTP_PORT", "NOTIFICATIONS_PUBLIC_URL", "NOTIFICATIONS_END_APPROACHING_RATIO",
                 "NOTIFICATIONS_DIGEST_TIMEZONE", "SMTP_FROM"):
        assert name in str(refused.value)  # every problem at once
