"""The catalogue of e-mails (DESIGN.md §6): each a text and an HTML template, every HTML one on the
one layout (templates/mail/_base.html); the program's name, the sender and the reply-to address
set in the configuration, seen on a real SMTP server."""

from __future__ import annotations

from pathlib import Path

import pytest

from mail.outbox import enqueue, render
from mail.samples import samples
from models import db
from tests.conftest import html_body, text_body

MAIL_TEMPLATES = Path(__file__).parents[2] / "templates" / "mail"
# DESIGN.md §6's list, by template (the program invitation is the outreach's own).
DESIGNED = {
    "magic link": "sign_in_link",
    "ask to an advocate": "ask",
    "ask reminder": "ask_reminder",
    "ask expiry": "ask_expired",
    "introduction with scheduling link": "introduction",
    "booking confirmation with .ics, cancellation, reschedule": "booking",
    "reminder 24 h before": "reminder",
    "thank-you with points and tier progress": "thank_you",
    "feedback request": "feedback_request",
    "written reference ready": "written_ready",
    "perk redemption status": "redemption_decided",
    "availability still right? nudge": "availability_nudge",
}
SIGN_IN_CONTEXT = {"account": {"name": "Dana"}, "link": "http://vouch.test/sign-in/link/x", "minutes": 10}


def mail_templates() -> list[str]:
    return sorted(p.stem for p in MAIL_TEMPLATES.glob("*.txt") if not p.stem.startswith("_"))


def test_every_e_mail_of_the_design_has_a_text_and_an_html_template():
    for what, name in DESIGNED.items():
        assert (MAIL_TEMPLATES / f"{name}.txt").is_file(), what
        assert (MAIL_TEMPLATES / f"{name}.html").is_file(), what


@pytest.mark.parametrize("name", mail_templates())
def test_every_html_template_extends_the_one_layout(name):
    source = (MAIL_TEMPLATES / f"{name}.html").read_text()
    assert source.startswith('{% extends "mail/_base.html" %}'), name
    assert "<html" not in source and "<body" not in source  # the layout's, not its own


def test_the_layout_uses_inline_styles_only():
    layout = (MAIL_TEMPLATES / "_base.html").read_text()
    assert "<style" not in layout and "<link" not in layout and "<script" not in layout
    assert 'style="' in layout


def test_the_program_name_is_the_configured_one(app, monkeypatch):
    monkeypatch.setitem(app.config, "PROGRAM_NAME", "Acme Customer Voices")
    with app.app_context():
        subject, text, html = render("sign_in_link", SIGN_IN_CONTEXT)
        for name, variants in samples(app.config["BASE_URL"]).items():
            for _label, context in variants:
                assert "Acme Customer Voices" in render(name, context, strict=True)[2], name
    assert subject == "Your Acme Customer Voices sign-in link"
    assert "sign in to Acme Customer Voices" in text
    assert "<title>Your Acme Customer Voices sign-in link</title>" in html


def test_from_and_reply_to_are_the_configured_ones(app, app_context, monkeypatch, deliver, smtp):
    monkeypatch.setitem(app.config, "MAIL_REPLY_TO", "Program team <references@example.com>")
    enqueue(template="sign_in_link", to=["dana@example.com"], context=SIGN_IN_CONTEXT, idempotency_key="k1")
    db.session.commit()
    deliver()
    [message] = smtp.wait_for("dana@example.com")
    assert message["Reply-To"] == "Program team <references@example.com>"
    assert message["From"] == app.config["MAIL_DEFAULT_SENDER"]
    assert "<title>Your Vouch sign-in link</title>" in html_body(message)
    assert text_body(message).startswith("Hello Dana,")


def test_no_reply_to_unless_configured(app, app_context, deliver, smtp):
    assert not app.config.get("MAIL_REPLY_TO")
    enqueue(template="sign_in_link", to=["dana@example.com"], context=SIGN_IN_CONTEXT, idempotency_key="k2")
    db.session.commit()
    deliver()
    [message] = smtp.wait_for("dana@example.com")
    assert message["Reply-To"] is None
