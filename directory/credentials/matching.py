"""Match the training program names practitioners type to the recognised programs.

The approach measured in the research notes (21 of 22 messy inputs right, against 12 of 16 for
plain ``token_set_ratio``): normalise the text, expand acronyms from an alias table, drop generic
words and reject when nothing provider-specific is left, read the level number and use it as a
hard filter, score with ``token_set_ratio``, break ties with ``token_sort_ratio`` and flag near
ties between levels of one organisation as ambiguous.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz

AUTO_MATCH = 90
SUGGEST = 75
TIE_MARGIN = 3

PROGRAMS_PATH = Path(__file__).resolve().parent.parent / "data" / "programs.json"

# Words that say nothing about who gave the training. Dropped before scoring.
GENERIC_WORDS = frozenset({
    "dry", "needling", "needle", "needles", "level", "trigger", "point", "points", "course",
    "courses", "cert", "certificate", "certification", "certified", "program", "programme",
    "training", "the", "of", "in", "for", "and", "or", "a", "an", "with", "to", "on", "by",
    "at", "dn", "acupuncture", "medical", "myofascial", "physiotherapy", "physiotherapist",
    "physiotherapists", "physio", "physical", "therapist", "therapists", "pt", "pts", "online",
    "live", "hybrid", "workshop", "class", "module", "unit", "hours", "hrs", "completed",
    "complete",
})

# Words that say a credential covers a whole program rather than one level.
CERTIFICATE_WORDS = frozenset({"cert", "certificate", "certification", "certified"})

# Words that tell tiers or units apart, or say what kind of body gave the training, but name no
# provider on their own. Kept for scoring, but an input made only of these (and numbers) is
# rejected, and sharing only these with a program earns no token_set "subset" bonus.
QUALIFIER_WORDS = frozenset({
    "advanced", "foundation", "foundations", "foundational", "basic", "intermediate",
    "upper", "lower", "quarter", "part", "ii", "full", "sequence", "exam", "member",
    "membership", "accredited", "accreditation", "diploma", "attestation",
    "seminar", "seminars", "institute", "academy", "university", "college", "school",
    "education", "association", "society", "listed", "trainers", "earlier",
})

# Acronyms and short forms practitioners type, expanded to words the program rows contain.
# Single-word organisation acronyms found in the program data are added at run time.
ACRONYMS: dict[str, str] = {
    "fdn": "kinetacore functional dry needling",
    "tdn": "trigger point dry needling",
    "dn": "dry needling",
    "idn": "integrative dry needling",
    "smi": "spinal manipulation institute",
    "aamt": "american academy of manipulative therapy",
    "eim": "evidence in motion",
    "ims": "gunn intramuscular stimulation",
    "ubc": "university of british columbia",
    "aacp": "acupuncture association of chartered physiotherapists",
    "maacp": "acupuncture association of chartered physiotherapists member",
    "unimelb": "university of melbourne",
    "afci": "acupuncture canada",
}

# Phrases replaced before word-level expansion (their words alone would be dropped as generic).
PHRASES: dict[str, str] = {
    "s and f": "structure and function",
    "cert dn": "certdn",
    "melbourne uni": "university of melbourne",
}

# Acronyms after which a bare number or numeral is the program level ("FDN 2", "DN II").
LEVEL_ACRONYMS = frozenset({"dn", "fdn", "tdn", "idn"})
LEVEL_WORDS = LEVEL_ACRONYMS | {"level"}

NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5",
}

_ACRONYM_ALT = "|".join(sorted(LEVEL_WORDS))
# "level 2", "dn 1", "fdn 2", and lists such as "level 1 and 2".
_LEVEL_RE = re.compile(rf"\b({_ACRONYM_ALT}) (\d{{1,2}}(?: (?:and |to )?\d{{1,2}})*)\b")
# A lone digit closing the text ("Myopain Seminars 2") is a level when no other level is named.
_TRAILING_LEVEL_RE = re.compile(r"(?<=[a-z]) ([1-5])$")


def normalise(text: str) -> str:
    """Lower-case, strip accents and punctuation, and spell levels as "level N" / "dn N"."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("&", " and ")
    text = re.sub(r"[^a-z0-9]+", " ", text)
    # "dn1" -> "dn 1", "27h" -> "27 h"; course codes stay whole: "vu 23639" -> "vu23639".
    text = re.sub(r"(?<=[a-z])(?=\d{1,2}\b)|(?<=\d)(?=[a-z])", " ", text)
    text = re.sub(r"\b([a-z]{2,4}) (\d{5})\b", r"\1\2", text)
    words = text.split()
    out: list[str] = []
    in_level = False  # after "level" or a level acronym, and on through "1 and 2"
    for i, word in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if word in ("lvl", "lv", "lev") or (word == "l" and _is_number(nxt)):
            word = "level"
        elif in_level and word in NUMBER_WORDS:
            word = NUMBER_WORDS[word]
        in_level = word in LEVEL_WORDS or (in_level and (word.isdigit() or word in ("and", "to")))
        out.append(word)
    return " ".join(out)


