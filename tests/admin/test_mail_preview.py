"""The admin's preview of every e-mail: each template of templates/mail/ rendered with sample
data, strictly (a variable the sample lacks is an error), its HTML in a sandboxed frame."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import pytest

from mail.outbox import catalogue
from mail.samples import samples
from tests.helpers import page, section

MAIL_TEMPLATES = Path(__file__).parents[2] / "templates" / "mail"


def templates_on_disk() -> set[str]:
    return {path.stem for path in MAIL_TEMPLATES.glob("*.txt") if not path.stem.startswith("_")}


def test_every_template_renders_in_the_preview_with_its_sample_data(signed_in):
    admin, _account = signed_in("admin")
    html = page(admin, "/admin/mail/preview")

    assert "preview-error" not in html, re.findall(r'preview-error" role="alert">([^<]+)', html)
    for name in templates_on_disk():
        found = section(html, f"mail-{name}")
        assert "Subject:" in found, name
        frames = re.findall(r'<iframe class="mail-html"[^>]*srcdoc="([^"]*)"', found)
        assert frames, f"{name}: no HTML part"
        for frame in frames:
            document = html_lib.unescape(frame)
            assert document.startswith("<!doctype html>"), name  # the layout, mail/_base.html
            assert "max-width:600px" in document


def test_the_preview_lists_exactly_the_templates_there_are(app):
    with app.app_context():
        listed = set(catalogue())
        sampled = set(samples(app.config["BASE_URL"]))
    assert listed == templates_on_disk()
    assert sampled == listed, "sample data for an e-mail that does not exist, or an e-mail without"


def test_a_template_without_sample_data_is_shown_as_missing(signed_in, monkeypatch):
    import admin.mail

    def without_ask(base_url):
        data = samples(base_url)
        del data["ask"]
        return data

    monkeypatch.setattr(admin.mail, "samples", without_ask)
    admin_http, _account = signed_in("admin")
    found = section(page(admin_http, "/admin/mail/preview"), "mail-ask")
    assert "No sample data: add “ask” to mail/samples.py." in html_lib.unescape(found)


def test_a_variable_the_sample_lacks_is_an_error_not_empty_text(signed_in, monkeypatch):
    import admin.mail

    def lacking(base_url):
        data = samples(base_url)
        label, context = data["sign_in_link"][0]
        data["sign_in_link"] = [(label, {k: v for k, v in context.items() if k != "minutes"})]
        return data

    monkeypatch.setattr(admin.mail, "samples", lacking)
    admin_http, _account = signed_in("admin")
    found = section(page(admin_http, "/admin/mail/preview"), "mail-sign_in_link")
    assert "UndefinedError" in found and "minutes" in found


def test_the_html_is_framed_without_scripts_or_its_own_origin(signed_in):
    admin, _account = signed_in("admin")
    response = admin.get("/admin/mail/preview")
    frames = re.findall(r"<iframe [^>]*>", response.get_data(as_text=True))
    assert frames and all('sandbox=""' in frame for frame in frames)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_program_mail_says_it_carries_the_unsubscribe_headers(signed_in):
    admin, _account = signed_in("admin")
    html = page(admin, "/admin/mail/preview")
    assert "List-Unsubscribe-Post" in section(html, "mail-availability_nudge")
    assert "List-Unsubscribe-Post" not in section(html, "mail-sign_in_link")


@pytest.mark.parametrize("role", ["coordinator", "sales", "advocate"])
def test_only_admins_see_the_preview(signed_in, role):
    http, _account = signed_in(role)
    assert http.get("/admin/mail/preview").status_code == 403
