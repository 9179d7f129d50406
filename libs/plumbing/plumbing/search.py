"""Text search as people type it: each word typed is the start of a word of the text, whatever the case and
the accents (« benal » finds « Bénali-Roussel », « rous » too).

Two ways, one meaning: ``text_condition``, a MongoDB condition on the stored fields themselves (regexes FerretDB
and MongoDB both run, over every document the rest of the filter leaves: fine for a few thousand short texts);
and ``word_starts`` stored beside the text, kept by the document's every write, which ``starts_condition`` finds
by equality, from an index (a store's regexes read every document: 1.3 s on 2,000 participants on FerretDB).
"""
import re
import unicodedata


LIGATURES = {"oe": "œŒ", "ae": "æÆ"}  # Unicode does not decompose them: « oeuvre » is typed for « œuvre »
_UNTIE = str.maketrans({char: pair for pair, chars in LIGATURES.items() for char in chars})


def fold(text: str) -> str:
    """Lower case, accents and ligatures undone: « Éloïse » -> « eloise », « Œuvre » -> « oeuvre »."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().translate(_UNTIE)


def _letter_variants() -> dict[str, str]:
    """Each letter a–z with the accented letters of the Latin alphabets written on it, in both cases."""
    variants: dict[str, set[str]] = {}
    for code in range(0xC0, 0x250):  # Latin-1 Supplement, Latin Extended-A and B
        char = chr(code)
        base = fold(char)
        if len(base) == 1 and "a" <= base <= "z" and char.isalpha():
            variants.setdefault(base, {base, base.upper()}).update({char, char.swapcase()})
    return {base: "[" + "".join(sorted(chars)) + "]" for base, chars in variants.items()}


_VARIANTS = _letter_variants()
_WORD_START = r"(?:^|[^\p{L}\p{N}])"  # the text's start, or after a space, a hyphen, an apostrophe…


def words(query: str) -> list[str]:
    """The words typed, folded: what is neither a letter nor a digit separates them."""
    return [word for word in re.split(r"[^\w]+|_", fold(query)) if word]


def word_pattern(word: str) -> str:
    """A regex finding a word of the text that starts with ``word`` (folded), accented or not, « oe » written
    as two letters or one."""
    parts = [_VARIANTS.get(char, re.escape(char)) for char in word]
    for at in range(len(word) - 1, 0, -1):  # from the end, so that the parts before keep their places
        if tied := LIGATURES.get(word[at - 1:at + 1]):  # a ligature holds both letters, or neither
            parts[at - 1:at + 1] = [f"(?:{parts[at - 1]}{parts[at]}|[{tied}])"]
    return _WORD_START + "".join(parts)


def text_condition(query: str, fields: tuple[str, ...]) -> dict:
    """A raw MongoDB condition: every word typed starts a word of one of ``fields`` ({} when none is typed)."""
    conditions = [{"$or": [{field: {"$regex": word_pattern(word), "$options": "i"}} for field in fields]}
                  for word in words(query)]
    return {"$and": conditions} if conditions else {}


def word_starts(*texts: str | None) -> list[str]:
    """Every start of every word of the texts, folded: what ``starts_condition`` looks a typed word up in."""
    return sorted({word[:end] for text in texts if text for word in words(text) for end in range(1, len(word) + 1)})


def starts_condition(query: str, field: str) -> dict:
    """A raw MongoDB condition on a field holding ``word_starts``: every word typed starts a word of the texts
    ({} when none is typed)."""
    conditions = [{field: word} for word in words(query)]
    return {"$and": conditions} if conditions else {}


def starts_with(field: str, prefix: str) -> dict:
    """A raw MongoDB condition: ``field`` starts with ``prefix`` as typed (mongoengine's ``__startswith``
    sends a regex flag, ``u``, that FerretDB refuses)."""
    return {field: {"$regex": "^" + re.escape(prefix)}}


def name_or_siret(query: str, name_field: str = "name", siret_field: str = "siret") -> dict:
    """A raw MongoDB condition for a search box of organisations: digits are the start of a SIRET (typed in
    groups of three or not), anything else words of the name."""
    digits = query.replace(" ", "")
    return starts_with(siret_field, digits) if digits.isdigit() else text_condition(query, (name_field,))
