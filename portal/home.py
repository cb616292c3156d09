"""The advocate's home page (filled by M2: asks, calls, quota, tier)."""

from flask import redirect, render_template
from flask_login import current_user

from access import EVERYONE_SIGNED_IN, allow
from portal import bp
from portal.auth import home_for


@bp.route("/")
@allow(EVERYONE_SIGNED_IN)
def index():
    return redirect(home_for(current_user))


@bp.route("/portal")
def home():
    return render_template("portal/home.html", advocate=current_user.advocate)
