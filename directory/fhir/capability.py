"""The CapabilityStatement of /fhir: this API's documentation, derived from the tables the
server itself runs on (finders.TYPES, params.SEARCH_PARAMS and RESULT_PARAMS), and the
extensions and code systems of our own (resources.OWN_*)."""

from __future__ import annotations

from directory.fhir import resources
from directory.fhir.finders import TYPES
from directory.fhir.params import RESULT_PARAMS, Param
from directory.links import site_root

FHIR_VERSION = "4.0.1"
# The date this statement last changed in substance (a new type, parameter or extension).
STATEMENT_DATE = "2026-12-07"
SOFTWARE = "Dry Needling Directory"


# The R4 core SearchParameter each parameter follows (result parameters such as _count are none).
CORE_DEFINITIONS = {
    "_id": "Resource-id", "_lastUpdated": "Resource-lastUpdated",
    ("Practitioner", "name"): "Practitioner-name", ("Practitioner", "family"): "individual-family",
    ("Practitioner", "given"): "individual-given",
    ("PractitionerRole", "practitioner"): "PractitionerRole-practitioner",
    ("PractitionerRole", "location"): "PractitionerRole-location",
    ("PractitionerRole", "specialty"): "PractitionerRole-specialty",
    ("Location", "near"): "Location-near", ("Location", "name"): "Location-name",
    ("Organization", "name"): "Organization-name",
    ("VerificationResult", "target"): "VerificationResult-target",
}


def _param(param: Param, type_name: str | None = None) -> dict:
    result = {"name": param.name, "type": param.type, "documentation": param.documentation}
    core = CORE_DEFINITIONS.get((type_name, param.name)) or CORE_DEFINITIONS.get(param.name)
    if core:
        result["definition"] = f"http://hl7.org/fhir/SearchParameter/{core}"
    return result


def own_definitions() -> str:
    """The extensions and code systems of our own, described for the statement."""
    lines = [f"Extension {resources.own('StructureDefinition', name)}: {text}"
             for name, text in resources.OWN_EXTENSIONS.items()]
    lines += [f"Code system {resources.own('CodeSystem', name)}: {text}"
              for name, text in resources.OWN_CODE_SYSTEMS.items()]
    lines.append(f"Identifier systems {resources.own('NamingSystem', 'licence-<jurisdiction>')}"
                 ": a licence number, per issuing jurisdiction (ISO 3166-2 or 3166-1).")
    return "\n".join(f"- {line}" for line in lines)


def capability_statement() -> dict:
    """The CapabilityStatement (R4) of this server."""
    base = f"{site_root()}/fhir"
    return {
        "resourceType": "CapabilityStatement",
        "id": "directory",
        "url": f"{base}/metadata",
        "name": "DryNeedlingDirectoryFhirApi",
        "title": "Dry Needling Directory FHIR API",
        "status": "active",
        "experimental": False,
        "date": STATEMENT_DATE,
        "publisher": SOFTWARE,
        "description": (
            "A read-only, public FHIR R4 directory of practitioners who dry-needle, modelled on "
            "HL7's US National Directory of Healthcare (NDH): Practitioner (with licence and "
            "training qualifications), PractitionerRole, Location, Organization (training "
            "organisations) and VerificationResult. Only searchable practitioners appear. "
            "Search answers are searchset Bundles (total, self and next links); a bad "
            "parameter is a 400 OperationOutcome, an unknown id or type a 404.\n\n"
            "Extensions, code systems and identifier systems of our own:\n"
            + own_definitions()),
        "kind": "instance",
        "software": {"name": SOFTWARE},
        "implementation": {"description": "The Dry Needling Directory", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["json", "application/fhir+json"],
        "rest": [{
            "mode": "server",
            "documentation": "No authentication: everything here is public. Search with GET "
                             "only; paging with _count and _page (follow the next link).",
            "resource": [{
                "type": t.name,
                "documentation": t.documentation,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "versioning": "no-version",
                "readHistory": False, "updateCreate": False,
                "searchParam": [_param(p, t.name) for p in t.params],
            } for t in TYPES.values()],
            "searchParam": [_param(p) for p in RESULT_PARAMS],
        }],
    }
