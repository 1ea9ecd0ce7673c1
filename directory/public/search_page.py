"""The search page: the home page's main action (GET, bookmarkable)."""

from __future__ import annotations

import dataclasses
import time
from urllib.parse import parse_qsl, quote, urlencode

from flask import current_app, render_template, request, url_for
from sqlalchemy import select

from directory import geo, vocab
from directory.extensions import db
from directory.models import PractitionerTag
from directory.public import search_form
from directory.search import DEFAULT_SORT, SORTS
from directory.search import filters as search_filters
from directory.vocab import TagKind

_languages: tuple[float, list[tuple[str, str]]] = (0.0, [])


def spoken_languages() -> list[tuple[str, str]]:
    """(code, name) of the languages practitioners list, refreshed every few minutes.

    The filter offers these rather than all 184 ISO 639-1 languages: shorter for people to scan,
    and much cheaper to render on every search.
    """
    global _languages
    loaded_at, languages = _languages
    if time.monotonic() - loaded_at >= current_app.config["LANGUAGE_LIST_TTL"]:
        codes = db.session.scalars(select(PractitionerTag.code).where(
            PractitionerTag.kind == TagKind.LANGUAGE).distinct())
        languages = sorted(((c, vocab.language_name(c)) for c in codes if c in vocab.languages()),
                           key=lambda item: item[1])
        _languages = (time.monotonic(), languages)
    return languages


def render_search():
    """The form, and when it was sent, the results on a list and a map."""
    form = search_form.SearchForm(request.args)
    form.language.choices = {"": "Any language", **dict(_with_selected(
        spoken_languages(), form.language.data))}
    context = {"form": form, "searched": False, "units": search_form.unit_label,
               "radius_text": search_form.radius_text, "sorts": SORTS,
               "default_sort": DEFAULT_SORT}
    if not any(request.args.get(k) for k in ("near", "lat", "lng", "q")):
        return render_template("public/home.html", **context)
    context["searched"] = True
    if not form.validate():
        return render_template("public/home.html", **context)
    try:
        origin, results, unit = search_form.run(form)
    except geo.Ambiguous as exc:
        choices = [(c, _url_with(near=c.label, page=None)) for c in exc.candidates]
        return render_template("public/home.html", ambiguous=choices, message=exc.message,
                               **context)
    except geo.GeocodeError as exc:
        form.near.errors = [exc.message]
        return render_template("public/home.html", **context)
    except search_form.RadiusError as exc:
        form.radius.errors = [exc.message]
        return render_template("public/home.html", **context)
    if origin is not None and form.lat.data is not None:
        # Coordinates from "Use my location": named as such, with the nearest postcode's place.
        origin = dataclasses.replace(origin, label=f"your location (near {origin.near})"
                                     if origin.near else "your location")
    radius = form.radius_in(unit)
    larger = search_form.next_radius(radius) if origin and not results.total else None
    filtered = any(request.args.get(name) for name in search_filters.NAMES)
    # One URL built, the others by its pattern (slugs are [a-z0-9-]; quoted all the same).
    profile_url = url_for("public.practitioner", slug="-").removesuffix("-")
    # Each profile is opened with this search in its address, for its "Back to results" link.
    back = "?" + urlencode({BACK_PARAMETER: request.query_string.decode("latin-1")})
    profile_urls = {h.practitioner.id: profile_url + quote(h.practitioner.slug, safe="") + back
                    for h in results.hits}
    markers = [{
        "id": h.practitioner.id, "name": h.practitioner.full_name,
        "clinic": h.location.clinic_name, "lat": h.location.lat, "lng": h.location.lng,
        "url": profile_urls[h.practitioner.id],
    } for h in results.hits]
    return render_template(
        "public/home.html", origin=origin, results=results, unit=unit, radius=radius,
        from_km=search_form.from_km, markers=markers, profile_urls=profile_urls,
        larger_url=_url_with(radius=int(larger), page=None) if larger else None,
        unfiltered_url=_url_with(**dict.fromkeys(search_filters.NAMES), page=None)
        if filtered and not results.total else None,
        past_the_end=search_form.past_the_end(results.pages)
        if results.total and not results.hits else None,
        page_url=lambda n: _url_with(page=n),
        sort_url=lambda key: _url_with(sort=None if key == DEFAULT_SORT else key, page=None),
        unit_url=lambda u: _url_with(unit=u, radius=_convert(radius, unit, u), page=None),
        tile_url=_tile_config(), **context)


BACK_PARAMETER = "results"
BACK_MAX_LENGTH = 2000


def results_url(search: str | None) -> str | None:
    """The search page's address for a profile's "Back to results" link: the search the
    profile was opened from (its query string, in the profile's `results` parameter), keeping
    only the search's own parameters, so the link can only lead to a search on this site."""
    if not search or len(search) > BACK_MAX_LENGTH:
        return None
    kept = [(name, value) for name, value in parse_qsl(search, keep_blank_values=False)
            if name in search_form.SEARCH_PARAMETERS]
    if not any(name in ("near", "lat", "q") for name, _ in kept):
        return None
    return url_for("public.home") + "?" + urlencode(kept)


def _with_selected(languages: list[tuple[str, str]], selected: str | None):
    """The offered languages, plus the one in the URL if it is a known language not offered."""
    if selected and selected in vocab.languages() and selected not in dict(languages):
        return [*languages, (selected, vocab.language_name(selected))]
    return languages


def _convert(radius: float, unit: str, to: str) -> float:
    km = search_form.to_km(radius, unit)
    value = search_form.from_km(km, to)
    return round(value) if abs(value - round(value)) < 0.05 else round(value, 1)


def _url_with(**changes) -> str:
    """This search's URL with some parameters changed (None removes one)."""
    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return url_for("public.home", **args)


def _tile_config() -> dict:
    from flask import current_app

    return {"url": current_app.config["MAP_TILE_URL"],
            "attribution": current_app.config["MAP_TILE_ATTRIBUTION"]}
