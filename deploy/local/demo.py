"""The demo region and the end-to-end slice, driven over HTTP like any client would.

    .venv/bin/python deploy/local/demo.py slice      # against a running local stack

The run command seeds the region with ``seed()``; the end-to-end tests drive ``Slice``.
"""
import argparse
import os
import subprocess
import sys
import time
from datetime import date, timedelta

import requests
from plumbing.auth import issue_token
from plumbing.region import Region, load_region

from stack import SERVICES, StackConfig

# The demo region is the Aude one-stop shop; its people are its partner structures' mailboxes, on
# reserved example domains only (RFC 2606).
DEMO_REGION = load_region(StackConfig.region_file)
DEMO_TERRITORIES = {t.id: t.name for t in DEMO_REGION.territories.values()}
CARCASSONNE, DEPARTEMENT, NARBONNE = DEMO_TERRITORIES


def partner_recipients(region: Region) -> list[dict]:
    """The facilitators to alert: each partner structure of each territory, at its e-mail address."""
    return [{"territory": t.id, "name": p.service or p.name, "email": p.email, "organisation": p.name}
            for t in region.territories.values() for p in t.partners]


DEMO_FACILITATORS = {r["territory"]: (r["name"], r["email"]) for r in partner_recipients(DEMO_REGION)}
DEMO_CONTRACTOR = ("73282932000074", "Bâtiments du Sud Aude")
# The company's contact who receives the reporting calendar's reminders.
DEMO_CONTRACTOR_CONTACT = {"territory": CARCASSONNE, "name": "Service paie — Bâtiments du Sud Aude",
                           "email": "paie@batiments-sud-aude.example", "organisation": DEMO_CONTRACTOR[1],
                           "audience": "contractor", "contractor_siret": DEMO_CONTRACTOR[0]}
# SIRETs with a valid check key; the organisations are the territory's, the numbers are made up.
DEMO_BUYERS = [
    {"name": "Commune de Carcassonne", "siret": "21110069000018", "buyer_type": "commune",
     "territory": CARCASSONNE},
    {"name": "Carcassonne Agglo", "siret": "20005712500011", "buyer_type": "intercommunality",
     "territory": CARCASSONNE},
    {"name": "Département de l'Aude", "siret": "22000111000018", "buyer_type": "departement",
     "territory": DEPARTEMENT},
    {"name": "Commune de Narbonne", "siret": "21110262100011", "buyer_type": "commune", "territory": NARBONNE},
]
# The region's reference table starts from the domain notes' figures.
DEMO_TRADES = {
    "interior_painting": {"label": "Peinture intérieure", "labour_share": "0.70"},
    "masonry": {"label": "Maçonnerie", "labour_share": "0.50"},
    "steel_framing": {"label": "Charpente métallique", "labour_share": "0.20"},
}


class Platform:
    """A small HTTP client for the services of one stack."""

    def __init__(self, config: StackConfig):
        self.config = config
        self.http = requests.Session()

    def token(self, role: str, *territories: str, subject: str | None = None, siret: str | None = None) -> dict:
        """A bearer token's header; a company's staff member (role contractor) carries its ``siret``."""
        token = issue_token(self.config.jwt_secret, subject or f"demo-{role}", role, list(territories), siret=siret)
        return {"Authorization": f"Bearer {token}"}

    def call(self, method: str, service: str, path: str, headers=None, json=None, expect=(200, 201, 204),
             timeout: float = 30):
        response = self.http.request(method, self.config.url(service) + path, headers=headers, json=json,
                                     timeout=timeout)
        if response.status_code not in expect:
            raise RuntimeError(f"{method} {service}{path} -> {response.status_code}: {response.text}")
        return response.json() if response.content else None

    def wait_ready(self, timeout: float = 90) -> None:
        for service in SERVICES:
            poll(lambda: self._ready(self.config.url(service)), timeout, f"{service} ready")
        poll(lambda: self._ready(self.config.web_app_url), timeout, "web application ready")

    def _ready(self, url: str) -> bool:
        try:
            return self.http.get(url + "/health/ready", timeout=5).status_code == 200
        except requests.RequestException:
            return False


