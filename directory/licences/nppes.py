"""United States: the NPPES dissemination file and the automatic licence check against it.

- load_file() streams the monthly NPPES file (about 9 million rows of 330 columns) and replaces
  nppes_providers with the individuals (Entity Type Code 1) holding a taxonomy the directory
  serves, plus the deactivated NPIs, in one transaction. The file is read and checked whole
  first (header, field count of every line, UTF-8, dates), its kept rows spooled to a temporary
  file; only a file without faults reaches the database. A fault stops the load with its line
  number and changes nothing.
- match() compares a practitioner with their NPI's record: active, name, taxonomy of their
  profession, licence number and state. verify_from_nppes() records the licence verified when
  everything matches (method automatic, source "NPPES file of <file date>"); a mismatch records
  nothing: an administrator sees match()'s reasons on the licence review page.
- check_pending() runs verify_from_nppes() for the US practitioners with an NPI whose licence
  waits for a check, or whose check falls due within RECHECK_WINDOW_DAYS.

Which NUCC taxonomies count for which profession is defined once, in PROFESSION_TAXONOMIES; the
NUCC names come from directory/data/nucc_taxonomy.csv.
"""

from __future__ import annotations

import csv
import json
import pickle
import re
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path

from rapidfuzz import fuzz
from sqlalchemy import delete, insert, or_, select

from directory.extensions import db
from directory.licences import services
from directory.models import Licence, NppesFile, NppesProvider, Practitioner, User, record
from directory.models.base import utcnow
from directory.vocab import PROFESSIONS, LicenceMethod, LicenceStatus

NUCC_PATH = Path(__file__).resolve().parent.parent / "data" / "nucc_taxonomy.csv"

# --------------------------------------------------------------------------- the file layout


def _nppes_columns() -> tuple[str, ...]:
    """The 330 columns of the NPPES full replacement monthly file (npidata_pfile_*.csv), in
    order, as in CMS's NPPES Data Dissemination layout (2025: "Provider Sex Code" replaced
    "Provider Gender Code"; "Certification Date" is the last column)."""
    cols = ["NPI", "Entity Type Code", "Replacement NPI", "Employer Identification Number (EIN)",
            "Provider Organization Name (Legal Business Name)",
            "Provider Last Name (Legal Name)", "Provider First Name", "Provider Middle Name",
            "Provider Name Prefix Text", "Provider Name Suffix Text", "Provider Credential Text",
            "Provider Other Organization Name", "Provider Other Organization Name Type Code",
            "Provider Other Last Name", "Provider Other First Name",
            "Provider Other Middle Name", "Provider Other Name Prefix Text",
            "Provider Other Name Suffix Text", "Provider Other Credential Text",
            "Provider Other Last Name Type Code"]
    for kind in ("Mailing", "Practice Location"):
        cols += [f"Provider First Line Business {kind} Address",
                 f"Provider Second Line Business {kind} Address",
                 f"Provider Business {kind} Address City Name",
                 f"Provider Business {kind} Address State Name",
                 f"Provider Business {kind} Address Postal Code",
                 f"Provider Business {kind} Address Country Code (If outside U.S.)",
                 f"Provider Business {kind} Address Telephone Number",
                 f"Provider Business {kind} Address Fax Number"]
    cols += ["Provider Enumeration Date", "Last Update Date", "NPI Deactivation Reason Code",
             "NPI Deactivation Date", "NPI Reactivation Date", "Provider Sex Code",
             "Authorized Official Last Name", "Authorized Official First Name",
             "Authorized Official Middle Name", "Authorized Official Title or Position",
             "Authorized Official Telephone Number"]
    for i in range(1, SLOTS + 1):
        cols += [f"Healthcare Provider Taxonomy Code_{i}", f"Provider License Number_{i}",
                 f"Provider License Number State Code_{i}",
                 f"Healthcare Provider Primary Taxonomy Switch_{i}"]
    for i in range(1, 51):
        cols += [f"Other Provider Identifier_{i}", f"Other Provider Identifier Type Code_{i}",
                 f"Other Provider Identifier State_{i}", f"Other Provider Identifier Issuer_{i}"]
    cols += ["Is Sole Proprietor", "Is Organization Subpart", "Parent Organization LBN",
             "Parent Organization TIN", "Authorized Official Name Prefix Text",
             "Authorized Official Name Suffix Text", "Authorized Official Credential Text"]
    cols += [f"Healthcare Provider Taxonomy Group_{i}" for i in range(1, SLOTS + 1)]
    cols += ["Certification Date"]
    return tuple(cols)


