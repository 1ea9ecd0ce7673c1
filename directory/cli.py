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
    app.cli.add_command(release_db_commands(app.cli.commands["db"]), "db")
    app.cli.add_command(create_admin)
    app.cli.add_command(create_issuer)
    app.cli.add_command(demo)
    app.cli.add_command(credentials)
    app.cli.add_command(reference)
    from directory.bulk.cli import register as register_bulk

    register_bulk(app)  # import / export practitioners
    from directory.ops.backup import backup_command, restore_command

    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    from directory.jobs import register as register_jobs

    register_jobs(app)  # mail send, worker
    from directory.licences.cli import licences_group

    app.cli.add_command(licences_group)  # load-nppes, check-nppes


def release_db_commands(migrate_db: click.Group) -> click.Group:
    """Flask-Migrate's `db` commands, with `db upgrade` as the release step: the newest migration
    and then the reference data the database lacks, behind the upgrade lock (one process at a
    time). Web processes in production leave both to it (AUTO_UPGRADE is off there)."""
    original = migrate_db.commands["upgrade"]

    @click.pass_context
    def upgrade(ctx: click.Context, **options) -> None:
        if options["sql"]:  # SQL printed for someone to run, nothing run: nothing to seed yet
            ctx.invoke(original, **options)
            return
        from directory.ops.schema import upgrade_database

        added = upgrade_database(current_app._get_current_object(),
                                 lambda: ctx.invoke(original, **options))
        if added is None:
            click.echo("The schema is not at the newest revision: no reference data added.")
        else:
            click.echo(f"Reference data: added {added.programs} program(s) and {added.rules} "
                       "rule(s) the database lacked.")

    command = click.Command(
        "upgrade", callback=with_appcontext(upgrade), params=original.params,
        help="Upgrade to a later version (default: the newest); at the newest, add the "
             "reference data the database lacks. Processes upgrading together take turns.")
    return click.Group(migrate_db.name, commands={**migrate_db.commands, "upgrade": command},
                       callback=migrate_db.callback, params=migrate_db.params,
                       help=migrate_db.help)


def _new_password(email: str, password_env: str) -> str:
    """A new account's password: from the environment variable, else asked twice; refused
    with the password rules' message."""
    password = os.environ.get(password_env)
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password, email)
    if problem:
        raise click.ClickException(problem)
    return password


@click.command("create-admin")
@click.argument("email")
@with_appcontext
@click.option("--password-env", default="DIRECTORY_ADMIN_PASSWORD", show_default=True,
              help="Read the password from this environment variable instead of asking.")
def create_admin(email: str, password_env: str) -> None:
    """Create an administrator account (the only way to make one)."""
    password = _new_password(email, password_env)
    try:
        user = accounts.create_admin(email, password)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Administrator {user.email} created.")


@click.command("create-issuer")
@click.argument("email")
@click.option("--organisation", required=True,
              help="The training organisation, as the registry's programs name it.")
@click.option("--password-env", default="DIRECTORY_ISSUER_PASSWORD", show_default=True,
              help="Read the password from this environment variable instead of asking.")
@with_appcontext
def create_issuer(email: str, organisation: str, password_env: str) -> None:
    """Create an issuer account for a training organisation of the registry: it confirms,
    disputes and revokes the certifications citing that organisation's programs."""
    from directory.issuers import services as issuers

    password = _new_password(email, password_env)
    try:
        issuer = issuers.create_issuer(email, organisation, password=password)
    except issuers.IssuerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Issuer {issuer.user.email} created for {issuer.organisation}.")


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
    from directory.jobs import run_sweep

    click.echo(run_sweep())


@reference.command("load")
def reference_load() -> None:
    """Add programs and rules from directory/data/ that the database does not have yet, and
    update the rules whose row changed there unless an administrator has edited them (those
    are kept and listed)."""
    from directory.credentials.reference import load_reference_data

    click.echo(load_reference_data().sentence())


@reference.command("coverage")
@click.option("--demo-only", is_flag=True, help="Count demo practitioners only.")
def reference_coverage(demo_only: bool) -> None:
    """How the jurisdiction rules cover the directory: the verdict each listed practitioner
    gets where they practise, and the (region, profession) pairs a rule governs (Markdown)."""
    from directory import vocab
    from directory.credentials import coverage
    from directory.credentials.rules import VERDICTS

    verdicts = [v for v in coverage.listed_verdicts() if v.is_demo or not demo_only]
    click.echo(f"Listed practitioners{' (demo)' if demo_only else ''} by verdict where they "
               f"practise ({len(verdicts)}):\n")
    click.echo("| verdict | practitioners | share |\n|---|---|---|")
    for verdict, (n, share) in coverage.shares(verdicts).items():
        click.echo(f"| {VERDICTS[verdict]} | {n} | {share:.0%} |")
    countries = vocab.PRIMARY_COUNTRIES
    click.echo("\nBy country (" + ", ".join(VERDICTS.values()) + "):\n")
    click.echo("| country | listed | " + " | ".join(VERDICTS.values()) + " |\n|---"
               + "|---" * (len(VERDICTS) + 1) + "|")
    for country in countries:
        of_country = [v for v in verdicts if v.country == country]
        cells = " | ".join(str(n) for n, _ in coverage.shares(of_country).values())
        click.echo(f"| {country} | {len(of_country)} | {cells} |")
    covered = coverage.coverage()
    click.echo("\n(Region, profession) pairs a rule governs, of the country's regions "
               "(yes / no / unclear):\n")
    click.echo("| profession | " + " | ".join(
        f"{c} (of {len(coverage.regions(c))})" for c in countries) + " |\n|---"
        + "|---" * len(countries) + "|")
    for profession in dict.fromkeys(p for _, p in covered):
        cells = []
        for country in countries:
            counts = covered[(country, profession)]
            ruled = sum(counts.values()) - counts["unknown"]
            cells.append(f"{ruled} ({counts['yes']}/{counts['no']}/{counts['unclear']})"
                         if ruled else "0")
        click.echo(f"| {vocab.PROFESSIONS[profession]} | " + " | ".join(cells) + " |")
