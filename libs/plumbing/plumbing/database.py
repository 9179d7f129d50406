"""The one MongoDB connection a service process uses (mongoengine's default alias)."""
import mongoengine as me

from .settings import Settings


def connect_database(settings: Settings) -> None:
    me.disconnect()
    me.connect(db=settings.mongodb_db, host=settings.mongodb_url, tz_aware=True,
               uuidRepresentation="standard", serverSelectionTimeoutMS=5000)
