"""One declaration flowing through the services, over HTTP and Kafka only."""
import json
import signal

import pytest

from demo import NARBONNE, Slice, run_slice
from support import assert_realised_hours_settle_at, produce, read_topic, wait_until

pytestmark = pytest.mark.e2e


def test_a_declaration_moves_the_quota_and_alerts_every_territory_of_the_market(stack):
    platform, _ = stack
    outcome = run_slice(platform, out=lambda line: None)

    assert outcome["lot"]["quota"]["hours"] == 833
    assert outcome["progress"]["realised_hours"] == 850
    assert outcome["progress"]["status"] == "reached"
    alert = outcome["alerts"][0]
    assert alert["kind"] == "quota_reached"
    assert "850" in alert["message"] and "833" in alert["message"]
    slice_ = Slice(platform)
    assert slice_.alerts("aude-carcassonne-agglo", outcome["lot"]["id"])  # the lead territory too
    assert not slice_.alerts("aude-departement", outcome["lot"]["id"])  # not a territory of this market


def test_a_killed_markets_worker_loses_nothing_and_counts_nothing_twice(stack):
    platform, processes = stack
    s = Slice(platform)
    lot = s.create_lot(amount_excl_vat=10_000_000)  # 8 333 hours: the run below stays under it
    api_key = s.award(lot)
    participants = [s.eligible_participant(first_name=f"Personne{i}") for i in range(6)]
    months = [f"2026-{m:02d}" for m in range(1, 9)]
    lines = [(p, m, 20 + (i % 7) * 10.25) for i, (p, m) in enumerate((p, m) for p in participants for m in months)]
    expected = sum(hours for _, _, hours in lines)

    for index, (participant_id, month, hours) in enumerate(lines):
        if index == len(lines) // 3:
            wait_until(lambda: s.lot(lot["id"])["progress"]["realised_hours"] > 0, what="some hours applied")
            processes.kill("markets-worker")  # SIGKILL, mid-run
        s.declare(api_key, lot["id"], participant_id, month, hours)
    processes.restart("markets-worker")

    assert_realised_hours_settle_at(s, lot["id"], expected)


def test_a_malformed_event_goes_to_the_dead_letter_topic_and_the_next_one_is_applied(stack):
    platform, _ = stack
    config = platform.config
    s = Slice(platform)
    lot = s.create_lot(amount_excl_vat=12_000)  # 10 hours
    api_key = s.award(lot)
    participant_id = s.eligible_participant()

    produce(config.kafka_bootstrap, config.topic("hours.events"),
            b'{"type": "declaration.validated", "payload": "garbage"}',
            key=lot["id"].encode())
    s.declare(api_key, lot["id"], participant_id, "2026-02", 12)

    wait_until(lambda: s.lot(lot["id"])["progress"]["status"] == "reached", what="the good event applied")
    dead = [r for r in read_topic(config.kafka_bootstrap, config.topic("markets.deadletter"), expect=1, timeout=30)
            if r.key == lot["id"].encode()]
    assert dead, "the malformed event is not on the dead-letter topic"
    headers = dict(dead[0].headers)
    assert b"not an event envelope" in headers["dead-letter-reason"]
    assert headers["source-topic"] == config.topic("hours.events").encode()
    assert json.loads(dead[0].value)["payload"] == "garbage"


def test_a_worker_stops_cleanly_on_sigterm_and_the_logs_hold_no_personal_data(stack):
    platform, processes = stack
    s = Slice(platform)
    s.eligible_participant(first_name="Apolline", last_name="Vérancourt")

    assert processes.kill("notifications-worker", signal.SIGTERM) == 0
    last = json.loads(processes.log("notifications-worker").strip().splitlines()[-1])
    assert last["message"] == "worker stopped"
    processes.restart("notifications-worker")
    platform.call("GET", "observatory", "/api/v1/observatory/public")  # its web log holds a request too

    for name in processes.specs:
        if name.endswith(("-web", "-worker")):
            log = processes.log(name)
            for secret in ("Apolline", "Vérancourt", "Camille", "Exemple", "1990-04-12", "FT-2025-118"):
                assert secret not in log, f"{secret} appears in the {name} log"
            json_lines = [line for line in log.splitlines() if line.startswith("{")]
            assert json_lines and all(json.loads(line)["service"] for line in json_lines)
