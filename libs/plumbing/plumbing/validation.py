"""Checks on French identifiers, on the region's territories and on the bounds of every value a request
carries, with the messages the people typing them read."""
from datetime import date
from decimal import Decimal, InvalidOperation

import marshmallow as ma
from marshmallow import validate

from . import region
from .problems import problem

LA_POSTE_SIREN = "356000000"  # many of its establishments' SIRETs use another key (digit sum multiple of 5)


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        n = int(char)
        if index % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def siret_valid(siret: str) -> bool:
    if len(siret) != 14 or not siret.isdigit():
        return False
    if siret.startswith(LA_POSTE_SIREN) and sum(int(c) for c in siret) % 5 == 0:
        return True
    return luhn_valid(siret)


class Siret(ma.fields.String):
    """A 14-digit SIRET whose check key is right (spaces are ignored)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(validate.Length(max=20))  # 14 digits and a few spaces, for the documents

    def _deserialize(self, value, attr, data, **kwargs):
        siret = (super()._deserialize(value, attr, data, **kwargs) or "").replace(" ", "")
        if not siret_valid(siret):
            raise ma.ValidationError("SIRET invalide : 14 chiffres attendus, avec une clé de contrôle "
                                     "correcte (vérifiez la saisie).")
        return siret


class Territory(ma.fields.String):
    """A territory of the region (REGION_FILE): any other is refused, so a typo never starts a new one."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(validate.Length(max=ID_MAX_LENGTH))  # for the documents: a slug is short

    def _deserialize(self, value, attr, data, **kwargs):
        territory = super()._deserialize(value, attr, data, **kwargs)
        unknown = region.current().unknown([territory])
        if unknown:
            raise ma.ValidationError(region.current().refusal(unknown))
        return territory


def known_territory(territory: str) -> str:
    """A territory named in a path: 404 unless the region has it."""
    unknown = region.current().unknown([territory])
    if unknown:
        raise problem(404, region.current().refusal(unknown))
    return territory


# --- bounds: every value a request carries is held to one, declared in the schema so that the OpenAPI
# documents show it and a value out of it is a 422 naming the field, never a 500 from deeper down ---------
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)  # what a market, a lot or a declaration dates from
EARLIEST_BIRTH = date(1900, 1, 1)  # birth dates and old evidence go further back
MAX_AMOUNT = Decimal(10) ** 11  # 100 billion euros excluding VAT: above any public contract
MAX_HOURLY_COST = Decimal(1000)  # euros per hour of labour
MAX_HOURS_IN_A_MONTH = Decimal(744)  # 31 days of 24 hours: no line of one month can hold more
MAX_QUOTA_HOURS = 10_000_000  # a lot's quota of hours (the largest computed one is under 10^6)
MAX_LOT_NUMBER = 9999
MAX_PAGE = 100_000  # with at most 100 items a page
ID_MAX_LENGTH = 64

# marshmallow's own messages, in French (the fields' messages are set in problems.py)
validate.Range.message_min = "Doit être {min_op} {{min}}."
validate.Range.message_max = "Doit être {max_op} {{max}}."
validate.Range.message_all = "Doit être {min_op} {{min}} et {max_op} {{max}}."
validate.Range.message_gte, validate.Range.message_gt = "supérieur ou égal à", "strictement supérieur à"
validate.Range.message_lte, validate.Range.message_lt = "inférieur ou égal à", "strictement inférieur à"
validate.Length.message_min = "Au moins {min} élément(s) ou caractère(s)."
validate.Length.message_max = "Au plus {max} élément(s) ou caractère(s)."
validate.Length.message_all = "Entre {min} et {max} élément(s) ou caractère(s)."
validate.Length.message_equal = "Exactement {equal} élément(s) ou caractère(s)."
validate.OneOf.default_message = "Valeur inconnue ; valeurs possibles : {choices}."
validate.Regexp.default_message = "Format invalide."
validate.Email.default_message = "Adresse e-mail invalide."
validate.URL.default_message = "Adresse web invalide."
for _field in (ma.fields.Integer, ma.fields.Float, ma.fields.Decimal):
    _field.default_error_messages = {**_field.default_error_messages, "too_large": "Nombre trop grand.",
                                     "special": "Nombre attendu (NaN et l'infini ne sont pas des nombres)."}


def text(max_length: int, min_length: int = 0, **kwargs) -> ma.fields.String:
    """A string of at most ``max_length`` characters (and at least ``min_length``)."""
    return ma.fields.String(validate=validate.Length(
        min=min_length, max=max_length, error=f"Texte de {min_length} à {max_length} caractères attendu."), **kwargs)


def identifier(**kwargs) -> ma.fields.String:
    """An id of something the platform holds (a lot, a market, a participant…)."""
    return text(ID_MAX_LENGTH, 1, **kwargs)


def count(minimum: int, maximum: int, error: str | None = None, **kwargs) -> ma.fields.Integer:
    """A whole number within [minimum, maximum]."""
    return ma.fields.Integer(validate=validate.Range(
        min=minimum, max=maximum, error=error or f"Nombre entier de {minimum} à {maximum} attendu."), **kwargs)


def listing(item: ma.fields.Field, maximum: int, minimum: int = 0, **kwargs) -> ma.fields.List:
    """A list of at most ``maximum`` items."""
    return ma.fields.List(item, validate=validate.Length(
        min=minimum, max=maximum, error=f"Entre {minimum} et {maximum} éléments attendus."), **kwargs)


class Day(ma.fields.Date):
    """A date within a plausible window (FIRST_DAY…LAST_DAY unless told): 9999-06-01 is a typo, not a plan."""

    def __init__(self, *, earliest: date = FIRST_DAY, latest: date = LAST_DAY, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(validate.Range(min=earliest, max=latest, error=(
            f"Date attendue entre le {earliest:%d/%m/%Y} et le {latest:%d/%m/%Y}.")))


def decimal_places(value: Decimal) -> int:
    """Decimals written in ``value``, trailing zeros aside (7.50 has one); never raises, however large."""
    _sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # NaN or infinity: refused elsewhere
        return 0
    while exponent < 0 and digits and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    return max(0, -exponent)


class Number(ma.fields.Decimal):
    """A decimal read exactly (a ``Decimal``: 0.1 + 0.2 stays 0.3) and written as a JSON number, as the
    OpenAPI documents say; bounded by ``minimum``/``maximum`` (either may be None) and ``decimals``."""

    def __init__(self, *, minimum=None, maximum=None, min_inclusive: bool = True, decimals: int | None = None,
                 error: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.bounds = None
        if minimum is not None or maximum is not None:
            self.bounds = validate.Range(min=minimum, max=maximum, min_inclusive=min_inclusive, error=error)
            self.validators.insert(0, self.bounds)  # where the documents read it
        if decimals is not None:
            written = "deux" if decimals == 2 else str(decimals)

            def at_most(value):
                if decimal_places(value) > decimals:
                    raise ma.ValidationError(f"Au plus {written} décimales (par exemple 7.5 ou 151.67).")
            self.validators.append(at_most)

    def _deserialize(self, value, attr, data, **kwargs):
        if self.bounds is not None and isinstance(value, (int, float, str)) and not isinstance(value, bool):
            try:
                number = Decimal(str(value).strip())
            except InvalidOperation:
                number = None  # marshmallow says it is not a number
            if number is not None and number.is_finite():
                self.bounds(number)  # before ``places`` rounds: 3.55e264 cannot be, and is out of bounds anyway
        return super()._deserialize(value, attr, data, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        number = super()._serialize(value, attr, obj, **kwargs)
        return None if number is None else float(number)
