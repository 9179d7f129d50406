"""Idempotency-Key: a retried request gets the first answer, and changes nothing.

The first successful answer is stored with a hash of the request. A retry with the same key (for
the same contractor and endpoint) gets that answer back, status and body, without running again; the
same key with another request is refused. A refused request is not remembered: it changed nothing,
so a retry is judged afresh (the lot may have become known meanwhile). When two copies of a request
race, the line uniqueness refuses the second and the first's stored answer is returned instead.

The answer is stored last, once the request applied whole; a request that failed half-way leaves no
record, and its retry runs again: a line the first attempt wrote carries its ``request_key`` and is
answered again, any other line already written is refused as a duplicate. A request checks with
``check_storable`` before its first write that its answer can be stored.
"""
import hashlib
import json
import zlib
from collections.abc import Callable

import mongoengine as me
from flask import current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from plumbing.auth import current_principal
from plumbing.problems import problem

from .handlers import now
from .store import IdempotentRequest

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
MAX_STORED_ANSWER_BYTES = 8 * 1024 * 1024  # compressed; a document stops at 16 MB


def request_key(scope: str, fingerprint: bytes) -> str | None:
    """This request's identity when it carries a key — the same for its retries, another for any other
    request — to be written with what it creates (a retry then recognises its own earlier write)."""
    key = request.headers.get(HEADER)
    if key is None or not 0 < len(key) <= MAX_KEY_LENGTH:
        return None
    return hashlib.sha256(_record_id(scope, key).encode() + b"\0" + _digest(scope, fingerprint).encode()).hexdigest()


def _record_id(scope: str, key: str) -> str:
    return f"{current_principal().siret}|{scope}|{key}"


def _digest(scope: str, fingerprint: bytes) -> str:
    return hashlib.sha256(scope.encode() + b"\0" + fingerprint).hexdigest()


def run_once(scope: str, fingerprint: bytes, run: Callable[[], tuple[dict, int]]):
    """Answer with ``run()`` — or with the stored first answer when the request carries a known key."""
    key = request.headers.get(HEADER)
    if key is None:
        body, status = run()
        return jsonify(body), status
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise problem(422, f"L'en-tête {HEADER} doit compter de 1 à {MAX_KEY_LENGTH} caractères.",
                      rule="idempotency_key_invalid")
    record_id = _record_id(scope, key)
    digest = _digest(scope, fingerprint)
    stored = IdempotentRequest.objects(id=record_id).first()
    if stored is not None:
        return _replay(stored, digest)
    try:
        body, status = run()
    except HTTPException:
        stored = IdempotentRequest.objects(id=record_id).first()  # a copy of this request won the race
        if stored is not None:
            return _replay(stored, digest)
        raise
    if status < 300:
        try:
            IdempotentRequest(id=record_id, request_hash=digest, status=status, answer=_packed(body),
                              created_at=now()).save(force_insert=True)
        except me.NotUniqueError:
            return _replay(IdempotentRequest.objects.get(id=record_id), digest)
    return jsonify(body), status


def _packed(body: dict) -> bytes:
    # ASCII JSON: a lone surrogate or a NUL the answer echoes is stored as its escape
    return zlib.compress(current_app.json.dumps(body, ensure_ascii=True).encode())


def check_storable(body: dict) -> None:
    """Before a request's first write: refuse it (413) when it carries a key and its answer, as ``body``
    will be, could not be kept. Bodies within the request size limit stay far below."""
    if HEADER in request.headers and len(_packed(body)) > MAX_STORED_ANSWER_BYTES:
        raise problem(413, "La réponse à cet envoi serait trop volumineuse pour être gardée avec sa clé "
                           f"d'idempotence ({HEADER}) : envoyez-le en plusieurs parties.",
                      rule="answer_too_large")


def _replay(stored: IdempotentRequest, digest: str):
    if stored.request_hash != digest:
        raise problem(422, f"Cette clé d'idempotence ({HEADER}) a déjà servi pour une autre requête : "
                           "utilisez une nouvelle clé pour un nouvel envoi.", rule="idempotency_key_reused")
    response = jsonify(json.loads(zlib.decompress(stored.answer)) if stored.answer else stored.body)
    response.status_code = stored.status
    response.headers["Idempotent-Replayed"] = "true"
    return response

