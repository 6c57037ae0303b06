"""Tuning-side families: real labeled data from pinned registry packages (see `lexicons`),
never evaluated on. Each builder returns the candidate items per class on its side; none asks
what an evaluation-side family asks (the language of a text, its shape, a number's size):
`Family.asks` names the question and the registry keeps the two sides' questions apart.

Items are whole inputs (a word, a name, a city, a verse): an item belongs to one side by its
salted hash (`sides.side_of`), so no item of a tuning prompt is ever an evaluation query.
"""

from __future__ import annotations

import random

from symtune.errors import SymtuneError
from symtune.tasks import lexicons
from symtune.tasks.sides import LETTERS, Pools, exclusive, side_of
from symtune.tasks.spec import FamilySource

# --- lexicons of words and names ----------------------------------------------------------


def word_sentiment(src: FamilySource, side: str, rng: random.Random) -> Pools:
    words = [
        (w, v)
        for w, v in lexicons.vader_lexicon()
        if len(w) >= 3 and LETTERS.fullmatch(w) and side_of(w) == side
    ]
    return {
        "negative": [w for w, v in words if v <= -1.0],
        "positive": [w for w, v in words if v >= 1.0],
    }


def _clean_names(side: str) -> list[tuple[str, str, str]]:
    """gender-guesser's single-word alphabetic names listed once, on this side."""
    rows = [r for r in lexicons.name_table() if "+" not in r[1] and LETTERS.fullmatch(r[1])]
    seen: dict[str, int] = {}
    for _, name, _ in rows:
        seen[name.casefold()] = seen.get(name.casefold(), 0) + 1
    return [r for r in rows if seen[r[1].casefold()] == 1 and side_of(r[1]) == side]


def name_gender(src: FamilySource, side: str, rng: random.Random) -> Pools:
    rows = _clean_names(side)
    return {
        "female": [n for g, n, _ in rows if g == "F"],
        "male": [n for g, n, _ in rows if g == "M"],
    }


def name_origin(src: FamilySource, side: str, rng: random.Random) -> Pools:
    countries = lexicons.NAME_COUNTRIES
    unknown = [c for c in src.classes if c not in countries]
    if unknown or len(src.classes) < 2:
        raise SymtuneError(
            f"family name_origin: classes {list(src.classes)}; expected two or more of "
            f"{', '.join(countries)}"
        )
    pools: Pools = {c.replace("_", " ").title(): [] for c in src.classes}
    for _, name, columns in _clean_names(side):
        used = [countries[i] for i, ch in enumerate(columns) if ch.strip()]
        if len(used) == 1 and used[0] in src.classes:  # a name of one country only
            pools[used[0].replace("_", " ").title()].append(name)
    return pools


def mimesis_gender(src: FamilySource, side: str, rng: random.Random) -> Pools:
    names = lexicons.mimesis_names()
    return exclusive({"female": names["female"], "male": names["male"]}, side)


def name_part(src: FamilySource, side: str, rng: random.Random) -> Pools:
    names = lexicons.mimesis_names()
    first = names["female"] + names["male"]
    return exclusive({"first name": first, "surname": lexicons.mimesis_surnames()}, side)


# --- parts of speech ----------------------------------------------------------------------

POS = {"noun": "noun", "verb": "verb", "adj": "adjective", "adv": "adverb"}
PENN = {"NN": "noun", "NNS": "noun", "JJ": "adjective", "JJR": "adjective", "JJS": "adjective"}
PENN |= {t: "verb" for t in ("VB", "VBD", "VBG", "VBN", "VBP", "VBZ")}
PENN |= {"RB": "adverb", "RBR": "adverb", "RBS": "adverb"}


def _one_class(pairs: list[tuple[str, str]], side: str, classes: tuple[str, ...]) -> Pools:
    """Lower-case words of 3+ letters whose every listed tag maps to one of `classes`."""
    tags: dict[str, set[str]] = {}
    for word, tag in pairs:
        if len(word) >= 3 and word == word.lower() and LETTERS.fullmatch(word):
            tags.setdefault(word, set()).add(tag)
    pools: Pools = {c: [] for c in classes}
    for word, found in tags.items():
        if len(found) == 1 and (label := next(iter(found))) in pools and side_of(word) == side:
            pools[label].append(word)
    return pools


def _classes(src: FamilySource, known: tuple[str, ...], family: str) -> tuple[str, ...]:
    classes = src.classes or known
    unknown = [c for c in classes if c not in known]
    if unknown or len(classes) < 2:
        raise SymtuneError(
            f"family {family}: classes {list(classes)}; expected two or more of {list(known)}"
        )
    return classes


def pos_lemminflect(src: FamilySource, side: str, rng: random.Random) -> Pools:
    classes = _classes(src, tuple(POS.values()), "pos_lemminflect")
    pairs = [(w, POS.get(p, p)) for w, p in lexicons.lemminflect_pos()]
    return _one_class(pairs, side, classes)


