"""The month's follow-up on the local stack, over HTTP and the real SMTP sink: a company declares months
without hours (through the API and the upload), is reminded twice of the missing one, then the facilitators
are alerted; one bulk validation of 40 lines mails each facilitator once at most."""
import time
from datetime import date, timedelta

import pytest

from support.stacks import QUIET_PERIOD_S
from demo import (CARCASSONNE, DEMO_CONTRACTOR, DEMO_CONTRACTOR_CONTACT, DEMO_FACILITATORS, NARBONNE, Slice,
                  next_month, remind_declarations)
from support import events_of, read_topic, sunk_mails, wait_until

pytestmark = pytest.mark.e2e
FACILITATORS = sorted({DEMO_FACILITATORS[CARCASSONNE][1], DEMO_FACILITATORS[NARBONNE][1]})


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def when_known(attempt, what: str):
    """Retry while the hours service has not yet learnt the lot from its events."""
    return wait_until(attempt, timeout=60, what=what)


def test_a_company_declares_months_without_hours_and_is_reminded_twice_of_the_missing_one_then_escalated(stack):
    platform, _ = stack
    config = platform.config
    s = Slice(platform, reference=f"E2E-CAL-{time.time_ns()}")
    m0 = (date.today() - timedelta(days=300)).replace(day=1)
    m1, m2 = next_month(m0), next_month(next_month(m0))
    lot = s.create_lot(market=s.create_market(start_date=m0.isoformat(),
                                              end_date=(date.today() + timedelta(days=65)).isoformat()))
    api_key = s.award(lot)
    hours = config.url("hours")

    # the first month through the API: an explicit zero with its reason
    def no_hours_by_api():
        answer = platform.http.post(f"{hours}/api/v1/declarations/no-hours", headers=api_key, json={
            "lot_id": lot["id"], "month": f"{m0:%Y-%m}", "reason": "Préparation du chantier, aucun recrutement"})
        return answer.status_code == 201 and answer.json()
    when_known(no_hours_by_api, "the month without hours accepted")
    # the second one through the upload: a row with the lot, the month, 0 hours and the reason
    header = platform.http.get(f"{hours}/api/v1/declarations/template.csv", headers=api_key) \
        .content.decode("utf-8-sig").splitlines()[0]
    assert header.endswith(";Motif si aucune heure")
    row = f"{lot['id']};;{m1:%m/%Y};0;;;;;;Chantier à l'arrêt (intempéries)"
    uploaded = platform.http.post(f"{hours}/api/v1/declarations/upload", headers=api_key,
                                  files={"file": ("heures.csv", f"{header}\n{row}\n".encode())})
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["results"][0]["declaration_status"] == "no_hours"

    # the third month is missing: first reminder the day after its due date (the 10th of the next month)
    due = next_month(m2).replace(day=10)
    contact = DEMO_CONTRACTOR_CONTACT["email"]
    assert "1 premières" in remind_declarations(platform, due + timedelta(days=1))
    first = wait_until(lambda: sunk_mails(config, contact, "Relance"), timeout=60, what="the first reminder")
    remind_declarations(platform, due + timedelta(days=2))  # runs again: nothing new
    remind_declarations(platform, due + timedelta(days=4))
    time.sleep(2)
    assert len(sunk_mails(config, contact, "Relance")) == 1
    assert f"au plus tard le {due.day} " in text_of(first[0])

    # five days after the due date: the second reminder, and the facilitators of both territories alerted
    assert "1 secondes" in remind_declarations(platform, due + timedelta(days=5))
    reminders = wait_until(lambda: len(m := sunk_mails(config, contact, "Relance")) == 2 and m, timeout=60,
                           what="the second reminder")
    assert "Seconde relance" in text_of(reminders[1])
    escalated = wait_until(lambda: len(m := sunk_mails(config, about="manquante")) == 2 and m, timeout=60,
                           what="the facilitators' alert")
    assert sorted(m["X-Envelope-To"] for m in escalated) == FACILITATORS
    remind_declarations(platform, due + timedelta(days=6))
    time.sleep(2)  # several delivery rounds: a second copy would show now
    assert len(sunk_mails(config, contact, "Relance")) == 2 and len(sunk_mails(config, about="manquante")) == 2

    # the company and the facilitators read the same calendar: two months without hours, one missing
    for headers in (api_key, s.facilitator):
        calendar = platform.call("GET", "hours", f"/api/v1/contractors/{DEMO_CONTRACTOR[0]}/reporting", headers)
        months = {m["month"]: m for m in next(x for x in calendar["lots"] if x["lot_id"] == lot["id"])["months"]}
        assert [months[f"{m:%Y-%m}"]["no_hours_reason"] for m in (m0, m1)] == [
            "Préparation du chantier, aucun recrutement", "Chantier à l'arrêt (intempéries)"]
        assert months[f"{m2:%Y-%m}"]["state"] == "missing"


