"""Checks on French identifiers and on the region's territories, with the messages the people typing them read."""
import marshmallow as ma

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

    def _deserialize(self, value, attr, data, **kwargs):
        siret = (super()._deserialize(value, attr, data, **kwargs) or "").replace(" ", "")
        if not siret_valid(siret):
            raise ma.ValidationError("SIRET invalide : 14 chiffres attendus, avec une clé de contrôle "
                                     "correcte (vérifiez la saisie).")
        return siret


class Territory(ma.fields.String):
    """A territory of the region (REGION_FILE): any other is refused, so a typo never starts a new one."""

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