SLOTS = 15  # taxonomy / licence slots per record
NPPES_COLUMNS = _nppes_columns()

# The columns the load reads (found by name: the other columns may change without harm).
NPI, ENTITY, LAST, FIRST, MIDDLE, CREDENTIAL, OTHER_LAST, OTHER_FIRST, DEACTIVATED, \
    REACTIVATED = ("NPI", "Entity Type Code", "Provider Last Name (Legal Name)",
                   "Provider First Name", "Provider Middle Name", "Provider Credential Text",
                   "Provider Other Last Name", "Provider Other First Name",
                   "NPI Deactivation Date", "NPI Reactivation Date")
SLOT_COLUMNS = tuple((f"Healthcare Provider Taxonomy Code_{i}", f"Provider License Number_{i}",
                      f"Provider License Number State Code_{i}",
                      f"Healthcare Provider Primary Taxonomy Switch_{i}")
                     for i in range(1, SLOTS + 1))
REQUIRED_COLUMNS = (NPI, ENTITY, LAST, FIRST, MIDDLE, CREDENTIAL, OTHER_LAST, OTHER_FIRST,
                    DEACTIVATED, REACTIVATED, *(c for slot in SLOT_COLUMNS for c in slot))

# ----------------------------------------------------------------- taxonomies and professions


@dataclass(frozen=True)
class Served:
    """The NUCC taxonomies that show a profession: codes equal to or starting with a prefix."""

    noun: str  # "a physical therapist": how a reason names the profession
    prefixes: tuple[str, ...]

    def accepts(self, code: str) -> bool:
        return code.startswith(self.prefixes)


# Profession (vocab.PROFESSIONS) → the taxonomies of the NPPES record that show it. NUCC does not
# tell allopathic from osteopathic physicians: both are the "Allopathic & Osteopathic
# Physicians" family (20...). Occupational therapists include their specialisations (225X...:
# hand, paediatrics...), as physical therapists (2251...) and chiropractors (111N...) do.
PROFESSION_TAXONOMIES: dict[str, Served] = {
    "physiotherapist": Served("a physical therapist", ("2251",)),
    "chiropractor": Served("a chiropractor", ("111N",)),
    "medical_doctor": Served("a physician", ("20",)),
    "osteopathic_physician": Served("an osteopathic physician", ("20",)),
    "occupational_therapist": Served("an occupational therapist", ("225X",)),
    "athletic_trainer": Served("an athletic trainer", ("2255A2300X",)),
    "acupuncturist": Served("an acupuncturist", ("171100000X",)),
}
SERVED_PREFIXES: tuple[str, ...] = tuple(sorted(
    {p for served in PROFESSION_TAXONOMIES.values() for p in served.prefixes}))


def serves(code: str) -> bool:
    """True for a taxonomy code the directory serves (a record with one is kept): a NUCC code
    (10 characters, the last an X, as the file writes it) of a served family."""
    return len(code) == 10 and code[-1] == "X" and code.startswith(SERVED_PREFIXES)


@dataclass(frozen=True)
class Taxonomy:
    """One NUCC code with its names."""

    code: str
    grouping: str
    classification: str
    specialization: str

    @property
    def name(self) -> str:
        return ", ".join(n for n in (self.classification, self.specialization) if n)


