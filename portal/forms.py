from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField
from wtforms.validators import DataRequired, Email, Length


class SignInForm(FlaskForm):
    email = EmailField(
        "E-mail address",
        validators=[
            DataRequired("Enter the e-mail address you use with us."),
            Length(max=254, message="That address is too long."),
            Email("That does not look like an e-mail address.", check_deliverability=False),
        ],
        render_kw={"autocomplete": "email", "autofocus": True},
    )
    next = HiddenField()


class ConfirmForm(FlaskForm):
    """The button behind a sign-in link: only a POST uses the link up."""


class SignOutForm(FlaskForm):
    pass
