"""Search by name: a practitioner's name, a clinic's name, or a licence or NPI number, typed
with or without accents, with a typo, or only its beginning.

The rule, written here once, for both databases:

- The text is folded (no case, no accents, other scripts transliterated) and cut into words of
  ASCII letters and digits (words(); "Siobhán O'Brien-Ní" → siobhan, o, brien, ni). Each
  practitioner's *document* is the words of their name, their clinics' names, their licence
  number and their NPI (document()), kept in practitioners.search_words by a flush hook
  (refresh_search_words()), like the search copies of directory.listing.
- A practitioner matches when every word typed matches a word of the document: the same word;
  a word it begins (for the last word typed, of PREFIX_MIN_LENGTH or more); or, for a word of
  TYPO_MIN_LENGTH letters or more, a word within one edit (two from TYPO_TWO_EDITS letters:
  a letter changed, added, dropped, or two swapped) whose trigram similarity to it is at least
  TRIGRAM_FLOOR (pg_trgm's measure).
- Ranked by how many typed words matched exactly, then by the document (its name first), then id.

How each database finds them (the same results, tested on both):

- Typos: the words of every document are kept in the search_words table (a vocabulary). The
  candidates sharing trigrams with the typed word come from an index — on SQLite an FTS5
  trigram table (search_word_trigrams), on PostgreSQL pg_trgm's GIN index (`%`, with the
  similarity threshold set to TRIGRAM_FLOOR on each connection) — and the rule above is
  applied to them here, in Python, so both keep exactly the same words.
- Documents: on SQLite an FTS5 index (practitioner_search, kept by triggers), on PostgreSQL
  full-text search (to_tsvector('simple', search_words) under a GIN index); each typed word
  becomes "this word, or one of its typos, or a word beginning so", all of them required.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from anyascii import anyascii
from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import (
    bindparam,
    case,
    event,
    func,
    literal,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, attributes
from sqlalchemy.sql import ColumnElement

from directory.models import PracticeLocation, Practitioner, SearchWord
from directory.search import rtree

MAX_LENGTH = 200  # characters typed
MAX_WORDS = 8
MAX_WORD_LENGTH = 40
PREFIX_MIN_LENGTH = 3
TYPO_MIN_LENGTH = 4
TYPO_TWO_EDITS = 8
TRIGRAM_FLOOR = 0.2
MAX_TYPOS = 20  # per typed word, the most alike first
TOO_LONG = f"Type at most {MAX_LENGTH} characters: a name, a clinic or a licence number."
TOO_MANY_WORDS = f"Type at most {MAX_WORDS} words."
NO_WORDS = "Type a name, a clinic's name or a licence number (letters or digits)."

_WORD = re.compile(r"[a-z0-9]+")

# What the migrations make outside the models, per database: 0014's FTS5 tables (and their own
# tables, named after them) on SQLite and full-text index on PostgreSQL; 0018's R*Tree on SQLite
# (directory.search.rtree). Alembic's comparison of the models with the database leaves them out
# (directory/migrations/env.py).
OUTSIDE_THE_MODELS = ("practitioner_search", "search_word_trigrams",
                      "ix_practitioners_search_words", *rtree.OUTSIDE_THE_MODELS)


def outside_the_models(name: str | None, type_: str, _parent_names=None) -> bool:
    """Whether a database object is one of OUTSIDE_THE_MODELS (Alembic's include_name turned
    round: it returns True for the ones to leave out)."""
    return bool(name) and type_ in ("table", "index") and name.startswith(OUTSIDE_THE_MODELS)


class NameQueryError(ValueError):
    """Text that cannot be searched for; `message` is for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def words(text: str | None) -> list[str]:
    """The folded words of a text, in ASCII letters and digits: "Siobhán O'Brien" → siobhan,
    o, brien; "Søren" → soren; "Прохоров" → prokhorov (anyascii's transliteration). Both
    databases then see the same plain words, whatever their locale."""
    return _WORD.findall(anyascii(text or "").lower())


