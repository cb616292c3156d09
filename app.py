"""The application factory. ``flask --app app run`` finds ``create_app``."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import text
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

import admin
import admin.api
import mail
import models
import pages
import portal
from config import check_production_settings, config_for
from extensions import csrf, limiter, migrate
from models import Role, db
from models.types import ID_MAX
from workflows import settings
from workflows.text import counted, unstorable_fields


class IdConverter(IntegerConverter):
    """``<int:…>`` in every route: a whole number from 0 to ``ID_MAX`` in ASCII digits, else no
    such page. The bound is in the converter's regular expression, so that a larger number
    matches no route at all: a bound checked only after matching would answer a 405 for a
    method that another route of the same path takes (``PATCH /requests/99999999999``)."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("max", ID_MAX)
        super().__init__(url_map, *args, **kwargs)
        self.regex = numbers_up_to(self.max)


def numbers_up_to(limit: int) -> str:
    """A regular expression for the whole numbers from 0 to ``limit`` (leading zeros allowed
    up to ``limit``'s number of digits)."""
    digits = str(limit)
    options = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for position, digit in enumerate(digits):
        if digit != "0":
            rest = len(digits) - position - 1
            options.append(f"{digits[:position]}[0-{int(digit) - 1}][0-9]{{{rest}}}")
    options.append(digits)
    return f"(?:{'|'.join(options)})"


def create_app(config: str | dict[str, Any] | None = None) -> Flask:
    """``config`` is a config name (development, testing, production) or a dict of overrides
    applied on top of the testing config."""
    app = Flask(__name__, instance_relative_config=True)
    configure(app, config)
    configure_logging(app)
    configure_extensions(app)
    app.url_map.converters["int"] = IdConverter
    configure_input_checks(app)
    configure_blueprints(app)
    configure_error_handlers(app)
    configure_security_headers(app)
    configure_health_check(app)
    return app


def configure(app: Flask, config: str | dict[str, Any] | None) -> None:
    if isinstance(config, dict):
        app.config.from_object(config_for("testing"))
        app.config.update(config)
    else:
        app.config.from_object(config_for(config))
    if app.config["ENV_NAME"] == "production":
        check_production_settings(app.config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        from pathlib import Path

        Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    if app.config["PROXY_COUNT"]:
        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)


def configure_logging(app: Flask) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_extensions(app: Flask) -> None:
    models.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    mail.init_app(app)


def configure_input_checks(app: Flask) -> None:
    """Text no database can store (NUL, lone surrogates) in a query string or a form is refused
    before any view reads it, naming the field: 422, in JSON under /api/, else a page."""

    @app.before_request
    def _refuse_unstorable_text():
        found = unstorable_fields(request.args.items(multi=True))
        if request.method not in ("GET", "HEAD") and request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data"
        ):
            found |= unstorable_fields(request.form.items(multi=True))
        if not found:
            return None
        names = ", ".join(f"“{name}”" for name in found)
        message = f"Some fields hold characters that cannot be stored ({names}). Nothing was changed."
        if request.path.startswith(admin.api.PREFIX):
            return admin.api.error_response(422, message, found)
        return render_template("errors/error.html", code=422, title="That did not work",
                               message=message), 422


def configure_blueprints(app: Flask) -> None:
    portal.init_app(app)
    admin.init_app(app)
    admin.api.init_app(app)
    configure_navigation(app)
    configure_template_filters(app)


def configure_navigation(app: Flask) -> None:
    by_role = {
        Role.ADVOCATE: portal.SECTIONS,
        Role.SALES: admin.SALES_SECTIONS,
        Role.COORDINATOR: admin.STAFF_SECTIONS,
        Role.ADMIN: admin.ADMIN_SECTIONS,
    }

    @app.context_processor
    def navigation():
        def nav_sections():
            if not current_user.is_authenticated:
                return ()
            return tuple((e, label) for e, label in by_role[current_user.role] if e in app.view_functions)

        return {"nav_sections": nav_sections}


def configure_template_filters(app: Flask) -> None:
    """Filters every template may use, the mail templates too, and ``setting("KEY")``: a program
    setting in force (``workflows.settings``), never its config default."""
    app.add_template_filter(pages.clock, "clock")
    app.add_template_filter(pages.date_and_time, "date_time")
    app.add_template_filter(pages.advocate_status, "advocate_status")
    app.add_template_filter(pages.tier_name, "tier_name")
    app.add_template_filter(counted, "counted")
    app.add_template_global(pages.render_select, "render_select")
    app.add_template_global(pages.render_checkboxes, "render_checkboxes")
    app.add_template_global(pages.id_path, "id_path")
    app.add_template_global(pages.drawn, "drawn")
    app.add_template_global(settings.value, "setting")


def configure_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render_template(
            "errors/error.html",
            code=400,
            title="This form has expired",
            message="The page was open too long or came from elsewhere. Go back, reload it and try again.",
        ), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        # Keep the headers the error carries (a 405's Allow, a 429's Retry-After).
        headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
        return render_template(
            "errors/error.html",
            code=error.code,
            title=error.name,
            message=ERROR_TEXT.get(error.code, error.description),
        ), error.code, headers

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        app.logger.exception("unhandled error")
        db.session.rollback()
        return render_template(
            "errors/error.html",
            code=500,
            title="Something went wrong",
            message="Nothing was changed. Try again in a moment; if it keeps happening, tell us.",
        ), 500


ERROR_TEXT = {
    403: "Your account may not open this page.",
    404: "There is nothing here. The link may be old or mistyped.",
    405: "That action is not available here.",
    413: "That file is too large: the limit is 5 MB.",
    429: "Too many attempts in a short time. Wait a few minutes, then try again.",
}


# Two years, subdomains included (production serves https only: BASE_URL must be https).
HSTS = "max-age=63072000; includeSubDomains"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def configure_security_headers(app: Flask) -> None:
    production = app.config["ENV_NAME"] == "production"

    @app.after_request
    def add_headers(response):
        if production:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # Stricter than same-origin breaks Flask-WTF's HTTPS referrer check (DESIGN.md §7.6).
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


def configure_health_check(app: Flask) -> None:
    @app.get(admin.api.HEALTH_PATH)
    def healthz():
        try:
            db.session.execute(text("SELECT 1"))
        except Exception:
            app.logger.exception("health check: the database does not answer")
            return jsonify(status="error", error="database unavailable"), 503
        finally:
            db.session.rollback()
        return jsonify(status="ok")
