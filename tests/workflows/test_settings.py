"""Program settings (``workflows.settings``): stored values override config's defaults, every
value is checked before any is saved, and each rule reads its setting there — the booking page's
slots, an ask's lifetime, a call's points, the introduction's call length, a new advocate's cap —
so a saved change takes effect, in a long-running mail worker too."""

from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from mail.worker import Worker
from models import (
    Account,
    Advocate,
    Ask,
    AskStatus,
    AuditEvent,
    RequestStatus,
    Role,
    Setting,
    db,
)
from models.types import utcnow
from tests.conftest import text_body
from tests.helpers import fit
from tests.portal.test_booking import accepted, book, engagement  # noqa: F401  (a fixture)
from tests.test_imports import advocate_row, write_csv
from workflows import errors, followup, imports, quota, settings
from workflows import requests as flow


def save(app, **changes) -> list[str]:
    """Changes saved as an admin's page saves them, in an app context of their own."""
    with app.app_context():
        changed = settings.update(changes, by=None)
        db.session.remove()
    return changed


def stored(app) -> dict:
    with app.app_context():
        rows = dict(db.session.execute(select(Setting.key, Setting.value)).all())
        db.session.remove()
    return rows


# --- the settings themselves -----------------------------------------------------------------


def test_a_stored_value_overrides_the_default_and_a_context_reads_them_once(app):
    with app.app_context():
        assert settings.value("ASK_EXPIRY_HOURS") == app.config["ASK_EXPIRY_HOURS"] == 48
        assert settings.is_default("ASK_EXPIRY_HOURS")
        assert save(app, ASK_EXPIRY_HOURS="12") == ["ASK_EXPIRY_HOURS"]
        # Read once per app context: this one still sees what it read first ...
        assert settings.value("ASK_EXPIRY_HOURS") == 48
        settings.forget_cached()
        db.session.rollback()
        # ... until it forgets, as a new request, command or worker round does.
        assert settings.value("ASK_EXPIRY_HOURS") == 12
        assert not settings.is_default("ASK_EXPIRY_HOURS")
        assert settings.default("ASK_EXPIRY_HOURS") == 48
        with pytest.raises(settings.UnknownSetting):
            settings.value("SECRET_KEY")


def test_every_value_is_checked_first_and_none_saved_when_one_is_wrong(app):
    with app.app_context():
        with pytest.raises(errors.Invalid) as refused:
            settings.update({
                "POINTS_CALL_COMPLETED": "150",  # fine, but not saved with the others wrong
                "ASK_EXPIRY_HOURS": "99999999999999999999",
                "BOOKING_NOTICE_HOURS": "-5",
                "CALL_MINUTES": "40",
                "BOOKING_BUFFER_MINUTES": "ten",
                "BOOKING_HORIZON_DAYS": "1\x00",
                "AUTO_ASK": "maybe",
                "NO_SUCH_SETTING": "1",
            }, by=None)
        problems = refused.value.errors
        assert set(problems) == {"ASK_EXPIRY_HOURS", "BOOKING_NOTICE_HOURS", "CALL_MINUTES",
                                 "BOOKING_BUFFER_MINUTES", "BOOKING_HORIZON_DAYS", "AUTO_ASK",
                                 "NO_SUCH_SETTING"}
        assert problems["CALL_MINUTES"] == ["Slot length: choose one of 30, 45, 60 minutes."]
        assert problems["BOOKING_NOTICE_HOURS"] == ["Minimum notice: enter a number from 0 to 720 hours."]
        assert problems["ASK_EXPIRY_HOURS"] == ["Time to answer an ask: enter a whole number."]
        db.session.remove()
    assert stored(app) == {}


def test_a_change_is_audited_with_what_changed_and_saving_it_again_changes_nothing(app, make_account):
    admin = make_account(role=Role.ADMIN)
    with app.app_context():
        by = db.session.get(Account, admin.id)
        assert settings.update({"CALL_MINUTES": "45", "AUTO_ASK": "", "DEFAULT_QUARTERLY_CAP": ""},
                               by=by) == ["CALL_MINUTES"]
        assert settings.update({"CALL_MINUTES": 45}, by=by) == []
        [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "settings.changed"))
        assert event.actor_id == admin.id and event.detail == {"changes": {"CALL_MINUTES": 45}}
        db.session.remove()
    assert stored(app)["CALL_MINUTES"] == 45


