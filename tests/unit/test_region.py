"""A region's configuration file: loaded and checked at start-up, defaults resolved per territory."""
from decimal import Decimal

import pytest
from plumbing.settings import SettingsError, load_settings

from stack import StackConfig

REGIONS = StackConfig.region_file.parent


@pytest.fixture
def start(monkeypatch, tmp_path):
    """``start(yaml_text)`` -> the settings a service starting with that region file gets."""
    monkeypatch.setenv("AUTH_JWT_SECRET", "x" * 40)

    def load(text: str | None = None, path=None):
        if text is not None:
            path = tmp_path / "region.yaml"
            path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("REGION_FILE", str(path))
        return load_settings("hours")
    return load


def test_the_aude_example_keeps_its_three_territories_and_their_partners(start):
    region = start(path=REGIONS / "aude.yaml").region
    assert list(region.territories) == ["aude-carcassonne-agglo", "aude-departement", "aude-grand-narbonne"]
    assert [t.departement for t in region.territories.values()] == ["11", "11", "11"]
    services = [p.service for t in region.territories.values() for p in t.partners]
    assert services == ["Service des clauses sociales", "Service insertion", "Service économie sociale et solidaire"]
    assert all(p.email.endswith(".example") for t in region.territories.values() for p in t.partners)


def test_the_herault_example_is_a_departmental_mission_with_a_territory_for_state_markets(start):
    region = start(path=REGIONS / "herault.yaml").region
    assert region.name == "Mission Interinstitutionnelle Clause Sociale 34"
    names = [t.name for t in region.territories.values()]
    assert "Montpellier Méditerranée Métropole" in names and "Services de l'État dans l'Hérault" in names
    assert {t.departement for t in region.territories.values()} == {"34"}


def test_a_territory_takes_its_own_defaults_then_the_regions_then_the_usual_values(start):
    region = start("""
id: test
name: Région d'essai
defaults: {monthly_ceiling_hours: 180, ramp_days: 30}
territories:
  - {id: nord, name: Nord, departement: "59", defaults: {monthly_ceiling_hours: 151.67, auto_validation: true}}
  - {id: corse-du-sud, name: Corse-du-Sud, departement: "2A"}
""").region
    nord, corse = region.defaults_for("nord"), region.defaults_for("corse-du-sud")
    assert (nord.monthly_ceiling_hours, nord.ramp_days, nord.auto_validation) == (Decimal("151.67"), 30, True)
    assert (corse.monthly_ceiling_hours, corse.ramp_days, corse.auto_validation) == (180, 30, False)
    assert (corse.counting_window_months, corse.retention_months, corse.progress_tolerance,
            corse.behind_ratio) == (24, 24, 0.2, 0.5)
    assert region.defaults_for("gone-since") == region.defaults  # events of a territory no longer in the file


def test_a_broken_region_file_stops_the_service_naming_every_problem(start):
    with pytest.raises(SettingsError) as error:
        start("""
id: Aude
territories:
  - id: aude-departement
    name: Département de l'Aude
    departement: 11
    partners: [{name: Département de l'Aude, email: insertion-at-aude.example}]
    defaults: {monthly_ceiling_hours: 300, colour: red}
  - {id: Aude Carcassonne, name: Carcassonne Agglo, departement: "20"}
""")
    message = str(error.value)
    assert message.startswith("invalid region file") and "region.yaml for the hours service" in message
    for problem in ("id: a slug is expected", "name:", "territories[0].departement: a département code in quotes",
                    "territories[0].partners[0].email:", "territories[0].defaults.monthly_ceiling_hours:",
                    "territories[0].defaults.colour:", "territories[1].id:", "territories[1].departement:"):
        assert problem in message, problem


@pytest.mark.parametrize("text, expected", [
    ("territories: [", "not valid YAML"),
    ("", "territories:"),
    ("id: a\nname: A\nterritories:\n  - {id: t, name: T, departement: '11'}\n"
     "  - {id: t, name: T bis, departement: '11'}", "territories: each territory once: t"),
    ("id: a\nname: A\ndefaults: {progress_tolerance: 0.3, behind_ratio: 0.8}\n"
     "territories: [{id: t, name: T, departement: '11'}]", "behind_ratio (0.8) must stay below"),
])
def test_other_broken_files_say_what_is_wrong(start, text, expected):
    with pytest.raises(SettingsError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        start(text)


def test_a_service_refuses_to_start_without_its_region_file(start, monkeypatch, tmp_path):
    with pytest.raises(SettingsError, match="cannot read it"):
        start(path=tmp_path / "missing.yaml")
    monkeypatch.delenv("REGION_FILE")
    with pytest.raises(SettingsError, match="set REGION_FILE"):
        load_settings("markets")
