"""All models, imported here so Alembic and the app see the whole schema."""

from directory.models.audit import AuditEvent, record
from directory.models.badge import StatusListEntry
from directory.models.credential import (
    Certification,
    JurisdictionRule,
    ProgramAlias,
    ScopeChange,
    TrainingProgram,
)
from directory.models.feedback import Enquiry, ListingReport
from directory.models.issuer import Issuer, IssuerConfirmation, issuer_of
from directory.models.licence import Licence
from directory.models.nppes import NppesFile, NppesProvider
from directory.models.outbox import OutboxMessage
from directory.models.practitioner import (
    OpeningHours,
    PracticeLocation,
    Practitioner,
    PractitionerTag,
    SearchWord,
)
from directory.models.session import UserSession
from directory.models.user import User
from directory.models.version import DirectoryVersion

__all__ = [
    "AuditEvent", "Certification", "DirectoryVersion", "Enquiry", "Issuer", "IssuerConfirmation",
    "JurisdictionRule",
    "Licence", "ListingReport", "NppesFile", "NppesProvider", "OpeningHours", "OutboxMessage",
    "PracticeLocation", "Practitioner", "PractitionerTag", "ProgramAlias", "ScopeChange",
    "SearchWord", "StatusListEntry", "TrainingProgram", "User", "UserSession", "issuer_of",
    "record",
]
