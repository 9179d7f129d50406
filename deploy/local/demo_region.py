"""The demo region's bulk, through the services' APIs only: markets of every nature across the territories,
lots in every progress status with their contractors, participants of every public, months of declarations
(validated, refused with a reason, waiting for a facilitator) and the alerts they raise.

    seed_region(platform)                                    # the run command's region: 30 markets, 60 lots
    seed_region(platform, RegionSize(markets=500, participants=2000, team=3))   # bench/web_pages.py

Deterministic (seeded randoms, one per market and per person, so a plan never depends on answers' order)
and idempotent: markets are found by reference, people by names and birth date (the participants service's
look-alike check), lines by lot, participant and month (the hours service refuses a second one); only what
is missing is created, and a line's fate (validated, rejected, waiting) is applied only to a line waiting.
"""
import math
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from plumbing.validation import luhn_valid

from demo import (CARCASSONNE, DEMO_BUYERS, DEMO_CONTRACTOR, DEMO_TERRITORIES, DEPARTEMENT, NARBONNE,
                  READ_CACHE_SECONDS, Platform)

TERRITORIES = list(DEMO_TERRITORIES)
BULK_TIMEOUT_S = 300  # a batch of lines or of validations, on a busy machine
SEED = 13


def siret(first13: str) -> str:
    """A SIRET with a valid check key: the 13 digits given and the 14th that makes it pass."""
    return next(first13 + str(d) for d in range(10) if luhn_valid(first13 + str(d)))


REGION_BUYERS = DEMO_BUYERS + [
    {"name": "Alogea, office public de l'habitat", "siret": siret("2711002110001"), "buyer_type": "social_landlord",
     "territory": CARCASSONNE},
    {"name": "Centre hospitalier de Narbonne", "siret": siret("2611000430001"), "buyer_type": "hospital",
     "territory": NARBONNE},
    {"name": "Commune de Limoux", "siret": siret("2111020600001"), "buyer_type": "commune", "territory": DEPARTEMENT},
    {"name": "Préfecture de l'Aude", "siret": siret("1300000110001"), "buyer_type": "state", "territory": DEPARTEMENT},
]
STATE_BUYER = REGION_BUYERS[-1]
COMPANIES = [DEMO_CONTRACTOR] + [(siret(first13), name) for first13, name in [
    ("4012345670001", "Travaux Publics de la Montagne Noire"), ("5023456780001", "Narbonne Rénovation"),
    ("3034567890001", "Propreté Audoise"), ("8045678900001", "Les Jardins du Minervois"),
    ("7056789010001", "Restauration Collective Occitane")]]
# By nature: titles (a place is added), CPV codes, the companies that win them and their labour share.
NATURES = {
    "works": (["Réhabilitation du groupe scolaire", "Construction d'une crèche",
               "Rénovation énergétique de la mairie",
               "Aménagement des berges", "Voirie et réseaux du quartier", "Extension du gymnase",
               "Réfection des logements sociaux", "Restauration des remparts"],
              ["45214200-2", "45453000-7", "45233140-2", "45211000-9"], COMPANIES[:3], None),
    "services": (["Nettoyage des bâtiments communaux", "Entretien des espaces verts", "Collecte des encombrants"],
                 ["90910000-9", "77310000-6", "90511000-2"], COMPANIES[3:5], 0.6),
    "supplies": (["Fourniture de repas pour la restauration scolaire", "Fourniture de mobilier de bureau"],
                 ["55520000-1", "39130000-2"], COMPANIES[5:], 0.3),
}
NATURE_OF = ["works"] * 5 + ["services"] * 2 + ["supplies"]  # by market index: mostly works, as in the field
PLACES = ["Jean-Jaurès", "La Cité", "Saint-Just", "Razimbaud", "Bastide", "Les Capucins", "Ozanam", "Viguerie",
          "Montredon", "Saint-Jean Saint-Pierre", "Port-la-Nouvelle", "Lézignan"]
TRADES = ["masonry", "interior_painting", "steel_framing"]
LOT_TITLES = {"works": ["Gros œuvre", "Peinture et revêtements", "Charpente métallique"],
              "services": ["Secteur nord", "Secteur sud", "Secteur centre"],
              "supplies": ["Livraison et service", "Installation", "Maintenance"]}