def test_one_bulk_validation_of_40_lines_mails_each_facilitator_once_at_most(stack):
    platform, _ = stack
    config = platform.config
    both = platform.token("facilitator", CARCASSONNE, NARBONNE, subject="claire.martin")
    for territory in (CARCASSONNE, NARBONNE):  # lines wait for a facilitator
        platform.call("PUT", "hours", f"/api/v1/declarations/territory-settings/{territory}", both,
                      {"auto_validation": False})
    s = Slice(platform, reference=f"E2E-BULK-{time.time_ns()}")
    today = date.today()
    start, end = today - timedelta(days=150), today + timedelta(days=30)  # 100 hours, 83 expected today
    lot = s.create_lot(amount_excl_vat=120_000, market=s.create_market(start_date=start.isoformat(),
                                                                        end_date=end.isoformat()))
    api_key = s.award(lot)
    participant_id = s.eligible_participant(eligible_from=start.replace(day=1).isoformat())
    months, month = [], next_month(start)
    for _ in range(4):
        months.append(month)
        month = next_month(month)
    lines = [{"lot_id": lot["id"], "participant_id": participant_id, "hours": 2, "mode": "direct_hire",
              "start_date": m.replace(day=day).isoformat(), "end_date": m.replace(day=day + 1).isoformat()}
             for m in months for day in range(1, 21, 2)]
    assert len(lines) == 40

    def declared():
        answer = platform.http.post(f"{config.url('hours')}/api/v1/declarations/batch", headers=api_key,
                                    json={"lines": lines, "all_or_nothing": True})
        return answer.status_code == 200 and answer.json()
    report = when_known(declared, "the 40 lines accepted")
    assert {r["declaration_status"] for r in report["results"]} == {"submitted"}
    wait_until(lambda: s.lot(lot["id"])["progress"]["status"] == "behind", timeout=60, what="the lot behind")
    wait_until(lambda: len(sunk_mails(config, about=s.reference)) == 2, timeout=60, what="the 'behind' mails")
    before = sunk_mails(config, about=s.reference)
    assert all("Lot en retard" in m["Subject"] for m in before)

    submitted = platform.call("GET", "hours", f"/api/v1/declarations?status=submitted&lot_id={lot['id']}"
                                              "&page_size=100", both)
    validated = platform.call("POST", "hours", "/api/v1/declarations/validate", both,
                              {"ids": [line["id"] for line in submitted]})
    assert validated["validated"] == 40
    wait_until(lambda: s.lot(lot["id"])["progress"]["status"] == "on_track", timeout=60, what="the lot on track")
    wait_until(lambda: len(sunk_mails(config, about=s.reference)) >= 4, timeout=60, what="the 'back on track' mails")
    time.sleep(QUIET_PERIOD_S + 2)  # anything held would be mailed by now
    seen = {m["Message-ID"] for m in before}
    after = [m for m in sunk_mails(config, about=s.reference) if m["Message-ID"] not in seen]
    assert sorted(m["X-Envelope-To"] for m in after) == FACILITATORS  # one mail each
    assert all("Lot revenu dans la trajectoire" in m["Subject"] for m in after)
    # the lot's status changed once, straight from behind to on track
    changes = [(e["payload"]["previous_status"], e["payload"]["status"]) for e in events_of(
        read_topic(config.kafka_bootstrap, config.topic("markets.events"), expect=10_000, timeout=5))
        if e["type"] == "lot.status_changed" and e["payload"]["lot_id"] == lot["id"]]
    assert changes[-1] == ("behind", "on_track") and ("behind", "at_risk") not in changes
    assert [a["kind"] for a in s.alerts(NARBONNE, lot["id"])].count("at_risk") == 0
