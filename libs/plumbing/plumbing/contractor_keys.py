"""Contractors' API keys as the services other than hours know them: a read model of their hashes,
fed by the hours service's ``api_key.created`` / ``api_key.revoked`` events, so that a contractor
can read what concerns it anywhere with the one key the hours service gave it."""
import mongoengine as me

from .auth import Principal, principal_for_api_key
from .consumer import Unapplicable
from .events import Event


class ContractorKey(me.Document):
    id = me.StringField(primary_key=True)  # the key id
    contractor_siret = me.StringField(required=True)
    key_hash = me.StringField(required=True)
    revoked = me.BooleanField(default=False)
    meta = {"collection": "contractor_keys"}


def apply_key_event(event: Event) -> None:
    p = event.payload
    try:
        if event.type == "api_key.created":
            ContractorKey(id=p["key_id"], contractor_siret=p["contractor_siret"], key_hash=p["key_hash"]).save()
        else:
            ContractorKey.objects(id=p["key_id"]).update_one(set__revoked=True)
    except KeyError as exc:
        raise Unapplicable(f"{event.type} without {exc}") from None


def principal_for_contractor_key(secret: str) -> Principal | None:
    def find(key_id):
        key = ContractorKey.objects(id=key_id, revoked=False).first()
        return (key.key_hash, key.contractor_siret, ()) if key else None
    return principal_for_api_key(secret, find)


KEY_EVENT_HANDLERS = {"api_key.created": apply_key_event, "api_key.revoked": apply_key_event}
