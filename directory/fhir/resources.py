"""The directory's records as FHIR R4 resources (plain JSON dicts), modelled on HL7's US National
Directory (NDH). Who appears at all is decided elsewhere (finders.py, with directory.listing);
this module only says how a record is written.

Ids (FHIR's [A-Za-z0-9\\-.]{1,64}, stable while the record exists):
- Practitioner/<practitioners.id>, Location/<practice_locations.id>;
- PractitionerRole/<practice_locations.id>: a role is a practitioner at one practice location;
- Organization/<the lowest training_programs.id of the organisation>: a training organisation
  is the programs that share its name;
- VerificationResult/licence-<licences.id> and VerificationResult/certification-<certifications.id>.

Codes and extensions of our own live under SITE_URL/fhir (described in the CapabilityStatement
and in the README's "Open standards" section).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from directory import hours, practice, vocab
from directory.credentials.rules import Scope, place_name
from directory.licences.registers import registers_for
from directory.licences.services import jurisdiction_of
from directory.links import absolute_url, site_root
from directory.models import (
    Certification,
    Licence,
    PracticeLocation,
    Practitioner,
    TrainingProgram,
)
from directory.vocab import LicenceStatus

NDH = "http://hl7.org/fhir/us/ndh/StructureDefinition"
NDH_QUALIFICATION = f"{NDH}/base-ext-practitioner-qualification-scope"
NDH_VERIFICATION_STATUS = f"{NDH}/base-ext-verification-status"
NDH_NEW_PATIENTS = f"{NDH}/base-ext-newpatients"
NDH_ACCESSIBILITY = f"{NDH}/base-ext-accessibility"
NDH_VERIFICATION_STATUS_CS = "http://hl7.org/fhir/us/ndh/CodeSystem/NdhVerificationStatusCS"
CREDENTIAL_STATUS_CS = "http://terminology.hl7.org/CodeSystem/professional-credential-status"
USPS_CS = "https://www.usps.com/"
ISO_3166_2 = "urn:iso:std:iso:3166:-2"
ISO_3166 = "urn:iso:std:iso:3166"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
IDENTIFIER_TYPE_CS = "http://terminology.hl7.org/CodeSystem/v2-0203"
ACCEPTING_PATIENTS_CS = "http://terminology.hl7.org/CodeSystem/accepting-patients"
ACCESSIBILITY_CS = "http://terminology.hl7.org/CodeSystem/care-service-accessibility"
LOCATION_DISTANCE = "http://hl7.org/fhir/StructureDefinition/location-distance"
TEST_DATA_TAG = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                 "code": "HTEST", "display": "test health data"}
DRY_NEEDLING = "dry-needling"


def own(kind: str, name: str) -> str:
    """The URL of one of this directory's definitions: own("StructureDefinition", "x") is
    SITE_URL/fhir/StructureDefinition/x."""
    return f"{site_root()}/fhir/{kind}/{name}"


# This directory's own definitions: name -> what it means (the CapabilityStatement lists them).
OWN_EXTENSIONS = {
    "where-valid-iso3166-2": (
        "On Practitioner.qualification: where a licence is valid, as an ISO 3166-2 region "
        f"(system {ISO_3166_2}) or, for a whole country, ISO 3166-1 (system {ISO_3166}). NDH's "
        "whereValid takes US states only (USPS codes); this carries the places outside the US "
        "and US licences without a state."),
    "dry-needling-scope": (
        "On PractitionerRole: whether the practitioner's profession may dry-needle where the "
        "location is, by the directory's jurisdiction rules. Sub-extensions: verdict (valueCode "
        "yes | no | unclear | unknown), jurisdiction (valueCodeableConcept, ISO 3166-2 or "
        "3166-1), summary (valueString, for patients), source (valueUri, the rule's source) and "
        "reviewed (valueDate, when the rule was last reviewed)."),
}
OWN_CODE_SYSTEMS = {
    "profession": "The professions a practitioner may list (the code is the directory's key): "
                  + ", ".join(f"{code} ({label})" for code, label in vocab.PROFESSIONS.items()),
    "specialty": f"{DRY_NEEDLING}: dry needling, the one specialty every role here has.",
    "training-program": "A recognised dry-needling training program, by the registry's key.",
}


def iso(moment: datetime | date | None) -> str | None:
    """A FHIR instant or date (None stays None)."""
    return moment.isoformat() if moment is not None else None


def meta(updated: datetime | None, *, demo: bool = False) -> dict:
    """meta.lastUpdated, and the test-data tag on demo records."""
    result: dict = {}
    if updated is not None:
        result["lastUpdated"] = iso(updated)
    if demo:
        result["tag"] = [TEST_DATA_TAG]
    return result


def reference(resource_type: str, resource_id: int | str, display: str | None = None) -> dict:
    """A relative reference, with a display when given."""
    ref = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        ref["display"] = display
    return ref


def place_concept(code: str) -> dict:
    """A jurisdiction as a CodeableConcept: ISO 3166-2 for a region, ISO 3166-1 for a country."""
    system = ISO_3166_2 if "-" in code else ISO_3166
    return {"coding": [{"system": system, "code": code}], "text": place_name(code)}


def where_valid(jurisdiction: str) -> tuple[list[dict], list[dict]]:
    """(NDH scope sub-extensions, extensions of our own) saying where a licence is valid: a US
    state as NDH's whereValid (USPS code), any other place as where-valid-iso3166-2."""
    if jurisdiction.startswith("US-") and len(jurisdiction) == 5:
        return ([{"url": "whereValid", "valueCodeableConcept": {
            "coding": [{"system": USPS_CS, "code": jurisdiction[3:]}],
            "text": place_name(jurisdiction)}}], [])
    if not jurisdiction:
        return [], []
    return [], [{"url": own("StructureDefinition", "where-valid-iso3166-2"),
                 "valueCodeableConcept": place_concept(jurisdiction)}]