def pos_textblob(src: FamilySource, side: str, rng: random.Random) -> Pools:
    classes = _classes(src, tuple(POS.values()), "pos_textblob")
    pairs = [(w, PENN.get(t, t)) for w, tags in lexicons.textblob_lexicon() for t in tags]
    return _one_class(pairs, side, classes)


def pos_wonderwords(src: FamilySource, side: str, rng: random.Random) -> Pools:
    classes = _classes(src, ("noun", "verb", "adjective"), "pos_wonderwords")
    pairs = [(w, c) for c in classes for w in lexicons.wonderwords_list(c)]
    return _one_class(pairs, side, classes)


# --- sentences and places -----------------------------------------------------------------

BOOK_GROUPS = {
    "Law": ("OLD_TESTAMENT_LAW",),
    "History": ("OLD_TESTAMENT_HISTORY",),
    "Poetry": ("OLD_TESTAMENT_POETRY_WISDOM",),
    "Prophets": ("OLD_TESTAMENT_MAJOR_PROPHETS", "OLD_TESTAMENT_MINOR_PROPHETS"),
    "Gospels": ("NEW_TESTAMENT_GOSPELS",),
    "Epistles": ("NEW_TESTAMENT_PAUL_EPISTLES", "NEW_TESTAMENT_GENERAL_EPISTLES"),
}
MIN_WORDS, MAX_WORDS = 8, 40


def _verses(side: str) -> list[tuple[int, str]]:
    """Verses of 8-40 words on this side, each text listed once."""
    rows = [
        (book, text)
        for book, text in lexicons.bible_verses()
        if MIN_WORDS <= len(text.split()) <= MAX_WORDS
    ]
    counts: dict[str, int] = {}
    for _, text in rows:
        counts[text.casefold()] = counts.get(text.casefold(), 0) + 1
    return [(b, t) for b, t in rows if counts[t.casefold()] == 1 and side_of(t) == side]


def verse_testament(src: FamilySource, side: str, rng: random.Random) -> Pools:
    verses = _verses(side)
    return {
        "Old Testament": [t for b, t in verses if b <= 39],
        "New Testament": [t for b, t in verses if b >= 40],
    }


def verse_book_group(src: FamilySource, side: str, rng: random.Random) -> Pools:
    books = lexicons.bible_books()
    groups = lexicons.bible_book_groups()
    number = {name: i + 1 for i, name in enumerate(books)}
    group_of: dict[int, str] = {}
    for label, parts in BOOK_GROUPS.items():
        for part in parts:
            if part not in groups:
                raise SymtuneError(f"pythonbible: book group {part} not found")
            group_of.update({number[book]: label for book in groups[part]})
    pools: Pools = {label: [] for label in BOOK_GROUPS}
    for book, text in _verses(side):
        if book in group_of:
            pools[group_of[book]].append(text)
    return pools


CONTINENTS = {"AF": "Africa", "AS": "Asia", "EU": "Europe", "NA": "North America"}
CONTINENTS |= {"SA": "South America"}
CITY_COUNTRIES = {"US": "United States", "IN": "India", "CN": "China", "BR": "Brazil"}
CITY_COUNTRIES |= {"JP": "Japan", "RU": "Russia"}
EUROPE = {"DE": "Germany", "GB": "United Kingdom", "FR": "France", "IT": "Italy"}
EUROPE |= {"ES": "Spain"}
LARGE_CITY = 50_000


def city_continent(src: FamilySource, side: str, rng: random.Random) -> Pools:
    rows = [c for c in lexicons.cities() if c[3] >= LARGE_CITY and c[2] in CONTINENTS]
    return exclusive(_grouped(rows, lambda c: CONTINENTS[c[2]], CONTINENTS.values()), side)


def city_country(src: FamilySource, side: str, rng: random.Random) -> Pools:
    rows = [c for c in lexicons.cities() if c[1] in CITY_COUNTRIES]
    return exclusive(_grouped(rows, lambda c: CITY_COUNTRIES[c[1]], CITY_COUNTRIES.values()), side)


def city_country_europe(src: FamilySource, side: str, rng: random.Random) -> Pools:
    rows = [c for c in lexicons.cities() if c[1] in EUROPE]
    return exclusive(_grouped(rows, lambda c: EUROPE[c[1]], EUROPE.values()), side)


def city_hemisphere(src: FamilySource, side: str, rng: random.Random) -> Pools:
    rows = [c for c in lexicons.cities() if c[3] >= LARGE_CITY and abs(c[4]) >= 1.0]
    labels = ("northern", "southern")
    return exclusive(_grouped(rows, lambda c: labels[c[4] < 0], labels), side)


def _grouped(rows, key, labels) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {label: [] for label in labels}
    for row in rows:
        out[key(row)].append(row[0])
    return out
