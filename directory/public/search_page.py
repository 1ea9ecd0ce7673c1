"""The search page: the home page's main action (GET, bookmarkable)."""

from __future__ import annotations

from flask import render_template, request, url_for

from directory import geo
from directory.public import search_form
from directory.search import verified_certifications


def render_search():
    """The form, and when it was sent, the results on a list and a map."""
    form = search_form.SearchForm(request.args)
    context = {"form": form, "searched": False, "units": search_form.unit_label}
    if not any(request.args.get(k) for k in ("near", "lat", "lng")):
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
    radius = form.radius_in(unit)
    certs = verified_certifications([h.practitioner.id for h in results.hits])
    larger = search_form.next_radius(radius) if not results.total else None
    markers = [{
        "id": h.practitioner.id, "name": h.practitioner.full_name,
        "clinic": h.location.clinic_name, "lat": h.location.lat, "lng": h.location.lng,
        "url": url_for("public.practitioner", slug=h.practitioner.slug),
    } for h in results.hits]
    return render_template(
        "public/home.html", origin=origin, results=results, unit=unit, radius=radius,
        certs=certs, from_km=search_form.from_km, markers=markers,
        larger_url=_url_with(radius=int(larger), page=None) if larger else None,
        page_url=lambda n: _url_with(page=n),
        unit_url=lambda u: _url_with(unit=u, radius=_convert(radius, unit, u), page=None),
        tile_url=_tile_config(), **context)


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
