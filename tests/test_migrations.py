"""The Alembic migrations build exactly the schema the models describe."""

import re
import warnings
from datetime import timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import CheckConstraint, inspect

from directory import PACKAGE, create_app
from directory.extensions import db
from directory.models.base import utcnow
from directory.search.names import outside_the_models
from tests.conftest import base_config

MIGRATIONS = str(PACKAGE / "migrations")


# Indexes on an expression, which SQLite's reflection cannot read (so autogenerate cannot compare
# them there, and says so): each is checked by name in test_expression_indexes_exist.
EXPRESSION_INDEXES = {"ix_certifications_public_code_lower": "certifications"}


def _diff(engine) -> list:
    with engine.connect() as conn, warnings.catch_warnings():
        for name in EXPRESSION_INDEXES:
            warnings.filterwarnings("ignore", message=f".*expression-based index '?{name}")
        context = MigrationContext.configure(conn, opts={
            "compare_type": True,
            "include_name": lambda name, type_, parents: not outside_the_models(name, type_)})
        return compare_metadata(context, db.metadata)


def test_expression_indexes_exist(app):
    from sqlalchemy import text

    with app.app_context(), db.engine.connect() as conn:
        if db.engine.dialect.name == "sqlite":
            found = set(conn.scalars(text(
                "SELECT name FROM sqlite_master WHERE type = 'index'")))
        else:
            found = set(conn.scalars(text("SELECT indexname FROM pg_indexes")))
    assert set(EXPRESSION_INDEXES) <= found


def test_upgrade_from_empty_matches_the_models(app):
    # The session's database was built from empty by `upgrade` (see conftest.migrated_database).
    with app.app_context():
        assert _diff(db.engine) == []
        assert "alembic_version" in inspect(db.engine).get_table_names()


def _check_values(sqltext: str) -> set[str]:
    return set(re.findall(r"'([^']*)'", str(sqltext)))


def test_the_migrated_check_constraints_allow_exactly_the_vocabularies(app):
    """Autogenerate does not compare CHECK constraints: a status added to a vocabulary enum
    (vocab.CertStatus...) without a migration fails here, not when the first row is saved."""
    with app.app_context():
        inspector = inspect(db.engine)
        compared = 0
        for table in db.metadata.sorted_tables:
            in_db = {c["name"].removeprefix(f"ck_{table.name}_"): _check_values(c["sqltext"])
                     for c in inspector.get_check_constraints(table.name)}
            for constraint in table.constraints:
                if isinstance(constraint, CheckConstraint) and " IN (" in str(constraint.sqltext):
                    name = str(constraint.name).removeprefix(f"ck_{table.name}_")
                    assert in_db.get(name) == _check_values(constraint.sqltext), (
                        f"{table.name}.{name}: write a migration for the new values")
                    compared += 1
        assert compared >= 3  # certification status, rule permitted, outbox status at least


