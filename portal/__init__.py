"""Everything outside people see: sign-in, the advocate's portal, prospect pages."""

from flask import Blueprint

from access import guard
from models import Role

bp = Blueprint("portal", __name__)

# The advocate's navigation: (endpoint, label), in order.
SECTIONS = (
    ("portal.home", "Home"),
    ("portal.availability", "Availability"),
    ("portal.profile", "Profile"),
    ("portal.topics", "Topics & formats"),
    ("portal.perks", "Perks"),
    ("portal.history", "History"),
    ("portal.privacy", "Privacy"),
)
guard(bp, default=frozenset({Role.ADVOCATE}))

from portal import asks, auth, availability, history, home, perks, privacy, profile, topics, written  # noqa: E402,F401  (registers the views on bp)


def init_app(app) -> None:
    auth.init_session_handling(app)
    app.register_blueprint(bp)
