"""The admin's preview of every e-mail (``/admin/mail/preview``): each template of
``templates/mail/`` rendered with the sample data of ``mail/samples.py``, its subject, its text,
and its HTML in a sandboxed frame (``srcdoc``, no scripts, no same-origin), so that a change to
a template or to the layout is seen before anybody receives it.

Rendering is strict: a variable the sample data lacks is shown as that variant's error, and a
template without sample data says so (tests/admin/test_mail_preview.py fails on either).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, render_template

from access import allow
from admin import bp
from mail.outbox import catalogue, render
from mail.samples import samples
from models import Role


@dataclass(frozen=True)
class Variant:
    label: str
    subject: str = ""
    text: str = ""
    html: str | None = None
    unsubscribable: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Preview:
    template: str
    variants: list[Variant]
    error: str | None = None  # no sample data at all


def previews() -> list[Preview]:
    data = samples(current_app.config["BASE_URL"])
    found = []
    for name in catalogue():
        if name not in data:
            found.append(Preview(name, [], f"No sample data: add “{name}” to mail/samples.py."))
            continue
        variants = []
        for label, context in data[name]:
            try:
                subject, text, html = render(name, context, strict=True)
            except Exception as exc:  # a template's own mistake: show it beside the template
                variants.append(Variant(label, error=f"{type(exc).__name__}: {exc}"))
                continue
            variants.append(Variant(label, subject, text, html, bool(context.get("unsubscribe_link"))))
        found.append(Preview(name, variants))
    return found


@bp.get("/mail/preview")
@allow(Role.ADMIN)
def mail_preview():
    return render_template("admin/mail_preview.html", previews=previews(),
                           sender=current_app.config["MAIL_DEFAULT_SENDER"],
                           reply_to=current_app.config.get("MAIL_REPLY_TO"))