def document(full_name: str | None, licence_number: str | None, npi: str | None,
             clinic_names: Iterable[str | None]) -> str:
    """The words a practitioner is found by, each once, the name's first. A licence number
    is also one word without its separators ("PT-40431" is pt, 40431 and pt40431), as people
    type it either way."""
    found: dict[str, None] = {}
    for part in (full_name, *sorted(c or "" for c in clinic_names), licence_number, npi):
        found.update(dict.fromkeys(w[:MAX_WORD_LENGTH] for w in words(part)))
    for number in (licence_number, npi):
        joined = "".join(words(number))
        if joined:
            found[joined[:MAX_WORD_LENGTH]] = None
    return " ".join(found)


def _vocabulary_words(search_words: str) -> set[str]:
    """The words of a document that a typo may reach (letters only, long enough)."""
    return {w for w in search_words.split() if len(w) >= TYPO_MIN_LENGTH and w.isalpha()}


# --------------------------------------------------------------------------- the typo rule

def trigrams(word: str) -> set[str]:
    """pg_trgm's trigrams of one word: padded with two spaces before and one after."""
    padded = f"  {word} "
    return {padded[i:i + 3] for i in range(len(padded) - 2)}


def similarity(a: str, b: str) -> float:
    """pg_trgm's similarity of two words: shared trigrams over all their trigrams."""
    ta, tb = trigrams(a), trigrams(b)
    return len(ta & tb) / len(ta | tb)


def max_edits(word: str) -> int:
    return 2 if len(word) >= TYPO_TWO_EDITS else 1


def is_typo_of(typed: str, word: str) -> bool:
    """Whether a vocabulary word counts as the typed word with a typo."""
    return (word != typed and OSA.distance(typed, word, score_cutoff=max_edits(typed))
            <= max_edits(typed) and similarity(typed, word) >= TRIGRAM_FLOOR)


def typo_candidates_sql(dialect: str, typed: str):
    """(statement, parameters) reading the vocabulary words sharing trigrams with the typed
    word, from the database's trigram index: a superset of the words is_typo_of() keeps (a
    word with similarity TRIGRAM_FLOOR or more shares at least two trigrams with a typed word
    of TYPO_MIN_LENGTH letters, so one of them is not its first, "  x")."""
    # A word more edits longer or shorter than allowed is no typo of it: left out at once.
    edits = max_edits(typed)
    length = {"shortest": len(typed) - edits, "longest": len(typed) + edits}
    near_length = func.length(SearchWord.word).between(bindparam("shortest"),
                                                       bindparam("longest"))
    if dialect == "postgresql":
        return (select(SearchWord.word).where(SearchWord.word.op("%")(bindparam("typed")),
                                              near_length), {"typed": typed, **length})
    terms = " OR ".join(f'"{t}"' for t in sorted(trigrams(typed)) if not t.startswith("  "))
    return (select(SearchWord.word).where(text(
        "search_words.rowid IN (SELECT rowid FROM search_word_trigrams "
        "WHERE search_word_trigrams MATCH :trigrams)"), near_length),
        {"trigrams": terms, **length})


def typos_among(typed: str, candidates: list[str]) -> list[str]:
    """The candidates is_typo_of() keeps, the most alike first (at most MAX_TYPOS): the edit
    distance computed for all of them at once (rapidfuzz), the similarity for the few within
    reach."""
    edits = max_edits(typed)
    close = process.extract(typed, candidates, scorer=OSA.distance, score_cutoff=edits,
                            limit=None)
    kept = [(distance, -similarity(typed, word), word) for word, distance, _ in close
            if word != typed and similarity(typed, word) >= TRIGRAM_FLOOR]
    return [word for *_, word in sorted(kept)[:MAX_TYPOS]]


# ------------------------------------------------------------------------------ a query


@dataclass(frozen=True)
class Term:
    """One typed word: itself, its typos found in the vocabulary, and whether it may be the
    beginning of a word (the last word typed, as one types: "siobhan mur")."""

    word: str
    typos: tuple[str, ...] = ()
    prefix: bool = False


