"""Fields a document derives from others in its ``clean()`` (a search's word starts, a date lists filter on).

Every write keeps them, but a document written before the version that added one lacks it, and the lists do
not find it. ``refresh-derived-fields`` (an operator command, run once after such an upgrade; idempotent) writes
them where they differ. A document class says what its ``clean()`` derives, and from what:
``derived_fields = {"name_starts": ("first_name", "last_name")}``.
"""
from itertools import islice

import click
import mongoengine as me
from pymongo import UpdateOne

CHUNK = 500  # documents compared, and their changes written in one bulk write


def refresh_derived_fields(document: type[me.Document], chunk: int = CHUNK) -> tuple[int, int]:
    """Derive the fields of every stored document with the class's own ``clean()`` and ``$set`` those that differ.
    Returns how many documents were read and how many were updated."""
    names = {name for derived, sources in document.derived_fields.items() for name in (derived, *sources)}
    derived = [document._fields[name].db_field for name in document.derived_fields]
    collection = document._get_collection()
    read = updated = 0
    cursor = collection.find({}, {document._fields[name].db_field: 1 for name in names} | {"revision": 1},
                             batch_size=chunk)
    try:
        while stored := list(islice(cursor, chunk)):
            read += len(stored)
            changes = [change for raw in stored if (change := _change(document, raw, derived))]
            if changes:
                updated += collection.bulk_write(changes, ordered=False).modified_count
    finally:
        cursor.close()
    return read, updated


def _change(document: type[me.Document], raw: dict, derived: list[str]) -> UpdateOne | None:
    fresh = document._from_son(raw)
    fresh.clean()
    son = fresh.to_mongo()
    changed = {name: son.get(name) for name in derived if son.get(name) != raw.get(name)}
    # a document written meanwhile (another revision) derived its fields in that write: it is left alone
    return UpdateOne({"_id": raw["_id"], "revision": raw.get("revision")}, {"$set": changed}) if changed else None


def refresh_derived_fields_command(*documents: tuple[type[me.Document], str]) -> click.Command:
    """The service's ``refresh-derived-fields`` command for its documents: ``(Market, "marchés"), …`` (each class
    with its French name in what it prints)."""
    @click.command("refresh-derived-fields")
    def refresh():
        """Write the fields derived from others in the documents written before a version added them (run once
        after such an upgrade; running it again changes nothing)."""
        for document, label in documents:
            read, updated = refresh_derived_fields(document)
            click.echo(f"Champs dérivés des {label} : {updated} document(s) mis à jour sur {read} lu(s).")
    return refresh