def test_two_admins_saving_the_same_new_setting_at_once_both_succeed(app):
    """The first stores the row; the second, whose insert meets it, stores its value over it."""
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def save_now(minutes: int) -> None:
        with app.app_context():
            start.wait()
            try:
                settings.update({"CALL_MINUTES": minutes}, by=None)
            except BaseException as exc:
                failures.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=save_now, args=(minutes,)) for minutes in (45, 60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert stored(app)["CALL_MINUTES"] in (45, 60)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 2
        db.session.remove()


# --- the rules read them ---------------------------------------------------------------------


def test_the_booking_page_offers_45_minute_slots_after_call_minutes_is_45(app, client, accepted):  # noqa: F811
    engagement_id, path, _intro = accepted
    save(app, CALL_MINUTES=45, BOOKING_BUFFER_MINUTES=0)

    html = client.get(f"{path}?tz=UTC").get_data(as_text=True)

    assert "about 45 minutes" in html
    starts = [datetime.fromisoformat(s) for s in re.findall(r'name="slot" value="([^"]+)"', html)]
    same_day = [b - a for a, b in zip(starts, starts[1:], strict=False) if a.date() == b.date()]
    assert same_day and set(same_day) == {timedelta(minutes=45)}
    response, _slot = book(client, path, tz="UTC")
    assert response.status_code == 302
    booked = engagement(app, engagement_id)
    assert booked.ends_at - booked.starts_at == timedelta(minutes=45)


def test_the_minimum_notice_and_horizon_follow_their_settings(app, client, accepted):  # noqa: F811
    _engagement_id, path, _intro = accepted
    save(app, BOOKING_NOTICE_HOURS=72, BOOKING_HORIZON_DAYS=5)

    html = client.get(f"{path}?tz=UTC").get_data(as_text=True)

    starts = [datetime.fromisoformat(s) for s in re.findall(r'name="slot" value="([^"]+)"', html)]
    now = utcnow()
    assert starts and min(starts) - now >= timedelta(hours=72)
    assert max(starts) - now <= timedelta(days=6)


def test_an_ask_expires_after_the_new_ask_expiry_hours(app, make_account, make_advocate, make_request,
                                                       smtp, deliver):
    coordinator = make_account(role=Role.COORDINATOR)
    dana = make_advocate(name="Dana Whitfield", email="dana@northwind.example")
    fit(app, dana.id, formats=("call",))
    request = make_request(format="call")
    save(app, ASK_EXPIRY_HOURS=2)
    now = utcnow()
    with app.app_context():
        asked = flow.ask(request.id, dana.id, by=db.session.get(Account, coordinator.id), now=now)
        assert asked.expires_at == now + timedelta(hours=2)
        assert flow.expire_overdue_asks(now + timedelta(hours=1, minutes=59)) == 0
        assert flow.expire_overdue_asks(now + timedelta(hours=2)) == 1
        assert db.session.get(Ask, asked.id).status is AskStatus.EXPIRED
        db.session.remove()
    deliver()
    [ask_mail, expired_mail] = smtp.to("dana@northwind.example")
    assert "/portal/asks/" in text_body(ask_mail)
    assert "expired" in expired_mail["Subject"].lower()


def test_a_completed_call_earns_the_new_points_values(app, make_account, make_advocate, make_request,
                                                      make_engagement, smtp, deliver):
    coordinator = make_account(role=Role.COORDINATOR)
    dana = make_advocate(name="Dana Whitfield", email="dana@northwind.example")
    request = make_request(format="call", status=RequestStatus.SCHEDULED)
    make_engagement(dana, status="booked", starts_at=utcnow() - timedelta(hours=2), request_id=request.id)
    save(app, POINTS_CALL_COMPLETED=150)

    with app.app_context():
        followup.complete_call(request.id, by=db.session.get(Account, coordinator.id))
        db.session.remove()

    deliver()
    [thanks] = smtp.to("dana@northwind.example")
    assert "150 points" in thanks["Subject"]
    assert "You earned 150 points for it." in text_body(thanks)


def test_the_introduction_gives_the_call_length_in_force(app, make_account, make_advocate, make_request,
                                                         smtp, deliver):
    coordinator = make_account(role=Role.COORDINATOR)
    dana = make_advocate(name="Dana Whitfield", email="dana@northwind.example")
    fit(app, dana.id, formats=("call",))
    request = make_request(format="call", contact_email="pat@prospect.example")
    save(app, CALL_MINUTES=60)
    with app.app_context():
        asked = flow.ask(request.id, dana.id, by=db.session.get(Account, coordinator.id))
        flow.accept_ask(asked.id, dana.id)
        db.session.remove()
    deliver()
    [intro] = smtp.to("pat@prospect.example")
    assert "60 minutes" in text_body(intro) or "60-minute" in text_body(intro)


# --- a long-running worker -------------------------------------------------------------------


def test_a_running_mail_worker_reads_a_saved_setting_at_its_next_round(app, make_account, make_advocate,
                                                                      make_request, make_ask, smtp,
                                                                      deliver):
    """``flask mail worker`` holds one app context for its whole life; each round of its jobs
    must still see what an admin saved meanwhile (here: asking by itself after an expiry)."""
    dana = make_advocate(name="Dana Whitfield", email="dana@northwind.example")
    eli = make_advocate(name="Eli Next", email="eli@northwind.example")
    fit(app, eli.id, formats=("call",))
    request = make_request(format="call", status=RequestStatus.ASKING)
    make_ask(dana, request, expires_at=utcnow() - timedelta(minutes=1))

    with app.app_context():  # the worker's own context, as the command gives it
        assert settings.value("AUTO_ASK") is False  # read, and kept for this context
        save(app, AUTO_ASK=True)  # an admin saves, in a request of their own
        assert settings.value("AUTO_ASK") is False  # this context still holds what it read

        run = Worker(once=True, jobs_interval=3600, poll_seconds=0).run()

        assert run.jobs["asks_expired"] == 1 and run.errors == 0
        db.session.rollback()
        asks = {a.advocate_id: a.status for a in db.session.scalars(select(Ask).where(
            Ask.request_id == request.id))}
        assert asks == {dana.id: AskStatus.EXPIRED, eli.id: AskStatus.PENDING}
        db.session.remove()
    assert smtp.wait_for("eli@northwind.example")  # the same round sent the new ask


# --- a new advocate's cap --------------------------------------------------------------------


@pytest.mark.parametrize(("default", "premier_cap", "occasional_cap"), [
    ("", None, None),  # no default: the tier's full quota
    ("3", 3, 2),  # the Occasional tier allows 2: lowered to it
])
def test_imported_advocates_start_with_the_default_cap_clamped_to_their_tier(app, tmp_path, default,
                                                                               premier_cap, occasional_cap):
    save(app, DEFAULT_QUARTERLY_CAP=default)
    path = write_csv(tmp_path / "advocates.csv", "advocates", [
        advocate_row(1, tier="Premier", quarterly_cap=""),
        advocate_row(2, tier="Occasional", quarterly_cap=""),
        advocate_row(3, tier="Premier", quarterly_cap="1"),  # given in the file: kept
    ])
    with app.app_context():
        imports.import_advocates(path)
        caps = dict(db.session.execute(
            select(Account.email, Advocate.quarterly_cap).join(Advocate, Advocate.account_id == Account.id)
        ).all())
        db.session.remove()
    assert caps == {"person1@customer1.example": premier_cap, "person2@customer2.example": occasional_cap,
                    "person3@customer3.example": 1}


def test_someone_joining_from_an_invitation_starts_with_the_default_cap(app, client, smtp, deliver,
                                                                         make_account):
    from tests.admin.test_candidates_page import add_candidate
    from tests.portal.test_join import BASE, accept
    from workflows import outreach

    save(app, DEFAULT_QUARTERLY_CAP=1)
    coordinator = make_account(role=Role.COORDINATOR)
    advocate_id = add_candidate(app, "Dana Example")
    with app.app_context():
        outreach.invite([advocate_id], by=db.session.get(Account, coordinator.id))
        email = db.session.get(Advocate, advocate_id).account.email
        db.session.remove()
    deliver()
    [invitation] = smtp.wait_for(email)
    assert "at most 1 calls a quarter to begin with" in text_body(invitation)
    path = re.search(r"https?://\S+", text_body(invitation)).group(0).removeprefix(BASE)
    assert "at most 1 a quarter to begin with" in client.get(path).get_data(as_text=True)

    assert accept(client, path).status_code == 302

    with app.app_context():
        joined = db.session.get(Advocate, advocate_id)
        assert joined.tier.name == "Occasional" and joined.quarterly_cap == 1
        assert joined.quarterly_limit == 1
        db.session.remove()


def test_the_starting_cap_is_the_default_no_higher_than_the_quota(app):
    with app.app_context():
        assert quota.starting_cap(4) is None
        save(app, DEFAULT_QUARTERLY_CAP=3)
        settings.forget_cached()
        db.session.rollback()
        assert (quota.starting_cap(6), quota.starting_cap(2), quota.starting_cap(None)) == (3, 2, 3)


def test_nothing_reads_a_program_setting_from_config_directly():
    """Every rule reads its setting through ``workflows.settings.value`` (one place an admin's
    change reaches): no ``config["KEY"]`` / ``config.KEY`` for a key it defines, in code or
    templates, outside settings.py itself."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    keys = "|".join(d.key for d in settings.DEFINITIONS)
    pattern = re.compile(rf"config(\[\s*[\"'](?:{keys})[\"']\s*\]|\.(?:{keys})\b|\.get\(\s*[\"'](?:{keys}))")
    found = []
    for folder in ("workflows", "admin", "portal", "mail", "templates", "demo", "matching"):
        for file in (root / folder).rglob("*"):
            if file.suffix not in (".py", ".html", ".txt") or file == root / "workflows" / "settings.py":
                continue
            if pattern.search(file.read_text(encoding="utf-8")):
                found.append(str(file.relative_to(root)))
    assert found == []

