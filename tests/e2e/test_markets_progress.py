"""A two-territory market followed through Kafka: at risk, back on track, reached — each said once."""
from datetime import date, timedelta

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
