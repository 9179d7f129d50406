"""Shared plumbing: settings, event envelope, identifiers, tokens."""
import re
import time

import jwt
import marshmallow as ma
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from plumbing import events
from plumbing.auth import TokenVerifier, api_key_id, api_key_matches, hash_api_key, issue_token, new_api_key
from plumbing.settings import ClaimNames, SettingsError, load_settings
from plumbing.region import load_region
from plumbing.validation import siret_valid

from stack import StackConfig


def test_settings_report_every_problem_at_once_with_a_clear_message(monkeypatch):
    monkeypatch.setenv("KAFKA_TOPIC_PARTITIONS", "zero")
    monkeypatch.setenv("LOG_LEVEL", "CHATTY")
    monkeypatch.setenv("KAFKA_REPLICATION_FACTOR", "0")
    monkeypatch.setenv("AUTH_JWT_SECRET", "x" * 40)
    with pytest.raises(SettingsError) as error:
        load_settings("markets")
    message = str(error.value)
    assert message.startswith("invalid environment for the markets service")
    for name in ("KAFKA_TOPIC_PARTITIONS", "LOG_LEVEL", "KAFKA_REPLICATION_FACTOR"):
        assert name in message


def test_a_service_refuses_to_start_without_a_way_to_verify_tokens(monkeypatch):
    for name in ("AUTH_JWT_SECRET", "AUTH_JWT_PUBLIC_KEY", "AUTH_JWKS_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SettingsError, match="AUTH_JWT_SECRET"):
        load_settings("hours")


@pytest.fixture
def environment(monkeypatch):
    """A runnable environment but for the secret and ENVIRONMENT, which each test sets."""
    monkeypatch.setenv("REGION_FILE", str(StackConfig.region_file))
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    return monkeypatch


@pytest.mark.parametrize("secret, reason", [
    ("local-development-only-secret-not-for-production", "AUTH_JWT_SECRET is the published development secret"),
    ("dev-only-insecure-jwt-secret-not-for-production", "AUTH_JWT_SECRET is the published development secret"),
    ("s" * 31, "AUTH_JWT_SECRET is shorter than 32 bytes")])
def test_outside_development_a_service_refuses_a_published_or_short_secret_saying_what_to_do(environment, secret,
                                                                                           reason):
    environment.setenv("AUTH_JWT_SECRET", secret)
    with pytest.raises(SettingsError) as error:
        load_settings("markets")  # production unless ENVIRONMENT says otherwise

    message = str(error.value)
    assert message.startswith(f"invalid environment for the markets service: {reason}; set a random one")
    assert "\n" not in message and "ENVIRONMENT=development" in message


def test_in_development_the_published_secret_is_accepted_and_a_long_random_one_anywhere(environment):
    environment.setenv("AUTH_JWT_SECRET", "local-development-only-secret-not-for-production")
    environment.setenv("ENVIRONMENT", "development")
    assert load_settings("markets").environment == "development"

    environment.setenv("AUTH_JWT_SECRET", "s" * 32)
    environment.delenv("ENVIRONMENT")
    assert load_settings("markets").environment == "production"
    environment.setenv("ENVIRONMENT", "staging")
    with pytest.raises(SettingsError, match="ENVIRONMENT"):
        load_settings("markets")


def test_settings_have_working_defaults_and_a_topic_namespace(monkeypatch):
    monkeypatch.setenv("AUTH_JWT_SECRET", "x" * 40)
    monkeypatch.setenv("REGION_FILE", str(StackConfig.region_file))
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", "occitanie.")
    settings = load_settings("hours", extra={"ceiling": lambda env: env.int("HOURS_CEILING", 208)})
    assert settings.kafka_topic_partitions == 3
    assert settings.topic == "occitanie.hours.events"
    assert settings.dead_letter_topic == "occitanie.hours.deadletter"
    assert settings.events_topic("markets") == "occitanie.markets.events"
    assert settings.extra == {"ceiling": 208}
    assert (settings.max_request_bytes, settings.jwt_max_lifetime_hours) == (10 * 1024 * 1024, 24)


def test_an_event_survives_the_wire_and_a_non_event_is_refused_with_its_reason():
    event = events.Event(type="lot.awarded", producer="markets", key="lot-1", territories=["aude-departement"],
                         payload={"lot_id": "lot-1"})
    assert events.decode(events.encode(event)) == event
    with pytest.raises(ValueError, match="not JSON"):
        events.decode(b"\xff garbage")
    with pytest.raises(ValueError, match="not an event envelope"):
        events.decode(b'{"type": "lot.awarded"}')
    with pytest.raises(ValueError, match="not a JSON object"):
        events.decode(b"[1, 2]")


_ENVELOPE = {"id": "e1", "type": "lot.awarded", "version": 1, "time": "2026-01-01T00:00:00+00:00",
             "producer": "markets", "territories": ["aude-departement"], "key": "lot-1", "payload": {"lot_id": "lot-1"}}


@pytest.mark.parametrize("changes", [
    {}, {"version": "2"}, {"version": 2.0}, {"version": True}, {"version": 0}, {"id": "x" * 64}, {"id": "x" * 65},
    {"id": ""}, {"id": 7}, {"type": "lot.awarded\n"}, {"type": "Lot.awarded"}, {"type": "lot"}, {"key": ""},
    {"territories": []}, {"territories": [1]}, {"territories": "aude"}, {"payload": []}, {"payload": {}},
    {"time": None}, {"extra": 1}, {"producer": None}])
def test_the_quick_envelope_check_gives_the_schemas_verdict(changes):
    """decode checks the ordinary envelope without marshmallow: whatever it is given, it must accept what the
    schema accepts, as the schema loads it, and refuse what the schema refuses."""
    import json
    data = {**_ENVELOPE, **changes}
    try:
        expected = events._schema.load(json.loads(json.dumps(data)))
    except ma.ValidationError:
        with pytest.raises(ValueError, match="not an event envelope"):
            events.decode(json.dumps(data).encode())
    else:
        assert events.decode(json.dumps(data).encode()) == expected
    missing = {k: v for k, v in data.items() if k != "key"}
    with pytest.raises(ValueError, match="not an event envelope"):
        events.decode(json.dumps(missing).encode())


@pytest.mark.parametrize("siret, valid", [("73282932000074", True), ("73282932000075", False),
                                          ("35600000000048", True),  # La Poste's head office: Luhn
                                          ("35600000000010", True),  # La Poste: digit sum multiple of 5
                                          ("3560000000004", False), ("7328293200007A", False)])
def test_siret_check_key(siret, valid):
    assert siret_valid(siret) is valid


def test_api_keys_are_random_hashed_and_carry_their_id():
    key_id, key, stored = new_api_key()
    assert api_key_id(key) == key_id
    assert stored == hash_api_key(key) and key not in stored
    assert api_key_matches(key, stored)
    assert not api_key_matches(key + "x", stored)
    assert api_key_id("not-a-key") is None
    assert new_api_key()[1] != key


class _Settings:
    jwt_secret = "s" * 40
    jwt_max_lifetime_hours = 24
    jwt_public_key = None
    jwks_url = None
    jwt_issuer = None
    jwt_audience = None
    claims = ClaimNames()
    region = load_region(StackConfig.region_file)


def test_a_token_gives_role_and_territories_and_a_tampered_one_is_refused():
    token = issue_token(_Settings.jwt_secret, "claire", "facilitator", ["aude-departement"])
    principal = TokenVerifier(_Settings).verify(token)
    assert (principal.role, principal.territories) == ("facilitator", frozenset({"aude-departement"}))
    with pytest.raises(jwt.InvalidTokenError):
        TokenVerifier(_Settings).verify(token[:-2] + "xx")
    expired = issue_token(_Settings.jwt_secret, "claire", "facilitator", ["aude-departement"], hours=-1)
    with pytest.raises(jwt.ExpiredSignatureError):
        TokenVerifier(_Settings).verify(expired)


def test_a_company_staff_token_carries_its_siret_and_only_a_contractor_has_one():
    token = issue_token(_Settings.jwt_secret, "paie@btp.example", "contractor", [], siret="73282932000074")
    principal = TokenVerifier(_Settings).verify(token)
    assert (principal.role, principal.siret, principal.territories) == ("contractor", "73282932000074", frozenset())
    with pytest.raises(ValueError):
        issue_token(_Settings.jwt_secret, "paie@btp.example", "contractor", [])
    with pytest.raises(ValueError):
        issue_token(_Settings.jwt_secret, "claire", "facilitator", ["aude-departement"], siret="73282932000074")


def test_production_tokens_are_verified_with_the_identity_providers_public_key():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    class Production(_Settings):
        jwt_secret = None
        jwt_public_key = public_pem
        jwt_issuer = "https://idp.occitanie.example"
        jwt_audience = "clauses"

    now = int(time.time())
    claims = {"sub": "u1", "role": "buyer", "territories": ["aude-grand-narbonne"], "iat": now, "exp": now + 3600,
              "iss": Production.jwt_issuer, "aud": "clauses"}
    principal = TokenVerifier(Production).verify(jwt.encode(claims, private, algorithm="RS256"))
    assert principal.role == "buyer"
    with pytest.raises(jwt.InvalidTokenError):  # a token signed with the shared secret is not accepted
        TokenVerifier(Production).verify(jwt.encode(claims, "s" * 40, algorithm="HS256"))
    with pytest.raises(jwt.InvalidIssuerError):
        TokenVerifier(Production).verify(jwt.encode({**claims, "iss": "elsewhere"}, private, algorithm="RS256"))


def test_no_two_document_classes_share_a_name():
    """mongoengine keys its registry by class name: of two alike, one keeps a closed connection after
    a reconnect (tests reconnect for every app) and fails with "Cannot use MongoClient after close"."""
    import importlib

    import mongoengine as me
    for service in ("markets", "participants", "hours", "notifications"):
        importlib.import_module(f"{service}.store")

    def concrete(cls):
        for sub in cls.__subclasses__():
            if not sub._meta.get("abstract"):
                yield sub
            yield from concrete(sub)
    names = [cls.__name__ for cls in concrete(me.Document) if not cls.__module__.startswith("tests")]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


def test_text_search_folds_case_and_accents_and_matches_the_start_of_words():
    from plumbing.search import fold, word_pattern, words
    assert fold("ÉLOÏSE Benoît") == "eloise benoit" and fold("Œuvre, cæcum") == "oeuvre, caecum"
    assert words("  Bénali-Roussel d'Arc (.*) ") == ["benali", "roussel", "d", "arc"]
    pattern = re.compile(word_pattern("roussel").replace(r"[^\p{L}\p{N}]", r"[^\w]"), re.IGNORECASE)
    assert pattern.search("Bénali-Roussel") and pattern.search("ROUSSÉL") and not pattern.search("Darroussel")


def _found_both_ways(typed: str, document: dict, starts: list[str], fields: tuple[str, ...]) -> tuple[bool, bool]:
    """Whether ``typed`` finds the document by its stored word starts (``starts_condition``), and by the regex
    search on its texts (``text_condition``, run by Python's re: no \\p{…}, [\\W_] is neither letter nor digit)."""
    from plumbing.search import starts_condition, text_condition
    by_starts = all(clause["n"] in starts for clause in starts_condition(typed, "n").get("$and", []))
    by_regex = all(any(re.search(one[field]["$regex"].replace(r"[^\p{L}\p{N}]", r"[\W_]"), document[field] or "",
                                 re.IGNORECASE) for one in clause["$or"] for field in one)
                   for clause in text_condition(typed, fields).get("$and", []))
    return by_starts, by_regex


def test_stored_word_starts_find_what_the_text_search_finds():
    from plumbing.search import starts_condition, word_starts
    names = [("Yasmina", "Bénali-Roussel"), ("Jean", "d'Arc"), ("Élodie", "Darroussel"), (None, None)]
    for typed in ("rous", "ben rous", "BENAL", "d arc", "élo", "darr", "roussel x", "jean-d", "(.*)", "ar"):
        for first, last in names:
            by_starts, by_regex = _found_both_ways(typed, {"first": first, "last": last},
                                                   word_starts(first, last), ("first", "last"))
            assert by_starts == by_regex, (typed, first, last)
    assert word_starts(None, None) == [] and starts_condition("  ", "n") == {}


def test_a_markets_stored_word_starts_find_what_the_search_on_its_reference_and_title_found():
    from markets.store import Market
    markets = [("AUDE-2024-017", "Réhabilitation de l'école Jean-Jaurès"), ("MAPA_2025/03", "Espaces verts — lot 2"),
               ("CD11.2026.0042", "Entretien des routes départementales"), ("X", "Œuvre d'art")]
    found = {}
    for typed in ("2024", "aude 017", "024", "rehab", "ÉCOLE jean", "jaur", "l'éc", "mapa 2025", "2025/03", "03",
                  "espaces ver", "lot 2", "cd11 0042", "0042 routes", "dép", "oeuvre", "œuv", "OEU", "oe", "art d", "(.*)", "x",
                  "école 2025", "tes"):
        for reference, title in markets:
            market = Market(reference=reference, title=title)
            market.clean()  # what every write runs
            by_starts, by_regex = _found_both_ways(typed, {"reference": reference, "title": title},
                                                   market.text_starts, ("reference", "title"))
            assert by_starts == by_regex, (typed, reference, title)
            found.setdefault(typed, []).extend([reference] if by_starts else [])
    assert found["jaur"] == found["ÉCOLE jean"] == found["aude 017"] == ["AUDE-2024-017"]
    assert found["03"] == ["MAPA_2025/03"] and found["dép"] == ["CD11.2026.0042"]
    assert found["œuv"] == found["oeuvre"] == found["OEU"] == ["X"]  # the ligature typed as two letters too
    assert found["024"] == found["école 2025"] == found["tes"] == []
    assert len(found["(.*)"]) == 4


def test_the_relay_looks_again_soon_after_publishing_then_backs_off_to_its_interval_however_long_it_idles():
    from plumbing.consumer import relay_wait
    waits = [relay_wait(n, 0.2) for n in range(5)]
    assert waits == [0.05, 0.1, 0.2, 0.2, 0.2]
    assert relay_wait(100_000, 0.2) == 0.2  # a day idle: still the interval, no overflow


def test_the_months_a_span_of_dates_covers_are_few_or_none():
    from datetime import date

    from plumbing.months import month_of, months_spanned
    assert months_spanned(date(2026, 12, 3), date(2027, 2, 1)) == ["2026-12", "2027-01", "2027-02"]
    assert months_spanned(date(2026, 6, 30), date(2026, 6, 30)) == ["2026-06"]
    assert months_spanned(date(2026, 7, 1), date(2026, 6, 30)) == []
    assert len(months_spanned(date(2026, 1, 1), date(2027, 12, 31))) == 24
    assert months_spanned(date(2026, 1, 1), date(2028, 1, 1)) is None  # over 24 months: the dates alone filter
    assert month_of(date(2026, 3, 9)) == "2026-03" and month_of(None) is None
