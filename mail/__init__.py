"""The mail module: every e-mail is written to the outbox in the caller's transaction and sent
later by ``flask mail drain`` / ``flask mail worker`` (DESIGN.md §6)."""

from flask_mail import Mail

mail = Mail()


def init_app(app) -> None:
    mail.init_app(app)
    from mail.cli import mail_cli

    app.cli.add_command(mail_cli)
