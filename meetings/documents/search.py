"""Full-text search that forgives missing diacritics: "nghi quyet" finds "Nghị quyết".

Text is matched in a normal form: NFD with combining marks removed, đ → d, case-folded and
whitespace collapsed. The form is built character by character so that each position in it
maps back to the original text, which is what lets a snippet show the original words.
"""

import unicodedata
from dataclasses import dataclass

SNIPPET_CONTEXT = 60  # characters of original text either side of the first hit
_SPECIAL = {"đ": "d", "Đ": "d"}


@dataclass(frozen=True, slots=True)
class Normalised:
    """A text's search form and, per character of it, the index in the original text."""

    text: str
    origin: list[int]


def _fold(ch: str) -> str:
    if ch in _SPECIAL:
        return _SPECIAL[ch]
    decomposed = unicodedata.normalize("NFD", ch)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def normalise_with_map(text: str) -> Normalised:
    """The search form of ``text`` (see the module docstring) with its position map."""
    out: list[str] = []
    origin: list[int] = []
    space = True  # drops leading whitespace and collapses runs
    for index, ch in enumerate(unicodedata.normalize("NFC", text)):
        if ch.isspace():
            if not space:
                out.append(" ")
                origin.append(index)
            space = True
            continue
        space = False
        for folded in _fold(ch):
            out.append(folded)
            origin.append(index)
    if out and out[-1] == " ":
        out.pop()
        origin.pop()
    return Normalised("".join(out), origin)


def normalise(text: str) -> str:
    """The search form of ``text``."""
    return normalise_with_map(text).text


def terms(query: str) -> list[str]:
    """The normalised words of a query, each to be found (in any order)."""
    return [t for t in dict.fromkeys(normalise(query).split(" ")) if t]


def snippet(text: str, words: list[str]) -> str:
    """A short extract of ``text`` around the first of ``words`` it contains (original form)."""
    text = unicodedata.normalize("NFC", text)
    form = normalise_with_map(text)
    hits = [i for i in (form.text.find(w) for w in words) if i >= 0]
    if not hits:
        return " ".join(text[: 2 * SNIPPET_CONTEXT].split())
    start_norm = min(hits)
    start = form.origin[start_norm]
    begin = max(0, start - SNIPPET_CONTEXT)
    end = min(len(text), start + SNIPPET_CONTEXT)
    extract = " ".join(text[begin:end].split())
    return ("…" if begin > 0 else "") + extract + ("…" if end < len(text) else "")


def like_pattern(word: str) -> str:
    """A LIKE pattern matching ``word`` anywhere, with LIKE's wildcards escaped (escape ``\\``)."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
