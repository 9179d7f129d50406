"""Follow-up a facilitator can trust, across the whole stack over HTTP (issue 14, items 1 and 2): an exit
stops the count, lines accepted before an exit recorded late are flagged and reviewed, and eligibility keeps
its history, each line judged under the decision in force over its period. The demo's stories, checked."""
import pytest

from demo import run_eligibility_history_story, run_exit_story

pytestmark = pytest.mark.e2e


def test_a_late_exit_flags_the_lines_after_it_a_facilitator_reviews_them_and_later_lines_are_refused(stack):
    platform, _ = stack
    story = run_exit_story(platform, out=lambda _: None)
    lines = story["lines"]

    # March and April were accepted and validated before the exit of 28/02 was recorded: flagged, not removed.
    assert sorted(line["id"] for line in story["flagged"]) == sorted([lines["2026-03"]["id"], lines["2026-04"]["id"]])
    assert all(line["status"] == "validated" and line["exit_review"]["status"] == "pending"
               and line["exit_review"]["exited_on"] == "2026-02-28" for line in story["flagged"])
    # Confirmed: keeps counting; rejected: out of the count, with the reason the company reads.
    assert (story["confirmed"]["status"], story["confirmed"]["exit_review"]["status"]) == ("validated", "confirmed")
    assert (story["rejected"]["status"], story["rejected"]["exit_review"]["status"]) == ("rejected", "rejected")
    assert story["rejected"]["rejection_reason"] == "Heures postérieures à la sortie en CDI"
    assert story["progress"]["realised_hours"] == 240  # February and March; April no longer counts
    s_reviews = platform.call("GET", "hours", "/api/v1/declarations/exit-reviews?page_size=100",
                              platform.token("facilitator", "aude-carcassonne-agglo"))
    assert [line for line in s_reviews if line["participant_id"] == story["participant_id"]] == []

    refused = story["refused"]
    assert refused["status"] == 422
    assert refused["rule"] == "participant_exited"
    assert refused["detail"] == ("Le participant est sorti du dispositif le 28/02/2026 : ses heures ne comptent "
                                 "plus après cette date (mai 2026).")


def test_the_eligibility_history_is_shown_and_each_line_counts_under_the_decision_in_force(stack):
    platform, _ = stack
    story = run_eligibility_history_story(platform, out=lambda _: None)

    history = story["history"]
    assert [(d["kind"], d["effective_on"]) for d in history] == [
        ("granted", "2026-01-01"), ("revoked", "2026-02-28"), ("renewed", "2026-05-01")]
    assert [d["reason"] for d in history] == [None, "Déménagement hors du département",
                                              "Retour sur le territoire, nouvelle attestation"]
    assert [d["evidence"]["reference"] if d["evidence"] else None for d in history] == [
        "FT-2025-118", None, "FT-2026-442"]
    assert all(d["decided_by"] == "claire.martin" for d in history)

    assert story["february"]["status"] in ("submitted", "validated")  # a past line, under the first decision
    assert story["june"]["status"] in ("submitted", "validated")  # under the renewal
    march = story["march"]
    assert (march["status"], march["rule"]) == (422, "participant_not_eligible")
    assert march["detail"].endswith("ses heures comptent du 01/01/2026 au 28/02/2026 et du 01/05/2026 au "
                                    "30/04/2028.")
