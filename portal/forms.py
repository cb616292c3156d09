from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField
from wtforms.validators import DataRequired, Email, Length


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class SignInForm(FlaskForm):
    email = EmailField(
        "E-mail address",
        validators=[
            DataRequired("Enter the e-mail address you use with us."),
            Length(max=254, message="That address is too long."),
            Email("That does not look like an e-mail address.", check_deliverability=False),
        ],
        filters=[_strip],  # an address pasted with spaces around it is still that address
        render_kw={"autocomplete": "email", "autofocus": True},
    )
    next = HiddenField()


class ConfirmForm(FlaskForm):
    """The button behind a sign-in link: only a POST uses the link up."""


class SignOutForm(FlaskForm):
    pass
