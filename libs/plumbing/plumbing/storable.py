"""What the database would refuse, found before the first write of a request.

MongoDB and FerretDB refuse a key holding a NUL character, starting with ``$`` or (FerretDB) holding a
``.``; FerretDB also refuses a NUL inside a string, and no server stores a string that is not valid
Unicode (a lone surrogate, which JSON can carry as ``\\ud800``). Found only at the write, such a value
answers 500, possibly after other documents of the request were written: a request checks its values
with these functions first, and refuses the bad ones with a clear message.
"""


def unstorable_text(text: str) -> str | None:
    """Why this text cannot be stored (French), or None."""
    if "\x00" in text:
        return "un caractère nul (U+0000) n'est pas accepté."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "le texte contient un caractère Unicode invalide (demi-paire de substitution)."
    return None


def unstorable_key(key: str) -> str | None:
    """Why this name cannot be a key of a stored document (French), or None."""
    if key.startswith("$") or "." in key:
        return "un nom de champ ne peut ni commencer par « $ » ni contenir de point."
    return unstorable_text(key)


def unstorable(value) -> str | None:
    """The first reason, anywhere in a JSON value (objects, lists, strings), why it cannot be stored.
    Walked with a stack rather than recursion: nesting depth is the sender's choice."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            reason = unstorable_text(item)
        elif isinstance(item, dict):
            reason = next(filter(None, map(unstorable_key, item)), None)
            pending.extend(item.values())
        else:
            reason = None
            if isinstance(item, list):
                pending.extend(item)
        if reason:
            return reason
    return None
