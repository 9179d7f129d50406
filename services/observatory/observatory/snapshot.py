"""The read model as a web process counts it: every declaration line and its participant's facts in numpy
columns, with the markets and lots, kept in memory and brought up to date from the changes the worker
records (when nothing changed, a request costs one small read of the version document).

Why: distinct people over any period cannot be summed from pre-aggregated cells, and reading a million
lines (or cells) from the store per request takes seconds; grouping a million rows with numpy takes tens of
milliseconds. Each process holds its own snapshot (about 80 bytes a line).

A process starting (or after a rebuild) does not read a million lines from the store: the rebuild and then
the worker (every ``SAVE_EVERY`` batches) save the snapshot compact — its numpy arrays in an .npz, in parts of
``SavedPart`` — and a process loads the saved one and catches up from there (about a second for a million
lines, where reading the documents takes about thirty).
"""
import io
import itertools
import json
import logging
import threading

import numpy as np
from pymongo import ReplaceOne, ReturnDocument

from . import domain
from .domain import TOTAL
from .store import (Change, LotFact, LotLines, MarketFact, PersonFact, SavedPart, Version, collection, find_ids,
                    line_columns)

log = logging.getLogger(__name__)

VERSION_ID = "read_model"
MAX_CHANGES = 2000  # behind by more batches than this: reload everything rather than catch up
SAVE_EVERY = 200  # the worker saves the snapshot every so many batches: a loaded one is never far behind
PART_BYTES = 4 * 1024 * 1024  # a saved snapshot's part (a document holds at most 16 MB)
FORMAT = 1  # of a saved snapshot: one that is not this is ignored (then the documents are read)
LINE_CODED = ("lot_id", "month", "territory", "mode", "contract_type", "employer_kind")
LINE_COLUMNS = (*LINE_CODED, "person", "realised", "declared")
PERSON_CODED = ("sex", "age_band", "qpv", "outcome")
_NO_PERSON = {"sex": None, "age_band": None, "qpv": None, "categories": [], "outcome": None}
SOURCES = {"territory": "territory", "mode": "mode", "contract_type": "contract_type",
           "employer_kind": "employer_kind", "sex": "sex", "age_band": "age_band", "qpv": "qpv"}


class Vocab:
    """Values of one column as small integer codes (None included)."""

    def __init__(self):
        self.codes, self.values = {}, []

    def code(self, value) -> int:
        code = self.codes.get(value)
        if code is None:
            code = self.codes[value] = len(self.values)
            self.values.append(value)
        return code


class _Columns:
    """Growable numpy columns of int64, one row per id."""

    def __init__(self, names):
        self.names, self.rows, self.size = names, {}, 0
        self.data = {name: np.zeros(1024, np.int64) for name in names}

    def put(self, ids: list[str], values: dict[str, np.ndarray]) -> None:
        """Set the rows of these ids (new ids appended)."""
        rows = self.rows
        new = [rid for rid in dict.fromkeys(ids) if rid not in rows]
        rows.update(zip(new, range(len(rows), len(rows) + len(new))))
        index = np.fromiter(map(rows.__getitem__, ids), np.int64, len(ids))
        if len(rows) > len(self.data[self.names[0]]):
            capacity = max(len(rows), 2 * len(self.data[self.names[0]]))
            for name in self.names:
                grown = np.zeros(capacity, np.int64)
                grown[:self.size] = self.data[name][:self.size]
                self.data[name] = grown
        self.size = len(rows)
        for name in self.names:
            self.data[name][index] = values[name]

    def __getitem__(self, name):
        return self.data[name][:self.size]


