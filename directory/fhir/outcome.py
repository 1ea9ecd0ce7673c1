"""FHIR's error answer: an OperationOutcome, and the exception a search or read raises for one."""

from __future__ import annotations

# The FHIR JSON media type every /fhir answer carries.
FHIR_JSON = "application/fhir+json"

# OperationOutcome.issue.code (http://hl7.org/fhir/issue-type) for each HTTP status.
ISSUE_CODES = {400: "invalid", 404: "not-found", 405: "not-supported", 406: "not-supported",
               413: "too-costly", 429: "throttled", 500: "exception", 503: "transient"}


class FhirError(Exception):
    """A request FHIR answers with an OperationOutcome: `status` (400, 404), the issue `code`
    (invalid, not-supported, not-found) and `diagnostics` naming what was wrong."""

    def __init__(self, diagnostics: str, status: int = 400, code: str = "invalid") -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        self.status = status
        self.code = code


def operation_outcome(diagnostics: str, code: str = "invalid",
                      severity: str = "error") -> dict:
    """An OperationOutcome with one issue."""
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}]}


def for_status(status: int, message: str) -> dict:
    """The OperationOutcome of an HTTP error the site's handlers answer (404 of an address no
    route has, 405, 429, 500...): the site's message as the diagnostics."""
    return operation_outcome(message, ISSUE_CODES.get(status, "exception"))