@cache
def nucc_taxonomies() -> dict[str, Taxonomy]:
    """The vendored NUCC codes (directory/data/nucc_taxonomy.csv), each served prefix checked to
    name at least one of them."""
    with NUCC_PATH.open(encoding="utf-8", newline="") as fh:
        lines = (line for line in fh if not line.startswith("#"))
        found = {row["code"]: Taxonomy(row["code"], row["grouping"], row["classification"],
                                       row["specialization"])
                 for row in csv.DictReader(lines)}
    for prefix in SERVED_PREFIXES:
        if not any(code.startswith(prefix) for code in found):
            raise ValueError(f"{NUCC_PATH.name} has no NUCC code for the served taxonomy "
                             f"{prefix}")
    return found


def describe_code(code: str) -> str:
    """"225100000X Physical Therapist", or the code alone when the vendored list lacks it."""
    known = nucc_taxonomies().get(code)
    return f"{code} {known.name}" if known else code


# ---------------------------------------------------------------------------------- the load


class NppesFileError(ValueError):
    """A fault in an NPPES file: the load stops and nothing is changed."""

    def __init__(self, line: int, message: str):
        super().__init__(f"Line {line}: {message}")
        self.line = line


@dataclass
class LoadResult:
    """What a load read and kept."""

    file: NppesFile
    rows_read: int
    rows_kept: int
    deactivated_kept: int
    seconds: float


_FILE_DATE = re.compile(r"(?<!\d)(\d{8})(?!\d)")


def file_date_of(path: Path) -> date:
    """The file's date from its name (npidata_pfile_20050523-20261109.csv: the last date), else
    the day it was last modified (UTC)."""
    for text in reversed(_FILE_DATE.findall(path.name)):
        try:
            return datetime.strptime(text, "%Y%m%d").date()
        except ValueError:
            continue
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).date()


def _date(text: str, line: int, column: str) -> date | None:
    """An NPPES date (MM/DD/YYYY), None when empty."""
    text = text.strip()
    if not text:
        return None
    try:
        month, day, year = text.split("/")
        if len(year) != 4:
            raise ValueError(year)
        return date(int(year), int(month), int(day))
    except ValueError:
        raise NppesFileError(line, f"{column} {text!r} is not a date (MM/DD/YYYY)") from None


