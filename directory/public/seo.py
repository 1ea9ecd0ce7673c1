"""What the web reads of the directory: the schema.org JSON-LD and the link-preview (Open Graph)
tags of a profile, canonical addresses, and the sitemap of the profiles a search engine may list.

A profile's structured data says only what its page shows (templates/public/practitioner.html):
the same fields, the same certifications (listing.shown_certifications), and only while the
profile is listed. The sitemap lists the site's own pages and the *published* profiles
(listing.published_clause: searchable and not demo data, the set the exports list too).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from flask import current_app, request
from sqlalchemy import func, select

from directory import hours, listing, practice, vocab
from directory.extensions import db
from directory.learn.routes import GUIDES
from directory.links import absolute_url
from directory.models import Certification, PracticeLocation, Practitioner
from directory.profiles import photos
from directory.vocab import GeoPrecision

SITEMAP_NAMESPACE = "http://www.sitemaps.org/schemas/sitemap/0.9"
# The protocol's limits per file: 50,000 URLs and 50 MB uncompressed. An entry here is under
# 500 bytes (a slug is at most 120 characters), so the URL limit is always the one reached
# first; SITEMAP_URLS_PER_FILE (config) may set a lower one, never a higher.
SITEMAP_MAX_URLS = 50_000
# The site's own pages with content of their own, the same for everyone: the sitemap lists them
# first, and each one's canonical address is its own, without a query string.
SITE_PAGES: tuple[str, ...] = ("public.home", "public.about", "learn.index",
                               *(guide.endpoint for guide in GUIDES))

DEMO_NOTICE = "Demo data — not a real practitioner."
DESCRIPTION_LENGTH = 200  # a link preview shows about this much

# The schema.org type of each profession's practice (vocab.PROFESSIONS codes): the nearest
# real type, MedicalBusiness for those schema.org has none for (it has no Chiropractor or
# Physiotherapist type: Physiotherapy is the physiotherapy practice).
SCHEMA_TYPES: dict[str, str] = {
    "physiotherapist": "Physiotherapy",
    "medical_doctor": "Physician",
    "osteopathic_physician": "Physician",
}
DEFAULT_SCHEMA_TYPE = "MedicalBusiness"


# ---------------------------------------------------------------------------- page addresses

def canonical_url() -> str | None:
    """The canonical address of the site page being drawn (SITE_PAGES), whatever query it was
    asked with; None for other pages (a profile gives its own)."""
    if request.endpoint in SITE_PAGES:
        return absolute_url(request.endpoint)
    return None


def profile_url(practitioner: Practitioner) -> str:
    """The absolute address of a practitioner's profile, from SITE_URL."""
    return absolute_url("public.practitioner", slug=practitioner.slug)


def photo_urls(practitioner: Practitioner) -> dict[str, str] | None:
    """The absolute address of each size of the practitioner's photo ({"96": url, ...}, the
    API record's "photo"), from SITE_URL; None without a photo."""
    if not practitioner.photo_key:
        return None
    return {str(size): absolute_url("public.photo", key=practitioner.photo_key, size=size)
            for size in photos.SIZES}


# ------------------------------------------------------------------------ a profile's tags

def schema_type(profession: str | None) -> str:
    """The schema.org type for a practitioner of this profession."""
    return SCHEMA_TYPES.get(profession or "", DEFAULT_SCHEMA_TYPE)


def display_name(practitioner: Practitioner) -> str:
    """The name as the page's heading shows it: with the post-nominals."""
    if practitioner.post_nominals:
        return f"{practitioner.full_name}, {practitioner.post_nominals}"
    return practitioner.full_name


def _clipped(text: str, length: int = DESCRIPTION_LENGTH) -> str:
    text = " ".join(text.split())
    if len(text) <= length:
        return text
    return text[:length - 1].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


def _program_name(cert: Certification) -> str:
    return cert.program.name if cert.program else cert.submitted_name


