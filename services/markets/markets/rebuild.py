"""Rebuilding the lots' progress from the beginning of the hours topic: every declaration's fact again, then each
lot's totals and status, with an event for what changes. For a store restored from an older backup, or facts
lost or damaged: the topics keep every declaration event.

The worker must be stopped (``WorkerRunning``); started again, it goes on from its own committed offsets, and
what it applies again of what the rebuild read changes nothing (facts are written by declaration id and never
step back), while the contractor-key events it had not yet applied are not skipped.
"""
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from plumbing.consumer import Unapplicable
from plumbing.outbox import ConcurrentUpdate
from plumbing.replay import TopicsReplay, refuse_while_the_worker_runs
from plumbing.settings import Settings

from .handlers import (CONSUMES, DECLARATION_EVENTS, declaration_fact, fold_declaration, judge_progress,
                       refresh_progress)
from .store import Lot, LotHours, Market

_CHUNK, _WRITERS = 2000, 4


def rebuild_progress(settings: Settings, today: date | None = None) -> dict:
    """Read the hours topic up to its current end, fold the declarations in memory, replace the stored facts,
    judge every lot again. Returns the figures (events read, facts, lots changed, seconds, events per second)."""
    started = time.perf_counter()
    refuse_while_the_worker_runs(settings)
    states, facts, count = {}, {}, 0
    with TopicsReplay(settings, CONSUMES) as replay:
        for event in replay.events():
            if event.type not in DECLARATION_EVENTS:
                continue
            try:
                fold_declaration(event, declaration_fact(event), states, facts)
            except Unapplicable:
                continue  # the worker dead-lettered it: it never counted
            count += 1
    read = time.perf_counter()
    refuse_while_the_worker_runs(settings)  # started while we read: it would write beside us
    lots = {lot.id: lot for lot in Lot.objects()}
    kept = [fact for fact in facts.values() if fact["lot_id"] in lots]  # the worker refuses facts of unknown lots
    collection = LotHours._get_collection()
    collection.drop()  # then written without its index, made once at the end (each insert kept it up: slower)
    with ThreadPoolExecutor(_WRITERS) as writers:  # the store converts and writes each chunk on a core of its own
        list(writers.map(lambda start: collection.insert_many(kept[start:start + _CHUNK], ordered=False),
                         range(0, len(kept), _CHUNK)))
    LotHours.ensure_indexes()
    totals = defaultdict(Counter)
    for fact in kept:
        totals[fact["lot_id"]][fact["state"]] += fact["centihours"]
    market_ids = sorted({lot.market_id for lot in lots.values()})
    markets = {market.id: market for market in Market.objects(id__in=market_ids)}
    changed = 0
    for lot in lots.values():
        lot_totals = totals[lot.id]
        if judge_progress(lot, markets[lot.market_id], lot_totals["validated"], lot_totals["submitted"], today):
            changed += 1
            try:
                lot.commit()
            except ConcurrentUpdate:  # changed through the API meanwhile: judged again from the new facts
                refresh_progress(lot.id, today)
    done = time.perf_counter()
    return {"events": count, "facts": len(kept), "lots": len(lots), "lots_changed": changed,
            "seconds": round(done - started, 2), "read_seconds": round(read - started, 2),
            "events_per_second": round(count / max(done - started, 1e-9))}
