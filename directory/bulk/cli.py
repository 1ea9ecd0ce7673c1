"""`flask --app wsgi import practitioners FILE.csv` and `flask --app wsgi export practitioners`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from directory.accounts.services import find_user
from directory.bulk import exporter, importer

import_group = AppGroup("import", help="Bulk data: import practitioners from CSV.")
export_group = AppGroup("export", help="Bulk data: export the searchable directory.")


def register(app: Flask) -> None:
    """Add the import and export commands to the app."""
    app.cli.add_command(import_group)
    app.cli.add_command(export_group)


@import_group.command("practitioners")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True,
              help="Check every row and report the problems; write nothing.")
@click.option("--admin", "admin_email", metavar="EMAIL",
              help="The administrator who vouches for these records (the certifications' "
                   "reviewer in the audit log). Required unless --dry-run.")
def import_practitioners(file: Path, dry_run: bool, admin_email: str | None) -> None:
    """Import practitioners and their certifications from FILE.csv: all rows or none."""
    admin = None
    if not dry_run:
        if not admin_email:
            raise click.UsageError("Give --admin EMAIL: the administrator who vouches for "
                                   "these records (or use --dry-run).")
        admin = find_user(admin_email)
        if admin is None or not admin.is_admin or not admin.is_active:
            raise click.ClickException(f"{admin_email} is not an active administrator "
                                       "account (create one with `flask --app wsgi "
                                       "create-admin`).")
    data = file.read_bytes()
    if dry_run:
        report = importer.dry_run(data)
    else:
        report = importer.import_practitioners(data, admin, file_name=file.name)
    for warning in report.warnings:
        click.echo("warning: " + importer.format_error(warning), err=True)
    for error in report.errors:
        click.echo("error: " + importer.format_error(error), err=True)
    if report.file_error:
        raise click.ClickException(report.file_error + " Nothing was written.")
    if report.errors:
        raise click.ClickException(
            f"{len(report.errors)} error(s) in {report.rows_with_errors} of {report.rows} "
            "row(s). Nothing was written.")
    if dry_run:
        click.echo(f"Dry run: all {report.rows} row(s) can be imported "
                   f"({len(report.warnings)} warning(s)). Nothing was written.")
    else:
        click.echo(f"Imported {report.created} practitioner(s), each with a verified "
                   f"certification reviewed by {admin.email} (import {report.import_id}). "
                   "They claim their accounts with “Forgot password”.")


@export_group.command("practitioners")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write to this file instead of standard output.")
def export_practitioners(fmt: str, output: Path | None) -> None:
    """Export the searchable practitioners as CSV (the import format) or JSON."""
    pieces = exporter.export_csv() if fmt == "csv" else exporter.export_json()
    if output is None:
        for piece in pieces:
            click.echo(piece, nl=False)
        return
    with output.open("w", encoding="utf-8", newline="") as fh:
        for piece in pieces:
            fh.write(piece)
    click.echo(f"Wrote {output}.", err=True)
