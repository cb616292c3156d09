"""Addresses that asked for no more program mail (outreach and nudges), kept as keyed hashes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models import db
from models._columns import created_at_column


class UnsubscribedAddress(db.Model):
    """An address whose owner pressed "unsubscribe" in an outreach e-mail or a nudge.

    Only the keyed hash of the address is kept (``workflows.unsubscribe.address_digest``), like
    the list of people who left: it answers "is this address unsubscribed?" when shown the
    address, and tells nobody which addresses it holds. Transactional mail (sign-in links, asks,
    bookings) does not read it.
    """

    __tablename__ = "unsubscribed_addresses"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = created_at_column()
