"""A contractor's batch sent twice with the same Idempotency-Key counts once on the lot, and a
correction moves the lot's progress by exactly the difference — over HTTP and Kafka only."""
import time

import pytest

from demo import Slice
from support import wait_until

pytestmark = pytest.mark.e2e


def test_a_retried_batch_counts_once_and_a_correction_moves_progress_by_the_difference(stack):
    platform, _ = stack
    s = Slice(platform)
    lot = s.create_lot(amount_excl_vat=10_000_000)  # 8 333 hours: the lines below stay under it
    api_key = s.award(lot)
    participants = [s.eligible_participant(first_name=f"Lot{i}") for i in range(3)]
    # one January line each, posted until the hours service has learnt the lot and each participant
    first, *_ = [s.declare(api_key, lot["id"], p, "2026-01", 10) for p in participants]
    lines = [{"lot_id": lot["id"], "participant_id": p, "month": f"2026-{m:02d}", "hours": 20 + m + i / 4,
              "mode": "direct_hire", "contract_type": "cdd"}
             for i, p in enumerate(participants) for m in range(2, 7)]
    expected = 30 + sum(line["hours"] for line in lines)
    headers = {**api_key, "Idempotency-Key": f"paie-{lot['id']}"}

    answers = [platform.http.post(platform.config.url("hours") + "/api/v1/declarations/batch", headers=headers,
                                  json={"lines": lines}, timeout=60) for _ in range(2)]

    assert [a.status_code for a in answers] == [200, 200]
    assert answers[1].json() == answers[0].json() and answers[0].json()["accepted"] == len(lines)
    wait_until(lambda: s.lot(lot["id"])["progress"]["realised_hours"] == expected, timeout=60,
               what=f"{expected} realised hours")

    corrected = platform.call("POST", "hours", f"/api/v1/declarations/{first['id']}/correct", api_key,
                              {"hours": 14.25, "reason": "heures de janvier recomptées"})
    assert corrected["supersedes"] == first["id"]
    wait_until(lambda: s.lot(lot["id"])["progress"]["realised_hours"] == expected + 4.25, timeout=60,
               what="the correction's difference counted")
    time.sleep(2)  # anything counted twice would show now
    assert s.lot(lot["id"])["progress"]["realised_hours"] == expected + 4.25
    history = platform.call("GET", "hours", f"/api/v1/declarations/{first['id']}/history", s.facilitator)
    assert [(v["hours"], v["status"]) for v in history["versions"]] == [(10, "superseded"), (14.25, "validated")]
