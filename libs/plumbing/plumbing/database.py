"""The one MongoDB connection a service process uses (mongoengine's default alias)."""
import mongoengine as me

from .settings import Settings


def connect_database(settings: Settings) -> None:
    me.disconnect()
    me.connect(db=settings.mongodb_db, host=settings.mongodb_url, tz_aware=True,
               uuidRepresentation="standard", serverSelectionTimeoutMS=5000)


def one_of(field: str, values) -> dict:
    """mongoengine filter arguments for ``field`` being one of ``values``: an equality when there is
    one value. FerretDB hands equalities to its storage but evaluates ``$in`` itself, reading every
    document of the collection, and most requests and polls ask for a single id."""
    values = list(values)
    return {field: values[0]} if len(values) == 1 else {f"{field}__in": values}
