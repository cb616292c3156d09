"""The program settings page (``/admin/settings``), admins only: one form grouped by the
definitions' groups, each input with its label, help, unit and default; a flash after saving;
refused values beside their fields with 422 and nothing saved; bad input never a 500."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from models import AuditEvent, Setting, db
from tests.conftest import csrf_token
from tests.helpers import flashed, page
from tests.helpers import text as words
from workflows import settings

URL = "/admin/settings"


def form_values(html: str) -> dict[str, str]:
    """What the form would send as it stands: every text input and select, the ticked boxes."""
    values = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'\bname="([A-Z_]+)"', tag)
        if name is None:
            continue
        if 'type="checkbox"' in tag:
            if re.search(r"\bchecked\b", tag):
                values[name.group(1)] = "y"
        else:
            values[name.group(1)] = re.search(r'\bvalue="([^"]*)"', tag).group(1)
    for name, options in re.findall(r'<select[^>]*\bname="([A-Z_]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', options)
        values[name] = chosen.group(1) or chosen.group(2)
    return values


def save(http, html: str, **changes):
    data = {**form_values(html), **changes}
    data = {k: v for k, v in data.items() if v is not None}
    return http.post(URL, data={"csrf_token": csrf_token(html), **data})


def text(html: str) -> str:
    return unescape(words(html))


def stored(app) -> dict:
    with app.app_context():
        rows = dict(db.session.execute(select(Setting.key, Setting.value)).all())
        db.session.remove()
    return rows


def test_the_page_groups_every_setting_with_its_label_help_unit_and_default(signed_in):
    http, _admin = signed_in("admin")
    html = page(http, URL)

    for group, definitions in settings.groups():
        fieldset = re.search(rf'<fieldset id="settings-{group.lower()}">\s*<legend>{group}</legend>'
                             r"(.*?)</fieldset>", html, re.S)
        assert fieldset, group
        for d in definitions:
            assert f'for="{d.key}"' in fieldset.group(1), d.key  # a label for each input
            assert d.help.split(" (")[0] in text(fieldset.group(1))
    assert '<label for="ASK_EXPIRY_HOURS">Time to answer an ask (hours)</label>' in html
    assert "Default: 48 hours." in text(html)
    assert "Default: empty (the tier's quota)." in text(html)
    assert "Default: off." in text(html)
    assert 'href="/admin/settings"' in html  # the menu has it
    assert "Changed from the default." not in html


def test_saving_flashes_what_changed_and_the_rules_read_it(app, signed_in):
    http, admin = signed_in("admin")
    html = page(http, URL)

    response = save(http, html, CALL_MINUTES="45", ASK_EXPIRY_HOURS="24", AUTO_ASK="y")

    assert response.status_code == 302 and response.headers["Location"] == URL
    after = page(http, URL)
    assert flashed(after) == ["Saved. Time to answer an ask: 24 hours; Ask automatically: on; "
                              "Slot length: 45 minutes."]
    assert stored(app) == {"CALL_MINUTES": 45, "ASK_EXPIRY_HOURS": 24, "AUTO_ASK": True}
    assert '<option selected value="45">' in after or '<option value="45" selected>' in after
    assert re.search(r'<input[^>]*checked[^>]*name="AUTO_ASK"|name="AUTO_ASK"[^>]*checked', after)
    assert text(after).count("Changed from the default.") == 3
    with app.app_context():
        [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "settings.changed"))
        assert event.actor_id == admin.id
        assert settings.value("CALL_MINUTES") == 45
        db.session.remove()

    again = save(http, after)
    assert again.status_code == 302
    assert flashed(page(http, URL)) == ["Nothing to save: every setting already had that value."]


def test_unticking_a_box_turns_it_off_and_emptying_the_cap_restores_the_tier_quota(app, signed_in):
    http, _admin = signed_in("admin")
    save(http, page(http, URL), AUTO_ASK="y", DEFAULT_QUARTERLY_CAP="2")
    html = page(http, URL)
    values = form_values(html)
    assert values["DEFAULT_QUARTERLY_CAP"] == "2" and values["AUTO_ASK"] == "y"

    values.pop("AUTO_ASK")
    values["DEFAULT_QUARTERLY_CAP"] = ""
    response = http.post(URL, data={"csrf_token": csrf_token(html), **values})

    assert response.status_code == 302
    assert stored(app) == {}  # both back to config's defaults
    with app.app_context():
        assert settings.value("AUTO_ASK") is False and settings.value("DEFAULT_QUARTERLY_CAP") is None
    assert "Changed from the default." not in page(http, URL)


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"ASK_EXPIRY_HOURS": "0"}, "ASK_EXPIRY_HOURS",
     "Time to answer an ask: enter a number from 1 to 720 hours."),
    ({"BOOKING_HORIZON_DAYS": "99999999999999999999999"}, "BOOKING_HORIZON_DAYS",
     "Booking horizon: enter a whole number."),
    ({"CALL_MINUTES": "50"}, "CALL_MINUTES", "Slot length: choose one of 30, 45, 60 minutes."),
    ({"POINTS_CALL_COMPLETED": "lots"}, "POINTS_CALL_COMPLETED", "A completed call: enter a whole number."),
    ({"BOOKING_NOTICE_HOURS": ""}, "BOOKING_NOTICE_HOURS", "Minimum notice: enter a number."),
    ({"BOOKING_BUFFER_MINUTES": "1e3"}, "BOOKING_BUFFER_MINUTES",
     "Buffer around calls: enter a whole number."),
    # Digits to str.isdigit, not to int(): "²" would be a ValueError past the check.
    ({"POINTS_GOOD_FEEDBACK": "²"}, "POINTS_GOOD_FEEDBACK",
     "A call the prospect rated 4 or 5: enter a whole number."),
    ({"ASK_EXPIRY_HOURS": "٣"}, "ASK_EXPIRY_HOURS", "Time to answer an ask: enter a whole number."),
])
def test_a_refused_value_is_shown_beside_its_field_and_nothing_is_saved(app, signed_in, changes, field,
                                                                         message):
    http, _admin = signed_in("admin")
    response = save(http, page(http, URL), POINTS_REVIEW="75", **changes)

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(rf'<(input|select)[^>]*aria-invalid="true"[^>]*name="{field}"', html) or re.search(
        rf'<(input|select)[^>]*name="{field}"[^>]*aria-invalid="true"', html)
    assert f'<small id="{field}-error" class="error">{message}</small>' in html
    assert flashed(html) == [f"Nothing was saved. {message}"]
    assert stored(app) == {}  # the good value beside it was not saved either


def test_two_refused_values_are_each_shown_beside_their_field(app, signed_in):
    http, _admin = signed_in("admin")
    response = save(http, page(http, URL), ASK_EXPIRY_HOURS="-1", BOOKING_HORIZON_DAYS="0")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="ASK_EXPIRY_HOURS-error"' in html and 'id="BOOKING_HORIZON_DAYS-error"' in html
    assert flashed(html) == ["Nothing was saved. Some settings need another look."]


def test_nul_bytes_are_refused_before_the_form_is_read(app, signed_in):
    http, _admin = signed_in("admin")
    response = save(http, page(http, URL), ASK_EXPIRY_HOURS="4\x008")
    assert response.status_code == 422
    assert stored(app) == {}


def test_saving_needs_the_forms_csrf_token(app, signed_in):
    http, _admin = signed_in("admin")
    response = http.post(URL, data={**form_values(page(http, URL)), "CALL_MINUTES": "60"})
    assert response.status_code == 400
    assert stored(app) == {}


@pytest.mark.parametrize("role", ["coordinator", "sales", "advocate"])
def test_only_admins_read_or_save_the_settings(app, signed_in, role):
    http, _account = signed_in(role)
    assert http.get(URL).status_code == 403
    token = csrf_token(http.get("/portal" if role == "advocate" else "/admin/").get_data(as_text=True))
    assert http.post(URL, data={"csrf_token": token, "CALL_MINUTES": "60"}).status_code == 403
    assert stored(app) == {}
    assert 'href="/admin/settings"' not in http.get("/").get_data(as_text=True)


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
