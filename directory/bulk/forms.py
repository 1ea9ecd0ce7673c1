"""The upload and confirmation forms of the import pages."""

from __future__ import annotations

from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SubmitField

from directory.forms import BaseForm


class UploadForm(BaseForm):
    """A CSV file to check (a dry run; nothing is written yet)."""

    file = FileField("CSV file (UTF-8)", validators=[
        FileRequired("Choose the CSV file to check.")],
        description="Every row is checked first; nothing is written until you confirm.")
    submit = SubmitField("Check the file")


class ConfirmForm(BaseForm):
    """Import the file that was just checked (named by its SHA-256, so another upload in another
    tab cannot be imported by mistake)."""

    sha256 = HiddenField()
    submit = SubmitField("Import all rows")