class Snapshot:
    def __init__(self, epoch: str | None, generation: int):
        self.epoch, self.generation = epoch, generation
        self.vocab = {name: Vocab() for name in (*LINE_CODED, *PERSON_CODED, "category", "year")}
        # every line in force, a row each, grouped by lot: a lot's lines are replaced as a whole
        self.lines = {name: np.zeros(0, np.int64) for name in LINE_COLUMNS}
        self.people = _Columns(PERSON_CODED)
        self.categories: list[tuple] = []  # per person row: category codes (at least one: None)
        self._exploded = None
        self.markets: dict = {}
        self.lots: dict = {}

    # --- loading ------------------------------------------------------------------------------------
    def _coded(self, name: str, values: list) -> np.ndarray:
        vocab = self.vocab[name]
        for value in set(values):
            vocab.code(value)
        return np.fromiter(map(vocab.codes.__getitem__, values), np.int64, len(values))

    def put_people(self, docs) -> None:
        docs = list(docs)
        if not docs:
            return
        self.people.put([d["_id"] for d in docs], {n: self._coded(n, [d.get(n) for d in docs]) for n in PERSON_CODED})
        self.categories.extend([(self.vocab["category"].code(None),)] * (self.people.size - len(self.categories)))
        for d in docs:
            self.categories[self.people.rows[d["_id"]]] = tuple(
                self.vocab["category"].code(c) for c in (d.get("categories") or [None]))
        self._exploded = None

    def put_lines(self, docs) -> None:
        """Set every line of these lots (``LotLines`` documents): their rows replace the lots' former ones."""
        lots, parts = [], []
        for doc in docs:
            columns = line_columns(doc)
            lots.append(self.vocab["lot_id"].code(doc["_id"]))
            unknown = {pid for pid in columns["participant_id"] if pid not in self.people.rows}
            self.put_people({"_id": pid, **_NO_PERSON} for pid in unknown)
            status = np.array([s or "" for s in columns["status"]])
            hours = np.fromiter((h or 0 for h in columns["centihours"]), np.int64, len(status))
            rows = self.people.rows
            parts.append({
                **{n: self._coded(n, columns[n]) for n in LINE_CODED},
                "person": np.fromiter(map(rows.__getitem__, columns["participant_id"]), np.int64, len(status)),
                "realised": np.where(status == "validated", hours, 0),
                "declared": np.where(status == "submitted", hours, 0)})
        if lots:
            kept = ~np.isin(self.lines["lot_id"], lots)
            self.lines = {n: np.concatenate([self.lines[n][kept], *(part[n] for part in parts)]) for n in LINE_COLUMNS}

    def load(self) -> "Snapshot":
        """Read the whole read model from its documents."""
        self.markets = {m["_id"]: m for m in collection(MarketFact).find()}
        self.lots = {lot["_id"]: lot for lot in collection(LotFact).find()}
        self.put_people(collection(PersonFact).find())
        self.put_lines(collection(LotLines).find({}, batch_size=50))
        return self

    def catch_up(self, generation: int) -> bool:
        """Apply the changes up to this generation; False when one is missing (then reload)."""
        wanted = [f"{self.epoch}:{g}" for g in range(self.generation + 1, generation + 1)]
        changes = {c["_id"]: c for c in find_ids(Change, wanted)}
        present = [cid in changes for cid in wanted]
        if False in present and True in present[present.index(False):]:
            return False  # a batch recorded nothing (its worker stopped in between): start again
        ids = {kind: set() for kind in ("markets", "lots", "people", "lines")}
        for cid in itertools.takewhile(lambda c: c in changes, wanted):
            for kind in ids:
                ids[kind].update(changes[cid].get(kind) or ())
            self.generation += 1
        self.markets.update({m["_id"]: m for m in find_ids(MarketFact, ids["markets"])})
        self.lots.update({lot["_id"]: lot for lot in find_ids(LotFact, ids["lots"])})
        self.put_people(find_ids(PersonFact, ids["people"]))
        self.put_lines(find_ids(LotLines, ids["lines"]))
        return True

    # --- saving -------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The snapshot as an .npz (compressed): its arrays, with its vocabularies, markets, lots and people's
        ids as one JSON array of bytes (no pickle: the loader runs nothing it reads)."""
        meta = {"format": FORMAT, "epoch": self.epoch, "generation": self.generation,
                "vocab": {name: vocab.values for name, vocab in self.vocab.items()}, "people": list(self.people.rows),
                "markets": list(self.markets.values()), "lots": list(self.lots.values())}
        _, counts, codes = self._explode()
        buffer = io.BytesIO()
        np.savez_compressed(buffer, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8),
                            category_counts=counts, category_codes=codes,
                            **{f"line_{name}": self.lines[name] for name in LINE_COLUMNS},
                            **{f"person_{name}": self.people[name] for name in PERSON_CODED})
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Snapshot":
        """The snapshot ``to_bytes`` saved; ValueError when it is not one (or of another format)."""
        with np.load(io.BytesIO(data), allow_pickle=False) as saved:
            meta = json.loads(saved["meta"].tobytes())
            if meta.get("format") != FORMAT:
                raise ValueError(f"saved snapshot of format {meta.get('format')}, not {FORMAT}")
            snapshot = cls(meta["epoch"], meta["generation"])
            for name, values in meta["vocab"].items():
                vocab = snapshot.vocab.setdefault(name, Vocab())
                for value in values:
                    vocab.code(value)
                if vocab.values != values:
                    raise ValueError(f"saved vocabulary {name} has twice the same value")
            snapshot.markets = {m["_id"]: m for m in meta["markets"]}
            snapshot.lots = {lot["_id"]: lot for lot in meta["lots"]}
            snapshot.lines = {name: saved[f"line_{name}"] for name in LINE_COLUMNS}
            if meta["people"]:
                snapshot.people.put(meta["people"], {name: saved[f"person_{name}"] for name in PERSON_CODED})
            codes, ends = saved["category_codes"].tolist(), np.cumsum(saved["category_counts"]).tolist()
            snapshot.categories = [tuple(codes[start:end]) for start, end in zip([0, *ends[:-1]], ends)]
        return snapshot

    # --- counting -----------------------------------------------------------------------------------
    def _explode(self):
        """Each person's categories as (person row, category code) pairs: offsets and codes."""
        if self._exploded is None:
            counts = np.fromiter((len(c) for c in self.categories), np.int64, len(self.categories))
            codes = np.fromiter(itertools.chain.from_iterable(self.categories), np.int64, int(counts.sum()))
            self._exploded = (np.concatenate(([0], np.cumsum(counts)[:-1])), counts, codes)
        return self._exploded

    def _lot_lookup(self, dimension: str, vocab: Vocab) -> np.ndarray:
        value = domain.DIMENSIONS[dimension].value
        return np.fromiter((vocab.code(value(None, self.lots.get(lot_id) or {},
                                             self.markets.get((self.lots.get(lot_id) or {}).get("market_id")) or {}))
                            for lot_id in self.vocab["lot_id"].values), np.int64, len(self.vocab["lot_id"].values))

    def _codes(self, dimension: str, rows: np.ndarray) -> tuple[np.ndarray, Vocab]:
        """Each row's code for a dimension (not public_category) and the vocabulary decoding it."""
        lines, people = self.lines, self.people
        if dimension in ("mode", "contract_type", "employer_kind", "territory"):
            return lines[dimension][rows], self.vocab[dimension]
        if dimension in ("sex", "age_band", "qpv"):
            return people[dimension][lines["person"][rows]], self.vocab[dimension]
        if dimension == "month":
            return lines["month"][rows], self.vocab["month"]
        if dimension == "year":
            years = np.fromiter((self.vocab["year"].code(m[:4]) for m in self.vocab["month"].values), np.int64)
            return years[lines["month"][rows]], self.vocab["year"]
        vocab = Vocab()
        return self._lot_lookup(dimension, vocab)[lines["lot_id"][rows]], vocab

    def tabulate(self, lot_ids, dimensions: list[str], months: tuple[str, str] | None) -> dict[tuple, domain.Group]:
        """Hours and distinct people (per outcome) by the dimensions' values, with every margin (TOTAL)."""
        lines = self.lines
        in_scope = np.fromiter((lot in lot_ids for lot in self.vocab["lot_id"].values), bool)
        keep = in_scope[lines["lot_id"]] & ((lines["realised"] > 0) | (lines["declared"] > 0))
        if months:
            month_ok = np.fromiter((months[0] <= m <= months[1] for m in self.vocab["month"].values), bool)
            keep &= month_ok[lines["month"]]
        base = np.nonzero(keep)[0]
        outcomes = self.vocab["outcome"]
        groups = {}
        for totals in itertools.product((False, True), repeat=len(dimensions)):
            rows, parts = base, {}
            if "public_category" in dimensions and not totals[dimensions.index("public_category")]:
                starts, counts, codes = self._explode()
                person = lines["person"][rows]
                repeat = counts[person]
                first = np.repeat(np.cumsum(repeat) - repeat, repeat)
                parts["public_category"] = (codes[np.repeat(starts[person], repeat) + np.arange(first.size) - first],
                                            self.vocab["category"])
                rows = np.repeat(rows, repeat)
            for d, total in zip(dimensions, totals):
                if not total and d != "public_category":
                    parts[d] = self._codes(d, rows)
            shown = [d for d, total in zip(dimensions, totals) if not total]
            key = np.zeros(rows.size, np.int64)
            for d in shown:
                key = key * len(parts[d][1].values) + parts[d][0]
            if not rows.size:
                continue
            space = int(np.prod([len(parts[d][1].values) for d in shown]))
            keys = _distinct(key, space)
            group = np.searchsorted(keys, key)
            realised = np.bincount(group, lines["realised"][rows])
            declared = np.bincount(group, lines["declared"][rows])
            size = max(self.people.size, 1)
            pairs = _distinct(group * size + lines["person"][rows], keys.size * size)
            group_of, person_of = pairs // size, pairs % size
            outcome_count = np.bincount(group_of * len(outcomes.values) + self.people["outcome"][person_of],
                                        minlength=keys.size * len(outcomes.values)).reshape(keys.size, -1)
            for g, code in enumerate(keys.tolist()):
                decoded = {}
                for d in reversed(shown):
                    size = len(parts[d][1].values)
                    decoded[d] = parts[d][1].values[code % size]
                    code //= size
                label = tuple(TOTAL if total else decoded[d] for d, total in zip(dimensions, totals))
                groups[label] = domain.Group(
                    realised=int(realised[g]), declared=int(declared[g]),
                    people={outcomes.values[o]: int(n) for o, n in enumerate(outcome_count[g].tolist()) if n})
        return groups