def poll(predicate, timeout: float = 30.0, what: str = "condition", interval: float = 0.1):
    """Call ``predicate`` until it returns something truthy and return that; TimeoutError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f}s waiting for {what() if callable(what) else what}")
        time.sleep(interval)


def seed(platform: Platform, stories: bool = False, region: bool = False) -> None:
    """The stack's region: the reference table of trades and its partner structures' facilitators to
    alert by e-mail. For the Aude demo, also a few buyers, and lines validated at once (each territory's
    hours settings override the region file's default) so that the slice reaches its quota alone; with
    ``region``, a region that looks alive (demo_region.py: markets, lots in every status, participants,
    months of declarations, alerts); with ``stories``, the follow-up stories too (an exit recorded late, an
    eligibility renewed)."""
    stack_region = load_region(platform.config.region_file)
    demo_region = stack_region.id == DEMO_REGION.id
    operator = platform.token("operator", *stack_region.territories)
    facilitator = platform.token("facilitator", *stack_region.territories, subject="demo-seed")
    for code, trade in DEMO_TRADES.items():
        platform.call("PUT", "markets", f"/api/v1/trades/{code}", operator,
                      {**trade, "hourly_cost": "30", "insertion_rate": "0.05"})
    if demo_region:
        for buyer in DEMO_BUYERS:
            platform.call("POST", "markets", "/api/v1/buyers", facilitator, buyer, expect=(201, 409))
        for territory in DEMO_TERRITORIES:
            platform.call("PUT", "hours", f"/api/v1/declarations/territory-settings/{territory}", facilitator,
                          {"auto_validation": True})
    recipients = partner_recipients(stack_region)
    known = {r["email"] for r in platform.call("GET", "notifications", "/api/v1/recipients?page_size=100",
                                               operator) or []}
    for recipient in recipients:
        if recipient["email"] not in known:
            platform.call("POST", "notifications", "/api/v1/recipients", operator, recipient)
    subscribe(platform, operator, {r["email"] for r in recipients})
    if demo_region and DEMO_CONTRACTOR_CONTACT["email"] not in known:
        # reminders reach a company's contacts without any subscription
        platform.call("POST", "notifications", "/api/v1/recipients", operator, DEMO_CONTRACTOR_CONTACT)
    if region and demo_region:
        from demo_region import seed_region  # it builds on this module's demo people
        seed_region(platform)
    if stories and demo_region:
        run_followup_stories(platform)


# The alerts each partner structure receives by e-mail as soon as they are raised.
DEMO_SUBSCRIPTIONS = [{"kind": kind, "channel": "email", "mode": "immediate"} for kind in (
    "at_risk", "behind", "back_on_track", "quota_reached", "no_declaration", "end_approaching", "window_ending",
    "next_step_due", "declaration_missing")]


def subscribe(platform: Platform, operator: dict, emails: set[str]) -> None:
    """These recipients subscribe by e-mail to the alerts of their territory (mails land in the local
    SMTP sink's folder)."""
    for recipient in platform.call("GET", "notifications", "/api/v1/recipients?page_size=100", operator) or []:
        if recipient["email"] in emails:
            platform.call("PUT", "notifications", f"/api/v1/recipients/{recipient['id']}/subscriptions", operator,
                          {"subscriptions": DEMO_SUBSCRIPTIONS})


class Slice:
    """A market sized by the formula, awarded, a participant made eligible, hours declared, an alert."""

    def __init__(self, platform: Platform, reference: str | None = None):
        self.p = platform
        self.reference = reference or f"DEMO-{int(time.time())}"
        self.facilitator = platform.token("facilitator", CARCASSONNE, subject="claire.martin")

    def buyer_id(self, siret: str = DEMO_BUYERS[0]["siret"]) -> str:
        """The demo buyer's id, registering it when the region was not seeded."""
        buyers = self.p.call("GET", "markets", f"/api/v1/buyers?territory={CARCASSONNE}&page_size=100",
                             self.facilitator)
        known = [b["id"] for b in buyers if b["siret"] == siret]
        if known:
            return known[0]
        return self.p.call("POST", "markets", "/api/v1/buyers", self.facilitator,
                           next(b for b in DEMO_BUYERS if b["siret"] == siret))["id"]

    def create_market(self, start_date="2026-01-01", end_date="2027-06-30", associated=(NARBONNE,)) -> dict:
        return self.p.call("POST", "markets", "/api/v1/markets", self.facilitator, {
            "reference": self.reference, "title": "Réhabilitation du groupe scolaire Jean-Jaurès",
            "buyer_id": self.buyer_id(), "nature": "works", "cpv_code": "45214200-2",
            "clause_kind": "execution_condition", "lead_territory": CARCASSONNE,
            "associated_territories": list(associated), "start_date": start_date, "end_date": end_date})

    def create_lot(self, amount_excl_vat=1_000_000, labour_share=0.5, insertion_rate=0.05, hourly_cost=30,
                   market=None):
        market = market or self.create_market()
        return self.p.call("POST", "markets", f"/api/v1/markets/{market['id']}/lots", self.facilitator, {
            "number": 1, "title": "Gros œuvre", "trade": "masonry", "amount_excl_vat": amount_excl_vat,
            "labour_share": labour_share, "insertion_rate": insertion_rate, "hourly_cost": hourly_cost})

    def award(self, lot: dict) -> dict:
        siret, name = DEMO_CONTRACTOR
        self.p.call("POST", "markets", f"/api/v1/lots/{lot['id']}/award", self.facilitator,
                    {"contractor_siret": siret, "contractor_name": name})
        # hours are declared on a market in execution (the hours service refuses them before)
        self.p.call("POST", "markets", f"/api/v1/markets/{lot['market_id']}/status", self.facilitator,
                    {"status": "in_execution"})
        if self.p.call("GET", "hours", f"/api/v1/contractors/{siret}", self.facilitator, expect=(200, 404)) \
                .get("status") == 404:
            self.p.call("POST", "hours", "/api/v1/contractors", self.facilitator,
                        {"siret": siret, "name": name, "territory": CARCASSONNE})
        key = self.p.call("POST", "hours", f"/api/v1/contractors/{siret}/api-keys", self.facilitator,
                          {"label": "logiciel de paie"})
        return {"X-API-Key": key["api_key"]}

    def eligible_participant(self, first_name="Camille", last_name="Exemple", eligible_from="2026-01-01") -> str:
        person = self.p.call("POST", "participants", "/api/v1/participants", self.facilitator, {
            "territory": CARCASSONNE, "first_name": first_name, "last_name": last_name,
            "birth_date": "1990-04-12", "sex": "female", "commune": "Carcassonne", "qpv": True,
            "confirm_new": True})  # the demo may run many times on the same data
        self.grant(person["id"], eligible_from, "FT-2025-118")
        return person["id"]

    def grant(self, participant_id: str, eligible_from: str, reference: str, reason: str | None = None) -> dict:
        """Grant (or renew) eligibility on evidence dated shortly before entry (never in the future)."""
        seen = min(date.fromisoformat(eligible_from), date.today()).replace(day=1).isoformat()
        return self.p.call("POST", "participants", f"/api/v1/participants/{participant_id}/eligibility",
                           self.facilitator, {
                               "criteria": [{"code": "long_term_job_seeker", "months": 18}],
                               "evidence": {"kind": "attestation France Travail", "reference": reference,
                                            "date": seen, "prescriber": "France Travail Carcassonne"},
                               "eligible_from": eligible_from, **({"reason": reason} if reason else {})})

    def participant(self, participant_id: str) -> dict:
        return self.p.call("GET", "participants", f"/api/v1/participants/{participant_id}", self.facilitator)

    def record_exit(self, participant_id: str, exit_date: str, outcome: str = "permanent_contract") -> dict:
        return self.p.call("POST", "participants", f"/api/v1/participants/{participant_id}/exit", self.facilitator,
                           {"outcome": outcome, "exit_date": exit_date})

    def exit_reviews(self, participant_id: str) -> list:
        return [line for line in self.p.call("GET", "hours", "/api/v1/declarations/exit-reviews?page_size=100",
                                             self.facilitator) if line["participant_id"] == participant_id]

    def review_exit(self, declaration_id: str, decision: str, reason: str) -> dict:
        return self.p.call("POST", "hours", f"/api/v1/declarations/{declaration_id}/exit-review", self.facilitator,
                           {"decision": decision, "reason": reason})

    def attempt(self, api_key: dict, lot_id: str, participant_id: str, month: str, hours: float = 120) -> dict:
        """One line, accepted (201) or refused (422, with its rule)."""
        return self.p.call("POST", "hours", "/api/v1/declarations", api_key, {
            "lot_id": lot_id, "participant_id": participant_id, "month": month, "hours": hours,
            "mode": "direct_hire", "contract_type": "cdd"}, expect=(201, 422))

    def declare(self, api_key: dict, lot_id: str, participant_id: str, month: str, hours: float,
                wait: float = 60) -> dict:
        """Post one line; while the hours service has not yet learnt the lot or the participant from
        their events, the line is refused, so retry until it has (bounded)."""
        line = {"lot_id": lot_id, "participant_id": participant_id, "month": month, "hours": hours,
                "mode": "direct_hire", "contract_type": "cdd"}
        not_yet = {"lot_not_held", "lot_not_in_execution", "participant_unknown"}
        refused = set()

        def attempt():
            body = self.p.call("POST", "hours", "/api/v1/declarations", api_key, line, expect=(201, 422))
            refused.add(body.get("rule"))
            return None if body.get("rule") in not_yet else body
        return poll(attempt, wait, lambda: f"the hours service to learn the lot and the participant "
                                           f"(refused as {', '.join(sorted(map(str, refused)))})")

    def lot(self, lot_id: str) -> dict:
        return self.p.call("GET", "markets", f"/api/v1/lots/{lot_id}", self.facilitator)

    def alerts(self, territory: str, lot_id: str) -> list:
        headers = self.p.token("facilitator", territory, subject=f"facilitator-{territory}")
        return [a for a in self.p.call("GET", "notifications", "/api/v1/alerts", headers)
                if a["lot_id"] == lot_id]


def run_slice(platform: Platform, out=print) -> dict:
    s = Slice(platform)
    lot = s.create_lot()
    out(f"1. Marché {s.reference}, lot 1 « Gros œuvre » : quota de {lot['quota']['hours']} heures "
        "(1 000 000 € × 50 % × 5 % ÷ 30 €/h).")
    api_key = s.award(lot)
    out(f"2. Lot attribué à {DEMO_CONTRACTOR[1]} (SIRET {DEMO_CONTRACTOR[0]}), clé d'API remise.")
    participant_id = s.eligible_participant()
    out(f"3. Participant éligible enregistré, référence opaque {participant_id}.")
    months = [f"2026-{m:02d}" for m in range(1, 6)]
    for month in months:
        s.declare(api_key, lot["id"], participant_id, month, 170)
    out(f"4. L'entreprise a déclaré 5 × 170 heures ({', '.join(months)}).")
    progress = poll(lambda: (p := s.lot(lot["id"])["progress"])["status"] == "reached" and p, 60,
                     "the lot to reach its quota")
    out(f"5. Heures réalisées sur le lot : {progress['realised_hours']:g} h — {progress['status_label']}.")
    alerts = poll(lambda: [a for a in s.alerts(NARBONNE, lot["id"]) if a["kind"] == "quota_reached"], 60,
                   "the quota-reached alert")
    out(f"6. Alerte pour les facilitateurs de Carcassonne Agglo et du Grand Narbonne : "
        f"{alerts[0]['title']} — {alerts[0]['message']}")
    return {"lot": lot, "progress": progress, "alerts": alerts, "participant_id": participant_id}


READ_CACHE_SECONDS = 2.5  # the hours service's web workers may answer from what they read this long ago


def run_exit_story(platform: Platform, out=print) -> dict:
    """An exit recorded late: the lines after it are flagged, a facilitator confirms one and rejects the
    other (out of the lot's count), and a line for a later month is refused."""
    s = Slice(platform)
    lot = s.create_lot()
    api_key = s.award(lot)
    participant_id = s.eligible_participant(first_name="Maëlys", last_name="Sortie")
    lines = {month: s.declare(api_key, lot["id"], participant_id, month, 120) for month in ("2026-02", "2026-03",
                                                                                            "2026-04")}
    out(f"1. Participante {participant_id} : 3 × 120 heures déclarées (février à avril 2026) et validées.")
    s.record_exit(participant_id, "2026-02-28")
    flagged = poll(lambda: len(found := s.exit_reviews(participant_id)) == 2 and found, 60,
                   "the lines after the exit to be flagged")
    out("2. Sortie en CDI au 28/02/2026 enregistrée tardivement : les lignes de mars et d'avril sont signalées "
        "aux facilitateurs.")
    confirmed = s.review_exit(lines["2026-03"]["id"], "confirm",
                              "Fin de contrat d'insertion effective le 31/03 : heures de mars maintenues")
    rejected = s.review_exit(lines["2026-04"]["id"], "reject", "Heures postérieures à la sortie en CDI")
    out("3. La facilitatrice confirme mars et rejette avril : avril ne compte plus sur le lot.")
    progress = poll(lambda: (p := s.lot(lot["id"])["progress"])["realised_hours"] == 240 and p, 60,
                    "the lot to count February and March only")
    time.sleep(READ_CACHE_SECONDS)
    refused = s.attempt(api_key, lot["id"], participant_id, "2026-05")
    out(f"4. Une ligne de mai est refusée : {refused.get('detail')}")
    return {"lot": lot, "participant_id": participant_id, "lines": lines, "flagged": flagged,
            "confirmed": confirmed, "rejected": rejected, "progress": progress, "refused": refused}


def run_eligibility_history_story(platform: Platform, out=print) -> dict:
    """Eligibility granted, revoked, renewed: the history is shown, and each line is judged under the
    decision in force over its month."""
    s = Slice(platform)
    lot = s.create_lot()
    api_key = s.award(lot)
    participant_id = s.eligible_participant(first_name="Yanis", last_name="Historique")
    s.p.call("POST", "participants", f"/api/v1/participants/{participant_id}/eligibility/revoke", s.facilitator,
             {"reason": "Déménagement hors du département", "revoked_on": "2026-02-28"})
    s.grant(participant_id, "2026-05-01", "FT-2026-442", reason="Retour sur le territoire, nouvelle attestation")
    history = s.participant(participant_id)["eligibility_history"]
    out(f"1. Participant {participant_id} : " + ", ".join(
        f"{d['kind_label']} le {d['effective_on']}" for d in history) + ".")
    june = poll(lambda: "id" in (r := s.attempt(api_key, lot["id"], participant_id, "2026-06")) and r,
                60, "the hours service to learn the renewal")
    time.sleep(READ_CACHE_SECONDS)  # every web worker's cache now holds the revocation and the renewal
    february = s.attempt(api_key, lot["id"], participant_id, "2026-02")
    march = s.attempt(api_key, lot["id"], participant_id, "2026-03")
    out("2. Février compte sous la première décision, juin sous le renouvellement ; mars est refusé : "
        f"{march.get('detail')}")
    return {"participant_id": participant_id, "history": history, "june": june, "february": february,
            "march": march}


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def remind_declarations(platform: Platform, today: date) -> str:
    """The hours service's daily command (the run command's scheduler plays it), run as on ``today``; the
    operator's equivalent is ``deploy/local/manage.sh hours remind-declarations --today <date>``."""
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "hours.wsgi", "remind-declarations",
                           "--today", today.isoformat()], env={**os.environ, **platform.config.service_env("hours")},
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"remind-declarations --today {today} -> {done.returncode}: {done.stdout}{done.stderr}")
    return done.stdout.strip()


