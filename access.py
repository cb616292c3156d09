"""Who may use which route, decided in one place.

Every blueprint calls ``guard(bp, default=...)``: its views are then open only to the roles
the blueprint names, unless a view says otherwise with ``@allow(...)`` or ``@public``.
A new view cannot forget its check: without a declaration it gets the blueprint's default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Blueprint, abort, current_app, redirect, request, session, url_for
from flask_login import current_user

from models import Role

STAFF = frozenset({Role.COORDINATOR, Role.ADMIN})
EVERYONE_SIGNED_IN = frozenset(Role)

# The session of someone who used their sign-in link but has not yet given the second factor
# it needs (``portal.second_factor``): the account, when, and the page asked for. Flask-Login
# knows nothing of it, so such a session is signed in for no page at all.
HALF_SIGNED_IN = "second_factor_pending"
# In a signed-in session: when its second factor was given. A staff session without it, whose
# account needs one (an admin, or a coordinator once the setting is on), goes back to half
# signed in at its next request.
SECOND_FACTOR_GIVEN = "second_factor_at"


def allow(*roles: Role | Iterable[Role]) -> Callable:
    """Declare the roles that may use a view (overrides the blueprint's default)."""
    allowed: set[Role] = set()
    for role in roles:
        allowed.update([role] if isinstance(role, Role) else role)

    def decorate(view):
        view.allowed_roles = frozenset(allowed)
        return view

    return decorate


def public(view):
    """A view anybody may open, signed in or not (sign-in pages, prospect links)."""
    view.allowed_roles = None
    return view


def guard(bp: Blueprint, default: frozenset[Role]) -> None:
    @bp.before_request
    def _check_access():
        view = current_app.view_functions.get(request.endpoint or "")
        if view is None:
            return None  # 404 follows
        allowed = getattr(view, "allowed_roles", default)
        if allowed is None:
            return None
        if not current_user.is_authenticated:
            if session.get(HALF_SIGNED_IN):
                return redirect(url_for("portal.second_factor"))
            # Come back here after sign-in, if "here" is a page (a form's POST cannot be replayed).
            back = request.full_path.rstrip("?") if request.method in ("GET", "HEAD") else None
            return redirect(url_for("portal.sign_in", next=back))
        if current_user.role not in allowed:
            from workflows.audit import record_access_denied

            record_access_denied(current_user, request.path)
            abort(403)
        return None