def _decode(raw: bytes, line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NppesFileError(line, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at character "
                                   f"{exc.start + 1}); the NPPES file is UTF-8") from None


def _fields(text: str, line: int) -> list[str]:
    try:
        return next(csv.reader([text], strict=True))
    except csv.Error as exc:
        raise NppesFileError(line, f"not a CSV line ({exc})") from None


# Served codes as the file writes them (a whole quoted field). Used only on lines whose every
# field is quoted and holds no quote (see _scan): there every served code shows as '"<code>"'.
_SERVED_BYTES = tuple(p.encode() for p in SERVED_PREFIXES)


def _has_candidate(line: bytes) -> bool:
    """Whether a line may hold a served code: a quoted field of 10 characters ending in X
    that starts with a served prefix."""
    start = line.find(b'X"', 10)
    while start >= 0:
        if line[start - 10] == 34 and line[start - 9:start + 1].startswith(_SERVED_BYTES):
            return True
        start = line.find(b'X"', start + 2)
    return False


class _Header:
    """Where the columns the load reads are in this file."""

    def __init__(self, raw: bytes):
        text = _decode(raw, 1).lstrip("\ufeff").rstrip("\r\n")
        names = [n.strip() for n in _fields(text, 1)] if text else []
        missing = [c for c in REQUIRED_COLUMNS if c not in names]
        if missing:
            shown = ", ".join(repr(c) for c in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise NppesFileError(1, f"not the header of an NPPES dissemination file: no column "
                                    f"{shown}{more} ({len(names)} columns found, "
                                    f"{len(NPPES_COLUMNS)} expected)")
        self.width = len(names)
        at = {name: i for i, name in reversed(list(enumerate(names)))}
        self.npi, self.entity = at[NPI], at[ENTITY]
        self.names = tuple(at[c] for c in (LAST, FIRST, MIDDLE, CREDENTIAL, OTHER_LAST,
                                           OTHER_FIRST))
        self.deactivated, self.reactivated = at[DEACTIVATED], at[REACTIVATED]
        self.slots = tuple(tuple(at[c] for c in slot) for slot in SLOT_COLUMNS)
        self.codes = tuple(slot[0] for slot in self.slots)
        # The byte-level shortcut reads the NPI and the entity type where the layout has them.
        self.fast = self.npi == 0 and self.entity == 1


# Name columns' lengths in nppes_providers (a longer value is cut, never refused).
_NAME_LENGTHS = (70, 40, 40, 40, 70, 40)


@dataclass
class _Scan:
    rows_read: int = 0
    rows_kept: int = 0
    deactivated_kept: int = 0


def _keep(fields: list[str], header: _Header, line: int) -> tuple | None:
    """The row to keep from one parsed line, or None."""
    entity = fields[header.entity].strip()
    if entity == "2":
        return None
    if entity not in ("1", ""):
        raise NppesFileError(line, f"Entity Type Code {entity!r} is not 1, 2 or empty")
    if entity == "1" and not any(serves(fields[c]) for c in header.codes if fields[c]):
        return None
    slots = [[fields[c].strip(), fields[n].strip(), fields[s].strip().upper(),
              fields[p].strip().upper()] for c, n, s, p in header.slots if fields[c].strip()]
    npi = fields[header.npi].strip()
    if not re.fullmatch(r"\d{10}", npi):
        raise NppesFileError(line, f"NPI {npi!r} is not 10 digits")
    deactivated = _date(fields[header.deactivated], line, DEACTIVATED)
    reactivated = _date(fields[header.reactivated], line, REACTIVATED)
    if deactivated and reactivated and reactivated >= deactivated:
        deactivated = None
    if entity == "" and deactivated is None:
        return None  # neither an individual nor a deactivated NPI: nothing to check against
    names = tuple(fields[i].strip()[:n] for i, n in zip(header.names, _NAME_LENGTHS,
                                                        strict=True))
    return (npi, *names, deactivated, slots)


def _scan(fh, spool, progress: Callable[[int], None] | None) -> _Scan:
    """Read and check every line of an open NPPES file, pickling the kept rows to `spool` in
    batches. Raises NppesFileError at the first fault."""
    header = _Header(fh.readline())
    width, fast = header.width, header.fast
    quotes, separators = 2 * width, width - 1
    scan = _Scan()
    batch: list[tuple] = []
    seen: set[int] = set()  # the NPIs kept so far (as numbers: a third of the memory of text)
    line = 1
    for raw in fh:
        line += 1
        if raw in (b"\n", b"\r\n"):
            continue  # a blank line holds no record (as the csv module reads it)
        scan.rows_read += 1
        if progress is not None and scan.rows_read % 1_000_000 == 0:
            progress(scan.rows_read)
        ascii_ = raw.isascii()
        # The shortcut: a line whose `width` fields are all quoted and hold no quote has exactly
        # 2 × width quotes and width - 1 '","' separators, starts and ends with a quote (and the
        # reverse holds: such a line is that). There the entity type is at a fixed place and a
        # served taxonomy code shows as '"<code>"', so an organisation, or an individual
        # without a served code, is skipped unparsed.
        if (fast and ascii_ and raw.count(b'"') == quotes
                and raw.count(b'","') == separators and raw[:1] == b'"'
                and raw.endswith(_QUOTE_ENDS) and not raw.endswith(_SEPARATOR_ENDS)
                and not raw.startswith(b'","')):
            kind = raw[11:16]
            if kind == b'","2"':
                continue
            if kind == b'","1"' and not _has_candidate(raw):
                continue
        body = raw.rstrip(b"\r\n")
        text = body.decode("ascii") if ascii_ else _decode(body, line)
        fields = _fields(text, line)
        if len(fields) != width:
            raise NppesFileError(line, f"{len(fields)} fields where the header has {width}: the "
                                       "line is cut short or damaged")
        row = _keep(fields, header, line)
        if row is None:
            continue
        number = int(row[0])
        if number in seen:
            raise NppesFileError(line, f"NPI {row[0]} is on an earlier line too (the file lists "
                                       "each NPI once)")
        seen.add(number)
        batch.append(row)
        scan.rows_kept += 1
        if not row[-1]:
            scan.deactivated_kept += 1
        if len(batch) >= _BATCH:
            pickle.dump(batch, spool, protocol=pickle.HIGHEST_PROTOCOL)
            batch = []
    if batch:
        pickle.dump(batch, spool, protocol=pickle.HIGHEST_PROTOCOL)
    return scan


_BATCH = 20_000
_QUOTE_ENDS = (b'"', b'"\n', b'"\r\n')
_SEPARATOR_ENDS = (b'","', b'","\n', b'","\r\n')
_COLUMNS = ("npi", "last_name", "first_name", "middle_name", "credential", "other_last_name",
            "other_first_name", "deactivated_on", "taxonomies")


def _batches(spool) -> Iterator[list[tuple]]:
    spool.seek(0)
    while True:
        try:
            yield pickle.load(spool)  # noqa: S301 — our own spool file, written just before
        except EOFError:
            return


def _insert(spool) -> None:
    """Insert the spooled rows in the session's transaction: PostgreSQL's COPY there (several
    times faster than INSERTs), batched INSERTs elsewhere."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        sql = f"COPY nppes_providers ({', '.join(_COLUMNS)}) FROM STDIN"
        with connection.connection.driver_connection.cursor() as cursor, \
                cursor.copy(sql) as copy:
            for rows in _batches(spool):
                for row in rows:
                    copy.write_row((*row[:-1], json.dumps(row[-1])))
        return
    table = NppesProvider.__table__
    for rows in _batches(spool):
        db.session.execute(insert(table), [dict(zip(_COLUMNS, row, strict=True))
                                           for row in rows])


def load_file(path: str | Path, *, file_date: date | None = None,
              progress: Callable[[int], None] | None = None) -> LoadResult:
    """Load an NPPES dissemination file, replacing the previous one (audited). Raises
    NppesFileError, with the line number, for a fault in the file; nothing is changed then."""
    path = Path(path)
    started = time.perf_counter()
    file_date = file_date or file_date_of(path)
    with path.open("rb", buffering=1 << 20) as fh, tempfile.TemporaryFile() as spool:
        scan = _scan(fh, spool, progress)
        table = NppesProvider.__table__
        try:
            db.session.execute(delete(table))
            _insert(spool)
            loaded = NppesFile(file_name=path.name[:255], file_date=file_date,
                               rows_read=scan.rows_read, rows_kept=scan.rows_kept,
                               deactivated_kept=scan.deactivated_kept,
                               seconds=round(time.perf_counter() - started, 1))
            db.session.add(loaded)
            db.session.flush()
            record("nppes.loaded", loaded, file_name=loaded.file_name,
                   file_date=file_date.isoformat(), rows_read=scan.rows_read,
                   rows_kept=scan.rows_kept, deactivated_kept=scan.deactivated_kept)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return LoadResult(loaded, scan.rows_read, scan.rows_kept, scan.deactivated_kept,
                      time.perf_counter() - started)


def current_file() -> NppesFile | None:
    """The loaded file (the newest load), or None when none has been loaded."""
    return db.session.scalar(select(NppesFile).order_by(NppesFile.id.desc()).limit(1))


# ------------------------------------------------------------------------------- the check

# Names are "alike" when both the surname and a given name are at least this similar
# (rapidfuzz's ratio, 0-100, on the names without case, accents, punctuation, titles or
# post-nominals). 85 lets through one slip in a name of seven letters or more ("Katherine" /
# "Catherine": 89) and Jon / John (86), not Jane / Jana (75) or John / Jane (50).
NAME_THRESHOLD = 85
# Verified licences whose next check falls within this many days are checked again by a load.
RECHECK_WINDOW_DAYS = 60

_TITLES = {"dr", "doctor", "mr", "mrs", "ms", "miss", "mx", "prof", "professor"}
_SUFFIXES = {"jr", "sr", "ii", "iii", "iv"}
# Post-nominals seen after practitioners' names (compared without case or punctuation).
_POST_NOMINALS = {
    "pt", "dpt", "mpt", "mspt", "bpt", "bscpt", "ocs", "scs", "ncs", "faaompt", "cert", "mdt",
    "dn", "cdnt", "cmtpt", "cscs", "atc", "lat", "ot", "otr", "otrl", "otd", "chc", "dc",
    "dacbsp", "dabcn", "ccsp", "md", "do", "facp", "faafp", "lac", "dipl", "diplac", "om",
    "dacm", "daom", "ms", "msc", "ma", "ba", "bs", "bsc", "phd", "mph", "mba", "rn", "np", "pa",
    "pac", "lmt", "cpt",
}


def _plain(text: str) -> str:
    """Lower case, without accents or punctuation: "O'Brien-Núñez" → "obriennunez"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^0-9a-z]", "", "".join(c for c in decomposed
                                             if not unicodedata.combining(c)).casefold())