def _is_number(token: str) -> bool:
    """True for digits, number words and roman numerals one to five."""
    return token.isdigit() or token in NUMBER_WORDS


def extract_levels(normalised: str) -> set[int]:
    """The level numbers named in normalised text ("level 2", "dn 1", "fdn 2", "myopain 2")."""
    levels = {int(n) for m in _LEVEL_RE.finditer(normalised)
              for n in m.group(2).split() if n.isdigit()}
    if not levels and (trailing := _TRAILING_LEVEL_RE.search(normalised)):
        levels.add(int(trailing.group(1)))
    return levels


def _drop_levels(normalised: str) -> str:
    """Remove level numbers, keeping the word or acronym before them."""
    text = _LEVEL_RE.sub(r"\1", normalised)
    return text if text != normalised else _TRAILING_LEVEL_RE.sub("", text)


def _is_specific(word: str) -> bool:
    """True for a word that can name a provider (not a qualifier, not a number)."""
    return word not in QUALIFIER_WORDS and not word.isdigit()


def _pair_score(query: str, candidate: str) -> tuple[float, float]:
    """token_set_ratio (and the token_sort_ratio tie-breaker) of two prepared strings.

    token_set_ratio scores 100 whenever one side's words are a subset of the other's; when the
    only shared words are qualifiers ("academy", "advanced") the plain token_sort_ratio is used.
    """
    tie_break = fuzz.token_sort_ratio(query, candidate)
    shared = set(query.split()) & set(candidate.split())
    if shared and not any(_is_specific(w) for w in shared):
        return tie_break, tie_break
    return fuzz.token_set_ratio(query, candidate), tie_break


@dataclass(frozen=True)
class Match:
    """The outcome of matching one typed program name."""

    key: str | None
    score: float
    outcome: str  # "matched" (>= 90) | "suggested" (75 <= score < 90) | "unrecognised"
    ambiguous: bool
    candidates: list[tuple[str, float]] = field(default_factory=list)


def _unrecognised(score: float = 0.0, candidates: list[tuple[str, float]] | None = None) -> Match:
    """A Match for a name that fits no recognised program."""
    return Match(key=None, score=round(score, 1), outcome="unrecognised", ambiguous=False,
                 candidates=candidates or [])


@dataclass(frozen=True)
class _Program:
    """A program row prepared for scoring."""

    key: str
    organisation: str
    level: int | None
    strings: tuple[str, ...]


@dataclass(frozen=True)
class _Query:
    """A typed name prepared for scoring."""

    text: str
    levels: frozenset[int]
    certificate: bool


def load_programs(path: str | Path | None = None) -> list[dict]:
    """Read the recognised programs from directory/data/programs.json (or another path)."""
    with open(path or PROGRAMS_PATH, encoding="utf-8") as fh:
        return json.load(fh)