def qualification_scope(where: list[dict]) -> dict:
    """NDH's qualification status (active: only current credentials are published) and
    where it is valid."""
    return {"url": NDH_QUALIFICATION,
            "extension": [{"url": "status", "valueCode": "active"}, *where]}


def profession_concept(profession: str | None) -> dict | None:
    """The profession in our code system (None without one)."""
    if not profession:
        return None
    label = vocab.PROFESSIONS.get(profession, profession)
    return {"coding": [{"system": own("CodeSystem", "profession"), "code": profession,
                        "display": label}], "text": label}


def licence_identifier_system(jurisdiction: str) -> str:
    """The identifier system of a licence number: one per issuing jurisdiction."""
    return own("NamingSystem", f"licence-{jurisdiction or 'unknown'}")


def licence_issuer(p: Practitioner) -> dict:
    """Who issued the licence: the regulator of its register when one is known, else the
    jurisdiction."""
    jurisdiction = jurisdiction_of(p)
    found = registers_for(p.licence_country, p.licence_region, p.profession)
    if found:
        return {"display": found[0].regulator}
    return {"display": f"Licensing authority of {place_name(jurisdiction)}"
            if jurisdiction else "Licensing authority"}


def licence_qualification(p: Practitioner) -> dict:
    """The professional licence as a qualification."""
    jurisdiction = jurisdiction_of(p)
    ndh_where, own_where = where_valid(jurisdiction)
    code = profession_concept(p.profession) or {"text": "Professional licence"}
    code = {**code, "text": f"Licensed {code['text'].lower()}"}
    qualification: dict = {"extension": [qualification_scope(ndh_where), *own_where],
                           "code": code, "issuer": licence_issuer(p)}
    if p.licence_number:
        qualification["identifier"] = [{"system": licence_identifier_system(jurisdiction),
                                        "value": p.licence_number}]
    licence = p.licence
    if licence is not None and licence.register_expires_on:
        qualification["period"] = {"end": iso(licence.register_expires_on)}
    return qualification


def program_concept(cert: Certification) -> dict:
    """The certification's training program as a CodeableConcept (text alone when the program
    is not one the registry recognises)."""
    program = cert.program
    if program is None:
        return {"text": cert.submitted_name or "Dry needling training"}
    return {"coding": [{"system": own("CodeSystem", "training-program"), "code": program.key,
                        "display": program.name}], "text": program.name}


def certification_qualification(cert: Certification, organisation_ids: dict[str, int]) -> dict:
    """A verified, unexpired dry-needling certification as a qualification: the program, the
    training organisation as issuer, the public verification code, completion to expiry."""
    qualification: dict = {
        "extension": [qualification_scope([])],
        "identifier": [{"system": absolute_url("public.verify"), "value": cert.public_code}],
        "code": program_concept(cert)}
    program = cert.program
    if program is not None:
        org_id = organisation_ids.get(program.organisation)
        qualification["issuer"] = (reference("Organization", org_id, program.organisation)
                                   if org_id is not None else {"display": program.organisation})
    period = {key: iso(value) for key, value in (("start", cert.completed_on),
                                                  ("end", cert.expires_on)) if value}
    if period:
        qualification["period"] = period
    return qualification


