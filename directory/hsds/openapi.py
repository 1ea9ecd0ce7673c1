"""The /hsds endpoints in the app's OpenAPI document (directory/api/openapi.py merges them):
each path carries its own `servers` (SITE_URL's /hsds), the document's being /api/v1.

The objects' schemas here state what this directory always sends; the HSDS 3.0 schemas
(schema/compiled/*.json of openreferral/specification, branch 3.0) define every property, and
the tests validate the answers against them.
"""

from __future__ import annotations

from directory.hsds import queries

URL_PREFIX = "/hsds"
SPEC = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/"
# The codes of the /hsds 400 answers, beside the API's own.
ERRORS = {
    "invalid_parameter": "a parameter that is not valid: its name is in field",
    "unsupported_parameter": "an HSDS parameter this directory does not support "
                             "(taxonomy_id, taxonomy_term_id: it has no taxonomy)",
    "unknown_postcode": "a postcode nobody knows, or not a postcode",
    "postcode_required": "proximity without postcode",
}
_UUID = {"type": "string", "format": "uuid"}
_TEXT = {"type": "string"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def schemas() -> dict:
    """The component schemas of the /hsds answers (prefixed Hsds)."""
    location = {
        "type": "object", "required": ["id", "location_type"],
        "externalDocs": {"url": SPEC + "location.json"},
        "properties": {"id": _UUID, "location_type": {"const": "physical"},
                       "organization_id": _UUID, "name": _TEXT,
                       "latitude": {"type": "number"}, "longitude": {"type": "number"},
                       "addresses": {"type": "array", "items": {"type": "object"}},
                       "accessibility": {"type": "array", "items": {"type": "object"}},
                       "schedules": {"type": "array", "items": {"type": "object"}}}}
    organization = {
        "type": "object", "required": ["id", "name", "description"],
        "description": "A practitioner's practice (one per practitioner), named after the "
                       "clinic of their first practice location.",
        "externalDocs": {"url": SPEC + "compiled/organization.json"},
        "properties": {"id": _UUID, "name": _TEXT, "alternate_name": _TEXT,
                       "description": _TEXT, "email": {"type": "string", "format": "email"},
                       "website": _TEXT,
                       "locations": {"type": "array", "items": _ref("HsdsLocation")},
                       "services": {"type": "array", "items": _ref("HsdsService")}}}
    service = {
        "type": "object", "required": ["id", "name", "status"],
        "description": "Dry needling by one searchable practitioner. assured_date is the last "
                       "verification (of the licence or a certification); licenses and "
                       "accreditations describe them, each certification with its public "
                       "verify page. Contact details only as the practitioner shows them.",
        "externalDocs": {"url": SPEC + "compiled/service.json"},
        "properties": {
            "id": _UUID, "organization_id": _UUID, "name": _TEXT, "description": _TEXT,
            "url": {"type": "string", "format": "uri"},
            "email": {"type": "string", "format": "email"},
            "status": {"const": "active"}, "fees_description": _TEXT,
            "accreditations": _TEXT, "licenses": _TEXT,
            "assured_date": {"type": "string", "format": "date"},
            "last_modified": {"type": "string", "format": "date-time"},
            "organization": _ref("HsdsOrganization"),
            "phones": {"type": "array", "items": {"type": "object"}},
            "languages": {"type": "array", "items": {"type": "object"}},
            "cost_options": {"type": "array", "items": {"type": "object"}},
            "service_at_locations": {"type": "array",
                                     "items": _ref("HsdsServiceAtLocation")}}}
    service_at_location = {
        "type": "object", "required": ["id", "service_id", "location_id", "location"],
        "externalDocs": {"url": SPEC + "compiled/service_at_location.json"},
        "properties": {"id": _UUID, "service_id": _UUID, "location_id": _UUID,
                       "location": _ref("HsdsLocation"), "service": _ref("HsdsService")}}
    page = {
        "type": "object",
        "required": ["total_items", "total_pages", "page_number", "size", "first_page",
                     "last_page", "empty", "contents"],
        "description": "HSDS's Page: one page of a list.",
        "properties": {"total_items": {"type": "integer", "minimum": 0},
                       "total_pages": {"type": "integer", "minimum": 1},
                       "page_number": {"type": "integer", "minimum": 1},
                       "size": {"type": "integer", "minimum": 0},
                       "first_page": {"type": "boolean"}, "last_page": {"type": "boolean"},
                       "empty": {"type": "boolean"}, "contents": {"type": "array"}}}
    return {"HsdsLocation": location, "HsdsOrganization": organization,
            "HsdsService": service, "HsdsServiceAtLocation": service_at_location,
            "HsdsPage": page}


def _query(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}


def _page_of(item: str) -> dict:
    return {"allOf": [_ref("HsdsPage"), {"type": "object", "properties": {
        "contents": {"type": "array", "items": _ref(item)}}}]}


def paths(server: str, error_content: dict, rate_limited: dict) -> dict:
    """The /hsds paths, each with `servers` at SITE_URL's /hsds."""
    servers = [{"url": server, "description": "The Open Referral HSDS 3.0 API"}]
    bad_request = {"description": "Refused, with the reason in code: " + "; ".join(
        f"{code}: {why}" for code, why in ERRORS.items()) + ".", "content": error_content}
    not_found = {"description": "No searchable record has that id (not_found)",
                 "content": error_content}
    paging = [
        _query("page", "Page number (a page past the last is empty).",
               {"type": "integer", "minimum": 1, "maximum": queries.MAX_PAGE, "default": 1}),
        _query("per_page", "Results per page.",
               {"type": "integer", "minimum": 1, "maximum": queries.MAX_PER_PAGE,
                "default": queries.DEFAULT_PER_PAGE}),
        _query("format", "Only json.", {"type": "string", "enum": ["json"]}),
    ]
    filters = [
        _query("search", "A practitioner's name, a clinic's name, or a licence or NPI number, "
               "as the site's name search reads it (typos forgiven); best match first.",
               {"type": "string", "maxLength": 200}),
        _query("organization_id", "Only this organization's service.", _UUID),
        _query("modified_after", "Only what changed on or after this date or date and time "
               "(ISO 8601; UTC without a zone).", {"type": "string"}),
        _query("full", "true: each item fully nested.", {"type": "boolean"}),
        *paging,
    ]
    unsupported = [_query(name, f"Not supported (400 unsupported_parameter): {why}",
                          {"type": "string"}) for name, why in queries.UNSUPPORTED.items()]

    def ok(description: str, schema: dict) -> dict:
        return {"description": description,
                "content": {"application/json": {"schema": schema}}}

    def listing(operation_id: str, summary: str, item: str, extra: list,
                description: str = "") -> dict:
        return {"servers": servers, "get": {
            "operationId": operation_id, "summary": summary, "tags": ["HSDS"],
            "description": description or summary,
            "parameters": [*filters, *extra, *unsupported],
            "responses": {"200": ok("A page", _page_of(item)), "400": bad_request,
                          "429": rate_limited}}}

    def one(operation_id: str, summary: str, item: str, kind: str) -> dict:
        return {"servers": servers, "get": {
            "operationId": operation_id, "summary": summary, "tags": ["HSDS"],
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "description": f"The {kind}'s id (a UUID).",
                            "schema": {"type": "string"}}],
            "responses": {"200": ok(summary, _ref(item)), "404": not_found,
                          "429": rate_limited}}}

    return {
        "/": {"servers": servers, "get": {
            "operationId": "hsdsRoot", "tags": ["HSDS"],
            "summary": "The HSDS API's version, profile and OpenAPI document",
            "responses": {"200": ok("About this API", {
                "type": "object", "required": ["version", "profile", "openapi_url"],
                "properties": {"version": {"const": "3.0"},
                               "profile": {"type": "string", "format": "uri"},
                               "openapi_url": {"type": "string", "format": "uri"}}}),
                "429": rate_limited}}},
        "/services": listing(
            "hsdsServices", "Services: dry needling by each searchable practitioner",
            "HsdsService",
            [_query("minimal", "true: each service with only id, name, status and "
                    "last_modified.", {"type": "boolean"})],
            "Services: dry needling by each searchable practitioner, by id (best match first "
            "with search). Parameters combine with AND."),
        "/services/{id}": one("hsdsService", "One service, fully nested", "HsdsService",
                              "service"),
        "/service_at_locations": listing(
            "hsdsServiceAtLocations", "Services at their locations, or near a postcode",
            "HsdsServiceAtLocation",
            [_query("postcode", "A postcode or zip code: the search runs from its centroid, "
                    "as the site's location search (each practitioner at their nearest "
                    "location, nearest first; counted up to 200). Not with organization_id "
                    "or modified_after.", {"type": "string", "maxLength": 200}),
             _query("proximity", "Metres from the postcode's centroid (default "
                    f"{queries.DEFAULT_PROXIMITY_M}); only with postcode.",
                    {"type": "number", "minimum": 1, "maximum": queries.MAX_PROXIMITY_M})]),
        "/service_at_locations/{id}": one(
            "hsdsServiceAtLocation", "One service at one location, fully nested",
            "HsdsServiceAtLocation", "service_at_location"),
        "/organizations": listing("hsdsOrganizations",
                                  "Organizations: each searchable practitioner's practice",
                                  "HsdsOrganization", []),
        "/organizations/{id}": one("hsdsOrganization",
                                   "One organization, with its locations and service",
                                   "HsdsOrganization", "organization"),
    }
