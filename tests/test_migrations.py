"""The Alembic migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from directory import PACKAGE, create_app
from directory.extensions import db
from tests.conftest import base_config

MIGRATIONS = str(PACKAGE / "migrations")


def _diff(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_upgrade_from_empty_matches_the_models(app):
    # The session's database was built from empty by `upgrade` (see conftest.migrated_database).
    with app.app_context():
        assert _diff(db.engine) == []
        assert "alembic_version" in inspect(db.engine).get_table_names()


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
