"""The data model: SQLAlchemy 2.0 typed models, one module per aggregate.

Everyone imports from here: ``from models import db, Advocate``.
"""

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

from models.accounts import Account, ApiToken, LoginToken, Role, SuppressedAddress  # noqa: E402
from models.advocates import (  # noqa: E402
    Advocate,
    AdvocateCompetitor,
    AdvocateNote,
    AdvocateStatus,
    AdvocateTopic,
    Blackout,
    CompetitorRelation,
    TopicStance,
    WeeklyWindow,
)
from models.audit import AuditEvent  # noqa: E402
from models.catalogues import (  # noqa: E402
    SIZE_BANDS,
    Competitor,
    Format,
    Industry,
    JobLevel,
    Product,
    Region,
    Topic,
    UseCase,
    size_band,
)
from models.companies import Company  # noqa: E402
from models.engagements import (  # noqa: E402
    Engagement,
    EngagementStatus,
    Feedback,
    FeedbackSide,
    WrittenAnswer,
    quarter_of,
)
from models.invitations import Invitation  # noqa: E402
from models.match_rows import MatchRow, PoolVersion  # noqa: E402
from models.outbox import OutboxMessage, OutboxStatus  # noqa: E402
from models.points import PointsEntry, PointsReason  # noqa: E402
from models.requests import (  # noqa: E402
    Ask,
    AskStatus,
    ReferenceRequest,
    RequestEvent,
    RequestOutcome,
    RequestStatus,
)
from models.second_factor import RecoveryCode, SecondFactor  # noqa: E402
from models.settings import Setting  # noqa: E402
from models.submissions import Submission  # noqa: E402
from models.tiers import (  # noqa: E402
    Perk,
    PerkKind,
    Redemption,
    RedemptionStatus,
    Tier,
    TierSuggestion,
    TierSuggestionStatus,
)
from models.unsubscribes import UnsubscribedAddress  # noqa: E402

__all__ = [
    "SIZE_BANDS",
    "Account",
    "Advocate",
    "AdvocateCompetitor",
    "AdvocateNote",
    "AdvocateStatus",
    "AdvocateTopic",
    "ApiToken",
    "Ask",
    "AskStatus",
    "AuditEvent",
    "Base",
    "Blackout",
    "Company",
    "Competitor",
    "CompetitorRelation",
    "Engagement",
    "EngagementStatus",
    "Feedback",
    "FeedbackSide",
    "Format",
    "Industry",
    "Invitation",
    "JobLevel",
    "LoginToken",
    "MatchRow",
    "OutboxMessage",
    "OutboxStatus",
    "Perk",
    "PerkKind",
    "PointsEntry",
    "PointsReason",
    "PoolVersion",
    "Product",
    "Redemption",
    "RedemptionStatus",
    "RecoveryCode",
    "ReferenceRequest",
    "Region",
    "RequestEvent",
    "RequestOutcome",
    "RequestStatus",
    "Role",
    "SecondFactor",
    "Setting",
    "Submission",
    "SuppressedAddress",
    "Tier",
    "TierSuggestion",
    "TierSuggestionStatus",
    "Topic",
    "TopicStance",
    "UnsubscribedAddress",
    "UseCase",
    "WeeklyWindow",
    "WrittenAnswer",
    "db",
    "quarter_of",
    "size_band",
]


def init_app(app) -> None:
    db.init_app(app)
    from models.locking import configure_sqlite, end_reading

    # Registered after Flask-SQLAlchemy's own teardown, so it runs before the session is removed.
    app.teardown_appcontext(lambda _error: end_reading())

    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                configure_sqlite(engine)
