"""Everything staff see: pool, requests, matching, tiers and perks, reports, settings."""

from flask import Blueprint

from access import STAFF, guard

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Navigation for staff and for sales: (endpoint, label), in order.
STAFF_SECTIONS = (("admin.home", "Dashboard"),)
SALES_SECTIONS = (("admin.home", "Dashboard"),)
guard(bp, default=STAFF)

from admin import home  # noqa: E402,F401  (registers the views on bp)


def init_app(app) -> None:
    from admin.cli import register_cli

    app.register_blueprint(bp)
    register_cli(app)
