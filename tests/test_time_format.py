"""One time format everywhere: 24-hour HH:MM, in lists, e-mails and inputs alike."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from pathlib import Path

from models import WeeklyWindow, db
from pages import clock, date_and_time

ROOT = Path(__file__).parent.parent
TWELVE_HOUR = re.compile(r"%-?[Ilp]")  # strftime's 12-hour clock and its AM/PM


def test_clock_is_24_hour_with_leading_zeros():
    assert clock(time(9, 5)) == "09:05"
    assert clock(time(17, 30)) == "17:30"
    assert clock(datetime(2026, 5, 4, 0, 0, tzinfo=UTC)) == "00:00"
    assert clock(None) == ""


def test_a_moment_reads_as_weekday_date_and_24_hour_time():
    assert date_and_time(datetime(2026, 5, 4, 17, 30, tzinfo=UTC)) == "Mon 04 May 2026, 17:30"
    assert date_and_time(None) == ""


def test_no_template_or_view_formats_a_12_hour_clock():
    sources = [*ROOT.glob("templates/**/*.html"), *ROOT.glob("templates/**/*.txt"), ROOT / "pages.py"]
    for package in ("portal", "admin", "workflows", "mail"):
        sources += ROOT.glob(f"{package}/**/*.py")
    offenders = [str(path.relative_to(ROOT)) for path in sources if TWELVE_HOUR.search(path.read_text())]
    assert offenders == []


def test_time_inputs_take_24_hour_text_whatever_the_browsers_locale(app, client, make_advocate, sign_in):
    advocate = make_advocate()
    with app.app_context():
        window = WeeklyWindow(advocate_id=advocate.id, weekday=2, starts=time(14), ends=time(17, 30))
        db.session.add(window)
        db.session.commit()
        window_id = window.id
    sign_in(advocate.account)

    html = client.get(f"/portal/availability/windows/{window_id}").get_data(as_text=True)

    assert 'type="time"' not in html
    change = html.split('aria-label="Change the Wednesday 14:00–17:30 window"', 1)[1].split("</form>", 1)[0]
    for name, value in (("edit-starts", "14:00"), ("edit-ends", "17:30")):
        found = re.search(rf'<input [^>]*name="{name}"[^>]*>', change)
        assert found, change
        tag = found.group(0)
        assert 'type="text"' in tag and 'placeholder="HH:MM"' in tag and f'value="{value}"' in tag, tag
    assert "24-hour clock, like 09:00 or 17:30." in change
