"""`flask --app wsgi ...` commands."""

from __future__ import annotations

import os

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from directory.accounts import services as accounts
from directory.accounts.passwords import password_problem


def register(app: Flask) -> None:
    """Add the commands to the app."""
    app.cli.add_command(create_admin)
    app.cli.add_command(demo)
    app.cli.add_command(credentials)
    app.cli.add_command(reference)
    from directory.bulk.cli import register as register_bulk

    register_bulk(app)  # import / export practitioners
    from directory.ops.backup import backup_command, restore_command

    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


@click.command("create-admin")
@click.argument("email")
@with_appcontext
@click.option("--password-env", default="DIRECTORY_ADMIN_PASSWORD", show_default=True,
              help="Read the password from this environment variable instead of asking.")
def create_admin(email: str, password_env: str) -> None:
    """Create an administrator account (the only way to make one)."""
    password = os.environ.get(password_env)
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password, email)
    if problem:
        raise click.ClickException(problem)
    try:
        user = accounts.create_admin(email, password)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Administrator {user.email} created.")


demo = AppGroup("demo", help="Demo data for trying the site locally.")


@demo.command("seed")
def demo_seed() -> None:
    """Fill an empty database with demo practitioners and an admin; print the admin login."""
    from directory.demo import admin_login, seed

    with current_app.test_request_context(base_url=current_app.config["SITE_URL"]):
        created = seed()
    email, password = admin_login(current_app.instance_path)
    if created:
        click.echo(f"Demo data created: {created} demo practitioners.")
    else:
        click.echo("The database already has accounts: no demo data added.")
    if email:
        click.echo(f"Demo admin login: {email} / {password}  (kept in instance/demo-admin.txt)")


credentials = AppGroup("credentials", help="Certifications: expiry and reminders.")
reference = AppGroup("reference", help="Recognised programs and jurisdiction rules.")


@credentials.command("sweep")
def credentials_sweep() -> None:
    """Expire due certifications and send due reminders (expiry and yearly confirmation), once
    each (safe to run hourly)."""
    from directory.credentials.services import sweep

    with current_app.test_request_context(base_url=current_app.config["SITE_URL"]):
        result = sweep()
    click.echo(f"Expired {result.expired} certification(s); sent {result.reminders} "
               f"reminder(s). Sent {result.attestation_reminders} yearly \"details still "
               "accurate\" reminder(s).")


@reference.command("load")
def reference_load() -> None:
    """Add programs and rules from directory/data/ that the database does not have yet."""
    from directory.credentials.reference import load_reference_data

    programs, rules = load_reference_data()
    click.echo(f"Added {programs} program(s) and {rules} rule(s).")
