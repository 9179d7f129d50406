"""A region's own configuration: its territories, their partner structures and defaults.

One YAML file per region (``REGION_FILE``), read once at start-up by every service. A territory's
defaults are its own values, else the region's, else the built-in ones below; what a territory's
operators or facilitators later store through the APIs overrides them.
"""
import re
from dataclasses import dataclass
from decimal import Decimal

import marshmallow as ma
import yaml
from marshmallow import fields, validate

# 48 hours a week at most (Code du travail, L3121-20) over 52 weeks / 12 months.
LEGAL_MONTHLY_MAXIMUM_HOURS = Decimal(208)
# The values the domain calls usual, for what neither the region nor the territory sets.
BUILT_IN_DEFAULTS = {
    "counting_window_months": 24,  # a participant's hours count from entry for that long
    "retention_months": 24,  # an exited participant's identity is kept that long
    "progress_tolerance": 0.2,  # how far behind the expected curve a lot is still on track
    "behind_ratio": 0.5,  # below this share of the expected curve, a lot is behind
    "ramp_days": 0,  # days after a lot starts before hours are expected (0: linear from the start)
    "monthly_ceiling_hours": LEGAL_MONTHLY_MAXIMUM_HOURS,  # most hours one person may be declared for in a month
    "auto_validation": False,  # lines that pass every rule are validated without a facilitator
    "reporting_due_day": 10,  # a month's hours are due by this day of the following month
}
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# Metropolitan départements (Corsica as 2A and 2B) and overseas ones.
DEPARTEMENT = re.compile(r"^(0[1-9]|1\d|2[1-9AB]|[3-8]\d|9[0-5]|97[1-6])$")
DEPARTEMENT_EXPECTED = 'a département code in quotes is expected: "01" to "95", "2A", "2B" or "971" to "976"'


class RegionError(ValueError):
    """The region file is missing, unreadable or invalid; the message lists every problem."""


@dataclass(frozen=True)
class Defaults:
    counting_window_months: int
    retention_months: int
    progress_tolerance: float
    behind_ratio: float
    ramp_days: int
    monthly_ceiling_hours: Decimal
    auto_validation: bool
    reporting_due_day: int = 10


@dataclass(frozen=True)
class Partner:
    """A partner structure of a territory: its facilitators are alerted at its e-mail address."""
    name: str
    email: str
    service: str | None = None
    phone: str | None = None
    web: str | None = None


@dataclass(frozen=True)
class RegionTerritory:
    id: str
    name: str
    departement: str
    partners: tuple[Partner, ...]
    defaults: Defaults


@dataclass(frozen=True)
class Region:
    id: str
    name: str
    territories: dict[str, RegionTerritory]
    defaults: Defaults

    def defaults_for(self, territory: str) -> Defaults:
        """The territory's defaults; the region's for a territory it no longer has (old events)."""
        known = self.territories.get(territory)
        return known.defaults if known else self.defaults

    def unknown(self, territories) -> list[str]:
        return sorted(set(territories) - set(self.territories))

    def refusal(self, unknown) -> str:
        """What a caller naming territories the region does not have reads (French)."""
        return (f"Territoire inconnu de la région « {self.name} » : {', '.join(unknown)}. "
                f"Territoires de la région : {', '.join(self.territories)}.")


# --- the file's schema ----------------------------------------------------------------------
class DefaultsSchema(ma.Schema):
    counting_window_months = fields.Integer(validate=validate.Range(min=1, max=120))
    retention_months = fields.Integer(validate=validate.Range(min=1, max=240))
    progress_tolerance = fields.Float(validate=validate.Range(min=0, max=0.5))
    behind_ratio = fields.Float(validate=validate.Range(min=0, max=1))
    ramp_days = fields.Integer(validate=validate.Range(min=0, max=730))
    monthly_ceiling_hours = fields.Decimal(validate=validate.Range(
        min=0, min_inclusive=False, max=LEGAL_MONTHLY_MAXIMUM_HOURS))
    auto_validation = fields.Boolean()
    reporting_due_day = fields.Integer(validate=validate.Range(min=1, max=28))


