"""Writing checked rows: every table in bulk INSERTs in the caller's transaction (COPY on
PostgreSQL), then listed_until for the new practitioners (listing.refresh_listing).

Accounts are confirmed with no usable password (the person claims the account with "Forgot
password"); each certification is approved by the importing administrator through the state
machine's definition of "approve" (credentials.lifecycle.approved).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from sqlalchemy import JSON, insert, select, text
from sqlalchemy.exc import IntegrityError

from directory import listing
from directory.accounts.services import slugify
from directory.bulk.checker import CHUNK, CheckedRow
from directory.credentials import lifecycle
from directory.credentials.services import new_public_code
from directory.extensions import db
from directory.models import (
    AuditEvent,
    Certification,
    PracticeLocation,
    Practitioner,
    PractitionerTag,
    User,
)
from directory.models.base import utcnow
from directory.search import names
from directory.vocab import Role

# The "password" of an imported account: no "$", so it can never verify (werkzeug needs
# method$salt$hash); unique per account, as the password-reset link relies on.
UNUSABLE_PREFIX = "!imported:"


def _insert(table, rows: list[dict[str, Any]], returning: bool = False) -> list[int]:
    """Insert many rows in the session's transaction; the new ids in row order if asked.

    PostgreSQL: ids reserved from the table's sequence in one query, then COPY (an INSERT
    of 100,000 rows spends most of its time building and parsing statements). Elsewhere:
    one executemany INSERT, batched by SQLAlchemy, with RETURNING for the ids.
    """
    if not rows:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
        return _copy(table, rows, returning)
    if returning:
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(db.session.scalars(statement, rows))
    db.session.execute(insert(table), rows)
    return []


def _copy(table, rows: list[dict[str, Any]], returning: bool) -> list[int]:
    """COPY rows into a PostgreSQL table (every column given; ids from its sequence)."""
    import psycopg
    from psycopg import sql

    ids: list[int] = []
    if returning:
        ids = sorted(db.session.scalars(
            text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                 "FROM generate_series(1, :n)"), {"table": table.name, "n": len(rows)}))
        rows = [{**row, "id": new_id} for row, new_id in zip(rows, ids, strict=True)]
    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns)))
    raw = db.session.connection().connection.driver_connection
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([json.dumps(row[c]) if c in json_columns else row[c]
                                for c in columns])
    except psycopg.IntegrityError as exc:  # as SQLAlchemy would report it
        raise IntegrityError(f"COPY {table.name}", None, exc) from exc
    return ids


def write(rows: list[CheckedRow], admin: User, import_id: str) -> int:
    """Bulk INSERTs for every table, then listed_until for the new practitioners."""
    now = utcnow()
    taken_slugs = set(db.session.scalars(select(Practitioner.slug)))
    next_suffix: dict[str, int] = {}

    def unique_slug(name: str) -> str:
        base = slugify(name)
        if base not in taken_slugs:
            taken_slugs.add(base)
            return base
        n = next_suffix.get(base, 2)
        while f"{base}-{n}" in taken_slugs:
            n += 1
        next_suffix[base] = n + 1
        taken_slugs.add(f"{base}-{n}")
        return f"{base}-{n}"

    stamps = {"created_at": now, "updated_at": now}
    user_ids = _insert(User.__table__, [{
        **r.user, "password_hash": UNUSABLE_PREFIX + secrets.token_hex(16),
        "role": Role.PRACTITIONER, "email_confirmed_at": now, "is_active": True,
        **stamps} for r in rows], returning=True)
    practitioner_ids = _insert(Practitioner.__table__, [{
        **r.practitioner, "user_id": uid, "slug": unique_slug(r.practitioner["full_name"]),
        "attested_at": now, "is_demo": False, "version": 1, **stamps}
        for r, uid in zip(rows, user_ids, strict=True)], returning=True)
    _insert(PractitionerTag.__table__, [
        {"practitioner_id": pid, "kind": kind, "code": code}
        for r, pid in zip(rows, practitioner_ids, strict=True) for kind, code in r.tags])
    _insert(PracticeLocation.__table__, [{**r.location, "practitioner_id": pid, **stamps}
                                         for r, pid in zip(rows, practitioner_ids, strict=True)
                                         if r.location is not None])
    # The words the name search finds them by (Core inserts pass the flush hook by).
    names.refresh_search_words(db.session.connection(), practitioner_ids)
    # Each certification is submitted and approved by the administrator at once: approve's
    # own definition (lifecycle.approved), and its audit event, one per certification.
    approval = lifecycle.approved(admin, now)
    cert_ids = _insert(Certification.__table__, [{
        **r.certification, **approval, "practitioner_id": pid, "match_score": None,
        "public_code": new_public_code(), "version": 1, **stamps}
        for r, pid in zip(rows, practitioner_ids, strict=True)], returning=True)
    action = f"certification.{lifecycle.APPROVE.name}"
    detail = lifecycle.audit_detail(lifecycle.APPROVE)
    _insert(AuditEvent.__table__, [{
        "at": now, "actor_id": admin.id, "action": action, "practitioner_id": pid,
        "subject_type": Certification.__tablename__, "subject_id": cid,
        "detail": {**detail, "via": "import", "program": r.program_key, "row": r.number,
                   "import_id": import_id}}
        for r, pid, cid in zip(rows, practitioner_ids, cert_ids, strict=True)])
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # Fresh statistics (they count this transaction's rows), or the planner may think the
        # tables are as small as at the last ANALYZE and scan them for every practitioner.
        connection.execute(text("ANALYZE users, practitioners, certifications"))
    for i in range(0, len(practitioner_ids), CHUNK):
        listing.refresh_listing(connection, practitioner_ids=practitioner_ids[i:i + CHUNK])
    return len(rows)
