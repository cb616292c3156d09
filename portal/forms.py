from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, StringField
from wtforms.validators import DataRequired, Email, Length

from workflows.bookings import JOIN_PHONE_MAX_LENGTH, JOIN_URL_MAX_LENGTH


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


class JoinForm(FlaskForm):
    """Join details: a video link, a phone number, or both (the default on the profile, or one
    call's own on its page)."""

    join_url = StringField("Video link", render_kw={"type": "url", "inputmode": "url", "autocomplete": "url",
                                                   "maxlength": JOIN_URL_MAX_LENGTH,
                                                   "placeholder": "https://meet.example.com/your-room"})
    join_phone = StringField("Phone number", render_kw={"type": "tel", "autocomplete": "tel",
                                                       "maxlength": JOIN_PHONE_MAX_LENGTH,
                                                       "placeholder": "+49 30 1234567"})

    def values(self) -> tuple[str, str]:
        return (self.join_url.data or "").strip(), (self.join_phone.data or "").strip()