def split_name(full_name: str) -> dict:
    """A HumanName from the one full name the directory keeps: text is the name as given; the
    family name is its last word and the given names the words before it (a convention: the
    directory stores no separate family name, so "Mary Ann van Dyke" reads as given Mary, Ann,
    van and family Dyke; text always carries the name as written)."""
    words = full_name.split()
    name: dict = {"use": "official", "text": full_name}
    if words:
        name["family"] = words[-1]
    if len(words) > 1:
        name["given"] = words[:-1]
    return name


def family_name(full_name: str) -> str:
    """split_name()'s family name ("" for none)."""
    return split_name(full_name).get("family", "")


def given_names(full_name: str) -> list[str]:
    """split_name()'s given names."""
    return split_name(full_name).get("given", [])


def verification_status(p: Practitioner) -> dict:
    """NDH's verification status: complete when the licence is verified at its source (a
    published practitioner always has a verified certification); incomplete while the licence
    is still in its grace period, unchecked."""
    done = p.licence is not None and p.licence.status == LicenceStatus.VERIFIED
    code = "complete" if done else "incomplete"
    return {"url": NDH_VERIFICATION_STATUS, "valueCodeableConcept": {
        "coding": [{"system": NDH_VERIFICATION_STATUS_CS, "code": code,
                    "display": code.capitalize()}]}}


def practitioner(p: Practitioner, certs: list[Certification],
                 organisation_ids: dict[str, int]) -> dict:
    """A searchable practitioner with the certifications the public sees (shown_certifications)."""
    name = split_name(p.full_name)
    if p.post_nominals:
        name["suffix"] = [part.strip() for part in p.post_nominals.split(",") if part.strip()]
    identifiers = []
    if p.npi:
        identifiers.append({
            "type": {"coding": [{"system": IDENTIFIER_TYPE_CS, "code": "NPI",
                                 "display": "National provider identifier"}]},
            "system": NPI_SYSTEM, "value": p.npi})
    if p.licence_number:
        identifiers.append({
            "type": {"coding": [{"system": IDENTIFIER_TYPE_CS, "code": "LN",
                                 "display": "License number"}]},
            "system": licence_identifier_system(jurisdiction_of(p)),
            "value": p.licence_number})
    resource = {
        "resourceType": "Practitioner", "id": str(p.id),
        "meta": meta(p.updated_at, demo=p.is_demo),
        "extension": [verification_status(p)],
        "identifier": identifiers,
        "active": True,
        "name": [name],
        "telecom": [{"system": "url", "value": absolute_url("public.practitioner", slug=p.slug)}],
        "qualification": [licence_qualification(p),
                          *(certification_qualification(c, organisation_ids) for c in certs)],
    }
    if not identifiers:
        del resource["identifier"]
    if p.languages:
        resource["communication"] = [{"coding": [{"system": "urn:ietf:bcp:47", "code": code}],
                                      "text": vocab.language_name(code)}
                                     for code in p.languages]
    return resource


def scope_extension(scope: Scope) -> dict:
    """The scope verdict where the role's location is (dry-needling-scope)."""
    parts: list[dict] = [{"url": "verdict", "valueCode": scope.verdict},
                         {"url": "jurisdiction",
                          "valueCodeableConcept": place_concept(scope.jurisdiction)},
                         {"url": "summary", "valueString": scope.summary}]
    rule = scope.rule
    if rule is not None and rule.source_url:
        parts.append({"url": "source", "valueUri": rule.source_url})
    if rule is not None and rule.reviewed_on:
        parts.append({"url": "reviewed", "valueDate": iso(rule.reviewed_on)})
    return {"url": own("StructureDefinition", "dry-needling-scope"), "extension": parts}


def specialty() -> dict:
    """Dry needling, in our own code system (no standard terminology has a code for it)."""
    return {"coding": [{"system": own("CodeSystem", "specialty"), "code": DRY_NEEDLING,
                        "display": "Dry needling"}], "text": "Dry needling"}


def role_updated(loc: PracticeLocation) -> datetime:
    """A role's lastUpdated: the later of its location's and its practitioner's changes
    (finders.role_updated_sql() is the same in SQL)."""
    return max(loc.updated_at, loc.practitioner.updated_at)


