"""A generator of DECP files (the open data on public contracts) following the published field names:
the JSON of schema 2.0 (``{"marches": {"marche": [...]}}``) and the consolidated CSV (one row per
contract version and contractor). Tests and the benchmark use it; no downloaded data.

    contract(...)                   one record of schema 2.0, with sensible defaults
    census(count, ...)              a national-like stream of records, some in the region
    write_json(path, records)       written as it is generated (a 500,000-record file never sits in memory)
    write_csv(path, records)        the consolidated tabular edition
"""
import csv
import json
import random
from datetime import date, timedelta

from plumbing.validation import luhn_valid

CPV_BY_DIVISION = {"45": ("45210000-2", "Travaux de construction de bâtiments"),
                   "90": ("90910000-9", "Services de nettoyage"),
                   "77": ("77310000-6", "Entretien des espaces verts"),
                   "55": ("55520000-1", "Restauration collective"),
                   "30": ("30190000-7", "Fournitures de bureau"),
                   "72": ("72000000-5", "Services informatiques")}
SOCIAL = ("Clause sociale", "Critère social", "Marché réservé")
NO_SOCIAL = "Pas de considération sociale"


def siret(siren: int, establishment: int = 1) -> str:
    """A SIRET with a right Luhn key: the SIREN, the establishment's number on four digits, the key."""
    base = f"{siren % 10 ** 9:09d}{establishment % 10 ** 4:04d}"
    return next(base + key for key in "0123456789" if luhn_valid(base + key))


def contract(id_: str, buyer: str, *, amount=150000, cpv="45", notified="2024-03-15", postal_code="11000",
             social=(NO_SOCIAL,), months=12, contractors=(), modifications=(), buyer_name=None, objet=None) -> dict:
    """One contract as schema 2.0 publishes it. ``cpv`` is a division of CPV_BY_DIVISION or a full code."""
    code, label = CPV_BY_DIVISION.get(cpv, (cpv, "Prestations"))
    record = {
        "id": id_, "acheteur": {"id": buyer}, "nature": "Marché", "objet": objet or f"{label} — {id_}",
        "codeCPV": code, "procedure": "Procédure adaptée", "techniques": {"technique": ["Sans objet"]},
        "modalitesExecution": {"modaliteExecution": ["Sans objet"]},
        "lieuExecution": {"code": postal_code, "typeCode": "Code postal"}, "dureeMois": months,
        "dateNotification": notified, "datePublicationDonnees": notified, "montant": amount,
        "formePrix": "Forfaitaire", "offresRecues": 3,
        "considerationsSociales": {"considerationSociale": list(social)},
        "considerationsEnvironnementales": {"considerationEnvironnementale": ["Pas de considération environnementale"]},
        "titulaires": [{"titulaire": {"typeIdentifiant": "SIRET", "id": c}} for c in contractors],
        "modifications": [{"modification": {"id": n, **m}} for n, m in enumerate(modifications, start=1)],
    }
    if buyer_name:
        record["acheteur"]["nom"] = buyer_name
    return record


def census(count: int, *, departements=("11",), region_share=0.02, years=(2022, 2023, 2024), buyers=2000,
           clause_share=0.2, seed=1):
    """``count`` records as a national year's file reads: ``region_share`` of them carried out in
    ``departements``, the others elsewhere in France; a fifth of the buyers use social considerations."""
    rng = random.Random(seed)
    elsewhere = [f"{d:02d}" for d in range(1, 96) if f"{d:02d}" not in departements and d != 20]
    for number in range(count):
        in_region = rng.random() < region_share
        buyer_number = rng.randrange(buyers)
        dept = rng.choice(departements) if in_region else rng.choice(elsewhere)
        notified = date(rng.choice(years), 1, 1) + timedelta(days=rng.randrange(365))
        uses_clauses = buyer_number % int(1 / clause_share) == 0
        social = [rng.choice(SOCIAL)] if uses_clauses and rng.random() < 0.6 else [NO_SOCIAL]
        yield contract(f"{notified.year}{number:010d}", siret(200_000_000 + buyer_number * 2 + (0 if in_region else 1)),
                       amount=rng.choice((45000, 95000, 150000, 420000, 1200000)),
                       cpv=rng.choice(tuple(CPV_BY_DIVISION)), notified=notified.isoformat(),
                       postal_code=f"{dept}{rng.randrange(1000):03d}", social=social, months=rng.choice((6, 12, 24, 48)),
                       contractors=[siret(500_000_000 + rng.randrange(10 ** 6))])


def write_json(path, records) -> int:
    """Write ``{"marches": {"marche": [...]}}`` one record at a time; returns how many."""
    written = 0
    with open(path, "w", encoding="utf-8") as file:
        file.write('{"marches": {"marche": [\n')
        for record in records:
            file.write((",\n" if written else "") + json.dumps(record, ensure_ascii=False))
            written += 1
        file.write("\n]}}\n")
    return written


CSV_COLUMNS = ["uid", "id", "acheteur_id", "acheteur_nom", "nature", "objet", "codeCPV", "procedure",
               "lieuExecution_code", "lieuExecution_typeCode", "dureeMois", "dateNotification", "montant",
               "titulaire_id", "titulaire_typeIdentifiant", "titulaire_nom", "considerationsSociales",
               "modification_id", "donneesActuelles"]


def csv_rows(record: dict):
    """The consolidated edition's rows of one record: one per version (the initial one, then each
    modification) and contractor; the last version is the current data."""
    versions = [(0, record["montant"], record["dureeMois"], record["titulaires"])]
    for item in record.get("modifications") or []:
        m = item["modification"]
        previous = versions[-1]
        versions.append((m["id"], m.get("montant", previous[1]), m.get("dureeMois", previous[2]),
                         m.get("titulaires") or previous[3]))
    for number, amount, months, holders in versions:
        for holder in holders or [{"titulaire": {"typeIdentifiant": "", "id": ""}}]:
            yield {"uid": record["acheteur"]["id"] + record["id"], "id": record["id"],
                   "acheteur_id": record["acheteur"]["id"], "acheteur_nom": record["acheteur"].get("nom", ""),
                   "nature": record["nature"], "objet": record["objet"], "codeCPV": record["codeCPV"],
                   "procedure": record["procedure"], "lieuExecution_code": record["lieuExecution"]["code"],
                   "lieuExecution_typeCode": record["lieuExecution"]["typeCode"], "dureeMois": months,
                   "dateNotification": record["dateNotification"], "montant": amount,
                   "titulaire_id": holder["titulaire"]["id"],
                   "titulaire_typeIdentifiant": holder["titulaire"]["typeIdentifiant"], "titulaire_nom": "",
                   "considerationsSociales": ", ".join(record["considerationsSociales"]["considerationSociale"]),
                   "modification_id": number, "donneesActuelles": str(number == versions[-1][0]).lower()}


def write_csv(path, records, delimiter: str = ",") -> int:
    rows = 0
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, CSV_COLUMNS, delimiter=delimiter)
        writer.writeheader()
        for record in records:
            for row in csv_rows(record):
                writer.writerow(row)
                rows += 1
    return rows
