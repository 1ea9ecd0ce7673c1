"""`flask --app wsgi licences load-nppes FILE.csv` and `flask --app wsgi licences check-nppes`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask.cli import AppGroup

from directory.licences import nppes

licences_group = AppGroup("licences", help="Licence checks: the NPPES file (US).")


def _summary_of_checks(done: nppes.CheckPass) -> str:
    return (f"NPPES check: {done.verified} licence(s) verified automatically of "
            f"{done.checked} checked; the others wait for an administrator (their reasons are "
            "on the licence review page).")


@licences_group.command("load-nppes")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--file-date", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="The date of the file (YYYY-MM-DD). Default: from its name "
                   "(npidata_pfile_20050523-20261109.csv: 2026-11-09), else the day it was "
                   "last modified.")
@click.option("--quiet", is_flag=True, help="No progress lines, only the summary.")
def load_nppes(file: Path, file_date, quiet: bool) -> None:
    """Load the monthly NPPES dissemination file, replacing the one loaded before, then check
    the US licences waiting for it. A fault in the file stops the load: nothing changes."""
    day: date | None = file_date.date() if file_date else None

    def progress(rows: int) -> None:
        if not quiet:
            click.echo(f"... {rows:,} rows read", err=True)

    try:
        loaded = nppes.load_file(file, file_date=day, progress=progress)
    except nppes.NppesFileError as exc:
        raise click.ClickException(f"{file.name}: {exc}. Nothing was loaded; the file loaded "
                                   "before stays in use.") from exc
    click.echo(f"NPPES file of {loaded.file.file_date.isoformat()} ({file.name}): "
               f"{loaded.rows_read:,} rows read, {loaded.rows_kept:,} kept "
               f"({loaded.deactivated_kept:,} deactivated NPIs), in {loaded.seconds:.1f} s.")
    click.echo(_summary_of_checks(nppes.check_pending()))


@licences_group.command("check-nppes")
def check_nppes() -> None:
    """Check against the loaded NPPES file the US licences with an NPI that are unchecked,
    lapsed, or due for a check within 60 days."""
    if nppes.current_file() is None:
        raise click.ClickException("No NPPES file has been loaded: run `flask --app wsgi "
                                   "licences load-nppes FILE.csv` first.")
    click.echo(_summary_of_checks(nppes.check_pending()))
