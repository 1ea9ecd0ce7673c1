"""Configuration layers: defaults → instance/config.py → DIRECTORY_* environment."""

from pathlib import Path

import pytest

from directory import create_app, normalise_database_url


@pytest.fixture
def instance(tmp_path, monkeypatch) -> Path:
    """An empty instance folder and an environment with no DIRECTORY_* settings."""
    import os

    for key in list(os.environ):
        if key.startswith("DIRECTORY_"):
            monkeypatch.delenv(key)
    path = tmp_path / "instance"
    monkeypatch.setenv("DIRECTORY_INSTANCE_PATH", str(path))
    monkeypatch.setenv("DIRECTORY_AUTO_UPGRADE", "false")
    return path


def test_defaults_use_sqlite_and_a_generated_secret_in_instance(instance):
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'directory.sqlite3'}"
    key_file = instance / "secret_key"
    assert key_file.exists()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert app.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(app.config["SECRET_KEY"]) >= 64
    # The same key on the next start, so sessions and e-mail links survive restarts.
    assert create_app().config["SECRET_KEY"] == app.config["SECRET_KEY"]
    assert app.config["MAIL_OUTBOX"] == str(instance / "outbox")
    assert app.config["UPLOAD_FOLDER"] == str(instance / "uploads")


def test_instance_config_overrides_defaults_and_environment_overrides_both(instance,
                                                                           monkeypatch):
    instance.mkdir(parents=True)
    (instance / "config.py").write_text(
        'SITE_NAME = "Instance Name"\nMAIL_BACKEND = "smtp"\nSECRET_KEY = "from-instance"\n')
    app = create_app()
    assert app.config["SITE_NAME"] == "Instance Name"
    assert app.config["SECRET_KEY"] == "from-instance"
    assert not (instance / "secret_key").exists()

    monkeypatch.setenv("DIRECTORY_SITE_NAME", "Env Name")
    monkeypatch.setenv("DIRECTORY_SECRET_KEY", "from-env")
    monkeypatch.setenv("DIRECTORY_DATABASE_URL", "postgresql://db.example/directory")
    monkeypatch.setenv("DIRECTORY_MAIL_PORT", "2525")
    app = create_app()
    assert app.config["SITE_NAME"] == "Env Name"
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["MAIL_BACKEND"] == "smtp"
    assert app.config["MAIL_PORT"] == 2525
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://db.example/directory"


@pytest.mark.parametrize(("given", "expected"), [
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:///x.db", "sqlite:///x.db"),
])
def test_database_urls_use_psycopg3(given, expected):
    assert normalise_database_url(given) == expected


def test_starting_the_app_upgrades_an_empty_database(instance, monkeypatch):
    monkeypatch.setenv("DIRECTORY_AUTO_UPGRADE", "true")
    app = create_app()
    from sqlalchemy import inspect

    from directory.extensions import db

    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert {"users", "practitioners", "practice_locations", "certifications",
            "training_programs", "jurisdiction_rules", "audit_events",
            "alembic_version"} <= tables


def test_no_secret_in_the_repository():
    root = Path(__file__).resolve().parent.parent
    tracked_config = (root / "directory" / "config.py").read_text()
    assert "SECRET_KEY = None" in tracked_config
    gitignore = (root / ".gitignore").read_text()
    assert "/instance/*" in gitignore


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_sqlite_database_works(instance, monkeypatch, url):
    """The pool sizes meant for several processes must not stop a quick in-memory trial."""
    monkeypatch.setenv("DIRECTORY_DATABASE_URL", url)
    monkeypatch.setenv("DIRECTORY_AUTO_UPGRADE", "true")
    app = create_app()
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.get_data(as_text=True)