def practitioner_role(loc: PracticeLocation, scope: Scope | None) -> dict:
    """A searchable practitioner at one of their practice locations."""
    p = loc.practitioner
    accepting = "newpt" if p.accepting_new_patients else "nopt"
    extensions = [
        {"url": NDH_NEW_PATIENTS, "extension": [{"url": "acceptingPatients",
                                                 "valueCodeableConcept": {"coding": [{
                                                     "system": ACCEPTING_PATIENTS_CS,
                                                     "code": accepting}]}}]},
        verification_status(p)]
    if scope is not None:
        extensions.append(scope_extension(scope))
    resource = {
        "resourceType": "PractitionerRole", "id": str(loc.id),
        "meta": meta(role_updated(loc), demo=p.is_demo),
        "extension": extensions,
        "active": True,
        "practitioner": reference("Practitioner", p.id, p.full_name),
        "location": [reference("Location", loc.id, loc.clinic_name)],
        "specialty": [specialty()],
    }
    if code := profession_concept(p.profession):
        resource["code"] = [code]
    telecom = []
    if phone := practice.shown_phone(p):
        telecom.append({"system": "phone", "value": phone, "use": "work"})
    if email := practice.shown_email(p):
        telecom.append({"system": "email", "value": email, "use": "work"})
    if telecom:
        resource["telecom"] = telecom
    return resource


def hours_of_operation(loc: PracticeLocation) -> list[dict]:
    """The opening hours (directory.hours), one entry per opening range shared by some days."""
    days: dict[tuple[str, str], list[str]] = defaultdict(list)
    for opening in hours.as_json(loc.hours):
        days[(opening["opens"], opening["closes"])].append(opening["day"][:3])
    return [{"daysOfWeek": weekdays, "openingTime": f"{opens}:00", "closingTime": f"{closes}:00"}
            for (opens, closes), weekdays in days.items()]


def address(loc: PracticeLocation) -> dict:
    """The location's postal address."""
    result = {"use": "work", "type": "physical", "line": [loc.street] if loc.street else [],
              "city": loc.city, "state": loc.region or None, "postalCode": loc.postcode or None,
              "country": loc.country}
    return {key: value for key, value in result.items() if value}


def location(loc: PracticeLocation) -> dict:
    """A practice location of a searchable practitioner."""
    resource: dict = {
        "resourceType": "Location", "id": str(loc.id),
        "meta": meta(loc.updated_at, demo=loc.practitioner.is_demo),
        "status": "active", "name": loc.clinic_name, "mode": "instance",
        "address": address(loc),
    }
    if loc.wheelchair_accessible:
        resource["extension"] = [{"url": NDH_ACCESSIBILITY, "valueCodeableConcept": {
            "coding": [{"system": ACCESSIBILITY_CS, "code": "handiaccess",
                        "display": "handicapped accessible"}],
            "text": "Wheelchair accessible"}}]
    if loc.lat is not None and loc.lng is not None:
        resource["position"] = {"latitude": loc.lat, "longitude": loc.lng}
    if opening := hours_of_operation(loc):
        resource["hoursOfOperation"] = opening
    if loc.by_appointment:
        resource["availabilityExceptions"] = "By appointment"
    return resource


def distance_extension(distance_km: float) -> dict:
    """A search match's distance from the near point (entry.search.extension)."""
    return {"url": LOCATION_DISTANCE, "valueDistance": {
        "value": round(distance_km, 3), "unit": "km", "system": "http://unitsofmeasure.org",
        "code": "km"}}


def organisation_updated(programs: list[TrainingProgram]) -> datetime:
    """A training organisation's lastUpdated: its programs' latest change."""
    return max(p.updated_at for p in programs)


def organization(org_id: int, name: str, programs: list[TrainingProgram]) -> dict:
    """A training organisation: its name, acronym, country and website, from its programs."""
    first = programs[0]
    resource: dict = {
        "resourceType": "Organization", "id": str(org_id),
        "meta": meta(organisation_updated(programs)),
        "active": any(p.retired_at is None for p in programs),
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                              "code": "edu", "display": "Educational Institute"}],
                  "text": "Training organisation"}],
        "name": name,
    }
    acronyms = sorted({p.organisation_acronym for p in programs if p.organisation_acronym})
    if acronyms:
        resource["alias"] = acronyms
    websites = [p.website for p in programs if p.website]
    if websites:
        resource["telecom"] = [{"system": "url", "value": websites[0]}]
    if first.country:
        resource["address"] = [{"country": first.country}]
    return resource


# VerificationResult: the codes used (terminology.hl7.org), and what each verification says.
NEED_CS = "http://terminology.hl7.org/CodeSystem/need"
VALIDATION_TYPE_CS = "http://terminology.hl7.org/CodeSystem/validation-type"
VALIDATION_PROCESS_CS = "http://terminology.hl7.org/CodeSystem/validation-process"
FAILURE_ACTION_CS = "http://terminology.hl7.org/CodeSystem/failure-action"
PRIMARY_SOURCE_TYPE_CS = "http://terminology.hl7.org/CodeSystem/primary-source-type"
VALIDATION_STATUS_CS = "http://terminology.hl7.org/CodeSystem/validation-status"