def _looks_like_post_nominal(word: str) -> bool:
    """PT, D.C., OTR/L, LAc: a known post-nominal written as one (capitals or dots)."""
    return (_plain(word) in _POST_NOMINALS
            and (sum(c.isupper() for c in word) >= 2 or "." in word or "/" in word))


def name_words(full_name: str) -> list[str]:
    """A name's words as typed, without titles, suffixes or post-nominals; "Smith, Jane" is read
    as Jane Smith."""
    head, *tail = [part.strip() for part in full_name.split(",")]
    tail = [part for part in tail if part]
    words = head.split()
    if tail and not all(_plain(w) in _POST_NOMINALS | _SUFFIXES or _looks_like_post_nominal(w)
                        for part in tail for w in part.split()):
        words = tail[0].split() + words  # "Smith, Jane [, PT]"
    words = [w for w in words if _plain(w)]
    while len(words) > 2 and _plain(words[0]) in _TITLES:
        words.pop(0)
    while len(words) > 2 and (_plain(words[-1]) in _SUFFIXES
                              or _looks_like_post_nominal(words[-1])):
        words.pop()
    return words


def name_similarity(full_name: str, provider: NppesProvider) -> int:
    """How alike our name and the NPPES record's are (0-100): the lower of the surname's and
    the best given name's similarity. Middle names count either way; so do the record's other
    (former) names."""
    words = [_plain(w) for w in name_words(full_name)]
    if len(words) < 2:
        return 0
    their_last = [_plain(n) for n in (provider.last_name, provider.other_last_name) if n]
    their_last += [_plain(part) for part in re.split(r"[\s-]+", provider.last_name)
                   if len(_plain(part)) >= 2]
    their_given = [_plain(n) for n in (provider.first_name, provider.other_first_name,
                                       *provider.middle_name.split()) if _plain(n)]
    if not their_last or not their_given:
        return 0
    # Our surname: the last word, or the last words together ("van der Berg"), or one part of a
    # hyphenated last word; the words before it are the given names.
    raw_last = name_words(full_name)[-1]
    candidates = [("".join(words[-k:]), len(words) - k) for k in range(1, len(words))]
    candidates += [(_plain(part), len(words) - 1) for part in raw_last.split("-")
                   if len(_plain(part)) >= 2]
    best = 0
    for surname, given_count in candidates:
        last_score = max(fuzz.ratio(surname, theirs) for theirs in their_last)
        given = words[:given_count]
        first_score = max((fuzz.ratio(ours, theirs) for ours in given for theirs in their_given),
                          default=0)
        best = max(best, round(min(last_score, first_score)))
    return best