def run_reporting_story(platform: Platform, out=print) -> dict:
    """A company declares two months without hours, forgets the third: reminded at its due date, reminded
    again with the facilitators alerted a few days later; the calendar shows each month's state."""
    s = Slice(platform)
    m0 = (date.today() - timedelta(days=300)).replace(day=1)  # the e2e test's calendar
    m1, m2 = next_month(m0), next_month(next_month(m0))
    lot = s.create_lot(market=s.create_market(start_date=m0.isoformat(),
                                              end_date=(date.today() + timedelta(days=65)).isoformat()))
    api_key = s.award(lot)
    reasons = {m0: "Préparation du chantier, aucun recrutement", m1: "Chantier à l'arrêt (intempéries)"}
    for month, reason in reasons.items():
        poll(lambda: platform.http.post(f"{platform.config.url('hours')}/api/v1/declarations/no-hours",
                                        headers=api_key, json={"lot_id": lot["id"], "month": f"{month:%Y-%m}",
                                                               "reason": reason}, timeout=30).status_code == 201,
             60, "the hours service to learn the lot")
    out(f"1. Lot {lot['id']} : l'entreprise déclare {m0:%m/%Y} et {m1:%m/%Y} sans heures, avec leur motif ; "
        f"{m2:%m/%Y} reste sans déclaration.")
    due = next_month(m2).replace(day=10)
    for day in (due + timedelta(days=1), due + timedelta(days=5)):
        out(f"2. remind-declarations --today {day} (deploy/local/manage.sh hours …) : "
            f"{remind_declarations(platform, day)}")
    calendar = platform.call("GET", "hours", f"/api/v1/contractors/{DEMO_CONTRACTOR[0]}/reporting", s.facilitator)
    months = next(x for x in calendar["lots"] if x["lot_id"] == lot["id"])["months"]
    out(f"3. Calendrier GET /api/v1/contractors/{DEMO_CONTRACTOR[0]}/reporting : " + ", ".join(
        f"{m['month']} {m['state']}" for m in months if m["month"] <= f"{m2:%Y-%m}") + ".")
    return {"lot": lot, "months": months}