def _distinct(values: np.ndarray, space: int) -> np.ndarray:
    """The sorted distinct values (all in range(space)): marked in a table when it is small, else sorted."""
    if space <= 1 << 25:
        seen = np.zeros(space, bool)
        seen[values] = True
        return np.flatnonzero(seen)
    return np.unique(values)


# --- the worker's side: recording what changed ---------------------------------------------------------------
def record(changed: dict) -> int:
    """Record a batch's changed facts under the next generation (the worker, after writing them); returns it."""
    from uuid import uuid4
    version = collection(Version).find_one_and_update(
        {"_id": VERSION_ID}, {"$inc": {"generation": 1}, "$setOnInsert": {"epoch": uuid4().hex}},
        upsert=True, return_document=ReturnDocument.AFTER)
    collection(Change).insert_one({"_id": f"{version['epoch']}:{version['generation']}",
                                   **{kind: sorted(ids) for kind, ids in changed.items()}})
    return version["generation"]


def new_epoch(snapshot: "Snapshot") -> None:
    """After a rebuild: save its snapshot under a new epoch, then name it; every process reloads (that one)."""
    from uuid import uuid4
    snapshot.epoch, snapshot.generation = uuid4().hex, 0
    parts = _save_parts(snapshot)
    collection(Version).replace_one({"_id": VERSION_ID}, {"epoch": snapshot.epoch, "generation": 0,
                                                          "saved": {"generation": 0, "parts": parts}}, upsert=True)
    _remove_parts_but(snapshot)


