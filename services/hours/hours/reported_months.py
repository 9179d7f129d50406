"""The months of each lot that have lines, and the day the first was declared (store.ReportedMonth): recorded
as lines are written, read by the reporting calendar, made again from the lines by a command."""
from collections.abc import Iterable
from datetime import datetime

import click
from flask.cli import with_appcontext
from pymongo import UpdateOne

from .read_cache import chunks, read_cache
from .store import Declaration, ReportedMonth


def record(lines: Iterable[Declaration]) -> None:
    """The lots' months of these newly written lines, each with its first line's time."""
    first = _earliest((line.lot_id, line.month, line.submitted_at) for line in lines)
    # recorded a moment ago by this process: a later line of the same lot and month has a later day
    _write({key: at for key, at in first.items() if not read_cache.holds(("ReportedMonth", *key))})


def _earliest(lines: Iterable[tuple[str, str, datetime]]) -> dict[tuple[str, str], datetime]:
    first: dict[tuple[str, str], datetime] = {}
    for lot_id, month, at in lines:
        first[lot_id, month] = min(first.get((lot_id, month), at), at)
    return first


def _write(first: dict[tuple[str, str], datetime]) -> None:
    """Each lot's month keeps the earliest of what it holds and ``first``, whatever the order of the writers."""
    writes = [UpdateOne({"_id": f"{lot_id}|{month}"}, {"$min": {"first_declared_at": at},
                                                       "$setOnInsert": {"lot_id": lot_id, "month": month}},
                        upsert=True) for (lot_id, month), at in first.items()]
    for chunk in chunks(writes):
        ReportedMonth._get_collection().bulk_write(chunk, ordered=False)
    for key in first:
        read_cache.keep(("ReportedMonth", *key))


def first_declared(lot_ids: list[str]) -> dict[str, dict[str, datetime]]:
    """Per lot, its months that have lines and when the first was declared."""
    found: dict[str, dict[str, datetime]] = {lot_id: {} for lot_id in lot_ids}
    for chunk in chunks(lot_ids):
        for month in ReportedMonth.objects(lot_id__in=chunk).as_pymongo():
            found[month["lot_id"]][month["month"]] = month["first_declared_at"]
    return found


def rebuild() -> int:
    """Every lot's months again from its lines (once after the upgrade that brought them, or to repair); lines
    written meanwhile record themselves."""
    first = _earliest((line["lot_id"], line["month"], line["submitted_at"]) for line in
                      Declaration.objects.only("lot_id", "month", "submitted_at").as_pymongo())
    _write(first)
    return len(first)


@click.command("rebuild-reported-months")
@with_appcontext
def rebuild_reported_months() -> None:
    """Make the reporting calendar's months again from the lines (once after the upgrade that brought them)."""
    click.echo(f"Mois déclarés reconstruits à partir des lignes : {rebuild()}.")
