"""Alembic environment: runs migrations with the Flask app's engine and models."""

from alembic import context
from flask import current_app

config = context.config
db = current_app.extensions["migrate"].db
target_metadata = db.metadata


def run_migrations_offline() -> None:
    """Emit SQL without a database connection."""
    context.configure(url=str(db.engine.url), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def include_name(name, type_, parent_names) -> bool:
    """Compare everything but what the migrations make outside the models (the name search's
    full-text tables and index, the ring search's R*Tree on SQLite)."""
    from directory.search.names import outside_the_models

    return not outside_the_models(name, type_, parent_names)


def run_migrations_online() -> None:
    """Run migrations on a live connection."""
    conf_args = current_app.extensions["migrate"].configure_args
    conf_args.setdefault("compare_type", True)
    conf_args.setdefault("include_name", include_name)
    with db.engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, **conf_args)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