LOTS_PER_MARKET = [2, 1, 3, 2, 2]  # 2 on average: 30 markets, 60 lots
# Where a market stands today, by its index modulo 15; the rest are running.
PHASES = {0: "draft", 1: "awarded", 2: "starting", 3: "closed", 4: "ending"}
# What the running lots' validated hours make of them, in turn.
RUNNING_TARGETS = ["on_track", "at_risk", "behind", "on_track", "reached", "at_risk", "behind", "on_track"]
REJECTION_REASONS = ["Heures non justifiées par le bulletin de paie du mois.",
                     "Le contrat de travail transmis ne couvre pas ce mois.",
                     "Doublon d'une ligne déjà déclarée par le sous-traitant."]
FIRST_NAMES = {"female": ["Camille", "Léa", "Manon", "Inès", "Chloé", "Sarah", "Nadia", "Fatima", "Julie", "Emma",
                          "Yasmine", "Lucie", "Aïcha", "Sophie", "Océane"],
               "male": ["Lucas", "Hugo", "Karim", "Mehdi", "Thomas", "Nicolas", "Yanis", "Kevin", "Julien", "Enzo",
                        "Mathis", "Rachid", "Antoine", "Bruno", "Sébastien"]}
LAST_NAMES = ["Martin", "Bernard", "Garcia", "Roux", "Fabre", "Benali", "Vidal", "Lopez", "Sanchez", "Mercier",
              "Blanc", "Guerrero", "Cazals", "Bousquet", "Rouquette", "Fernandez", "Marty", "Gauthier", "Bonnet",
              "Amrani", "Estève", "Pujol", "Sabatier", "Castel", "Baptiste"]
COMMUNES = {CARCASSONNE: ["Carcassonne", "Trèbes", "Pennautier", "Conques-sur-Orbiel"],
            DEPARTEMENT: ["Limoux", "Castelnaudary", "Quillan", "Lézignan-Corbières"],
            NARBONNE: ["Narbonne", "Port-la-Nouvelle", "Coursan", "Gruissan"]}
# Every public the clauses count: (criterion, what else it needs), by person in turn.
PUBLICS = [("long_term_job_seeker", {"months": 18}), ("minimum_benefit", {"benefit": "RSA"}),
           ("under_26_low_qualification", {}), ("job_seeker_50_plus", {}), ("rqth", {}),
           ("minimum_benefit", {"benefit": "ASS"}), ("siae_employee", {}), ("long_term_job_seeker", {"months": 30}),
           ("prescriber_derogation", {"reason": "Sortie de détention, accompagnement renforcé par le SPIP."}),
           ("minimum_benefit", {"benefit": "AAH"})]


@dataclass(frozen=True)
class RegionSize:
    markets: int = 30
    participants: int = 150
    team: int = 1  # people on each running lot at least (the benchmark raises it for the number of lines)


@dataclass
class LotPlan:
    number: int
    title: str
    amount: int
    labour_share: float | None
    trade: str | None
    company: tuple[str, str]
    target: str | None  # the progress status its validated hours make (None: no hours)


@dataclass
class MarketPlan:
    index: int
    reference: str
    title: str
    buyer: dict
    nature: str
    cpv: str
    clause_kind: str
    associated: list[str]
    state_market: bool
    start: date
    end: date
    phase: str
    lots: list[LotPlan] = field(default_factory=list)

    @property
    def status(self) -> str:
        return {"draft": "draft", "awarded": "awarded", "closed": "closed"}.get(self.phase, "in_execution")


@dataclass(frozen=True)
class PersonPlan:
    index: int
    territory: str
    identity: dict
    criterion: dict | None  # None: registered, eligibility not yet validated
    eligible_from: date | None
    exit: dict | None


def first_of_month(day: date, months: int = 0) -> date:
    return day.replace(day=1) + relativedelta(months=months)