def run_bulk_validation_story(platform: Platform, out=print) -> dict:
    """Forty lines waiting for a facilitator, validated at once: the lot goes from behind to on track in a
    single status change (one alert, not forty)."""
    s = Slice(platform)
    both = platform.token("facilitator", CARCASSONNE, NARBONNE, subject="claire.martin")
    today = date.today()
    start, end = today - timedelta(days=150), today + timedelta(days=30)  # 100 hours, 83 expected today
    lot = s.create_lot(amount_excl_vat=120_000, market=s.create_market(start_date=start.isoformat(),
                                                                        end_date=end.isoformat()))
    api_key = s.award(lot)
    participant_id = s.eligible_participant(first_name="Inès", last_name="Lot", eligible_from=start.replace(
        day=1).isoformat())
    months = [next_month(start)]
    while len(months) < 4:
        months.append(next_month(months[-1]))
    lines = [{"lot_id": lot["id"], "participant_id": participant_id, "hours": 2, "mode": "direct_hire",
              "start_date": m.replace(day=day).isoformat(), "end_date": m.replace(day=day + 1).isoformat()}
             for m in months for day in range(1, 21, 2)]
    settings = f"/api/v1/declarations/territory-settings/{NARBONNE}"  # the lot's associated territory
    platform.call("PUT", "hours", settings, both, {"auto_validation": False})  # its lines wait for a facilitator
    try:
        time.sleep(READ_CACHE_SECONDS)
        poll(lambda: platform.http.post(f"{platform.config.url('hours')}/api/v1/declarations/batch", headers=api_key,
                                        json={"lines": lines, "all_or_nothing": True}, timeout=60).status_code == 200,
             60, "the hours service to learn the lot and the participant")
    finally:
        platform.call("PUT", "hours", settings, both, {"auto_validation": True})  # as the seed left it
    poll(lambda: s.lot(lot["id"])["progress"]["status"] == "behind", 60, "the lot behind")
    out(f"1. Lot {lot['id']} : {len(lines)} lignes de 2 heures en attente de validation, le lot est en retard.")
    submitted = platform.call("GET", "hours", f"/api/v1/declarations?status=submitted&lot_id={lot['id']}"
                                              "&page_size=100", both)
    validated = platform.call("POST", "hours", "/api/v1/declarations/validate", both,
                              {"ids": [line["id"] for line in submitted]})
    poll(lambda: s.lot(lot["id"])["progress"]["status"] == "on_track", 60, "the lot on track")
    kinds = poll(lambda: "back_on_track" in (k := [a["kind"] for a in s.alerts(CARCASSONNE, lot["id"])]) and k,
                 60, "the 'back on track' alert")
    out(f"2. Validation groupée de {validated['validated']} lignes : le lot revient dans la trajectoire en un "
        f"seul changement de statut (alertes du lot : {', '.join(kinds)}).")
    return {"lot": lot, "validated": validated, "alerts": kinds}


def run_followup_stories(platform: Platform, out=print) -> dict:
    return {"exit": run_exit_story(platform, out), "eligibility": run_eligibility_history_story(platform, out),
            "reporting": run_reporting_story(platform, out), "bulk": run_bulk_validation_story(platform, out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["slice", "seed", "followup"])
    parser.add_argument("--base-port", type=int, default=8100)
    args = parser.parse_args()
    platform = Platform(StackConfig(data_dir=None, base_port=args.base_port))
    platform.wait_ready()
    if args.command == "seed":
        seed(platform, stories=True, region=True)
    elif args.command == "followup":
        run_followup_stories(platform)
    else:
        run_slice(platform)


if __name__ == "__main__":
    sys.exit(main())
