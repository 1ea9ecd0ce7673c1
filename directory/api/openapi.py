"""The OpenAPI 3.1 document of /api/v1, checked against real responses in the tests."""

from __future__ import annotations

from directory import enquiries, hours, vocab
from directory.errors import CODES
from directory.field_rules import LENGTHS
from directory.hsds import openapi as hsds_openapi
from directory.profiles.photos import SIZES as PHOTO_SIZES
from directory.search import DEFAULT_SORT, MAX_RESULTS, SORTS
from directory.search.filters import FILTERS
from directory.vocab import LicenceMethod, LicenceStatus, ReportKind

NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_NUMBER = {"type": ["number", "null"]}
NO_NUL = "^[^\\u0000]*$"  # text never holds a NUL character (PostgreSQL refuses it)
# The codes of the API's own 400 answers; the others are the site's (directory/errors.py).
SEARCH_ERRORS = {
    "invalid_parameter": "a parameter that is not valid: its name is in field",
    "place_required": "nothing to search for: no place (near, or lat and lng) and no name (q)",
    "unknown_place": "a place nobody knows",
    "ambiguous_place": "a place several places match: candidates lists them",
}
# The codes of the answers to what patients send (POST .../enquiries and .../reports).
SENDING_ERRORS = {
    "invalid_body": "the body is not a JSON object",
    "enquiries_closed": "the practitioner takes no messages through the directory",
    "rate_limited": "past a limit on messages or reports: wait, or use another way",
    "duplicate": "the same problem is already reported and waiting",
}
_HH_MM = {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}
# What the practitioner record adds to each of its locations (api.routes.location_hours_json).
LOCATION_HOURS = {
    "type": "object",
    "required": ["time_zone", "by_appointment", "hours", "open_now", "directions_url"],
    "properties": {
        "time_zone": {**NULLABLE_STRING,
                      "description": "IANA time zone of the location (null until it is placed "
                                     "on the map); the hours are local time there."},
        "by_appointment": {"type": "boolean"},
        "hours": {"type": "array", "description": "Opening ranges, Monday first; a day "
                                                   "without any is closed.",
                  "items": {"type": "object", "required": ["day", "opens", "closes"],
                            "properties": {
                                "day": {"type": "string",
                                        "enum": [hours.day_key(d)
                                                 for d in range(len(hours.DAYS))]},
                                "opens": _HH_MM, "closes": _HH_MM}}},
        "open_now": {"type": ["boolean", "null"],
                     "description": "Open at the moment of the answer, on the location's "
                                    "clock; null when unknown (no time zone or no hours)."},
        "directions_url": {"type": "string", "format": "uri",
                           "description": "A map service's directions to the address."},
    },
}


PRACTITIONER_ID = {"name": "practitioner_id", "in": "path", "required": True,
                   "schema": {"type": "integer", "minimum": 1}}


def _query(name: str, description: str, schema: dict, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema}