def plan_markets(size: RegionSize, today: date) -> list[MarketPlan]:
    markets, running = [], 0
    for i in range(size.markets):
        rng = random.Random(f"{SEED}-market-{i}")
        phase = PHASES.get(i % 15, "running")
        nature = NATURE_OF[i % len(NATURE_OF)]
        titles, cpvs, companies, labour_share = NATURES[nature]
        buyer = STATE_BUYER if i % 15 == 6 else REGION_BUYERS[i % (len(REGION_BUYERS) - 1)]
        start, end = {  # lots have their market's dates
            "draft": (first_of_month(today, rng.randint(2, 5)), first_of_month(today, rng.randint(14, 30))),
            "awarded": (first_of_month(today, 1), first_of_month(today, rng.randint(12, 24))),
            "starting": (today + timedelta(days=rng.randint(3, 20)), first_of_month(today, rng.randint(12, 24))),
            "closed": (first_of_month(today, -rng.randint(20, 26)), first_of_month(today, -rng.randint(1, 3))),
            "ending": (first_of_month(today, -rng.randint(10, 16)), today + timedelta(days=rng.randint(15, 50))),
            "running": (first_of_month(today, -rng.randint(3, 16)), first_of_month(today, rng.randint(3, 24))),
        }[phase]
        market = MarketPlan(
            index=i, reference=f"DEMO-REGION-{i + 1:03d}", title=f"{titles[i % len(titles)]} {rng.choice(PLACES)}",
            buyer=buyer, nature=nature, cpv=rng.choice(cpvs),
            clause_kind=rng.choice(["execution_condition"] * 3 + ["award_criterion", "reserved_contract"]),
            associated=[t for t in TERRITORIES if t != buyer["territory"]] if i % 15 == 5 else [],
            state_market=buyer is STATE_BUYER, start=start, end=end, phase=phase)
        for number in range(1, LOTS_PER_MARKET[i % len(LOTS_PER_MARKET)] + 1):
            target = {"draft": None, "awarded": None, "starting": None, "closed": "closed_with_shortfall",
                      "ending": "at_risk"}.get(phase)
            if phase == "running":
                target, running = RUNNING_TARGETS[running % len(RUNNING_TARGETS)], running + 1
            # a quota a team can reach within its months
            amount = rng.randrange(60_000, 180_000, 1000) if target == "reached" else rng.randrange(
                150_000, 2_500_000, 10_000)
            market.lots.append(LotPlan(number, LOT_TITLES[nature][number - 1], amount, labour_share,
                                       TRADES[number - 1] if nature == "works" else None,
                                       companies[(i + number) % len(companies)], target))
        markets.append(market)
    return markets


