"""A two-territory market followed through Kafka: at risk, back on track, reached — each said once."""
import os
import signal
import subprocess
import sys
from datetime import date, timedelta

import pymongo
import pytest

from demo import CARCASSONNE, NARBONNE, Slice
from support import events_of, read_topic, wait_until

pytestmark = pytest.mark.e2e


def test_a_lot_goes_at_risk_back_on_track_then_reached_and_each_change_is_published_once(stack):
    platform, _ = stack
    s = Slice(platform)
    today = date.today()
    start, end = today - timedelta(days=300), today + timedelta(days=65)  # 82 of 100 hours expected today
    market = s.create_market(start_date=start.isoformat(), end_date=end.isoformat())
    lot = s.create_lot(amount_excl_vat=120_000, market=market)  # 120 000 × 50 % × 5 % ÷ 30 = 100 hours
    assert lot["quota"]["hours"] == 100
    api_key = s.award(lot)
    participant_id = s.eligible_participant(eligible_from=start.replace(day=1).isoformat())
    months = [f"{start + timedelta(days=31 * i):%Y-%m}" for i in range(3)]

    for month, hours, status in zip(months, (50, 20, 30), ("at_risk", "on_track", "reached")):
        s.declare(api_key, lot["id"], participant_id, month, hours)
        wait_until(lambda: s.lot(lot["id"])["progress"]["status"] == status, timeout=60, what=status)

    progress = platform.call("GET", "markets", f"/api/v1/lots/{lot['id']}/progress", s.facilitator)
    assert progress["realised_hours"] == 100
    assert progress["by_territory"] == {CARCASSONNE: {"realised_hours": 100.0, "declared_hours": 0.0}}
    config = platform.config
    events = [e for e in events_of(read_topic(config.kafka_bootstrap, config.topic("markets.events"), expect=10_000,
                                              timeout=5))
              if e["key"] == lot["id"]]
    changes = [e["payload"]["status"] for e in events if e["type"] == "lot.status_changed"]
    assert changes == ["at_risk", "on_track", "reached"]
    assert [e["type"] for e in events].count("lot.quota_reached") == 1
    assert all(e["territories"] == [CARCASSONNE, NARBONNE] for e in events)
    kinds = [a["kind"] for a in s.alerts(NARBONNE, lot["id"])]  # the associated territory is alerted too
    assert {"at_risk", "quota_reached"} <= set(kinds) and len(kinds) == len(set(kinds))


def test_an_operator_rebuilds_the_lots_progress_from_the_hours_topic_after_the_store_lost_it(stack):
    platform, processes = stack
    s = Slice(platform, "REBUILD")
    lots = [s.create_lot(amount_excl_vat=1_000_000) for _ in range(2)]
    keys = [s.award(lot) for lot in lots]
    people = [s.eligible_participant(first_name=name) for name in ("Rebâtie", "Refaite")]
    first = s.declare(keys[0], lots[0]["id"], people[0], "2026-02", 35)
    s.declare(keys[0], lots[0]["id"], people[1], "2026-02", 20)
    s.declare(keys[1], lots[1]["id"], people[0], "2026-03", 12.5)
    platform.call("POST", "hours", f"/api/v1/declarations/{first['id']}/correct", keys[0], {"hours": 30})
    expected = {lots[0]["id"]: 50, lots[1]["id"]: 12.5}
    for lot_id, hours in expected.items():
        wait_until(lambda: s.lot(lot_id)["progress"]["realised_hours"] == hours, 60, f"{lot_id} to count {hours} h")
    progress = {lot_id: platform.call("GET", "markets", f"/api/v1/lots/{lot_id}/progress", s.facilitator)
                for lot_id in expected}

    # the markets store restored from a backup older than these declarations: facts and totals gone
    env = {**os.environ, **processes.specs["markets-worker"][1]}
    with pymongo.MongoClient(platform.config.mongodb_url) as mongo:
        store = mongo[env["MONGODB_DB"]]
        store.lot_hours.delete_many({"lot_id": {"$in": list(expected)}})
        store.lots.update_many({"_id": {"$in": list(expected)}}, {"$set": {
            "realised_centihours": 0, "declared_centihours": 0, "progress_status": "not_started"}})
    assert s.lot(lots[0]["id"])["progress"]["realised_hours"] == 0

    argv = [sys.executable, "-m", "flask", "--app", "markets.wsgi", "rebuild-progress"]
    refused = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "arrêtez-le" in refused.stderr and "rien n'a été modifié" in refused.stderr
    assert s.lot(lots[0]["id"])["progress"]["realised_hours"] == 0
    processes.kill("markets-worker", signal.SIGTERM)

    def rebuild():
        run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
        return run if run.returncode == 0 else None
    done = wait_until(rebuild, 120, "the rebuild to run once the worker's group has no member")
    assert "Avancement reconstruit" in done.stdout and "2 lot(s) modifié(s)" in done.stdout, done.stdout
    for lot_id in expected:
        assert platform.call("GET", "markets", f"/api/v1/lots/{lot_id}/progress", s.facilitator) == progress[lot_id]

    # the worker goes on from where it was: what it reads again does not count twice, what is new counts
    processes.restart("markets-worker")
    s.declare(keys[1], lots[1]["id"], people[1], "2026-03", 7)
    wait_until(lambda: s.lot(lots[1]["id"])["progress"]["realised_hours"] == 19.5, 60, "the new line to count")
    assert s.lot(lots[0]["id"])["progress"]["realised_hours"] == 50