def licence_key(number: str) -> str:
    """A licence number compared without case, spaces, hyphens, dots or leading zeros:
    "pt-0012 345" and "PT12345" are the same."""
    compact = re.sub(r"[\s.\-]", "", number or "").upper()
    return re.sub(r"\d+", lambda m: m.group().lstrip("0") or "0", compact)


def _state_of(practitioner: Practitioner) -> str:
    region = practitioner.licence_region or ""
    return region.split("-", 1)[1].upper() if region.upper().startswith("US-") else ""


@dataclass
class NppesMatch:
    """The outcome of comparing a practitioner with their NPI's record in the loaded file."""

    found: bool
    ok: bool
    reasons: list[str] = field(default_factory=list)  # why it does not match, in plain words
    file_date: date | None = None
    npi: str | None = None
    nppes_name: str = ""  # "SMITH, JANE A"
    name_similarity: int | None = None
    matched: list[str] = field(default_factory=list)  # what did match, in plain words

    @property
    def source(self) -> str:
        """The check's source as a licence records it."""
        return f"NPPES file of {self.file_date.isoformat()}" if self.file_date else "NPPES"


def cannot_check(practitioner: Practitioner) -> str | None:
    """Why the NPPES file cannot check this practitioner's licence, or None when it can."""
    if (practitioner.licence_country or "").upper() != "US":
        return "Not a US licence: the NPPES file lists US providers only."
    if not practitioner.npi:
        return "No NPI on the profile."
    if current_file() is None:
        return ("No NPPES file has been loaded (flask --app wsgi licences load-nppes "
                "FILE.csv).")
    return None