@dataclass(frozen=True)
class NameQuery:
    """What was typed, as terms the database can look up."""

    text: str
    terms: tuple[Term, ...]

    def fts5(self) -> str:
        """The FTS5 query: every term required, each as alternatives."""
        def alternatives(term: Term) -> str:
            options = [f'"{w}"' for w in (term.word, *term.typos)]
            if term.prefix:
                options.append(f'"{term.word}"*')
            return "(" + " OR ".join(options) + ")"
        return " AND ".join(alternatives(t) for t in self.terms)

    def tsquery(self) -> str:
        """The same query for PostgreSQL's to_tsquery('simple', ...)."""
        def alternatives(term: Term) -> str:
            options = [*(term.word, *term.typos)]
            if term.prefix:
                options.append(f"{term.word}:*")
            return "(" + " | ".join(options) + ")"
        return " & ".join(alternatives(t) for t in self.terms)

    def parameters(self, dialect: str) -> dict[str, str]:
        """The bind parameters of match_clause() and rank_expression()."""
        found = {"name_match": self.tsquery() if dialect == "postgresql" else self.fts5()}
        found |= {f"name_word_{i}": f"% {t.word} %" for i, t in enumerate(self.terms)}
        return found

    @property
    def size(self) -> int:
        """How many terms: the shape of the rank expression."""
        return len(self.terms)


def check(typed: str | None) -> list[str]:
    """The words of a name query, or NameQueryError with what to type instead."""
    typed = (typed or "").strip()
    if len(typed) > MAX_LENGTH:
        raise NameQueryError(TOO_LONG)
    found = list(dict.fromkeys(w[:MAX_WORD_LENGTH] for w in words(typed)))
    if not found:
        raise NameQueryError(NO_WORDS)
    if len(found) > MAX_WORDS:
        raise NameQueryError(TOO_MANY_WORDS)
    return found


def parse(connection: Connection, typed: str | None) -> NameQuery:
    """The query for what was typed, with each word's typos read from the vocabulary.
    Raises NameQueryError for text that cannot be searched for."""
    typed_words = check(typed)
    terms = []
    for i, word in enumerate(typed_words):
        terms.append(Term(word, typos_of(connection, word),
                          prefix=i == len(typed_words) - 1 and len(word) >= PREFIX_MIN_LENGTH))
    return NameQuery((typed or "").strip(), tuple(terms))


# Each process remembers a word's typos for a few minutes (people search for the same names
# again and again); it forgets them all when it adds words to the vocabulary itself.
TYPO_MEMORY_S = 300.0
TYPO_MEMORY_WORDS = 20_000
_remembered: dict[tuple[str, str], tuple[float, tuple[str, ...]]] = {}


def typos_of(connection: Connection, word: str) -> tuple[str, ...]:
    """The vocabulary's words that count as the word with a typo (none for short words or
    words with digits)."""
    if len(word) < TYPO_MIN_LENGTH or not word.isalpha():
        return ()
    key = (connection.dialect.name, word)
    now = time.monotonic()
    seen = _remembered.get(key)
    if seen is not None and now - seen[0] < TYPO_MEMORY_S:
        return seen[1]
    statement, params = typo_candidates_sql(connection.dialect.name, word)
    found = tuple(typos_among(word, connection.execute(statement, params).scalars().all()))
    if len(_remembered) >= TYPO_MEMORY_WORDS:
        _remembered.clear()
    _remembered[key] = (now, found)
    return found


def document_matches(dialect: str) -> ColumnElement[bool]:
    """SQL: the practitioners row in the query matches the name query (bind parameter
    name_match)."""
    if dialect == "postgresql":
        # The same expression as the index's (migration 0014), with the configuration
        # written into the SQL: a bound one would not match the index.
        simple = literal_column("'simple'::regconfig")
        return (func.to_tsvector(simple, Practitioner.search_words)
                .op("@@")(func.to_tsquery(simple, bindparam("name_match"))))
    return match_clause(dialect, Practitioner.id)


def match_clause(dialect: str, practitioner_id) -> ColumnElement[bool]:
    """SQL: the practitioner with this id matches the query (bind parameter name_match)."""
    if dialect == "postgresql":
        return practitioner_id.in_(select(Practitioner.id).where(document_matches(dialect)))
    return practitioner_id.in_(select(text("rowid")).select_from(text("practitioner_search"))
                               .where(text("practitioner_search MATCH :name_match")))


def rank_expression(size: int):
    """SQL: how many of the query's words the document holds exactly (parameters
    name_word_0...)."""
    padded = literal(" ") + Practitioner.search_words + literal(" ")
    return sum((case((padded.like(bindparam(f"name_word_{i}")), 1), else_=0)
                for i in range(size)), literal(0))


