"""Administrator pages: import practitioners from CSV (check, then confirm), export them."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    session,
    stream_with_context,
    url_for,
)
from flask_login import current_user

from directory import storage
from directory.bulk import columns, exporter, importer, pending
from directory.bulk.forms import ConfirmForm, UploadForm
from directory.models.base import utcnow
from directory.security import accepts_uploads, admin_required

bp = Blueprint("bulk", __name__, url_prefix="/admin/bulk")

# Larger files go through `flask --app wsgi import practitioners FILE.csv`: about 25,000 rows
# fit, which import in about 10 s, well within gunicorn's 30-second timeout.
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
SESSION_KEY = "bulk_import"
MAX_SHOWN = 500  # errors listed on the page; the count says how many there are in all


def _render(form: UploadForm, report: importer.ImportReport | None = None,
            confirm: ConfirmForm | None = None, status: int = 200):
    return render_template(
        "bulk/index.html", form=form, report=report, confirm=confirm, columns=columns.COLUMNS,
        groups=columns.GROUP_LABELS, max_shown=MAX_SHOWN,
        max_mb=MAX_UPLOAD_BYTES // (1024 * 1024)), status


def _read(upload) -> tuple[bytes | None, str | None]:
    """The uploaded bytes, or why they cannot be used."""
    data = upload.stream.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return None, (f"That file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB. Import "
                      "it with the command `flask --app wsgi import practitioners FILE.csv`.")
    if not data.strip():
        return None, "That file is empty."
    return data, None


@bp.route("/", methods=["GET", "POST"])
@admin_required
@accepts_uploads
def index():
    """Upload a CSV for a dry run and see the report; the column format; export links."""
    form = UploadForm()
    if not form.validate_on_submit():
        return _render(form)
    data, problem = _read(form.file.data)
    if problem:
        form.file.errors.append(problem)
        return _render(form)
    report = importer.dry_run(data)
    pending.discard(session.pop(SESSION_KEY, None))
    confirm = None
    if report.ok:
        try:
            kept = pending.keep(data, current_user.id, form.file.data.filename or "")
        except storage.StorageUnavailable:
            # The report is shown, but nothing can wait for the confirmation.
            form.file.errors.append(storage.UNAVAILABLE)
            return _render(form, report, status=503)
        session[SESSION_KEY] = kept.token
        confirm = ConfirmForm(sha256=kept.sha256)
    return _render(form, report, confirm)


@bp.route("/import", methods=["POST"])
@admin_required
def confirm_import():
    """Import the file the administrator just checked: every row, or none."""
    form = ConfirmForm()
    token = session.get(SESSION_KEY)
    kept = pending.claim(token, current_user.id) if form.validate_on_submit() else None
    if kept is None or kept.sha256 != form.sha256.data:
        flash("That file is no longer waiting to be imported (it is over an hour old, was "
              "imported already, or another file was checked since). Upload it again.", "error")
        return redirect(url_for("bulk.index"))
    report = importer.import_practitioners(kept.data, current_user, file_name=kept.name)
    pending.discard(session.pop(SESSION_KEY, None))
    if not report.ok:
        return _render(UploadForm(formdata=None), report)
    flash(f"Imported {report.created:,} practitioner{'s' if report.created != 1 else ''}, each "
          "with a verified certification. They claim their accounts with “Forgot password”.",
          "success")
    return redirect(url_for("bulk.index"))


@bp.route("/template.csv")
@admin_required
def template():
    """A CSV with the header and one example row."""
    return Response("\ufeff" + columns.template_csv(), mimetype="text/csv",
                    headers={"Content-Disposition":
                             'attachment; filename="practitioners-template.csv"'})


@bp.route("/export.<any(csv, json):fmt>")
@admin_required
def export(fmt: str):
    """Download the searchable directory as CSV (the import format) or JSON."""
    name = f"practitioners-{utcnow().date().isoformat()}.{fmt}"
    if fmt == "csv":
        # A byte-order mark, so spreadsheets read the accents right; the import skips it.
        pieces, mimetype = _with_bom(exporter.export_csv()), "text/csv"
    else:
        pieces, mimetype = exporter.export_json(), "application/json"
    return Response(stream_with_context(pieces), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-store"})


def _with_bom(pieces):
    yield "\ufeff"
    yield from pieces
