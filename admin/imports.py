"""The import page (DESIGN.md §7.11 and §9 "CSV files"): staff upload a customers or an
advocates CSV and see what it did, or every row, column and problem that kept it out.

Staff only (the blueprint's default). The upload is bounded twice: the request by the app's
``MAX_CONTENT_LENGTH`` (a larger file gets this page back with a clear message, status 413),
the file by ``workflows.imports.MAX_ROWS``. A file imports whole or not at all: a rejected file
comes back as the page with its problems listed (status 422) and nothing changed.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import RadioField, SelectChoice
from wtforms.validators import InputRequired

from access import STAFF, allow
from admin import bp
from workflows import imports as flow

PROBLEMS_SHOWN = 500  # a rejected file's problems listed on the page; the rest are counted

# --- forms -----------------------------------------------------------------------------------


class ImportForm(FlaskForm):
    kind = RadioField(
        "What the file holds",
        choices=[
            SelectChoice("advocates", "Advocates: a reference list kept in a spreadsheet until now"),
            SelectChoice("customers", "Customers: companies and their contacts, exported from the CRM"),
        ],
        default="advocates",
        validators=[InputRequired("Choose what the file holds: advocates or customers.")],
        invalid_choice_message="Choose advocates or customers.",
    )
    file = FileField(
        "CSV file",
        validators=[
            FileRequired("Choose the CSV file to import."),
            FileAllowed(["csv"], "Choose a .csv file. In your spreadsheet: Save as → “CSV UTF-8”."),
        ],
        render_kw={"accept": ".csv,text/csv"},
    )


# --- views -----------------------------------------------------------------------------------


@bp.get("/imports")
@allow(STAFF)
def imports():
    return _page(ImportForm(formdata=None))


@bp.post("/imports")
@allow(STAFF)
def upload_import():
    form = ImportForm()
    if not form.validate_on_submit():
        flash("Nothing was imported: choose what the file holds and the file.", "error")
        return _page(form), 400
    upload = form.file.data
    importer = flow.import_advocates if form.kind.data == "advocates" else flow.import_customers
    try:
        report = importer(upload.stream, source_name=upload.filename, by=current_user)
    except flow.ImportRejected as rejected:
        flash(f"{rejected.summary()} Fix the file and upload it again.", "error")
        return _page(form, rejected=rejected), 422
    flash(report.summary(), "success")
    for note in report.notes:
        flash(note, "info")
    return redirect(url_for("admin.imports"))


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(error: RequestEntityTooLarge):
    """A file over MAX_CONTENT_LENGTH: the import page says so. Elsewhere in the admin area,
    the same page the app shows for any HTTP error."""
    if request.endpoint == "admin.upload_import" and current_user.is_authenticated and current_user.is_staff:
        message = (f"Nothing was imported: the file is larger than {_megabytes()}. Split it into "
                   "smaller files and import them one after the other.")
        flash(message, "error")
        return _page(ImportForm(formdata=None), too_large=True), 413
    return render_template(
        "errors/error.html", code=error.code, title=error.name, message=error.description
    ), error.code


# --- helpers ---------------------------------------------------------------------------------


def _megabytes() -> str:
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    return f"{limit / (1024 * 1024):g} MB"


def _page(form: ImportForm, rejected: flow.ImportRejected | None = None, too_large: bool = False):
    return render_template(
        "admin/imports.html",
        form=form,
        rejected=rejected,
        problems=rejected.problems[:PROBLEMS_SHOWN] if rejected else [],
        too_large=too_large,
        recent=flow.recent_imports(),
        columns=flow.COLUMNS,
        max_rows=flow.MAX_ROWS,
        max_size=_megabytes(),
    )