def save(snapshot: "Snapshot") -> None:
    """Save this snapshot (the worker's, brought up to date) for the processes that start: named by the version
    document once every part is written, unless a newer one was meanwhile."""
    parts = _save_parts(snapshot)
    named = collection(Version).update_one(
        {"_id": VERSION_ID, "epoch": snapshot.epoch,
         "$or": [{"saved": {"$exists": False}}, {"saved.generation": {"$lt": snapshot.generation}}]},
        {"$set": {"saved": {"generation": snapshot.generation, "parts": parts}}})
    if named.modified_count:
        _remove_parts_but(snapshot)


def _save_parts(snapshot: "Snapshot") -> int:
    data, prefix = snapshot.to_bytes(), f"{snapshot.epoch}:{snapshot.generation}"
    starts = range(0, len(data), PART_BYTES)
    collection(SavedPart).bulk_write([ReplaceOne({"_id": f"{prefix}:{n}"}, {"data": data[start:start + PART_BYTES]},
                                                 upsert=True) for n, start in enumerate(starts)])
    return len(starts)


def _remove_parts_but(snapshot: "Snapshot") -> None:
    """Remove the parts of every saved snapshot but this one and the latest before it in its epoch (a process
    may be reading that one)."""
    ids = [part["_id"] for part in collection(SavedPart).find({}, {"_id": 1})]
    mine = f"{snapshot.epoch}:{snapshot.generation}"
    earlier = sorted({int(i.split(":")[1]) for i in ids
                      if i.startswith(f"{snapshot.epoch}:") and not i.startswith(f"{mine}:")})
    keep = {mine, *(f"{snapshot.epoch}:{g}" for g in earlier[-1:])}
    gone = [i for i in ids if i.rsplit(":", 1)[0] not in keep]
    if gone:
        collection(SavedPart).delete_many({"_id": {"$in": gone}})