def preview_description(practitioner: Practitioner, certs: Sequence[Certification]) -> str:
    """The line a shared link's preview shows: profession, places and verified training."""
    parts = [DEMO_NOTICE] if practitioner.is_demo else []
    places = list(dict.fromkeys(", ".join(filter(None, (loc.city, loc.region)))
                                for loc in practitioner.locations))
    profession = vocab.PROFESSIONS.get(practitioner.profession or "")
    if profession or places:
        where = f" in {'; '.join(places[:2])}" if places else ""
        parts.append(f"{profession or 'Practitioner'}{where}.")
    if certs:
        parts.append("Verified dry needling training: "
                     + "; ".join(dict.fromkeys(_program_name(c) for c in certs)) + ".")
    return _clipped(" ".join(parts))


def _address(loc: PracticeLocation) -> dict[str, str]:
    fields = {"streetAddress": loc.street, "addressLocality": loc.city,
              "addressRegion": loc.region, "postalCode": loc.postcode,
              "addressCountry": loc.country}  # ISO 3166-1 alpha-2, as schema.org allows
    return {"@type": "PostalAddress", **{k: v for k, v in fields.items() if v}}


def _geo(loc: PracticeLocation) -> dict[str, Any] | None:
    """The location's coordinates (public already: the search map and the API show them),
    unless they are only a town's centre, which would put the practice where it is not."""
    if loc.lat is None or loc.lng is None or loc.geo_precision == GeoPrecision.PLACE:
        return None
    return {"@type": "GeoCoordinates", "latitude": round(loc.lat, 6),
            "longitude": round(loc.lng, 6)}


def _place(loc: PracticeLocation) -> dict[str, Any]:
    place = {"@type": "Place", "name": loc.clinic_name, "address": _address(loc)}
    if geo := _geo(loc):
        place["geo"] = geo
    if loc.hours:
        place["openingHoursSpecification"] = opening_hours_specification(loc)
    return place


def credential(cert: Certification) -> dict[str, Any]:
    """A certification the profile shows, as an EducationalOccupationalCredential: what the
    profile and its public check page (the url) say of it."""
    node: dict[str, Any] = {
        "@type": "EducationalOccupationalCredential",
        "name": _program_name(cert),
        "credentialCategory": "certificate",
        "url": absolute_url("public.verify_code", code=cert.public_code),
    }
    if cert.program:
        node["recognizedBy"] = {"@type": "Organization", "name": cert.program.organisation}
    if level := cert.level or (cert.program.level if cert.program else None):
        node["educationalLevel"] = str(level)
    if cert.completed_on:
        node["dateCreated"] = cert.completed_on.isoformat()
    if cert.expires_on:
        node["expires"] = cert.expires_on.isoformat()
    return node


def profile_jsonld(practitioner: Practitioner, certs: Sequence[Certification]) -> dict:
    """The schema.org node of a listed practitioner's practice: what the page shows, and only
    that. `certs` are the certifications the page shows (verified and unexpired)."""
    p = practitioner
    kind = schema_type(p.profession)
    url = profile_url(p)
    node: dict[str, Any] = {"@context": "https://schema.org", "@type": kind, "@id": url,
                            "url": url, "name": display_name(p),
                            "knowsAbout": "Dry needling"}
    description = "\n\n".join(filter(None, (DEMO_NOTICE if p.is_demo else "", p.bio.strip())))
    if description:
        node["description"] = description
    if phone := practice.shown_phone(p):
        node["telephone"] = phone
    if email := practice.shown_email(p):
        node["email"] = email
    if fees := practice.fees(p):
        node["currenciesAccepted"] = fees.currency
    if p.website:
        node["sameAs"] = p.website
    if p.languages:
        node["knowsLanguage"] = p.languages  # ISO 639-1 codes: valid BCP 47 tags
    if p.npi and kind == "Physician":
        node["usNPI"] = p.npi
    if p.locations:
        # The practice's own address and point are its first place's (the page lists it
        # first); every place it practises at, with its own, under location.
        first = p.locations[0]
        node["address"] = _address(first)
        if geo := _geo(first):
            node["geo"] = geo
        node["location"] = [_place(loc) for loc in p.locations]
    if certs:
        node["hasCredential"] = [credential(c) for c in certs]
    if image := _preview_image(p):
        node["image"] = image["url"]
    return node


def _preview_image(practitioner: Practitioner) -> dict[str, Any] | None:
    """The largest size of the photo, for link previews and the JSON-LD; None without one."""
    urls = photo_urls(practitioner)
    if urls is None:
        return None
    size = photos.SIZES[-1]
    return {"url": urls[str(size)], "size": size}


