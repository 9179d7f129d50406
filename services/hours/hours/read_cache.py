"""What a declaration is checked against, kept a moment in memory on the busiest path.

Lots, market states, participants' windows and contractors' territories reach this service through
events, so they already lag their source by a moment; keeping what was found for a
couple of seconds more saves most of a single declaration's database round trips. Territory
settings, written here, are forgotten at once by the process that writes them and at most ``ttl``
seconds later by the others. The lots' months recorded as having lines (reported_months) are not written again
meanwhile. API keys are never cached: a revocation acts at once. A line is never
refused on what was kept: the checks read its records again first (handlers.Rules). Each web worker
process has its own cache; a ttl of 0 turns it off.
"""
from cachetools import TTLCache

_IN_CHUNK = 1000  # keeps $in lists of a 10,000-line batch to a reasonable size
_MISSING = object()


def chunks(values: list, size: int = _IN_CHUNK):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def load_by_id(cls, ids) -> dict:
    return {doc.id: doc for chunk in chunks(sorted(set(ids))) for doc in cls.objects(id__in=chunk)}


class ReadCache:
    def __init__(self, ttl: float = 0):
        self.configure(ttl)

    def configure(self, ttl: float) -> None:
        self._entries = TTLCache(maxsize=50_000, ttl=ttl) if ttl > 0 else None

    def by_id(self, cls, ids) -> dict:
        """The documents of ``cls`` with these ids that exist, by id."""
        if self._entries is None:
            return load_by_id(cls, ids)
        found, missing = {}, []
        for doc_id in set(ids):
            doc = self._entries.get((cls.__name__, doc_id), _MISSING)
            if doc is _MISSING:
                missing.append(doc_id)
            elif doc is not None:
                found[doc_id] = doc
        loaded = load_by_id(cls, missing)
        for doc_id, doc in loaded.items():  # not absences: another worker may know it already, and
            self._entries[(cls.__name__, doc_id)] = doc  # a line accepted there must not be refused here
        return {**found, **loaded}

    @property
    def enabled(self) -> bool:
        return self._entries is not None

    def refresh(self, cls, ids) -> dict:
        """Like by_id, read from the store whatever was kept."""
        for doc_id in set(ids):
            self.forget(cls, doc_id)
        return self.by_id(cls, ids)

    def holds(self, key: tuple) -> bool:
        """Whether ``keep(key)`` was called less than ttl seconds ago (never, when turned off)."""
        return self._entries is not None and key in self._entries

    def keep(self, key: tuple) -> None:
        if self._entries is not None:
            self._entries[key] = True

    def forget(self, cls, doc_id: str) -> None:
        if self._entries is not None:
            self._entries.pop((cls.__name__, doc_id), None)


read_cache = ReadCache()