def _article_profession(code: str | None) -> str:
    if code == "other":
        return "this profession"
    label = PROFESSIONS.get(code or "", code or "").lower()
    return f"{'an' if label[:1] in 'aeiou' else 'a'} {label}"


def match(practitioner: Practitioner) -> NppesMatch:
    """Compare the practitioner's NPI, name, profession and licence with the loaded file."""
    why_not = cannot_check(practitioner)
    loaded = current_file()
    file_date = loaded.file_date if loaded else None
    if why_not:
        return NppesMatch(found=False, ok=False, reasons=[why_not], file_date=file_date,
                          npi=practitioner.npi)
    npi = practitioner.npi
    provider = db.session.get(NppesProvider, npi)
    if provider is None:
        return NppesMatch(found=False, ok=False, file_date=file_date, npi=npi, reasons=[
            f"NPI {npi} is not in the NPPES file of {file_date.isoformat()} (among the "
            "individuals with a taxonomy the directory serves)."])
    result = NppesMatch(found=True, ok=False, file_date=file_date, npi=npi)
    if provider.deactivated_on is not None:
        result.reasons.append(f"NPI {npi} is deactivated since "
                              f"{provider.deactivated_on.isoformat()}.")
        return result
    result.matched.append(f"NPI {npi} is active")
    reasons = result.reasons

    # The name.
    result.nppes_name = f"{provider.last_name}, " + " ".join(
        n for n in (provider.first_name, provider.middle_name) if n)
    score = result.name_similarity = name_similarity(practitioner.full_name, provider)
    if score >= NAME_THRESHOLD:
        result.matched.append(f"name {result.nppes_name} ({score}% alike)")
    else:
        reasons.append(f"Name on NPPES: {result.nppes_name} (ours: {practitioner.full_name}, "
                       f"{score}% alike).")

    # The taxonomy.
    codes = [slot[0] for slot in provider.taxonomies]
    served = PROFESSION_TAXONOMIES.get(practitioner.profession or "")
    has = ", ".join(describe_code(c) for c in codes) or "none"
    if not practitioner.profession:
        reasons.append("No profession on the profile to compare with the NPPES taxonomies "
                       f"(it has {has}).")
    elif served is None:
        reasons.append(f"NPPES has no taxonomy for {_article_profession(practitioner.profession)}"
                       f": an administrator checks this licence on the state's register "
                       f"(it has {has}).")
    else:
        mine = [c for c in codes if served.accepts(c)]
        if mine:
            result.matched.append("taxonomy " + ", ".join(describe_code(c) for c in mine))
        else:
            reasons.append(f"No NPPES taxonomy for {served.noun} (has {has}).")

    # The licence: number and state, against every licence the record lists.
    number, state = practitioner.licence_number or "", _state_of(practitioner)
    listed = [(slot[1], slot[2]) for slot in provider.taxonomies if slot[1]]
    lists = ", ".join(f"{n} in {s or '(no state)'}" for n, s in dict.fromkeys(listed)) or \
        "no licence"
    if not number:
        reasons.append(f"No licence number on the profile (the NPI record lists {lists}).")
    elif not state:
        reasons.append(f"No US state for licence {number} on the profile (the NPI record "
                       f"lists {lists}).")
    elif any(licence_key(n) == licence_key(number) and s == state for n, s in listed):
        result.matched.append(f"licence {number} in {state}")
    else:
        reasons.append(f"Licence {number} in {state} not on the NPI record (it lists {lists}).")
    result.ok = not reasons
    return result


