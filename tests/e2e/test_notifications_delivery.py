"""A two-territory market falls at risk on the local stack: one e-mail per subscribed facilitator of each
territory (through the stack's SMTP sink), one signed webhook call, one feed entry — and nothing again
when the same events are replayed."""
import email
import time
from datetime import date, timedelta
from email import policy

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from demo import CARCASSONNE, DEMO_FACILITATORS, DEPARTEMENT, NARBONNE, Slice
from support import WebhookReceiver, produce, read_topic, wait_until

pytestmark = pytest.mark.e2e


def mails_about(config, reference: str) -> list:
    """The e-mails the SMTP sink stored whose subject names this market."""
    found = []
    for path in sorted(config.mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if reference in message["Subject"]:
            found.append(message)
    return found


LAST_LAG: dict = {}  # what the last check found not yet consumed (shown when the wait gives up)


def consumed_everything(config, topics: list[str]) -> bool:
    """The notifications worker's consumer group has committed the end of these topics."""
    admin = KafkaAdminClient(bootstrap_servers=config.kafka_bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=config.kafka_bootstrap)
    try:
        partitions = [TopicPartition(topic, p) for topic in topics for p in consumer.partitions_for_topic(topic)]
        group = config.topic("notifications")
        committed = admin.list_group_offsets({group: partitions})[group]
        ends = consumer.end_offsets(partitions)
        behind = {f"{tp.topic}/{tp.partition}": (getattr(committed.get(tp), "offset", None), ends[tp])
                  for tp in partitions if max(getattr(committed.get(tp), "offset", 0), 0) < ends[tp]}
        LAST_LAG.clear()
        LAST_LAG.update(behind)
        return not behind
    finally:
        consumer.close()
        admin.close()


def test_a_two_territory_market_at_risk_is_mailed_to_each_territory_signed_to_a_webhook_and_fed_once(stack):
    platform, _ = stack
    config = platform.config
    operator = platform.token("operator", CARCASSONNE, NARBONNE, DEPARTEMENT, subject="operator")
    # the seed subscribed one facilitator per territory; Narbonne gets a second one, and one who chose none
    second = platform.call("POST", "notifications", "/api/v1/recipients", operator, {
        "territory": NARBONNE, "name": "Nadia Roussel", "email": f"nadia.roussel.{time.time_ns()}@legrandnarbonne.example",
        "organisation": "Le Grand Narbonne"})
    platform.call("PUT", "notifications", f"/api/v1/recipients/{second['id']}/subscriptions", operator,
                  {"subscriptions": [{"kind": "at_risk", "channel": "email", "mode": "immediate"}]})
    platform.call("POST", "notifications", "/api/v1/recipients", operator, {
        "territory": NARBONNE, "name": "Sans Abonnement", "email": f"sans.{time.time_ns()}@legrandnarbonne.example"})
    receiver = WebhookReceiver()
    try:
        system = platform.call("POST", "notifications", "/api/v1/recipients", operator, {
            "territory": CARCASSONNE, "name": "SI de Carcassonne Agglo",
            "email": f"si.{time.time_ns()}@carcassonne-agglo.example"})
        receiver.secret = platform.call("PUT", "notifications", f"/api/v1/recipients/{system['id']}/webhook",
                                        operator, {"url": receiver.url})["secret"]
        platform.call("PUT", "notifications", f"/api/v1/recipients/{system['id']}/subscriptions", operator,
                      {"subscriptions": [{"kind": "at_risk", "channel": "webhook", "mode": "immediate"}]})

        s = Slice(platform, reference=f"E2E-NOTIF-{time.time_ns()}")
        today = date.today()
        start, end = today - timedelta(days=300), today + timedelta(days=65)  # 82 of 100 hours expected today
        lot = s.create_lot(amount_excl_vat=120_000, market=s.create_market(start_date=start.isoformat(),
                                                                            end_date=end.isoformat()))
        api_key = s.award(lot)
        participant_id = s.eligible_participant(eligible_from=start.replace(day=1).isoformat())
        declared = s.declare(api_key, lot["id"], participant_id, f"{start:%Y-%m}", 50)
        assert declared.get("status") in ("submitted", "validated"), declared  # refused lines say why
        wait_until(lambda: s.lot(lot["id"])["progress"]["status"] == "at_risk", timeout=60, what="at risk")

        expected = {DEMO_FACILITATORS[CARCASSONNE][1], DEMO_FACILITATORS[NARBONNE][1], second["email"]}
        mails = wait_until(lambda: len(m := mails_about(config, s.reference)) >= 3 and m, timeout=60,
                           what="three e-mails")
        wait_until(lambda: receiver.accepted, timeout=60, what="the webhook call")
        time.sleep(2)  # several delivery rounds: a second copy would show now
        mails = mails_about(config, s.reference)
        assert sorted(m["X-Envelope-To"] for m in mails) == sorted(expected)
        for message in mails:
            assert message["Subject"] == f"[Clauses sociales] Lot à risque — {s.reference}, lot 1"
            text = message.get_body(("plain",)).get_content()
            assert "Réhabilitation du groupe scolaire Jean-Jaurès" in text and "Gros œuvre" in text
            assert f"{config.url('markets')}/api/v1/lots/{lot['id']}" in text
            assert "Camille" not in text and "Exemple" not in text and participant_id not in text
        assert len(receiver.calls) == 1 and receiver.calls[0]["valid"]
        hook = receiver.accepted[0]["alerts"]
        assert [(a["kind"], a["lot_id"], a["territories"]) for a in hook] == [
            ("at_risk", lot["id"], [CARCASSONNE, NARBONNE])]
        feed = s.alerts(NARBONNE, lot["id"])
        assert [a["kind"] for a in feed] == ["at_risk"]
        assert s.alerts(CARCASSONNE, lot["id"]) == feed
        assert s.alerts(DEPARTEMENT, lot["id"]) == []
        log = platform.call("GET", "notifications", f"/api/v1/deliveries?alert_id={feed[0]['id']}", operator)
        assert sorted(d["channel"] for d in log) == ["email", "email", "email", "webhook"]
        assert all(d["status"] == "sent" and len(d["attempts"]) == 1 for d in log)

        # the lot's events, from the hours service and the markets service, delivered once more
        replayed = 0
        for name in ("hours.events", "markets.events"):
            for record in read_topic(config.kafka_bootstrap, config.topic(name), expect=10_000, timeout=5):
                if record.key == lot["id"].encode():
                    produce(config.kafka_bootstrap, config.topic(name), record.value, key=record.key)
                    replayed += 1
        assert replayed >= 3
        try:
            wait_until(lambda: consumed_everything(config, [config.topic("hours.events"),
                                                            config.topic("markets.events")]),
                       timeout=60, what="the notifications worker to consume the replays")
        except TimeoutError:
            raise AssertionError(f"not consumed (committed, end) per partition: {LAST_LAG}") from None
        time.sleep(2)
        assert len(mails_about(config, s.reference)) == 3
        assert len(receiver.calls) == 1
        assert [a["kind"] for a in s.alerts(NARBONNE, lot["id"])] == ["at_risk"]
        assert len(platform.call("GET", "notifications", f"/api/v1/deliveries?alert_id={feed[0]['id']}",
                                 operator)) == 4
    finally:
        receiver.close()