def test_downgrade_and_upgrade_again_on_a_fresh_database(tmp_path):
    app = create_app(base_config(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", tmp_path))
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        assert _diff(db.engine) == []
        downgrade(directory=MIGRATIONS, revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade(directory=MIGRATIONS)
        assert _diff(db.engine) == []
        db.engine.dispose()


def test_upgrades_fill_listing_and_attestation_for_existing_rows(tmp_path):
    """Rows made before 0003/0004 get listed_until computed and a year to confirm their details;
    0006 copies both and the name onto the practice locations, and search finds them."""
    from sqlalchemy import text

    app = create_app(base_config(f"sqlite:///{tmp_path / 'old.sqlite3'}", tmp_path))
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="0002")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO users (id, email, password_hash, role, email_confirmed_at, is_active,"
                " session_version, created_at, updated_at) VALUES (1, 'a@example.com', 'x',"
                " 'practitioner', '2026-01-01 00:00:00', 1, 1, '2026-01-01 00:00:00',"
                " '2026-01-01 00:00:00')"))
            conn.execute(text(
                "INSERT INTO practitioners (id, user_id, slug, full_name, post_nominals,"
                " licence_number, bio, phone, public_email, website, booking_url,"
                " accepting_new_patients, insurance_notes, is_demo, version, created_at,"
                " updated_at) VALUES (1, 1, 'a', 'A', '', '', '', '', '', '', '', 1, '', 0, 1,"
                " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
            conn.execute(text(
                "INSERT INTO users (id, email, password_hash, role, email_confirmed_at, is_active,"
                " session_version, created_at, updated_at) VALUES (2, 'admin@example.com', 'x',"
                " 'admin', '2026-01-01 00:00:00', 1, 1, '2026-01-01 00:00:00',"
                " '2026-01-01 00:00:00')"))
            conn.execute(text(
                "INSERT INTO certifications (practitioner_id, submitted_name, certificate_number,"
                " expires_on, status, reason, reviewed_by_id, reviewed_at, public_code, version,"
                " created_at, updated_at) VALUES (1, 'X', '', '2030-05-01', 'verified', '', 2,"
                " '2026-01-01 00:00:00', 'code', 1, '2026-01-01 00:00:00',"
                " '2026-01-01 00:00:00')"))
        upgrade(directory=MIGRATIONS, revision="0008")
        with db.engine.connect() as conn:
            listed_until, attested_at = conn.execute(text(
                "SELECT listed_until, attested_at FROM practitioners WHERE id = 1")).one()
        assert str(listed_until) == "2030-05-01"
        assert attested_at is not None
        # 0009: licences are checked now; a practitioner listed before keeps the listing,
        # unchecked, for 60 days (the copies follow), and the sweep tells them by e-mail.
        upgrade(directory=MIGRATIONS)
        with db.engine.connect() as conn:
            listed_until = conn.execute(text(
                "SELECT listed_until FROM practitioners WHERE id = 1")).scalar_one()
            status, grace_until = conn.execute(text(
                "SELECT status, grace_until FROM licences WHERE practitioner_id = 1")).one()
        db.engine.dispose()
    grace = str(utcnow().date() + timedelta(days=60))
    assert (str(listed_until), status, str(grace_until)) == (grace, "unverified", grace)


def test_0012_marks_admin_edited_rules_and_places_existing_locations(tmp_path):
    """Rules an administrator created or edited before 0012 are kept from the data file's
    updates; existing locations get the region typed on them as their jurisdiction, and the
    verdict there."""
    from sqlalchemy import text

    app = create_app(base_config(f"sqlite:///{tmp_path / 'old.sqlite3'}", tmp_path))
    at = {"at": "2026-01-01 00:00:00"}
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="0011")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO users (id, email, password_hash, role, email_confirmed_at,"
                " is_active, created_at, updated_at) VALUES (1, 'a@example.com', 'x',"
                " 'practitioner', :at, 1, :at, :at)"), at)
            conn.execute(text(
                "INSERT INTO practitioners (id, user_id, slug, full_name, post_nominals,"
                " profession, licence_number, bio, phone, public_email, website, booking_url,"
                " accepting_new_patients, insurance_notes, is_demo, version, created_at,"
                " updated_at) VALUES (1, 1, 'a', 'A', '', 'physiotherapist', '', '', '', '',"
                " '', '', 1, '', 0, 1, :at, :at)"), at)
            conn.execute(text(
                "INSERT INTO practice_locations (id, practitioner_id, clinic_name, street,"
                " city, region, postcode, country, wheelchair_accessible, created_at,"
                " updated_at) VALUES (:id, 1, 'C', '', 'T', :region, '', 'US', 0, :at, :at)"),
                [at | {"id": 1, "region": "Colorado"}, at | {"id": 2, "region": "CA"},
                 at | {"id": 3, "region": "Somewhere"}])
            conn.execute(text(
                "INSERT INTO jurisdiction_rules (id, jurisdiction, profession, permitted,"
                " other_requirements, source_url, other_sources, created_at, updated_at)"
                " VALUES (:id, :place, 'physiotherapist', :permitted, '',"
                " 'https://example.gov', '[]', :at, :at)"),
                [at | {"id": 1, "place": "US-CO", "permitted": "yes"},
                 at | {"id": 2, "place": "US-CA", "permitted": "no"}])
            conn.execute(text(
                "INSERT INTO audit_events (at, action, subject_type, subject_id, detail)"
                " VALUES (:at, 'rule.updated', 'jurisdiction_rules', 2, '{}')"), at)
        upgrade(directory=MIGRATIONS)
        with db.engine.connect() as conn:
            rules = dict(conn.execute(text(
                "SELECT jurisdiction, admin_edited_at FROM jurisdiction_rules")).all())
            locations = conn.execute(text(
                "SELECT id, region_code, scope_verdict FROM practice_locations ORDER BY id"
            )).all()
        db.engine.dispose()
    assert rules["US-CO"] is None and str(rules["US-CA"]).startswith("2026-01-01")
    assert [tuple(row) for row in locations] == [(1, "US-CO", "yes"), (2, "US-CA", "no"),
                                                 (3, None, "unknown")]


def insert_an_old_practitioner(conn, locations: list[dict]) -> None:
    """An account, its practitioner and these practice locations (id, country, lat, lng),
    written with the columns every revision from 0014 on has (for a migration's data step)."""
    from sqlalchemy import text

    at = {"at": "2026-01-01 00:00:00"}
    conn.execute(text(
        "INSERT INTO users (id, email, password_hash, role, email_confirmed_at,"
        " is_active, created_at, updated_at) VALUES (1, 'a@example.com', 'x',"
        " 'practitioner', :at, 1, :at, :at)"), at)
    conn.execute(text(
        "INSERT INTO practitioners (id, user_id, slug, full_name, post_nominals,"
        " licence_number, bio, phone, public_email, website, booking_url,"
        " accepting_new_patients, insurance_notes, is_demo, version, created_at,"
        " updated_at) VALUES (1, 1, 'a', 'A', '', '', '', '', '', '', '', 1, '', 0, 1,"
        " :at, :at)"), at)
    conn.execute(text(
        "INSERT INTO practice_locations (id, practitioner_id, clinic_name, street,"
        " city, region, postcode, country, lat, lng, wheelchair_accessible, created_at,"
        " updated_at) VALUES (:id, 1, 'C', '', 'T', '', '', :country, :lat, :lng, 0,"
        " :at, :at)"), [at | location for location in locations])


def test_0015_gives_placed_locations_their_time_zone(tmp_path):
    """Locations placed before 0015 get the time zone of their point ("open now" needs it);
    one not on the map stays without."""
    from sqlalchemy import text

    app = create_app(base_config(f"sqlite:///{tmp_path / 'old.sqlite3'}", tmp_path))
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="0014")
        with db.engine.begin() as conn:
            insert_an_old_practitioner(conn, [
                {"id": 1, "country": "AU", "lat": -33.8688, "lng": 151.2093},
                {"id": 2, "country": "US", "lat": 39.7392, "lng": -104.9903},
                {"id": 3, "country": "AU", "lat": -33.8688, "lng": 151.2093},
                {"id": 4, "country": "IE", "lat": None, "lng": None}])
        upgrade(directory=MIGRATIONS)
        with db.engine.connect() as conn:
            zones = conn.execute(text(
                "SELECT id, time_zone FROM practice_locations ORDER BY id")).all()
        db.engine.dispose()
    assert [tuple(row) for row in zones] == [(1, "Australia/Sydney"), (2, "America/Denver"),
                                             (3, "Australia/Sydney"), (4, None)]