def _coded(system: str, code: str, display: str) -> dict:
    return {"coding": [{"system": system, "code": code, "display": display}]}


DIRECTORY = {"display": "Dry Needling Directory"}  # the validator: this directory


def licence_verification(licence: Licence) -> dict:
    """A licence checked at its official register (or register file): validated on verified_on,
    next due on next_due, target the practitioner's licence qualification."""
    p = licence.practitioner
    automatic = licence.method == vocab.LicenceMethod.AUTOMATIC
    resource = {
        "resourceType": "VerificationResult", "id": f"licence-{licence.id}",
        "meta": meta(licence.updated_at, demo=p.is_demo),
        "target": [reference("Practitioner", p.id, p.full_name)],
        "targetLocation": ["Practitioner.qualification[0]"],
        "need": _coded(NEED_CS, "periodic", "Periodic"),
        "status": "validated",
        "statusDate": iso(licence.updated_at),
        "validationType": _coded(VALIDATION_TYPE_CS, "primary", "Primary Source"),
        "validationProcess": [_coded(VALIDATION_PROCESS_CS, "primary", "Primary Source")],
        "frequency": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "a"}},
        "lastPerformed": iso(licence.verified_on),
        "nextScheduled": iso(licence.next_due),
        "failureAction": _coded(FAILURE_ACTION_CS, "fatal", "Fatal"),
        "primarySource": [{
            "who": {"display": licence.source or licence_issuer(p)["display"]},
            "type": [_coded(PRIMARY_SOURCE_TYPE_CS, "lic-board", "License Board")],
            "communicationMethod": [{"text": "register file" if automatic
                                     else "official register, looked up by an administrator"}],
            "validationStatus": _coded(VALIDATION_STATUS_CS, "successful", "Successful"),
            "validationDate": iso(licence.verified_on)}],
        "validator": [{"organization": DIRECTORY}],
    }
    return resource


def certification_verification(cert: Certification, position: int,
                               organisation_ids: dict[str, int], confirmed: bool) -> dict:
    """A certification an administrator verified from its evidence (the certificate, against
    the registry of recognised programs): validated at verified_at, next scheduled at its
    expiry; attested by the practitioner who submitted it. Its training organisation is the
    primary source: validationType primary when the organisation confirmed it (issuers),
    multiple otherwise (the certificate and the registry). `position` is its index in
    Practitioner.qualification."""
    p = cert.practitioner
    program = cert.program
    source_who: dict = {"display": program.organisation if program else "Training provider"}
    if program is not None and program.organisation in organisation_ids:
        source_who = reference("Organization", organisation_ids[program.organisation],
                               program.organisation)
    source: dict = {"who": source_who,
                    "type": [_coded(PRIMARY_SOURCE_TYPE_CS, "issuer", "Issuing source")]}
    if confirmed:
        source["validationStatus"] = _coded(VALIDATION_STATUS_CS, "successful", "Successful")
    resource: dict = {
        "resourceType": "VerificationResult", "id": f"certification-{cert.id}",
        "meta": meta(cert.updated_at, demo=p.is_demo),
        "target": [reference("Practitioner", p.id, p.full_name)],
        "targetLocation": [f"Practitioner.qualification[{position}]"],
        "need": _coded(NEED_CS, "initial", "Initial"),
        "status": "validated",
        "statusDate": iso(cert.verified_at),
        "validationType": _coded(VALIDATION_TYPE_CS, *(
            ("primary", "Primary Source") if confirmed else ("multiple", "Multiple Sources"))),
        "validationProcess": [_coded(VALIDATION_PROCESS_CS, "edit-check", "edit check")],
        "lastPerformed": iso(cert.verified_at),
        "failureAction": _coded(FAILURE_ACTION_CS, "fatal", "Fatal"),
        "primarySource": [source],
        "attestation": {"who": reference("Practitioner", p.id, p.full_name),
                        "communicationMethod": _coded(
                            "http://terminology.hl7.org/CodeSystem/"
                            "verificationresult-communication-method", "manual", "Manual")},
        "validator": [{"organization": DIRECTORY}],
    }
    if cert.submitted_at:
        resource["attestation"]["date"] = iso(cert.submitted_at.date())
    if cert.expires_on:
        resource["nextScheduled"] = iso(cert.expires_on)
    return resource