def openapi_document(server: str, hsds_server: str | None = None) -> dict:
    """The document, with the API's address (SITE_URL's /api/v1) and the HSDS API's (SITE_URL's
    /hsds: its paths carry their own servers)."""
    hsds_server = hsds_server or server.removesuffix("/api/v1") + hsds_openapi.URL_PREFIX
    error = {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "properties": {"error": {
            "type": "object", "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string",
                         "enum": sorted({*SEARCH_ERRORS, *SENDING_ERRORS, *CODES.values(),
                                         *hsds_openapi.ERRORS, "error"})},
                "message": {"type": "string"},
                "field": NULLABLE_STRING,
                "candidates": {"type": "array", "items": {"$ref": "#/components/schemas/Place"}},
            },
        }},
    }
    place = {
        "type": "object", "required": ["label", "lat", "lng", "precision"],
        "properties": {
            "label": {"type": "string"},
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "lng": {"type": "number", "minimum": -180, "maximum": 180},
            "precision": {"type": "string", "enum": [str(p) for p in vocab.GeoPrecision]},
        },
    }
    location = {
        "type": "object",
        "required": ["name", "city", "region", "postcode", "country", "lat", "lng"],
        "properties": {
            "name": {"type": "string"}, "city": {"type": "string"},
            "region": {"type": "string"}, "postcode": {"type": "string"},
            "country": {"type": "string", "minLength": 2, "maxLength": 2},
            "lat": NULLABLE_NUMBER, "lng": NULLABLE_NUMBER,
            "wheelchair_accessible": {"type": "boolean"},
        },
    }
    certification = {
        "type": "object",
        "required": ["program", "organisation", "level", "verified_on", "expires_on",
                     "verify_url", "issuer_confirmed"],
        "properties": {
            "program": {"type": "string"}, "organisation": NULLABLE_STRING,
            "level": {"type": ["integer", "null"]},
            "verified_on": {"type": ["string", "null"], "format": "date"},
            "expires_on": {"type": ["string", "null"], "format": "date"},
            "verify_url": {"type": "string", "format": "uri"},
            "issuer_confirmed": {
                "type": "boolean",
                "description": "The training organisation confirmed this certificate is its "
                               "graduate's, as submitted (its issuer account, by hand or "
                               "from its roster)."},
        },
    }
    scope = {
        "type": ["object", "null"],
        "description": "Whether the profession may dry-needle where the location is (the "
                       "practice location's jurisdiction; null without a profession).",
        "required": ["verdict", "jurisdiction", "profession", "summary", "source_url",
                     "source_type", "reviewed_on"],
        "properties": {
            "verdict": {"type": "string", "enum": ["yes", "no", "unclear", "unknown"],
                        "description": "unknown: no rule on record (never read it as yes); "
                                       "unclear is never permitted."},
            "jurisdiction": {"type": "string",
                             "description": "ISO 3166-2 region or ISO 3166-1 country"},
            "profession": {"type": "string"},
            "summary": {"type": "string", "description": "The verdict in plain words."},
            "source_url": NULLABLE_STRING,
            "source_type": {"type": ["string", "null"], "enum": ["primary", "secondary", None],
                            "description": "primary: statute, regulation, regulator, court or "
                                           "attorney-general; secondary: reported by others, "
                                           "not yet confirmed with the regulator."},
            "reviewed_on": {**NULLABLE_STRING, "format": "date"},
            "regulator_url": {**NULLABLE_STRING,
                              "description": "Where there is no rule: the regulator's register."},
        },
    }
    item = {
        "type": "object",
        "required": ["id", "name", "profession", "url", "distance_km", "location",
                     "certifications"],
        "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"},
            "profession": {"type": ["string", "null"], "enum": [*vocab.PROFESSIONS, None]},
            "url": {"type": "string", "format": "uri"},
            "distance_km": {"type": ["number", "null"], "minimum": 0,
                            "description": "From the place searched; null when searching by "
                                           "name alone."},
            "location": {"$ref": "#/components/schemas/Location"},
            "scope": {"$ref": "#/components/schemas/Scope"},
            "certifications": {"type": "array",
                               "items": {"$ref": "#/components/schemas/Certification"}},
            "demo": {"type": "boolean", "description": "Demo data, not a real practitioner."},
        },
    }
    search = {
        "type": "object",
        "required": ["origin", "total", "page", "per_page", "items"],
        "properties": {
            "origin": {"anyOf": [{"$ref": "#/components/schemas/Place"}, {"type": "null"}],
                       "description": "The place searched; null when searching by name "
                                      "alone."},
            "total": {"type": "integer", "minimum": 0,
                      "description": "Exact up to 200; total_is_capped says when there are "
                                     "more."},
            "total_is_capped": {"type": "boolean"},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
            "radius_km": {"type": "number"},
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
        },
    }
    practitioner = {
        "type": "object",
        "required": ["id", "name", "profession", "url", "locations", "licence",
                     "certifications"],
        "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"},
            "post_nominals": {"type": "string"},
            "licence": {
                "type": "object", "required": ["number", "jurisdiction", "verification"],
                "description": "The licence and its check at the official source.",
                "properties": {
                    "number": NULLABLE_STRING,
                    "jurisdiction": {**NULLABLE_STRING,
                                     "description": "ISO 3166-2 region or ISO 3166-1 country"},
                    "npi": {**NULLABLE_STRING, "description": "US National Provider Identifier"},
                    "verification": {
                        "type": "object",
                        "required": ["status", "method", "source", "verified_on", "next_due"],
                        "properties": {
                            "status": {"type": "string",
                                       "enum": [str(v) for v in LicenceStatus]},
                            "method": {"type": ["string", "null"],
                                       "enum": [*(str(v) for v in LicenceMethod), None]},
                            "source": NULLABLE_STRING,
                            "verified_on": {**NULLABLE_STRING, "format": "date"},
                            "next_due": {**NULLABLE_STRING, "format": "date"},
                            "grace_until": {**NULLABLE_STRING, "format": "date"},
                        }}}},
            "profession": {"type": ["string", "null"]},
            "url": {"type": "string", "format": "uri"},
            "photo": {
                "type": ["object", "null"],
                "description": "The profile photo, a square JPEG, at each width in pixels; "
                               "null without one.",
                "required": [str(size) for size in PHOTO_SIZES], "additionalProperties": False,
                "properties": {str(size): {"type": "string", "format": "uri"}
                               for size in PHOTO_SIZES}},
            "accepting_new_patients": {"type": "boolean"},
            "languages": {"type": "array", "items": {"type": "string"}},
            "techniques": {"type": "array", "items": {"type": "string"}},
            "conditions": {"type": "array", "items": {"type": "string"}},
            "demo": {"type": "boolean"},
            "phone": {**NULLABLE_STRING,
                      "description": "Null when none is given or the practitioner hides it."},
            "email": {**NULLABLE_STRING,
                      "description": "The public e-mail; null when none or hidden."},
            "fees": {"type": ["object", "null"], "required": ["currency", "first_visit",
                                                             "follow_up"],
                     "properties": {"currency": {"type": "string",
                                                 "description": "ISO 4217 code"},
                                    "first_visit": {"type": ["number", "null"]},
                                    "follow_up": {"type": ["number", "null"]}}},
            "insurance": {"type": "array", "items": {
                "type": "object", "required": ["code", "name", "country"],
                "properties": {"code": {"type": "string"}, "name": {"type": "string"},
                               "country": {"type": "string"}}}},
            "enquiry_url": {**NULLABLE_STRING, "format": "uri",
                            "description": "The profile's form for sending the practitioner "
                                           "a message; null when they take none."},
            "locations": {"type": "array", "items": {"allOf": [
                {"$ref": "#/components/schemas/Location"},
                {"type": "object", "properties": {
                    "scope": {"$ref": "#/components/schemas/Scope"}}},
                LOCATION_HOURS]}},
            "certifications": {"type": "array",
                               "items": {"$ref": "#/components/schemas/Certification"}},
            "scope": {"$ref": "#/components/schemas/Scope"},
        },
    }
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    rate_limited = {
        "description": "Too many requests from this address (code rate_limited): wait the "
                       "seconds Retry-After says.",
        "headers": {"Retry-After": {"description": "Seconds to wait before asking again.",
                                    "schema": {"type": "integer", "minimum": 0}}},
        "content": error_content}
    bad_request = {
        "description": "Refused, with the reason in code: "
                       + "; ".join(f"{code}: {why}" for code, why in SEARCH_ERRORS.items())
                       + "; a page past the last one (invalid_parameter, field page).",
        "content": error_content}
    search_params = [
        _query("q", "A practitioner's name, a clinic's name, or a licence or NPI number, alone "
               "or with a place: folded (no case, no accents); every word must match a word of "
               "the practitioner's, exactly, as its beginning (the last word, 3 characters or "
               "more), or with a typo (4 letters or more: one letter changed, added, dropped "
               "or two swapped; two from 8 letters). Without a place, best match first.",
               {"type": "string", "maxLength": 200, "pattern": NO_NUL}),
        _query("near", "A postcode (10001, SW1A, M5V, 3000, D02), a place (\"Boulder, CO\") or "
               "\"lat,lng\". A search needs a place (near, or lat and lng together) or a name "
               "(q); with none of them, the answer is a 400 place_required. A place nobody "
               "knows is a 400 unknown_place; one that several places match, a 400 "
               "ambiguous_place with the candidates.",
               {"type": "string", "maxLength": 200, "pattern": NO_NUL}),
        _query("lat", "Latitude, instead of near: lat and lng come together or not at all "
               "(without near, a 400 place_required).",
               {"type": "number", "minimum": -90, "maximum": 90}),
        _query("lng", "Longitude, with lat (without near, a 400 place_required).",
               {"type": "number", "minimum": -180, "maximum": 180}),
        _query("country", "Where to look up near.",
               {"type": "string", "enum": ["", *vocab.PRIMARY_COUNTRIES]}),
        _query("radius", "Distance in the unit (default 25): at most 500 km, or 311 miles.",
               {"type": "number", "minimum": 1, "maximum": 500}),
        _query("unit", "km or mi (default: mi for the US and the UK, else km).",
               {"type": "string", "enum": ["", "km", "mi"]}),
        *(_query(f.name, f.description + (" false is the same as leaving it out."
                                           if f.is_flag else ""),
                 {"type": "boolean"} if f.is_flag
                 else {"type": "string", "enum": ["", *f.choices()]}) for f in FILTERS),
        _query("page", "Page number; one past the last page of results is a 400.",
               {"type": "integer", "minimum": 1, "maximum": 1000}),
        _query("per_page", "Results per page.", {"type": "integer", "minimum": 1,
                                                 "maximum": 100}),
        _query("sort", "The order: " + "; ".join(f"{key}: {words.lower()}" for key, words
                                                  in SORTS.items())
               + f" (default {DEFAULT_SORT}, then name). Other orders than distance order "
               f"the nearest {MAX_RESULTS} results.",
               {"type": "string", "enum": list(SORTS), "default": DEFAULT_SORT}),
    ]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Dry Needling Directory API", "version": "1.0.0",
                 "description": "Practitioners whose dry needling training an administrator "
                                "verified. Read-only; no authentication."},
        "servers": [{"url": server}],
        "paths": {
            "/practitioners": {"get": {
                "operationId": "searchPractitioners",
                "summary": "Listed practitioners near a place, nearest first, or by name",
                "description": "A place (near, or lat and lng together) or a name (q) is "
                               "required (a query's parameters cannot say so in the schema): "
                               "without either the answer is a 400 place_required.",
                "parameters": search_params,
                "responses": {
                    "200": {"description": "A page of results", "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/SearchResults"}}}},
                    "400": bad_request,
                    "429": rate_limited,
                },
            }},
            "/practitioners/{practitioner_id}": {"get": {
                "operationId": "getPractitioner",
                "summary": "One listed practitioner",
                "parameters": [PRACTITIONER_ID],
                "responses": {
                    "200": {"description": "The practitioner", "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/Practitioner"}}}},
                    "404": {"description": "Not listed or unknown", "content": error_content},
                    "429": rate_limited,
                },
            }},
            "/practitioners/{practitioner_id}/enquiries": {"post": {
                "operationId": "sendEnquiry",
                "summary": "Send a listed practitioner a message",
                "description": "The message goes to the practitioner's account e-mail with "
                               "Reply-To the sender's address, and a copy to the sender; "
                               "neither sees the other's address before a reply. No medical "
                               "details, please. Limited per connection, per reply address "
                               "and per practitioner over 24 hours (429 rate_limited); a "
                               "message with more than a few links is refused (400).",
                "parameters": [PRACTITIONER_ID],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"type": "object", "required": ["name", "email", "message"],
                               "properties": {
                                   "name": {"type": "string",
                                            "maxLength": LENGTHS["sender_name"]},
                                   "email": {"type": "string", "format": "email"},
                                   "message": {"type": "string",
                                               "maxLength": enquiries.MAX_MESSAGE}}}}}},
                "responses": {
                    "202": {"description": "Queued for delivery", "content": {
                        "application/json": {"schema": {
                            "type": "object", "required": ["status"],
                            "properties": {"status": {"const": "sent"},
                                           "to": {"type": "string"},
                                           "copy_to": {"type": "string"}}}}}},
                    "400": bad_request,
                    "404": {"description": "Not listed or unknown", "content": error_content},
                    "409": {"description": "The practitioner takes no messages "
                                           "(enquiries_closed)", "content": error_content},
                    "429": rate_limited,
                },
            }},
            "/practitioners/{practitioner_id}/reports": {"post": {
                "operationId": "reportListing",
                "summary": "Report wrong information on a listing",
                "description": "An administrator checks every report; the practitioner is "
                               "told. The same problem in the same words, already waiting, "
                               "is refused (409 duplicate).",
                "parameters": [PRACTITIONER_ID],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"type": "object", "required": ["kind"],
                               "properties": {
                                   "kind": {"type": "string",
                                            "enum": [str(k) for k in ReportKind]},
                                   "details": {"type": "string",
                                               "description": "Required when kind is other."},
                                   "email": {"type": "string", "format": "email",
                                             "description": "Optional, for a question "
                                                            "back."}}}}}},
                "responses": {
                    "201": {"description": "Received", "content": {"application/json": {
                        "schema": {"type": "object", "required": ["status"],
                                   "properties": {"status": {"const": "received"}}}}}},
                    "400": bad_request,
                    "404": {"description": "Not listed or unknown", "content": error_content},
                    "409": {"description": "Already reported (duplicate)",
                            "content": error_content},
                    "429": rate_limited,
                },
            }},
            # The Open Referral HSDS 3.0 API at /hsds (directory/hsds/openapi.py).
            **hsds_openapi.paths(hsds_server, error_content, rate_limited),
        },
        "components": {"schemas": {
            "Error": error, "Place": place, "Location": location,
            "Certification": certification, "Item": item, "SearchResults": search,
            "Practitioner": practitioner, "Scope": scope, **hsds_openapi.schemas(),
        }},
    }