def _restore(version: dict) -> "Snapshot | None":
    """The snapshot the version document names as saved, or None (none, removed meanwhile, unreadable)."""
    saved = version.get("saved")
    if not saved:
        return None
    ids = [f"{version['epoch']}:{saved['generation']}:{n}" for n in range(saved["parts"])]
    parts = {part["_id"]: part["data"] for part in find_ids(SavedPart, ids)}
    if len(parts) != len(ids):
        return None  # a newer one replaced it while we read
    try:
        return Snapshot.from_bytes(b"".join(parts[i] for i in ids))
    except (ValueError, KeyError, OSError) as exc:
        log.warning("saved snapshot unreadable; reading the documents", extra={"reason": str(exc)})
        return None


# --- the web process's side -----------------------------------------------------------------------------------
_lock = threading.Lock()
_snapshots: dict[str, Snapshot] = {}  # by database (tests use one each)


def current() -> Snapshot:
    """This process's snapshot of the read model, brought up to date: at first (or after a rebuild) the saved
    one caught up, else read from the documents."""
    database = collection(Version).database.name
    version = collection(Version).find_one({"_id": VERSION_ID}) or {"epoch": None, "generation": 0}
    with _lock:
        snapshot = _snapshots.get(database)
        if snapshot is None or not _caught_up(snapshot, version):
            snapshot = _restore(version)
            if snapshot is None or not _caught_up(snapshot, version):
                snapshot = Snapshot(version["epoch"], version["generation"]).load()
            _snapshots[database] = snapshot
        return snapshot


def _caught_up(snapshot: Snapshot, version: dict) -> bool:
    return (snapshot.epoch == version["epoch"] and version["generation"] - snapshot.generation <= MAX_CHANGES
            and snapshot.catch_up(version["generation"]))
