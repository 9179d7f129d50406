"""French words of the codes several services show a person (one definition each)."""

# How a participant's hours are done (the hours service's modes), as a page or a report says them.
MODE_LABELS_FR = {
    "direct_hire": "embauche directe", "etti": "mise à disposition par une ETTI", "geiq": "mise à disposition par un GEIQ",
    "ai": "mise à disposition par une association intermédiaire", "siae_subcontracting": "sous-traitance à une SIAE",
    "siae_cocontracting": "cotraitance avec une SIAE", "training": "heures de formation"}