def order_key(dialect: str):
    """SQL: the document, compared byte by byte on both databases (its name first)."""
    if dialect == "postgresql":
        return Practitioner.search_words.collate("C")
    return Practitioner.search_words


# ---------------------------------------------------------------------------- upkeep


def refresh_search_words(connection: Connection, practitioner_ids: Iterable[int]) -> None:
    """Recompute these practitioners' documents from their rows and add the new words to the
    vocabulary: after every change to a name, a clinic's name, a licence or an NPI (the flush
    hook below), and after bulk inserts (the importer)."""
    ids = sorted(set(practitioner_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = connection.execute(select(
            Practitioner.id, Practitioner.full_name, Practitioner.licence_number,
            Practitioner.npi, Practitioner.search_words).where(Practitioner.id.in_(chunk))).all()
        clinics: dict[int, list[str]] = {}
        for pid, clinic in connection.execute(
                select(PracticeLocation.practitioner_id, PracticeLocation.clinic_name)
                .where(PracticeLocation.practitioner_id.in_(chunk))):
            clinics.setdefault(pid, []).append(clinic)
        changed = []
        for pid, name, licence, npi, stored in rows:
            current = document(name, licence, npi, clinics.get(pid, []))
            if current != stored:
                changed.append({"pid": pid, "words": current})
        if changed:
            # One statement for the chunk; not an edit of the profile: updated_at stays.
            connection.execute(update(Practitioner).where(Practitioner.id == bindparam("pid"))
                               .values(search_words=bindparam("words"),
                                       updated_at=Practitioner.updated_at), changed)
        add_to_vocabulary(connection, set().union(*(_vocabulary_words(c["words"])
                                                    for c in changed)))


def add_to_vocabulary(connection: Connection, new_words: set[str]) -> None:
    """Add words to the vocabulary (the words already there are kept as they are)."""
    if not new_words:
        return
    known = set(connection.execute(select(SearchWord.word).where(
        SearchWord.word.in_(sorted(new_words)))).scalars())
    missing = sorted(new_words - known)
    if missing:
        # Another transaction may add the same word meanwhile: theirs stands, no error.
        insert = (postgresql_insert if connection.dialect.name == "postgresql"
                  else sqlite_insert)(SearchWord).on_conflict_do_nothing()
        connection.execute(insert, [{"word": w} for w in missing])
        _remembered.clear()  # a new word may be another's typo


_WATCHED = {Practitioner: ("full_name", "licence_number", "npi"),
            PracticeLocation: ("clinic_name", "practitioner_id")}


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    """Keep the documents of the practitioners a flush changed."""
    ids: set[int] = set()
    for obj in session.new:
        if isinstance(obj, Practitioner):
            ids.add(obj.id)
        elif isinstance(obj, PracticeLocation):
            ids.add(obj.practitioner_id)
    for obj in session.dirty:
        watched = _WATCHED.get(type(obj))
        if not watched:
            continue
        state = attributes.instance_state(obj)
        if not any(state.attrs[name].history.has_changes() for name in watched):
            continue
        if isinstance(obj, Practitioner):
            ids.add(obj.id)
        else:
            ids.add(obj.practitioner_id)
            ids |= {v for v in state.attrs["practitioner_id"].history.deleted if v}
    for obj in session.deleted:
        if isinstance(obj, PracticeLocation):
            ids.add(obj.practitioner_id)
    ids.discard(None)
    if not ids:
        return
    refresh_search_words(session.connection(), ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Practitioner) and obj.id in ids and obj not in session.deleted:
            session.expire(obj, ["search_words"])


@event.listens_for(Engine, "connect")
def _trigram_threshold(dbapi_connection, _record) -> None:
    """On PostgreSQL, pg_trgm's `%` keeps words of similarity TRIGRAM_FLOOR or more."""
    if type(dbapi_connection).__module__.split(".")[0] not in ("psycopg", "psycopg2"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute(f"SET pg_trgm.similarity_threshold = {TRIGRAM_FLOOR}")
    cursor.close()
    dbapi_connection.commit()
