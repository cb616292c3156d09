"""Everything staff see: pool, requests, matching, tiers and perks, reports, settings."""

from flask import Blueprint

from access import STAFF, guard
from pages import register_refusals

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Navigation for staff and for sales: (endpoint, label), in order.
# Sections whose endpoint does not exist (yet) are left out of the menu.
STAFF_SECTIONS = (
    ("admin.home", "Dashboard"),
    ("admin.requests", "Requests"),
    ("admin.pool", "Advocates"),
    ("admin.candidates", "Candidates"),
    ("admin.tier_changes", "Tier changes"),
    ("admin.redemptions", "Redemptions"),
    ("admin.perks", "Perks and tiers"),  # coordinators read it; admins change it
    ("admin.reports", "Reports"),
    ("admin.imports", "Import"),
    ("admin.tokens", "API tokens"),
    ("admin.second_factor", "Second factor"),
)
# An admin's: a coordinator's, and the mail module's pages.
ADMIN_SECTIONS = (
    *STAFF_SECTIONS,
    ("admin.accounts", "Accounts"),
    ("admin.settings", "Settings"),
    ("admin.outbox", "Outbox"),
    ("admin.mail_preview", "E-mails"),
)
SALES_SECTIONS = (
    ("admin.home", "Dashboard"),
    ("admin.requests", "My requests"),
    ("admin.new_request", "New request"),
    ("admin.tokens", "API tokens"),
)
guard(bp, default=STAFF)
register_refusals(bp)

from admin import (  # noqa: E402,F401  (registers the views on bp)
    accounts,
    advocate_management,
    candidates,
    home,
    imports,
    mail,
    outbox,
    perks,
    pool,
    redemptions,
    reports,
    requests,
    second_factor,
    settings,
    tier_changes,
    tokens,
    written,
)


def init_app(app) -> None:
    from admin.cli import register_cli

    app.register_blueprint(bp)
    register_cli(app)
