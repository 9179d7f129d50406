"""The refused rows of an uploaded file, kept for RETENTION_DAYS days so that the contractor can
download them with their reasons, fix them and upload them again. Facilitators of the lots'
territories may read them too; nobody else. Nothing from a row is logged.

A report is bounded: each value it keeps is cut at MAX_VALUE_CHARS characters, and rows are kept
while they fit in MAX_REPORT_BYTES (the rest are counted in ``omitted``), far below the 16 MB a
document may hold. It is written before the accepted rows: a failure in between leaves a report
nobody was given (purged with the others), never rows without their report."""
import json
from datetime import date, datetime, time, timedelta, timezone

import click
from plumbing.auth import Principal

from .handlers import now
from .spreadsheets import HEADERS
from .store import Contractor, HeldLot, UploadReport

RETENTION_DAYS = 30
MAX_VALUE_CHARS = 200  # longer than any valid value: what matters to fix it is its start
MAX_REPORT_BYTES = 8 * 1024 * 1024


def _reason(result: dict) -> str:
    """The French reason of a refused row, with each field's message when the row was malformed."""
    errors = result.get("errors")
    if not errors:
        return result["detail"]
    return " ".join(f"{HEADERS.get(field, field)} : "
                    f"{' '.join(map(str, messages)) if isinstance(messages, list) else messages}"
                    for field, messages in errors.items())


def _kept(value: str) -> str:
    return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS] + "…"


def record(siret: str, lines: dict[int, dict], results: list[dict],
           report: UploadReport | None = None) -> UploadReport | None:
    """Keep the refused rows of an upload (``lines`` by row number, as read; ``results`` as reported with
    their row), adding them to ``report`` when given; None when no row was refused."""
    refused = [r for r in results if r["status"] == "refused"]
    if not refused:
        return report
    if report is None:
        report = UploadReport(contractor_siret=siret, created_at=now(), rows=[], omitted=0)
    rows = sorted(list(report.rows) + [
        {"row": r["row"], "values": {field: _kept(value) for field, value in lines[r["row"]].items()},
         "rule": r["rule"], "reason": _kept(_reason(r))} for r in refused], key=lambda row: row["row"])
    kept, size = [], 0
    for row in rows:
        size += len(json.dumps(row).encode()) + 64  # about its BSON size, with some margin
        if size > MAX_REPORT_BYTES:
            break
        kept.append(row)
    report.rows, report.omitted = kept, report.omitted + len(rows) - len(kept)
    report.territories = _territories(siret, report.rows)
    return report.save()


def _territories(siret: str, rows: list[dict]) -> list[str]:
    """The territories of the lots the refused rows name and the contractor holds; else the facilitators
    who follow the contractor."""
    lot_ids = sorted({row["values"]["lot_id"] for row in rows if row["values"].get("lot_id")})
    territories = {t for lot in HeldLot.objects(id__in=lot_ids, contractor_siret=siret) for t in lot.territories}
    if not territories:
        contractor = Contractor.objects(id=siret).first()
        territories = set(contractor.territories) if contractor else set()
    return sorted(territories)


def readable(upload_id: str, principal: Principal) -> UploadReport | None:
    """The report, if this caller uploaded it or follows one of its territories."""
    report = UploadReport.objects(id=upload_id).first()
    if report is None:
        return None
    if principal.role == "contractor":
        return report if report.contractor_siret == principal.siret else None
    return report if principal.covers(report.territories) else None


def kept_until(report: UploadReport) -> date:
    return report.created_at.date() + timedelta(days=RETENTION_DAYS)


def purge(today: date, days: int = RETENTION_DAYS) -> int:
    """Delete the reports created before the day ``days`` days before ``today``."""
    cutoff = datetime.combine(today - timedelta(days=days), time.min, tzinfo=timezone.utc)
    return UploadReport.objects(created_at__lt=cutoff).delete()


@click.command("purge-upload-reports")
@click.option("--days", type=click.IntRange(min=1), default=RETENTION_DAYS, show_default=True,
              help="keep the reports of the last DAYS days")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), help="run as on this day (default: today)")
def purge_upload_reports(days, today):
    """Delete the upload reports (refused rows) older than the retention period. Run daily."""
    count = purge(today.date() if today else now().date(), days)
    click.echo(f"Rapports d'envoi supprimés (plus de {days} jours) : {count}.")
