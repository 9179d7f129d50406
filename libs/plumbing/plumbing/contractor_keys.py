"""Contractors' API keys as the services other than hours know them: a read model of their hashes,
fed by the hours service's ``api_key.created`` / ``api_key.expiring`` / ``api_key.revoked`` events, so
that a contractor can read what concerns it anywhere with the one key the hours service gave it."""
from datetime import datetime, timezone

import mongoengine as me

from .auth import Principal, principal_for_api_key
from .consumer import Unapplicable
from .events import Event


class ContractorKey(me.Document):
    id = me.StringField(primary_key=True)  # the key id
    contractor_siret = me.StringField(required=True)
    key_hash = me.StringField(required=True)
    revoked = me.BooleanField(default=False)
    expires_at = me.DateTimeField()  # a rotated key is refused from then on
    meta = {"collection": "contractor_keys"}


def _expiry(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise Unapplicable(f"not an instant: {value!r}") from None


def apply_key_event(event: Event) -> None:
    p = event.payload
    try:
        if event.type == "api_key.created":
            ContractorKey(id=p["key_id"], contractor_siret=p["contractor_siret"], key_hash=p["key_hash"]).save()
        elif event.type == "api_key.expiring":
            ContractorKey.objects(id=p["key_id"]).update_one(
                upsert=True, set__contractor_siret=p["contractor_siret"], set__key_hash=p["key_hash"],
                set__expires_at=_expiry(p["expires_at"]))
        else:
            ContractorKey.objects(id=p["key_id"]).update_one(set__revoked=True)
    except KeyError as exc:
        raise Unapplicable(f"{event.type} without {exc}") from None


def principal_for_contractor_key(secret: str) -> Principal | None:
    def find(key_id):
        key = ContractorKey.objects(id=key_id, revoked=False).first()
        if key is None or (key.expires_at is not None and key.expires_at <= datetime.now(timezone.utc)):
            return None
        return key.key_hash, key.contractor_siret, ()
    return principal_for_api_key(secret, find)


KEY_EVENT_HANDLERS = {"api_key.created": apply_key_event, "api_key.expiring": apply_key_event,
                      "api_key.revoked": apply_key_event}