class PartnerSchema(ma.Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    service = fields.String(validate=validate.Length(min=1, max=200))
    phone = fields.String(validate=validate.Regexp(r"^\+?[\d .]{6,20}$", error="not a phone number"))
    email = fields.Email(required=True)
    web = fields.URL()


class TerritorySchema(ma.Schema):
    id = fields.String(required=True, validate=validate.Regexp(
        SLUG, error="a slug is expected: lower-case letters, digits and single dashes"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    departement = fields.String(required=True, validate=validate.Regexp(DEPARTEMENT, error=DEPARTEMENT_EXPECTED),
                                error_messages={"invalid": DEPARTEMENT_EXPECTED})
    partners = fields.List(fields.Nested(PartnerSchema), load_default=list)
    defaults = fields.Nested(DefaultsSchema, load_default=dict)


class RegionSchema(ma.Schema):
    id = fields.String(required=True, validate=validate.Regexp(SLUG, error="a slug is expected"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    defaults = fields.Nested(DefaultsSchema, load_default=dict)
    territories = fields.List(fields.Nested(TerritorySchema), required=True,
                              validate=validate.Length(min=1, error="at least one territory is expected"))

    @ma.validates_schema
    def territories_are_unique(self, data, **kwargs):
        ids = [t["id"] for t in data.get("territories", [])]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ma.ValidationError(f"each territory once: {', '.join(twice)} appear(s) twice", "territories")


def _problems(messages, path: str = "") -> list[str]:
    """Marshmallow's nested messages as "territories[1].departement: …" lines."""
    if isinstance(messages, list):
        return [f"{path}: {message}" for message in messages]
    found = []
    for key, value in messages.items():
        where = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else key
        found += _problems(value, "(file)" if where == "_schema" else where)
    return found


def _defaults(*layers: dict) -> Defaults:
    return Defaults(**{**BUILT_IN_DEFAULTS, **{k: v for layer in layers for k, v in layer.items()}})


def parse_region(text: str) -> Region:
    """The region a file's text describes; ``RegionError`` lists every problem in it."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegionError(f"not valid YAML: {exc}") from None
    try:
        loaded = RegionSchema().load(data if data is not None else {})
    except ma.ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise RegionError("; ".join(_problems(messages))) from None
    region = Region(loaded["id"], loaded["name"], {
        t["id"]: RegionTerritory(t["id"], t["name"], t["departement"], tuple(Partner(**p) for p in t["partners"]),
                                 _defaults(loaded["defaults"], t["defaults"]))
        for t in loaded["territories"]}, _defaults(loaded["defaults"]))
    inconsistent = [f"{where}: behind_ratio ({d.behind_ratio:g}) must stay below 1 - progress_tolerance "
                    f"({1 - d.progress_tolerance:g})"
                    for where, d in [("defaults", region.defaults)] + [
                        (f"territories[{i}].defaults", t.defaults) for i, t in enumerate(region.territories.values())]
                    if d.behind_ratio > 1 - d.progress_tolerance]
    if inconsistent:
        raise RegionError("; ".join(inconsistent))
    return region


def load_region(path: str) -> Region:
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as exc:
        raise RegionError(f"cannot read it: {exc.strerror}") from None
    return parse_region(text)


# --- the region this process serves --------------------------------------------------------------
_current: Region | None = None


def set_current(region: Region) -> None:
    """Make ``region`` the one this process serves (``load_settings`` does it at start-up)."""
    global _current
    _current = region


def current() -> Region:
    """The region this process serves: handlers and workers read their territories' defaults here."""
    if _current is None:
        raise RuntimeError("no region loaded: the service's settings were not loaded (REGION_FILE)")
    return _current

