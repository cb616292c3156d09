"""Small helpers for declaring columns the same way in every model."""

from enum import StrEnum

from sqlalchemy import Enum, String
from sqlalchemy.orm import mapped_column, validates

from models.types import UTCDateTime, utcnow


def enum_column(enum_cls: type[StrEnum], **kwargs):
    """A string column limited to the enum's values by a CHECK constraint on every database."""
    return mapped_column(
        Enum(
            enum_cls,
            native_enum=False,
            create_constraint=True,
            length=max(len(m.value) for m in enum_cls),
            values_callable=lambda cls: [m.value for m in cls],
            validate_strings=True,
            name=enum_cls.__name__.lower(),
        ),
        **kwargs,
    )


def created_at_column():
    return mapped_column(UTCDateTime, default=utcnow, nullable=False)


def name_key(name: str) -> str:
    """The form a catalogue name or tag is compared in: case-insensitive, spaces folded."""
    return " ".join(name.split()).casefold()


class NamedMixin:
    """A catalogue entry or tag with a display name and a unique case-folded key."""

    name = mapped_column(String(120), nullable=False)
    key = mapped_column(String(120), nullable=False, unique=True)

    @validates("name")
    def _set_key(self, _attr, value: str) -> str:
        value = " ".join(value.split())
        self.key = name_key(value)
        return value

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
