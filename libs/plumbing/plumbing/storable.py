"""What the database would refuse in a text, found before the first write of a request.

BSON refuses a NUL in a field name, FerretDB in a string too, and no server stores a string that is not
valid Unicode (a lone UTF-16 surrogate, which JSON can carry as ``\\ud800``). No text of the platform
needs either. Found only at the write, such a value answers 500, possibly after other documents of the
request were written: JSON bodies are checked by ``plumbing.guard``, uploaded files by ``plumbing.spreadsheets``.
"""
import re

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text(text: str) -> str | None:
    """Why this text cannot be stored (French), or None."""
    found = UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "un caractère nul (U+0000) n'est pas accepté."
    return "le texte contient un caractère Unicode invalide (demi-paire de substitution)."
