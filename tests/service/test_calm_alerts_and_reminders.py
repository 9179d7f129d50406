"""Calm alerts (a lot's status change mailed only after a quiet period without another change) and the
reporting calendar's reminders, through the notifications service's real worker and a real SMTP server."""
import time

import pytest
from plumbing.events import Event, encode

from support import MailServer, mail_parts, produce, wait_until
from test_notifications_service import CARCASSONNE, LOT, add_recipient, alerts

SIRET = "73282932000074"
QUIET_S = 3


@pytest.fixture
def mail():
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture
def client(service_env, mail):
    service_env("notifications", SMTP_HOST="127.0.0.1", SMTP_PORT=str(mail.port), SMTP_TIMEOUT_S="2",
                NOTIFICATIONS_DELIVERY_INTERVAL_S="0.1", NOTIFICATIONS_QUIET_PERIOD_S=str(QUIET_S))
    from notifications.app import create_app
    return create_app().test_client()


def subscribe(client, headers, recipient, *kinds):
    put = client.put(f"/api/v1/recipients/{recipient['id']}/subscriptions", headers=headers, json={
        "subscriptions": [{"kind": k, "channel": "email", "mode": "immediate"} for k in kinds]})
    assert put.status_code == 200, put.json


def status_changed(lot_id, previous, status, realised) -> Event:
    return Event(type="lot.status_changed", producer="markets", key=lot_id, territories=[CARCASSONNE], payload={
        **LOT, "lot_id": lot_id, "previous_status": previous, "status": status, "realised_hours": realised,
        "quota_hours": 833, "expected_hours": 400})


def test_a_change_replaced_or_reverted_within_the_quiet_period_is_not_mailed(
        client, auth, mail, start_worker, topic, infra):
    operator = auth("operator", CARCASSONNE)
    anne = add_recipient(client, operator, CARCASSONNE, "Anne Martin", "anne.martin@carcassonne-agglo.fr")
    subscribe(client, operator, anne, "at_risk", "behind", "back_on_track")
    start_worker("notifications")
    for event in (status_changed("lot-1", "behind", "at_risk", 300), status_changed("lot-1", "at_risk", "on_track", 380),
                  status_changed("lot-2", "on_track", "at_risk", 100), status_changed("lot-2", "at_risk", "on_track", 390)):
        produce(infra.kafka_bootstrap, topic("markets.events"), encode(event), key=b"lots")
    feed = wait_until(lambda: len(a := alerts(client, operator)) == 4 and a, timeout=30, what="four alerts in the feed")
    calm = {(a["lot_id"], a["kind"]): a["calm"] for a in feed}
    assert calm == {("lot-1", "at_risk"): "replaced", ("lot-1", "back_on_track"): "held",
                    ("lot-2", "at_risk"): "reverted", ("lot-2", "back_on_track"): "reverted"}
    reverted = next(a for a in feed if a["lot_id"] == "lot-2")
    assert reverted["calm_label"] == "Non envoyée : le lot est revenu à son état précédent pendant la période de calme"
    assert mail.messages == []  # nothing before the quiet period has passed
    wait_until(lambda: mail.messages, timeout=QUIET_S + 20, what="the one mail after the quiet period")
    time.sleep(2)
    assert len(mail.messages) == 1  # lot-1's "back on track" only; lot-2 went nowhere
    text, _ = mail_parts(mail.messages[0][1])
    assert "Lot revenu dans la trajectoire".upper() in text


def test_a_missing_month_reminds_the_company_twice_then_alerts_the_facilitators(
        client, auth, mail, start_worker, topic, infra):
    operator = auth("operator", CARCASSONNE)
    anne = add_recipient(client, operator, CARCASSONNE, "Anne Martin", "anne.martin@carcassonne-agglo.fr")
    subscribe(client, operator, anne, "declaration_missing")
    company = client.post("/api/v1/recipients", headers=operator, json={
        "territory": CARCASSONNE, "name": "Service paie BTP Aude", "email": "paie@btp-aude.example",
        "audience": "contractor", "contractor_siret": SIRET})
    assert company.status_code == 201, company.json  # no subscription: reminders are always mailed
    start_worker("notifications")
    for kind in ("first", "first", "second", "second"):  # each delivered twice
        event = Event(type="reporting.reminder_due", producer="hours", key="lot-1", territories=[CARCASSONNE],
                      payload={"contractor_siret": SIRET, "lot_id": "lot-1", "market_id": "market-1",
                               "month": "2026-02", "kind": kind, "due_date": "2026-03-10", "escalation_days": 5})
        produce(infra.kafka_bootstrap, topic("hours.events"), encode(event), key=b"lot-1")
    wait_until(lambda: len(mail.messages) >= 3, timeout=30, what="two reminders and one escalation")
    time.sleep(2)
    assert sorted(rcpts[0] for rcpts, _ in mail.messages) == [
        "anne.martin@carcassonne-agglo.fr", "paie@btp-aude.example", "paie@btp-aude.example"]
    texts = [mail_parts(message)[0] for _, message in mail.messages]
    assert any("les heures d'insertion de février 2026 étaient à déclarer au plus tard le 10 mars 2026" in t
               for t in texts)
    assert any("Seconde relance" in t for t in texts)
    assert any("malgré deux relances" in t for t in texts)
    seen = client.get("/api/v1/alerts", headers={"X-API-Key": "nope"})
    assert seen.status_code == 401
