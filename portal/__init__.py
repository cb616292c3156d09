"""Everything outside people see: sign-in, the advocate's portal, prospect pages."""

from flask import Blueprint, abort
from flask_login import current_user

from access import guard
from models import Role
from pages import register_refusals

bp = Blueprint("portal", __name__)

# The advocate's navigation: (endpoint, label), in order.
SECTIONS = (
    ("portal.home", "Home"),
    ("portal.asks", "Asks"),
    ("portal.availability", "Availability"),
    ("portal.profile", "Profile"),
    ("portal.topics", "Topics & formats"),
    ("portal.perks", "Perks"),
    ("portal.history", "History"),
    ("portal.privacy", "Privacy"),
)
guard(bp, default=frozenset({Role.ADVOCATE}))


def current_advocate_id() -> int:
    """The signed-in advocate's profile id; 404 for an advocate account not set up yet."""
    advocate = current_user.advocate
    if advocate is None:
        abort(404)
    return advocate.id


register_refusals(bp)

from portal import (  # noqa: E402,F401  (registers the views on bp)
    asks,
    auth,
    availability,
    booking,
    calendar_feed,
    calls,
    feedback,
    history,
    home,
    join,
    mail_links,
    outcome,
    perks,
    privacy,
    profile,
    second_factor,
    topics,
    written,
)


def init_app(app) -> None:
    auth.init_session_handling(app)
    app.register_blueprint(bp)
