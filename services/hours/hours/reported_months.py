"""The months of each lot that have lines, and the day the first was declared (store.ReportedMonth): recorded
as lines are written, read by the reporting calendar, made again from the lines by a command."""
from collections.abc import Iterable
from datetime import datetime

import click
from flask.cli import with_appcontext
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from .read_cache import chunks, read_cache
from .store import Declaration, ReportedMonth

DUPLICATE_KEY = 11000


def record(lines: Iterable[Declaration]) -> None:
    """The lots' months of these newly written lines, each with its first line's time."""
    first: dict[tuple[str, str], datetime] = {}
    for line in lines:
        key = (line.lot_id, line.month)
        first[key] = min(first.get(key, line.submitted_at), line.submitted_at)
    # recorded a moment ago by this process: a later line of the same lot and month has a later day
    new = [key for key in first if not read_cache.holds(("ReportedMonth", *key))]
    _insert_new([ReportedMonth(id=f"{lot_id}|{month}", lot_id=lot_id, month=month,
                               first_declared_at=first[lot_id, month]) for lot_id, month in new])
    for key in new:
        read_cache.keep(("ReportedMonth", *key))


def _insert_new(months: list[ReportedMonth]) -> None:
    """Insert those not recorded yet (the first recorded stays: it is the earliest)."""
    collection = ReportedMonth._get_collection()
    for chunk in chunks(months):
        try:
            collection.insert_many([month.to_mongo() for month in chunk], ordered=False)
        except BulkWriteError as exc:  # recorded already (by another process, or before it restarted)
            if any(error.get("code") != DUPLICATE_KEY for error in exc.details.get("writeErrors", [])):
                raise


def first_declared(lot_ids: list[str]) -> dict[str, dict[str, datetime]]:
    """Per lot, its months that have lines and when the first was declared."""
    found: dict[str, dict[str, datetime]] = {lot_id: {} for lot_id in lot_ids}
    for chunk in chunks(lot_ids):
        for month in ReportedMonth.objects(lot_id__in=chunk).as_pymongo():
            found[month["lot_id"]][month["month"]] = month["first_declared_at"]
    return found


def rebuild() -> int:
    """Every lot's months again from its lines (once after the upgrade that brought them, or to repair): each
    keeps the earliest of what it holds and what the lines say; lines written meanwhile record themselves."""
    first: dict[tuple[str, str], datetime] = {}
    for line in Declaration.objects.only("lot_id", "month", "submitted_at").as_pymongo():
        key = (line["lot_id"], line["month"])
        first[key] = min(first.get(key, line["submitted_at"]), line["submitted_at"])
    writes = [UpdateOne({"_id": f"{lot_id}|{month}"}, {"$min": {"first_declared_at": at},
                                                       "$setOnInsert": {"lot_id": lot_id, "month": month}},
                        upsert=True) for (lot_id, month), at in first.items()]
    for chunk in chunks(writes):
        ReportedMonth._get_collection().bulk_write(chunk, ordered=False)
    return len(first)


@click.command("rebuild-reported-months")
@with_appcontext
def rebuild_reported_months() -> None:
    """Make the reporting calendar's months again from the lines (once after the upgrade that brought them)."""
    click.echo(f"Mois déclarés reconstruits à partir des lignes : {rebuild()}.")
