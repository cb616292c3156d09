"""One-time submission keys: a create form posted twice, or an API call retried with the same
``Idempotency-Key``, creates one record and answers with it again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models import db
from models._columns import created_at_column


class Submission(db.Model):
    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("account_id", "scope", "key", name="uq_submissions_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    # What was created: "request-form", "api:requests", "window", …
    scope: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(200))
    # SHA-256 of what was sent with the key: the same key with other content is refused.
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    resource_id: Mapped[int | None] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()