def verify_from_nppes(practitioner: Practitioner, actor: User | None = None, *,
                      commit: bool = True) -> NppesMatch | None:
    """Check the practitioner's licence against the loaded file; when everything matches,
    record it verified (method automatic, the file as its source, checked on the file's date).
    A mismatch records nothing. None when the file cannot check this licence."""
    if cannot_check(practitioner):
        return None
    result = match(practitioner)
    if result.ok:
        services.record_check(
            practitioner, verified=True, method=LicenceMethod.AUTOMATIC, source=result.source,
            actor=actor, note="Matched: " + "; ".join(result.matched) + ".",
            checked_on=min(result.file_date, utcnow().date()), commit=commit)
    return result


@dataclass
class CheckPass:
    """What one pass over the licences waiting for the NPPES check did."""

    checked: int = 0
    verified: int = 0


def check_pending(today: date | None = None) -> CheckPass:
    """verify_from_nppes() for every US practitioner with an NPI whose licence is unchecked or
    lapsed, or verified but due within RECHECK_WINDOW_DAYS. A licence an administrator failed
    stays failed (until its details change); one already verified from this same file is not
    checked again."""
    today = today or utcnow().date()
    loaded = current_file()
    result = CheckPass()
    if loaded is None:
        return result
    source = NppesMatch(found=False, ok=False, file_date=loaded.file_date).source
    ids = db.session.scalars(
        select(Practitioner.id)
        .outerjoin(Licence, Licence.practitioner_id == Practitioner.id)
        .where(Practitioner.licence_country == "US", Practitioner.npi.is_not(None),
               or_(Licence.id.is_(None),
                   Licence.status.in_([LicenceStatus.UNVERIFIED, LicenceStatus.LAPSED]),
                   (Licence.status == LicenceStatus.VERIFIED)
                   & (Licence.next_due <= today + timedelta(days=RECHECK_WINDOW_DAYS))
                   & (Licence.source != source)))
        .order_by(Practitioner.id)).all()
    for practitioner_id in ids:
        practitioner = db.session.get(Practitioner, practitioner_id)
        checked = verify_from_nppes(practitioner)
        if checked is None:
            continue
        result.checked += 1
        result.verified += checked.ok
    return result