def profile_meta(practitioner: Practitioner, certs: Sequence[Certification]) -> dict:
    """Everything the profile's <head> says of a listed practitioner: canonical address,
    preview title and description, the photo (or None), and the JSON-LD."""
    return {"url": profile_url(practitioner), "title": display_name(practitioner),
            "description": preview_description(practitioner, certs),
            "image": _preview_image(practitioner),
            "jsonld": profile_jsonld(practitioner, certs)}


# ---------------------------------------------------------------------------------- sitemap

def urls_per_file() -> int:
    """How many URLs one sitemap file holds (SITEMAP_URLS_PER_FILE, at most the protocol's)."""
    return max(1, min(int(current_app.config["SITEMAP_URLS_PER_FILE"]), SITEMAP_MAX_URLS))


def indexed_count(now: datetime | None = None) -> int:
    """How many profiles the sitemap lists."""
    return db.session.scalar(select(func.count()).select_from(Practitioner)
                             .where(listing.published_clause(now)))


def file_count(now: datetime | None = None) -> int:
    """How many sitemap files the site's pages and the indexed profiles fill (at least one)."""
    return max(1, math.ceil((len(SITE_PAGES) + indexed_count(now)) / urls_per_file()))


def file_entries(number: int, now: datetime | None = None
                 ) -> Iterator[tuple[str, datetime | None]]:
    """(address, last modified) of the URLs in sitemap file `number` (from 1): the site's
    pages, then the indexed profiles by id, urls_per_file() to a file. The profiles are read
    a batch at a time, slug and time only."""
    size = urls_per_file()
    start = (number - 1) * size
    pages = SITE_PAGES[start:start + size]
    for endpoint in pages:
        yield absolute_url(endpoint), None
    query = (select(Practitioner.slug, Practitioner.updated_at).where(listing.published_clause(now))
             .order_by(Practitioner.id).offset(max(0, start - len(SITE_PAGES)))
             .limit(size - len(pages)).execution_options(yield_per=1000))
    for slug, updated_at in db.session.execute(query):
        yield absolute_url("public.practitioner", slug=slug), updated_at


def w3c_datetime(moment: datetime) -> str:
    """A time as the sitemap protocol writes it (W3C Datetime, to the second, UTC)."""
    return moment.replace(microsecond=0).isoformat()


def urlset_xml(entries: Iterator[tuple[str, datetime | None]]) -> str:
    """A sitemap file (<urlset>) of these entries."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n',
             f'<urlset xmlns="{SITEMAP_NAMESPACE}">\n']
    for loc, modified in entries:
        lastmod = f"<lastmod>{w3c_datetime(modified)}</lastmod>" if modified else ""
        parts.append(f"<url><loc>{escape(loc)}</loc>{lastmod}</url>\n")
    parts.append("</urlset>\n")
    return "".join(parts)


def index_xml(files: int) -> str:
    """A sitemap index (<sitemapindex>) naming sitemap files 1 to `files`."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n',
             f'<sitemapindex xmlns="{SITEMAP_NAMESPACE}">\n']
    parts += [f"<sitemap><loc>{escape(absolute_url('public.sitemap_file', number=n))}</loc>"
              "</sitemap>\n" for n in range(1, files + 1)]
    parts.append("</sitemapindex>\n")
    return "".join(parts)


def robots_sitemap_line() -> str:
    """The robots.txt line that names the sitemap (an absolute address, from SITE_URL)."""
    return f"Sitemap: {absolute_url('public.sitemap')}"


def opening_hours_specification(loc: PracticeLocation) -> list[dict[str, Any]]:
    """The location's hours as schema.org OpeningHoursSpecification nodes: one per range of
    times, naming every day open then (local time at the location, as the page shows)."""
    days_by_range: dict[tuple, list[str]] = {}
    for day, ranges in hours.weekly(loc.hours):
        for opens, closes in ranges:
            days_by_range.setdefault((opens, closes), []).append(f"https://schema.org/{day}")
    return [{"@type": "OpeningHoursSpecification", "dayOfWeek": days,
             "opens": hours.format_time(opens), "closes": hours.format_time(closes)}
            for (opens, closes), days in days_by_range.items()]  # in order of first day

