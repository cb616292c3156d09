"""Unsubscribing from program mail (DESIGN.md §6): a signed one-click link in outreach and nudges,
a page to confirm it, RFC 8058's one-click POST from a mail program (no CSRF token: the one view
exempt), and a list of keyed hashes that only unsubscribable mail reads."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from mail.outbox import enqueue
from models import AuditEvent, OutboxMessage, UnsubscribedAddress, db
from tests.helpers import text
from workflows import unsubscribe

ADDRESS = "dana@example.com"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}
LEFT_AT = datetime(2026, 5, 4, tzinfo=UTC)


@pytest.fixture()
def link_path(app) -> str:
    with app.app_context():
        link = unsubscribe.link(ADDRESS)
    assert link.startswith("http://vouch.test/unsubscribe/")
    return link.removeprefix("http://vouch.test")


def is_unsubscribed(app, email: str = ADDRESS) -> bool:
    with app.app_context():
        found = bool(unsubscribe.unsubscribed([email]))
        db.session.remove()
    return found


def events(app) -> list[AuditEvent]:
    with app.app_context():
        found = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "mail.unsubscribed")).all()
        db.session.expunge_all()
    return found


def program_mail(app, email: str = ADDRESS, key: str = "nudge:test") -> bool:
    """An unsubscribable message to ``email``, as the nudge and outreach enqueue it → whether it
    was written."""
    with app.app_context():
        message = unsubscribe.enqueue_program_mail(template="left_program", to=email,
                                                   context={"left_at": LEFT_AT}, idempotency_key=key)
        db.session.commit()
        found = message is not None
        db.session.remove()
    return found


def test_opening_the_link_changes_nothing_and_the_button_unsubscribes(app, client, link_path):
    opened = client.get(link_path)
    assert opened.status_code == 200
    assert opened.headers["Cache-Control"] == "no-store"
    assert "Unsubscribe from program e-mails?" in opened.get_data(as_text=True)
    assert client.head(link_path).status_code == 200
    assert not is_unsubscribed(app)

    done = client.post(link_path)  # the page's button: no token needed, the link is the credential
    assert done.status_code == 200
    assert "You are unsubscribed" in done.get_data(as_text=True)
    assert is_unsubscribed(app)
    assert "You are unsubscribed" in client.get(link_path).get_data(as_text=True)
    [event] = events(app)
    assert event.detail == {"one_click": False, "stopped": 0}
    assert event.subject is None and event.actor_id is None


def test_the_rfc_8058_one_click_post_works_without_a_session_or_csrf_token(app, link_path):
    mail_program = app.test_client()  # no cookie, no page read first
    response = mail_program.post(link_path, data=ONE_CLICK)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert is_unsubscribed(app)
    assert [e.detail for e in events(app)] == [{"one_click": True, "stopped": 0}]
    assert mail_program.post(link_path, data=ONE_CLICK).status_code == 200  # twice: harmless
    assert len(events(app)) == 1


@pytest.mark.parametrize("mangle", [lambda t: t[:-3] + "xyz", lambda t: "x", lambda t: t.split(".")[0] + ".",
                                    lambda t: "eyJkIjoiMTIzIn0.bogus"])
def test_a_tampered_link_is_refused_with_a_4xx_page_and_unsubscribes_nobody(app, client, link_path, mangle):
    token = link_path.removeprefix("/unsubscribe/")
    bad = f"/unsubscribe/{mangle(token)}"
    for response in (client.get(bad), client.post(bad), client.post(bad, data=ONE_CLICK)):
        assert response.status_code == 400
        assert "not valid" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(UnsubscribedAddress)).all() == []


def test_a_token_for_another_purpose_does_not_unsubscribe(app, client):
    from workflows.links import Purpose, sign

    with app.app_context():
        foreign = sign(Purpose.REVIEW, {"d": unsubscribe.address_digest(ADDRESS)})
    assert client.post(f"/unsubscribe/{foreign}", data=ONE_CLICK).status_code == 400
    assert not is_unsubscribed(app)


def test_the_link_and_the_list_hold_no_address(app, link_path, client):
    token = link_path.removeprefix("/unsubscribe/")
    payload = token.split(".")[0]
    assert "dana" not in base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    client.post(link_path)
    with app.app_context():
        [row] = db.session.scalars(select(UnsubscribedAddress)).all()
        assert row.digest == unsubscribe.address_digest(" Dana@Example.com ")  # case-folded, keyed
        assert "dana" not in row.digest
        db.session.remove()


def test_only_the_one_click_view_is_exempt_from_csrf(app):
    from extensions import csrf

    assert set(csrf._exempt_views) == {"portal.mail_links.confirm_unsubscribe"}


def test_a_form_post_elsewhere_without_a_token_is_still_refused(app, signed_in):
    advocate_http, _account = signed_in("advocate")
    assert advocate_http.post("/portal/profile/reviewed").status_code == 400


# --- enqueue_program_mail -----------------------------------------------------------------------


def test_unsubscribable_mail_carries_the_link_and_headers_and_stops_after_unsubscribing(
    app, client, link_path
):
    assert program_mail(app, key="first")
    with app.app_context():
        message = db.session.scalars(select(OutboxMessage)).one()
        assert message.headers["List-Unsubscribe"] == f"<http://vouch.test{link_path}>"
        assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert f"http://vouch.test{link_path}" in message.body_text
        assert f'href="http://vouch.test{link_path}"' in message.body_html
        db.session.remove()

    client.post(link_path, data=ONE_CLICK)

    assert not program_mail(app, key="second")  # skipped: not written at all
    assert program_mail(app, email="other@example.com", key="third")  # others still get it


def test_program_mail_still_queued_when_unsubscribing_is_not_sent(app, client, link_path, deliver, smtp):
    assert program_mail(app, key="queued")
    assert program_mail(app, email="other@example.com", key="other")

    client.post(link_path, data=ONE_CLICK)

    assert [e.detail["stopped"] for e in events(app)] == [1]
    deliver()
    assert smtp.to(ADDRESS) == []
    assert len(smtp.to("other@example.com")) == 1
    with app.app_context():
        statuses = {m.idempotency_key: m.status.value for m in db.session.scalars(select(OutboxMessage))}
        db.session.remove()
    assert statuses == {"queued": "expired", "other": "sent"}


def test_transactional_mail_ignores_the_list(app, client, link_path):
    client.post(link_path, data=ONE_CLICK)
    with app.app_context():
        message = enqueue(template="left_program", to=[ADDRESS], context={"left_at": LEFT_AT},
                          idempotency_key="transactional")
        assert message is not None
        assert "List-Unsubscribe" not in message.headers
        assert "unsubscribe" not in message.body_text.lower()
        assert "unsubscribe" not in message.body_html.lower()
        db.session.rollback()


def test_unsubscribable_mail_goes_to_one_address(app_context):
    with pytest.raises(ValueError, match="one address"):
        enqueue(template="left_program", to=[ADDRESS, "b@example.com"], context={}, idempotency_key="k",
                unsubscribe_link="https://vouch.example/unsubscribe/t")
    with pytest.raises(ValueError, match="one address"):
        enqueue(template="left_program", to=[ADDRESS], cc=["b@example.com"], context={}, idempotency_key="k",
                unsubscribe_link="https://vouch.example/unsubscribe/t")


def test_the_page_words_what_stops_and_what_does_not(client, link_path):
    words = text(client.get(link_path).get_data(as_text=True))
    assert "sign-in links, asks, your calls — still come" in words