class ProgramMatcher:
    """Matches free-text program names against a list of recognised program rows."""

    def __init__(self, programs: Iterable[Mapping]) -> None:
        """Build the alias table and the candidate strings of every program."""
        rows = list(programs)
        self.acronyms: dict[str, str] = dict(ACRONYMS)
        for row in rows:
            acronym = normalise(row.get("organisation_acronym") or "")
            if acronym and " " not in acronym and acronym not in self.acronyms:
                self.acronyms[acronym] = normalise(row["organisation"])
        self.programs: list[_Program] = []
        for row in rows:
            org, acronym = row["organisation"], row.get("organisation_acronym") or ""
            texts = [org, f"{org} {row['name']}", *row.get("aliases", [])]
            if acronym:
                texts.append(f"{acronym} {row['name']}")
            strings = {self.prepare(t).text for t in texts} - {""}
            self.programs.append(_Program(key=row["key"], organisation=org,
                                          level=row.get("level"), strings=tuple(sorted(strings))))
        self.vocabulary = frozenset(w for p in self.programs for s in p.strings for w in s.split())

    def prepare(self, text: str, *, fuzzy: bool = False) -> _Query:
        """Normalise, read the levels, expand acronyms and drop generic words."""
        norm = normalise(text)
        levels = frozenset(extract_levels(norm))
        norm = f" {_drop_levels(norm)} "
        for phrase, expansion in PHRASES.items():
            norm = norm.replace(f" {phrase} ", f" {expansion} ")
        words: list[str] = []
        for part in norm.split():
            expansion = self.acronyms.get(part)
            words.extend(normalise(expansion).split() if expansion else [part])
        kept: list[str] = []
        for word in words:
            if word in GENERIC_WORDS or (len(word) == 1 and word.isalpha()):
                continue
            if fuzzy and self._looks_generic(word):
                continue
            if word not in kept:
                kept.append(word)
        certificate = any(w in CERTIFICATE_WORDS for w in words)
        return _Query(text=" ".join(kept), levels=levels, certificate=certificate)

    def _looks_generic(self, word: str) -> bool:
        """True for a misspelt generic word ("neeedling") that no program uses."""
        if len(word) < 5 or word in self.vocabulary:
            return False
        return any(fuzz.ratio(word, g) >= 85 for g in GENERIC_WORDS if len(g) >= 5)

    def _pools(self, query: _Query) -> list[list[_Program]]:
        """The program rows the query may match, most fitting first.

        One level named: only rows of that level (a hard filter). Several levels, or a
        certificate word and no level: the level-less (whole-program) rows first, then the rows
        of the named levels, or every row.
        """
        combined = [p for p in self.programs if p.level is None]
        if len(query.levels) == 1:
            return [[p for p in self.programs if p.level in query.levels]]
        if query.levels:
            return [combined, [p for p in self.programs if p.level in query.levels]]
        if query.certificate:
            return [combined, self.programs]
        return [self.programs]

    def match(self, text: str) -> Match:
        """Match one typed program name: matched, suggested or unrecognised."""
        query = self.prepare(text, fuzzy=True)
        if not any(_is_specific(w) for w in query.text.split()):
            return _unrecognised()
        result = _unrecognised()
        for pool in self._pools(query):
            result = self._best(query.text, pool)
            if result.outcome != "unrecognised":
                break
        return result

    def _best(self, query: str, pool: Sequence[_Program]) -> Match:
        """Score the query against a pool of programs and decide the outcome."""
        scored = sorted(
            ((max(_pair_score(query, s) for s in p.strings), i, p)
             for i, p in enumerate(pool) if p.strings),
            key=lambda item: (-item[0][0], -item[0][1], item[1]),
        )
        if not scored:
            return _unrecognised()
        candidates = [(p.key, round(s[0], 1)) for s, _, p in scored[:3]]
        (best, best_tb), _, top = scored[0]
        near_tie = same_org = False
        if len(scored) > 1:
            (second, second_tb), _, runner_up = scored[1]
            # A tie that token_sort_ratio does not break either.
            near_tie = best - second <= TIE_MARGIN and best_tb - second_tb <= TIE_MARGIN
            same_org = runner_up.organisation == top.organisation
        if best < SUGGEST:
            return _unrecognised(best, candidates)
        # Near ties are never auto-matched: ambiguous between levels of one organisation, and
        # downgraded to a suggestion (not flagged ambiguous) between two organisations.
        outcome = "matched" if best >= AUTO_MATCH and not near_tie else "suggested"
        return Match(key=top.key, score=round(best, 1), outcome=outcome,
                     ambiguous=near_tie and same_org, candidates=candidates)