def plan_people(size: RegionSize, today: date) -> list[PersonPlan]:
    """Mostly eligible; some registered only, some ended their path, some whose counting window ends soon."""
    people = []
    for i in range(size.participants):
        rng = random.Random(f"{SEED}-person-{i}")
        territory = TERRITORIES[i % len(TERRITORIES)]
        code, extra = PUBLICS[i % len(PUBLICS)]
        sex = "female" if i % 2 else "male"
        # birth years fixed in time: the same person on any day the seed runs
        year = {"under_26_low_qualification": 2004, "job_seeker_50_plus": 1968}.get(code, rng.randint(1975, 1995))
        identity = {"first_name": FIRST_NAMES[sex][i % 15], "last_name": LAST_NAMES[(i // 15 + i) % len(LAST_NAMES)],
                    "birth_date": date(year, rng.randint(1, 12), rng.randint(1, 28)).isoformat(), "sex": sex,
                    "commune": rng.choice(COMMUNES[territory]), "qpv": rng.random() < 0.35}
        kind = i % 20
        if kind == 19:
            eligible_from = None  # registered today, eligibility to be checked
        elif kind == 18:  # counting window ends within the month
            eligible_from = today - relativedelta(months=24) + timedelta(days=rng.randint(5, 25))
        else:
            eligible_from = first_of_month(today, -rng.randint(19, 20))
        exit_ = None
        if kind == 17:
            exit_ = {"outcome": rng.choice(["permanent_contract", "fixed_term_6_months_plus", "training"]),
                     "exit_date": (today - timedelta(days=rng.randint(5, 40))).isoformat()}
        people.append(PersonPlan(i, territory, identity, {"code": code, **extra} if eligible_from else None,
                                 eligible_from, exit_))
    return people


class RegionSeeder:
    def __init__(self, platform: Platform, size: RegionSize, today: date | None = None, out=print):
        self.p, self.size, self.out = platform, size, out
        self.today = today or date.today()
        self.facilitator = platform.token("facilitator", *TERRITORIES, subject="demo-region")
        self.markets = plan_markets(size, self.today)
        self.people = plan_people(size, self.today)

    def all_pages(self, service: str, path: str) -> list[dict]:
        items, page = [], 1
        while True:
            found = self.p.call("GET", service, f"{path}{'&' if '?' in path else '?'}page={page}&page_size=100",
                                self.facilitator)
            items += found
            if len(found) < 100:
                return items
            page += 1

    # --- the parties -------------------------------------------------------------------------------------
    def buyers(self) -> dict[str, str]:
        for buyer in REGION_BUYERS:
            self.p.call("POST", "markets", "/api/v1/buyers", self.facilitator, buyer, expect=(201, 409))
        return {b["siret"]: b["id"] for b in self.all_pages("markets", "/api/v1/buyers")}

    def companies(self) -> None:
        """Each company known to the hours service, with its payroll software's API key."""
        for number, (company_siret, name) in enumerate(COMPANIES):
            territory = TERRITORIES[number % len(TERRITORIES)]
            if self.p.call("GET", "hours", f"/api/v1/contractors/{company_siret}", self.facilitator,
                           expect=(200, 404)).get("status") == 404:
                self.p.call("POST", "hours", "/api/v1/contractors", self.facilitator,
                            {"siret": company_siret, "name": name, "territory": territory})
            keys = self.p.call("GET", "hours", f"/api/v1/contractors/{company_siret}/api-keys", self.facilitator)
            if not keys:
                self.p.call("POST", "hours", f"/api/v1/contractors/{company_siret}/api-keys", self.facilitator,
                            {"label": "logiciel de paie"})

    def person(self, plan: PersonPlan) -> str:
        registered = self.p.call("POST", "participants", "/api/v1/participants", self.facilitator,
                                 {"territory": plan.territory, **plan.identity}, expect=(201, 409))
        person_id = registered.get("id") or registered["existing_id"]
        status = registered.get("status") or self.p.call("GET", "participants", f"/api/v1/participants/{person_id}",
                                                         self.facilitator)["status"]
        if plan.criterion and status == "registered":
            seen = min(plan.eligible_from - timedelta(days=20), self.today)
            self.p.call("POST", "participants", f"/api/v1/participants/{person_id}/eligibility", self.facilitator, {
                "criteria": [plan.criterion], "eligible_from": plan.eligible_from.isoformat(),
                "evidence": {"kind": "attestation du prescripteur", "reference": f"DEMO-{plan.index:05d}",
                             "date": seen.isoformat(), "prescriber": "France Travail"}})
            status = "eligible"
        if plan.exit and status == "eligible":
            self.p.call("POST", "participants", f"/api/v1/participants/{person_id}/exit", self.facilitator, plan.exit)
        return person_id

    # --- markets and lots --------------------------------------------------------------------------------
    def market(self, plan: MarketPlan, buyer_ids: dict, known: dict) -> list[tuple[MarketPlan, LotPlan, dict]]:
        market = known.get(plan.reference) or self.p.call("POST", "markets", "/api/v1/markets", self.facilitator, {
            "reference": plan.reference, "title": plan.title, "buyer_id": buyer_ids[plan.buyer["siret"]],
            "nature": plan.nature, "cpv_code": plan.cpv, "clause_kind": plan.clause_kind,
            "lead_territory": plan.buyer["territory"], "associated_territories": plan.associated,
            "state_market": plan.state_market, "start_date": plan.start.isoformat(),
            "end_date": plan.end.isoformat()})
        lots = {lot["number"]: lot for lot in self.p.call("GET", "markets", f"/api/v1/markets/{market['id']}/lots",
                                                          self.facilitator)}
        for lot in plan.lots:
            if lot.number not in lots:
                lots[lot.number] = self.p.call("POST", "markets", f"/api/v1/markets/{market['id']}/lots",
                                               self.facilitator, {
                    "number": lot.number, "title": lot.title, "amount_excl_vat": lot.amount,
                    **({"trade": lot.trade} if lot.trade else {"labour_share": lot.labour_share, "hourly_cost": 30}),
                    "insertion_rate": 0.05 if lot.target != "reached" else 0.1})
            if plan.phase != "draft" and not lots[lot.number].get("contractor_siret"):
                company_siret, name = lot.company
                lots[lot.number] = self.p.call("POST", "markets", f"/api/v1/lots/{lots[lot.number]['id']}/award",
                                               self.facilitator, {"contractor_siret": company_siret,
                                                                  "contractor_name": name})
                market["status"] = "awarded" if market["status"] == "draft" else market["status"]  # awarding did
        status = market["status"]
        for step in ("awarded", "in_execution"):  # closed ones close once their hours are in
            if status != plan.status and step in _after(status) and step in _up_to(plan.status):
                self.p.call("POST", "markets", f"/api/v1/markets/{market['id']}/status", self.facilitator,
                            {"status": step})
                status = step
        return [(plan, lot, {**lots[lot.number], "market_status": status}) for lot in plan.lots]

    # --- the hours -----------------------------------------------------------------------------------------
    def lines(self, lots, person_ids: list[str]) -> list[tuple[dict, str]]:
        """Every line the region's lots hold, each with its fate: validated, rejected:<reason> or waiting. The
        validated hours of a lot make its target status against what is expected of it today."""
        pool = [person_ids[p.index] for p in self.people if p.criterion and not p.exit]
        used: dict[tuple[str, str], float] = {}  # (person, month): hours, under the monthly ceiling
        lines, turn = [], 0
        for market, plan, lot in lots:
            if plan.target is None or lot["market_status"] not in ("in_execution", "completed", "closed"):
                continue
            rng = random.Random(f"{SEED}-{market.reference}-{plan.number}")
            months = _months(max(market.start, first_of_month(self.today, -18)),
                             min(market.end, first_of_month(self.today, -1)))
            if not months:
                continue
            quota, expected = lot["quota"]["hours"], lot["progress"]["expected_hours"]
            total = {"on_track": min(expected * rng.uniform(1.0, 1.15), quota * 0.97),
                     "at_risk": expected * rng.uniform(0.62, 0.75), "behind": expected * rng.uniform(0.15, 0.4),
                     "reached": quota * 1.01, "closed_with_shortfall": quota * rng.uniform(0.5, 0.8)}[plan.target]
            waiting = plan.target != "closed_with_shortfall" and len(months) > 1 and turn % 3 == 0
            counted = months[:-1] if waiting else months
            team_size = max(self.size.team, min(10, math.ceil(total / (len(counted) * 60))))
            team = [pool[(turn * 7 + k) % len(pool)] for k in range(team_size)]
            halves = total / (len(counted) * team_size) * 2  # half hours; a quota to reach is rounded up
            each = max(1.0, (math.ceil(halves) if plan.target == "reached" else round(halves)) / 2)
            fates = [(month, "validated") for month in counted] + [(months[-1], "waiting")] * waiting
            for month, fate in fates:
                for person in team:
                    lines.append((self._line(used, lot["id"], person, month, each), fate))
            if turn % 4 == 1:  # a line the facilitator refuses, with the reason the company reads
                other = pool[(turn * 7 + team_size) % len(pool)]
                lines.append((self._line(used, lot["id"], other, months[-1], 35),
                              "rejected:" + REJECTION_REASONS[turn % len(REJECTION_REASONS)]))
            turn += 1
        return [(line, fate) for line, fate in lines if line["hours"] > 0]

    @staticmethod
    def _line(used: dict, lot_id: str, person: str, month: date, hours: float) -> dict:
        key = (person, f"{month:%Y-%m}")
        hours = min(hours, 200 - used.get(key, 0))
        used[key] = used.get(key, 0) + max(hours, 0)
        return {"lot_id": lot_id, "participant_id": person, "month": key[1], "hours": hours, "mode": "direct_hire",
                "contract_type": "insertion"}

    def declare(self, lines: list[dict], lots) -> dict:
        """Every company posts its lines in batches, as its staff member (the hours service learns lots and
        people from events: a line refused for not knowing them yet is sent again)."""
        siret_of = {lot["id"]: lot["contractor_siret"] for _, _, lot in lots if lot["market_status"] == "in_execution"}
        by_company: dict[str, list[dict]] = {}
        for line in lines:  # a closed market's lines were declared before it closed
            if line["lot_id"] in siret_of:
                by_company.setdefault(siret_of[line["lot_id"]], []).append(line)
        not_yet = {"lot_not_held", "lot_not_in_execution", "participant_unknown", "participant_not_eligible"}
        report = {"accepted": 0, "duplicates": 0}
        for company_siret, pending in by_company.items():
            staff = self.p.token("contractor", *TERRITORIES, subject=f"paie-{company_siret}", siret=company_siret)
            deadline = time.monotonic() + 90
            while pending:
                retry = []
                for start in range(0, len(pending), 1000):
                    chunk = pending[start:start + 1000]
                    answer = self.p.call("POST", "hours", "/api/v1/declarations/batch", staff, {"lines": chunk},
                                         expect=(200, 207), timeout=BULK_TIMEOUT_S)
                    report["accepted"] += answer["accepted"]
                    for result in answer["results"]:
                        if result["status"] == "refused" and result.get("rule") in not_yet:
                            retry.append(chunk[result["index"]])
                        elif result["status"] == "refused" and result.get("rule") == "duplicate_line":
                            report["duplicates"] += 1
                        elif result["status"] == "refused":
                            raise RuntimeError(f"line refused: {result.get('rule')} {result.get('detail')}")
                if retry and time.monotonic() > deadline:
                    raise TimeoutError(f"{len(retry)} lines still refused: the hours service did not learn them")
                pending = retry
                if pending:
                    time.sleep(0.5)
        return report

    def judge(self, lines: list[tuple[dict, str]]) -> dict:
        """The facilitators reject the lines waiting whose fate is so, with its reason (the rest keep waiting)."""
        fate_of = {(line["lot_id"], line["participant_id"], line["month"]): fate for line, fate in lines}
        verdicts: dict[str, list[str]] = {}
        for waiting in self.all_pages("hours", "/api/v1/declarations?status=submitted"):
            fate = fate_of.get((waiting["lot_id"], waiting["participant_id"], waiting["month"]), "waiting")
            verdicts.setdefault(fate, []).append(waiting["id"])
        done = {}
        for fate, ids in verdicts.items():
            if not fate.startswith("rejected:"):
                continue
            for start in range(0, len(ids), 10):  # short requests: the service writes each line in turn
                self.p.call("POST", "hours", "/api/v1/declarations/reject", self.facilitator,
                            {"ids": ids[start:start + 10], "reason": fate.split(":", 1)[1]}, timeout=BULK_TIMEOUT_S)
            done["rejected"] = done.get("rejected", 0) + len(ids)
        return {**done, "waiting": len(verdicts.get("waiting", []))}

    def auto_validation(self, on: bool) -> None:
        for territory in TERRITORIES:
            self.p.call("PUT", "hours", f"/api/v1/declarations/territory-settings/{territory}", self.facilitator,
                        {"auto_validation": on})
        time.sleep(READ_CACHE_SECONDS)  # every web worker of the hours service reads the setting again

    def close(self, lots) -> None:
        """The ended markets close once their hours are in: their lots stay short of their quota."""
        ended = {lot["market_id"]: lot["market_status"] for market, _, lot in lots if market.phase == "closed"}
        for market_id, status in ended.items():
            for step in _after(status):  # hours counted after the closing still count, the lot stays closed
                self.p.call("POST", "markets", f"/api/v1/markets/{market_id}/status", self.facilitator,
                            {"status": step})

    def run(self) -> dict:
        started = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            buyer_ids = self.buyers()
            self.companies()
            person_ids = list(pool.map(self.person, self.people))
            known = {m["reference"]: m for m in self.all_pages("markets", "/api/v1/markets")}
            lots = [row for rows in pool.map(lambda m: self.market(m, buyer_ids, known), self.markets) for row in rows]
        self.out(f"Région de démonstration : {len(self.markets)} marchés, {len(lots)} lots, "
                 f"{len(person_ids)} participants ({time.perf_counter() - started:.0f} s).")
        lines = self.lines(lots, person_ids)
        # validated at once (the territories' setting the seed leaves on); then, with the setting off, the lines
        # a facilitator refuses and those still waiting for one
        sent = self.declare([line for line, fate in lines if fate == "validated"], lots)
        self.auto_validation(False)
        try:
            held = self.declare([line for line, fate in lines if fate != "validated"], lots)
            judged = {"validated": sent["accepted"], **self.judge(lines)}
        finally:
            self.auto_validation(True)  # as the seed leaves it for the stories
        sent = {name: sent[name] + held[name] for name in sent}
        self.close(lots)
        self.out(f"Région de démonstration : {len(lines)} lignes d'heures ({sent['accepted']} nouvelles), "
                 f"{judged.get('validated', 0)} validées, {judged.get('rejected', 0)} refusées, "
                 f"{judged['waiting']} en attente ({time.perf_counter() - started:.0f} s).")
        return {"markets": len(self.markets), "lots": lots, "participants": person_ids, "lines": len(lines),
                **sent, **judged, "seconds": time.perf_counter() - started}


MARKET_STEPS = ("draft", "awarded", "in_execution", "completed", "closed")


def _after(status: str) -> tuple[str, ...]:
    return MARKET_STEPS[MARKET_STEPS.index(status) + 1:]


def _up_to(status: str) -> tuple[str, ...]:
    return MARKET_STEPS[:MARKET_STEPS.index(status) + 1]


def _months(first: date, last: date) -> list[date]:
    months, month = [], first_of_month(first)
    while month <= last:
        months.append(month)
        month = first_of_month(month, 1)
    return months


def seed_region(platform: Platform, size: RegionSize = RegionSize(), out=print) -> dict:
    return RegionSeeder(platform, size, out=out).run()
