"""Request and response schemas of the observatory API (validation, serialisation and docs at once)."""
import marshmallow as ma
from marshmallow import fields, validate
from plumbing.validation import Territory, count, text

from .domain import DIMENSIONS

MONTH = validate.Regexp(r"^(20\d\d|2100)-(0[1-9]|1[0-2])$", error="Mois attendu au format AAAA-MM (2000 à 2100).")


class PeriodQuerySchema(ma.Schema):
    start = fields.String(data_key="from", validate=MONTH, metadata={"description": "first month, YYYY-MM"})
    end = fields.String(data_key="to", validate=MONTH, metadata={"description": "last month, YYYY-MM"})
    territory = Territory(metadata={"description": "only the markets of this territory"})

    @ma.validates_schema
    def ordered(self, data, **kwargs):
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise ma.ValidationError("Le premier mois doit précéder le dernier.", "to")

    @ma.post_load
    def months(self, data, **kwargs):
        if data.get("start") or data.get("end"):
            data["months"] = (data.pop("start", None) or "2000-01", data.pop("end", None) or "2100-12")
        else:
            data["months"] = None
        return data


class StatisticsQuerySchema(PeriodQuerySchema):
    dimensions = text(100, load_default="",
                      metadata={"description": "up to two of: " + ", ".join(DIMENSIONS) + " (comma-separated)"})

    @ma.post_load
    def split(self, data, **kwargs):
        names = [name.strip() for name in data["dimensions"].split(",") if name.strip()]
        unknown = [name for name in names if name not in DIMENSIONS]
        if unknown:
            raise ma.ValidationError(f"Critère inconnu : {', '.join(unknown)}. Critères possibles : "
                                     f"{', '.join(DIMENSIONS)}.", "dimensions")
        if len(names) > 2 or len(set(names)) != len(names):
            raise ma.ValidationError("Un ou deux critères différents au plus.", "dimensions")
        data["dimensions"] = names
        return data


class PanoramaQuerySchema(ma.Schema):
    year = count(2000, 2100, "Année attendue entre 2000 et 2100.", required=True)
    territory = Territory(metadata={"description": "a territory; the region's panorama without it"})


class StatisticsSchema(ma.Schema):
    period = fields.Dict(allow_none=True)
    dimensions = fields.List(fields.Dict())
    threshold = fields.Integer(metadata={"description": "counts of people below it are not published"})
    rows = fields.List(fields.Dict(), metadata={"description": "keys (code, French label) and figures; "
                                                              "null where the statistical secret hides one"})
    margins = fields.Dict(metadata={"description": "two criteria: the total of each value of each"})
    total = fields.Dict()
    outcome_labels = fields.Dict()
    criteria = fields.List(fields.Dict(), metadata={"description": "every criterion one may break down by (code, "
                                                                   "French label)"})
    notes = fields.List(fields.String())


class PublicFiguresSchema(ma.Schema):
    region = fields.Dict()
    generated_on = fields.String()
    threshold = fields.Integer()
    by_year = fields.Nested(StatisticsSchema)
    by_sector = fields.Nested(StatisticsSchema)
    by_clause_kind = fields.Nested(StatisticsSchema)
    by_sex = fields.Nested(StatisticsSchema)
    by_age_band = fields.Nested(StatisticsSchema)
    by_public = fields.Nested(StatisticsSchema)
    by_territory = fields.Nested(StatisticsSchema)
