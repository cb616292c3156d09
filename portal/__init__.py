"""Everything outside people see: sign-in, the advocate's portal, prospect pages."""

from flask import Blueprint, abort, current_app, request
from flask_login import current_user
from werkzeug.exceptions import NotFound as HTTPNotFound

from access import guard
from models import Role
from workflows import errors
from workflows.audit import record_access_denied
from workflows.requests import AskNotFound

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


def current_advocate_id() -> int:
    """The signed-in advocate's profile id; 404 for an advocate account not set up yet."""
    advocate = current_user.advocate
    if advocate is None:
        abort(404)
    return advocate.id


@bp.errorhandler(errors.NotFound)
@bp.errorhandler(AskNotFound)
def _not_theirs(_error):
    """Another advocate's record: the same 404 as an id that never existed, and audited."""
    record_access_denied(current_user, request.path)
    return current_app.handle_http_exception(HTTPNotFound())

from portal import asks, auth, availability, history, home, perks, privacy, profile, topics, written  # noqa: E402,F401  (registers the views on bp)


def init_app(app) -> None:
    auth.init_session_handling(app)
    app.register_blueprint(bp)
