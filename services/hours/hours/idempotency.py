"""Idempotency-Key: a retried request gets the first answer, and changes nothing.

The first successful answer is stored with a hash of the request. A retry with the same key (for
the same contractor and endpoint) gets that answer back, status and body, without running again; the
same key with another request is refused. A refused request is not remembered: it changed nothing,
so a retry is judged afresh (the lot may have become known meanwhile). When two copies of a request
race, the line uniqueness refuses the second and the first's stored answer is returned instead.
"""
import hashlib
from collections.abc import Callable

import mongoengine as me
from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from plumbing.auth import current_principal
from plumbing.problems import problem

from .handlers import now
from .store import IdempotentRequest

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def run_once(scope: str, fingerprint: bytes, run: Callable[[], tuple[dict, int]]):
    """Answer with ``run()`` — or with the stored first answer when the request carries a known key."""
    key = request.headers.get(HEADER)
    if key is None:
        body, status = run()
        return jsonify(body), status
    if not 0 < len(key) <= MAX_KEY_LENGTH:
        raise problem(422, f"L'en-tête {HEADER} doit compter de 1 à {MAX_KEY_LENGTH} caractères.",
                      rule="idempotency_key_invalid")
    record_id = f"{current_principal().siret}|{scope}|{key}"
    digest = hashlib.sha256(scope.encode() + b"\0" + fingerprint).hexdigest()
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
            IdempotentRequest(id=record_id, request_hash=digest, status=status, body=body,
                              created_at=now()).save(force_insert=True)
        except me.NotUniqueError:
            return _replay(IdempotentRequest.objects.get(id=record_id), digest)
    return jsonify(body), status


def _replay(stored: IdempotentRequest, digest: str):
    if stored.request_hash != digest:
        raise problem(422, f"Cette clé d'idempotence ({HEADER}) a déjà servi pour une autre requête : "
                           "utilisez une nouvelle clé pour un nouvel envoi.", rule="idempotency_key_reused")
    response = jsonify(stored.body)
    response.status_code = stored.status
    response.headers["Idempotent-Replayed"] = "true"
    return response

