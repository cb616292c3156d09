"""The import page in the admin area: staff choose the kind of file and the file,
and see what it did, or every row, column and problem that kept it out. Sales and advocates are
refused; a file over the upload limit gets a clear message; nothing is ever half-imported."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from models import Advocate, AuditEvent, Company, Role, db
from tests.conftest import csrf_token
from tests.helpers import text
from workflows import imports as flow
from workflows.imports import reading

PAGE = "/admin/imports"
DATA = Path(__file__).parent.parent / "data"


def flashed(html: str) -> list[str]:
    return [text(m) for m in re.findall(r'<p class="flash[^"]*" role="status">(.*?)</p>', html, re.S)]


def post_form(http, data: dict, follow: bool = False):
    """A multipart POST encoded in memory (werkzeug's test client would spool a large body to a
    temporary file that nobody closes when the server refuses it unread)."""
    boundary, body = encode_multipart(data)
    return http.post(PAGE, data=body, content_type=f"multipart/form-data; boundary={boundary}",
                     follow_redirects=follow)


def upload(http, kind: str = "advocates", path: Path | None = DATA / "advocates_good.csv", *,
           content: bytes | None = None, filename: str | None = None, follow: bool = False, token=True):
    data: dict = {"kind": kind}
    if token:
        data["csrf_token"] = csrf_token(http.get(PAGE).get_data(as_text=True))
    if path is not None or content is not None:
        body = content if content is not None else path.read_bytes()
        data["file"] = FileStorage(io.BytesIO(body), filename or (path.name if path else "upload.csv"))
    return post_form(http, data, follow)


def count(model) -> int:
    value = db.session.scalar(select(func.count()).select_from(model))
    db.session.rollback()
    return value


@pytest.fixture()
def coordinator(make_account, sign_in):
    account = make_account(role=Role.COORDINATOR, name="Cora Ordinator")
    sign_in(account)
    return account


# --- who may use it ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["coordinator", "admin"])
def test_staff_get_the_page_with_every_input_labelled(client, make_account, sign_in, role):
    sign_in(make_account(role=role))
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<label for="file">CSV file</label>' in html
    assert 'type="file"' in html and 'enctype="multipart/form-data"' in html
    for choice in ("kind-0", "kind-1"):
        assert re.search(rf'<label for="{choice}"><input[^>]+id="{choice}"[^>]+type="radio"', html), choice
    assert "<legend>What the file holds</legend>" in html
    assert "No imports yet." in html
    assert f'<a href="{PAGE}" aria-current="page">Import</a>' in html  # in the staff menu
    assert ",".join(flow.ADVOCATE_COLUMNS) in html and ",".join(flow.CUSTOMER_COLUMNS) in html


@pytest.mark.parametrize("role", ["sales", "advocate"])
def test_sales_and_advocates_are_refused(app, client, make_account, sign_in, role):
    sign_in(make_account(role=role))
    assert client.get(PAGE).status_code == 403
    token = csrf_token(client.get("/", follow_redirects=True).get_data(as_text=True))
    response = post_form(client, {
        "csrf_token": token, "kind": "advocates",
        "file": FileStorage(io.BytesIO((DATA / "advocates_good.csv").read_bytes()), "a.csv"),
    })
    assert response.status_code == 403
    with app.app_context():
        assert count(Advocate) == 0


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")


# --- uploading -----------------------------------------------------------------------------------


def test_a_good_advocates_file_is_imported_and_reported(app, client, coordinator):
    response = upload(client)
    assert response.status_code == 302 and response.headers["Location"] == PAGE

    html = client.get(PAGE).get_data(as_text=True)
    summary = ("Imported advocates_good.csv (4 rows): 4 advocates created, 0 updated, 0 unchanged; "
               "3 companies created, 0 updated.")
    assert flashed(html) == [summary]
    recent = text(re.search(r'<section id="recent".*?</section>', html, re.S).group(0))
    assert summary in recent and "advocates · Cora Ordinator" in recent
    with app.app_context():
        assert count(Advocate) == 4
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.kind == "import.advocates"))
        assert event.actor_id == coordinator.id and event.subject == "advocates_good.csv"
        consent = db.session.scalar(select(Advocate.consent_source).limit(1))
        assert consent.startswith("import of advocates_good.csv on ")

    again = upload(client, follow=True).get_data(as_text=True)
    assert "0 advocates created, 0 updated, 4 unchanged (nothing changed)." in flashed(again)[0]


def test_a_customers_file_says_what_happened_to_the_contacts(app, client, coordinator):
    html = upload(client, "customers", DATA / "customers_good.csv", follow=True).get_data(as_text=True)
    assert flashed(html) == [
        "Imported customers_good.csv (4 rows): 4 companies created, 0 updated, 0 unchanged; "
        "2 contacts added as candidate advocates.",
        "1 contact has no e-mail address and was not added (row 5).",
    ]
    with app.app_context():
        assert count(Company) == 4


def test_a_bad_file_lists_every_problem_and_imports_nothing(app, client, coordinator):
    response = upload(client, path=DATA / "advocates_bad.csv")

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert flashed(html) == ["Nothing was imported from advocates_bad.csv: 16 problems in 4 rows. "
                             "Fix the file and upload it again."]
    table = re.search(r'<table class="import-problems">.*?</table>', html, re.S).group(0)
    rows = [text(r) for r in re.findall(r"<tr>(.*?)</tr>", table, re.S)][1:]
    assert len(rows) == 16
    assert "2 email “not-an-address” is not an e-mail address." in rows
    assert "3 tier “Gold” is not a tier: use Premier, Active or Occasional." in rows
    assert any(r.startswith("5 industry Row 2 gives Acme Corp another industry") for r in rows)
    assert re.search(r'<input checked[^>]*value="advocates"', html)  # the choice is kept
    with app.app_context():
        assert count(Advocate) == 0 and count(Company) == 0


def test_a_nul_character_is_named_on_the_page_and_nothing_is_imported(app, client, coordinator):
    good = (DATA / "advocates_good.csv").read_bytes()
    content = good.replace(b"Northwind Logistics", b"North\x00wind Logistics", 1)
    response = upload(client, content=content, filename="nul.csv")

    assert response.status_code == 422
    table = re.search(r'<table class="import-problems">.*?</table>', response.get_data(as_text=True),
                      re.S).group(0)
    rows = [text(r) for r in re.findall(r"<tr>(.*?)</tr>", table, re.S)][1:]
    assert rows == ["2 company contains a NUL character (U+0000), which cannot be stored: remove it."]
    with app.app_context():
        assert count(Advocate) == 0 and count(Company) == 0


def test_a_file_of_the_other_kind_is_named(client, coordinator):
    response = upload(client, "customers", DATA / "advocates_good.csv")
    assert response.status_code == 422
    assert ("This file has the columns of an advocates file, not of a customers file: import it as advocates."
            in response.get_data(as_text=True))


def test_a_file_over_the_upload_limit_gets_a_clear_message(app, client, coordinator):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = upload(client, content=b"x" * (limit + 1), filename="huge.csv")

    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert flashed(html) == ["Nothing was imported: the file is larger than 5 MB. Split it into smaller "
                             "files and import them one after the other."]
    assert '<label for="file">CSV file</label>' in html  # the form again, to try another file
    with app.app_context():
        assert count(Advocate) == 0
        assert flow.recent_imports() == []


def test_a_file_with_too_many_rows_gets_a_clear_message(client, coordinator, monkeypatch):
    monkeypatch.setattr(reading, "MAX_ROWS", 2)
    response = upload(client)
    assert response.status_code == 422
    assert "The file has more than 2 rows: split it into files of at most 2 rows" in response.get_data(
        as_text=True)


def test_sales_sending_a_file_over_the_limit_do_not_get_the_import_page(app, client, make_account, sign_in):
    sign_in(make_account(role="sales"))
    token = csrf_token(client.get("/", follow_redirects=True).get_data(as_text=True))
    response = post_form(client, {
        "csrf_token": token, "kind": "advocates",
        "file": FileStorage(io.BytesIO(b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)), "huge.csv"),
    })
    assert response.status_code == 413
    assert "CSV file" not in response.get_data(as_text=True)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"path": None}, "Choose the CSV file to import."),
    ({"filename": "advocates.xlsx"}, "Choose a .csv file."),
    ({"kind": "perks"}, "Choose advocates or customers."),
])
def test_a_form_without_a_good_choice_is_answered_400(app, client, coordinator, kwargs, message):
    response = upload(client, **kwargs)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert flashed(html) == ["Nothing was imported: choose what the file holds and the file."]
    with app.app_context():
        assert count(Advocate) == 0


def test_a_post_without_its_csrf_token_is_refused(app, client, coordinator):
    assert upload(client, token=False).status_code == 400
    with app.app_context():
        assert count(Advocate) == 0


# --- queries -------------------------------------------------------------------------------------


def test_the_page_reads_the_same_number_of_queries_for_1_and_8_past_imports(app, client, coordinator,
                                                                            count_queries, tmp_path):
    def past_imports(number: int) -> None:
        with app.app_context():
            for n in range(number):
                path = tmp_path / f"file{n}.csv"
                path.write_bytes((DATA / "customers_good.csv").read_bytes())
                flow.import_customers(path)

    def measure() -> int:
        with count_queries() as statements:
            assert client.get(PAGE).status_code == 200
        return len(statements)

    past_imports(1)
    one = measure()
    past_imports(7)
    eight = measure()
    assert one == eight <= 6, (one, eight)
    assert text(client.get(PAGE).get_data(as_text=True)).count("customers · command line") == 8
